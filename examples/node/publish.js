#!/usr/bin/env node
// publish.js: publish a command to crm-bridge and wait for its result.
//
//   node publish.js create '{"firstName":"Ada","phone":"5550100"}'
//   node publish.js update ID '{"lastName":"Lovelace"}'
//   node publish.js delete ID
//   options: --id COMMAND_ID (default: a new NUID), --wait MS (default
//   10000), --miss-reply (listen on no Reply-To, to show the fallback)
//
// The command goes to JetStream with Nats-Msg-Id (its command id: a second
// publish within the stream's duplicate window is dropped) and Reply-To
// (a fresh inbox, where the bridge publishes the result too). If no reply
// comes, because this process missed it (with --miss-reply it does not
// even listen), the result is read where it is kept: the CRM_EVENTS stream,
// subject crm.customer.result, header Command-Id = the command id.
// Exit status: 0 applied, 1 rejected or failed, 2 anything else.

import { headers, nuid, createInbox } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, DeliverPolicy } from "@nats-io/jetstream";
import { connectNATS, fail, parseArgs, streams, subjects, summary } from "./lib/bridge.js";

const { args, opts } = parseArgs(process.argv.slice(2), ["miss-reply"]);
const subj = subjects();
const [op, ...rest] = args;
let subject, body;
switch (op) {
  case "create":
    [subject, body] = [subj.create, rest[0]];
    break;
  case "update":
    [subject, body] = [rest[0] && subj.update(rest[0]), rest[1]];
    break;
  case "delete":
    [subject, body] = [rest[0] && subj.delete(rest[0]), "{}"];
    break;
}
if (!subject || body === undefined) {
  fail(2, "usage: publish.js create BODY | update ID BODY | delete ID [--id COMMAND_ID] [--wait MS] [--miss-reply]");
}
try {
  JSON.parse(body);
} catch (err) {
  fail(2, `the body is not JSON: ${err.message}`);
}
const commandId = opts.id || nuid.next();
const wait = Number(opts.wait || 10000);

const nc = await connectNATS("publish");
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);

// Where the result will land in CRM_EVENTS: after the stream's last
// message now, unless the command turns out to be a duplicate.
const before = (await jsm.streams.info(streams.events)).state.last_seq;

const inbox = createInbox();
const reply = opts["miss-reply"] ? null : nc.subscribe(inbox, { max: 1 });
const h = headers();
h.set("Reply-To", inbox);
const ack = await js.publish(subject, body, { msgID: commandId, headers: h });
console.log(`command ${commandId} published to ${subject} (${ack.stream} seq ${ack.seq}${ack.duplicate ? ", a duplicate: stored before" : ""})`);

let result = null;
if (reply && !ack.duplicate) {
  const timer = setTimeout(() => reply.unsubscribe(), wait);
  for await (const m of reply) {
    result = m.json();
    console.log(`result from the reply (${inbox}): ${summary(result)}`);
  }
  clearTimeout(timer);
}
if (!result) {
  const why = ack.duplicate ? "a duplicate gets no new result" : "no reply";
  console.log(`${why}: reading ${subj.result} in ${streams.events} for Command-Id ${commandId}`);
  result = await findResult(commandId, ack.duplicate ? 0 : before);
}
if (!result) {
  await nc.close();
  fail(2, `no result for command ${commandId} within ${wait} ms: is the bridge running?`);
}
console.log(JSON.stringify(result));
await nc.close();
process.exit(result.status === "applied" ? 0 : 1);

// findResult reads crm.customer.result from CRM_EVENTS after stream
// sequence after (0: from the start) with an ordered consumer, and returns
// the result whose Command-Id header is commandId, or null after wait ms.
async function findResult(commandId, after) {
  const c = await js.consumers.get(streams.events, {
    filter_subjects: [subj.result],
    ...(after > 0
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 }
      : { deliver_policy: DeliverPolicy.All }),
  });
  const deadline = Date.now() + wait;
  while (Date.now() < deadline) {
    const m = await c.next({ expires: 1000 });
    if (m && m.headers?.get("Command-Id") === commandId) {
      const r = m.json();
      console.log(`result from ${m.subject} (${streams.events} seq ${m.seq}): ${summary(r)}`);
      return r;
    }
  }
  return null;
}
