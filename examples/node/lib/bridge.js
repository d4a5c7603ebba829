// What every example needs: a NATS connection, the subjects of
// crm-bridge's contract (docs/contract.md), and a little command-line
// parsing. Settings come from the environment:
//
//   NATS_URL       the NATS server(s), comma separated (default
//                  nats://127.0.0.1:4222, where `bridge dev` listens)
//   CRM_PREFIX     the bridge's BRIDGE_SUBJECT_PREFIX (default crm)

import { connect } from "@nats-io/transport-node";
import { encodeToken } from "./ids.js";

export const streams = { commands: "CRM_COMMANDS", events: "CRM_EVENTS" };
export const bucket = "CRM_CUSTOMERS";

/** subjects returns the contract's subjects for a subject prefix. */
export function subjects(prefix = process.env.CRM_PREFIX || "crm") {
  const c = `${prefix}.customer`;
  return {
    create: `${c}.create`,
    update: (id) => `${c}.update.${encodeToken(id)}`,
    delete: (id) => `${c}.delete.${encodeToken(id)}`,
    result: `${c}.result`,
    changed: (id) => `${c}.changed.${id === undefined ? "*" : encodeToken(id)}`,
    get: (id) => `${c}.get.${encodeToken(id)}`,
  };
}

/** connectNATS connects to NATS_URL, naming the connection after the example. */
export async function connectNATS(name) {
  const servers = (process.env.NATS_URL || "nats://127.0.0.1:4222").split(",");
  try {
    return await connect({ servers, name: `crm-bridge-example-${name}` });
  } catch (err) {
    fail(2, `cannot connect to NATS at ${servers.join(",")} (set NATS_URL): ${err.message}`);
  }
}

/**
 * parseArgs splits argv into positional arguments and --name value /
 * --flag options; flags lists the options that take no value.
 */
export function parseArgs(argv, flags = []) {
  const args = [];
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      args.push(a);
      continue;
    }
    const name = a.slice(2);
    if (flags.includes(name)) {
      opts[name] = true;
    } else if (i + 1 < argv.length) {
      opts[name] = argv[++i];
    } else {
      fail(2, `${a} needs a value`);
    }
  }
  return { args, opts };
}

/** fail prints message to standard error and exits with status code. */
export function fail(code, message) {
  console.error(`${process.argv[1].split("/").pop()}: ${message}`);
  process.exit(code);
}

/** summary is a result in one line, as `bridge publish` prints it. */
export function summary(r) {
  let s = `${r.status} ${r.op}`;
  if (r.customerId) s += ` ${r.customerId}`;
  s += ` (command ${r.commandId}, ${r.attempts} attempt${r.attempts === 1 ? "" : "s"})`;
  if (r.error) s += `: ${r.error.code}: ${r.error.message}`;
  return s;
}
