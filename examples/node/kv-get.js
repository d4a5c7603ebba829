#!/usr/bin/env node
// kv-get.js: read a customer from the read model, the key-value bucket
// CRM_CUSTOMERS, which the bridge keeps with every customer's current
// record (docs/contract.md, "Customer read model").
//
//   node kv-get.js ID
//
// The key is the id when it is made only of A-Z a-z 0-9 _ -, otherwise
// '=' and the id's unpadded base64url (lib/ids.js, kvKey). The value is the
// record exactly as the customer's last change event's "after" (a UserMap,
// schemas/customer.schema.json); a deleted customer has no entry.
// Exit status: 0 found, 1 no such customer, 2 anything else.

import { Kvm } from "@nats-io/kv";
import { bucket, connectNATS, fail, parseArgs } from "./lib/bridge.js";
import { kvKey } from "./lib/ids.js";

const { args } = parseArgs(process.argv.slice(2));
if (args.length !== 1) {
  fail(2, "usage: kv-get.js ID");
}
const [id] = args;
const key = kvKey(id);

const nc = await connectNATS("kv-get");
let kv;
try {
  kv = await new Kvm(nc).open(bucket);
  await kv.status(); // open only binds: this fails when there is no bucket
} catch (err) {
  await nc.close();
  fail(2, `cannot open the bucket ${bucket}: ${err.message} (a bridge of contract v2 creates it)`);
}
const e = await kv.get(key);
await nc.close();
if (!e || e.operation !== "PUT") {
  console.log(`${bucket} has no customer ${id} (key ${key}${e ? `: ${e.operation} at revision ${e.revision}` : ""})`);
  process.exit(1);
}
const record = e.json();
console.log(`${bucket} key ${key}, revision ${e.revision}, written ${e.created.toISOString()}`);
console.log(JSON.stringify(record));
