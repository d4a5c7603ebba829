#!/usr/bin/env node
// events.js: follow crm-bridge's change events with a durable consumer.
//
//   node events.js [--durable NAME] [--customer ID] [--count N] [--from all|new]
//
// A durable consumer (default name crm-bridge-example) on the CRM_EVENTS
// stream, filtered on crm.customer.changed.* (or one customer's subject),
// keeps its position on the server: each run carries on where the last one
// acknowledged, whoever runs it. --from says where a new consumer starts
// (all: the stream's first event, the default; new: events from now on);
// an existing one keeps its position. Each event is CloudEvents 1.0 in
// binary mode: the ce-* headers, and a JSON body (schemas/event.schema.json)
// with change created, updated or deleted, the fields that differ, and the
// customer before and after. Stops after --count events (default: never).

import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectNATS, fail, parseArgs, streams, subjects } from "./lib/bridge.js";

const { args, opts } = parseArgs(process.argv.slice(2));
const from = opts.from || "all";
if (args.length > 0 || !["all", "new"].includes(from)) {
  fail(2, "usage: events.js [--durable NAME] [--customer ID] [--count N] [--from all|new]");
}
const durable = opts.durable || "crm-bridge-example";
const count = opts.count === undefined ? Infinity : Number(opts.count);
const filter = subjects().changed(opts.customer);

const nc = await connectNATS("events");
const jsm = await jetstreamManager(nc);
try {
  await jsm.consumers.add(streams.events, {
    durable_name: durable,
    filter_subject: filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: from === "new" ? DeliverPolicy.New : DeliverPolicy.All,
  });
} catch (err) {
  // It exists with another configuration (another filter, say).
  await nc.close();
  fail(2, `durable consumer ${durable} on ${streams.events}: ${err.message} (delete it, or pick another --durable)`);
}
const consumer = await jetstream(nc).consumers.get(streams.events, durable);
console.log(`following ${filter} with durable consumer ${durable} on ${streams.events}`);

for (let n = 0; n < count; ) {
  const m = await consumer.next({ expires: 5000 });
  if (!m) continue;
  const h = m.headers;
  if (h?.get("ce-specversion") !== "1.0" || h?.get("ce-type") !== "crm.customer.changed") {
    console.log(`skipping ${m.subject}: not a CloudEvents crm.customer.changed event`);
    await m.ackAck();
    continue;
  }
  const ev = m.json();
  console.log(
    `${ev.change} ${h.get("ce-subject")} (ce-id ${h.get("ce-id")}, ce-time ${h.get("ce-time")}, ` +
      `ce-source ${h.get("ce-source")}, ${streams.events} seq ${m.seq}, pending ${m.info.pending})`,
  );
  console.log(`  fields: ${ev.fields.join(", ") || "-"}`);
  if (ev.truncated) {
    console.log("  truncated: before and after left out (the event was too large for one NATS message)");
  } else {
    console.log(`  before: ${JSON.stringify(ev.before)}`);
    console.log(`  after:  ${JSON.stringify(ev.after)}`);
  }
  await m.ackAck(); // acknowledged on the server before the next one: a crash here loses nothing
  n++;
}
await nc.close();
