#!/usr/bin/env node
// get.js: ask the bridge's query service for a customer.
//
//   node get.js ID [--fresh]
//
// Every bridge process serves the NATS service crm-bridge (the NATS service
// protocol: `nats micro info crm-bridge`); crm.customer.get.<token> answers
// {"customer": UserMap, "source": "model" or "crm", "asOf": time}. With
// --fresh the bridge reads the CRM instead of its model. An error comes
// back with the service error headers, Nats-Service-Error-Code (400, 404,
// 503) and Nats-Service-Error (the code), and the body
// {"error": {"code", "message"}}: @nats-io/services's ServiceError reads
// them. Exit status: 0 found, 1 a service error, 2 anything else.

import { ServiceError, Svcm } from "@nats-io/services";
import { connectNATS, fail, parseArgs, subjects } from "./lib/bridge.js";

const { args, opts } = parseArgs(process.argv.slice(2), ["fresh"]);
if (args.length !== 1) {
  fail(2, "usage: get.js ID [--fresh]");
}
const [id] = args;
const subject = subjects().get(id);

const nc = await connectNATS("get");
let m;
try {
  m = await nc.request(subject, opts.fresh ? JSON.stringify({ fresh: true }) : "", { timeout: 5000 });
} catch (err) {
  // No responders: nothing serves the subject. Say whether crm-bridge is
  // there at all, through the service protocol's discovery.
  const found = [];
  try {
    for await (const info of await new Svcm(nc).client({ strategy: "timer", maxWait: 1000 }).info("crm-bridge")) {
      found.push(`${info.name} ${info.version} (${info.id})`);
    }
  } catch {
    // no answer is an answer
  }
  await nc.close();
  fail(2, `no answer on ${subject}: ${err.message}; crm-bridge service instances: ${found.join(", ") || "none"}`);
}
await nc.close();
if (ServiceError.isServiceError(m)) {
  const code = m.headers.get("Nats-Service-Error-Code");
  const name = m.headers.get("Nats-Service-Error");
  console.log(`service error: Nats-Service-Error-Code ${code}, Nats-Service-Error ${name}`);
  console.log(m.string());
  process.exit(1);
}
const reply = m.json();
console.log(`customer ${reply.customer?.id} from the ${reply.source}, as of ${reply.asOf}`);
console.log(JSON.stringify(reply.customer));
