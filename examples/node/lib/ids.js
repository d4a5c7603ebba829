// Customer ids in subjects and in the read model's keys, as crm-bridge's
// contract writes them (docs/contract.md, "Commands": canonical tokens;
// "Customer read model": keys). schemas/subject-tokens.json holds the test
// vectors that test/ids.test.js checks these functions against.

const escaped = new Set([0x25, 0x2e, 0x2a, 0x3e]); // % . * >
const hex = "0123456789ABCDEF";

function mustEscape(b) {
  return b <= 0x20 || b === 0x7f || escaped.has(b);
}

/**
 * encodeToken returns the one subject token of a customer id: its UTF-8
 * bytes, with '%', '.', '*', '>', every byte up to and including space, and
 * DEL written %XX in upper-case hex, and no other byte escaped.
 */
export function encodeToken(id) {
  if (typeof id !== "string" || id === "") {
    throw new TypeError("a customer id is a non-empty string");
  }
  const out = [];
  for (const b of Buffer.from(id, "utf8")) {
    if (mustEscape(b)) {
      out.push(0x25, hex.charCodeAt(b >> 4), hex.charCodeAt(b & 15));
    } else {
      out.push(b);
    }
  }
  return Buffer.from(out).toString("utf8");
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * decodeToken returns the customer id of a subject token, or throws an
 * Error saying why the token is not the canonical token of any id (the
 * bridge rejects such a command with VALIDATION): a bad escape, lower-case
 * hex, an escape of a byte that needs none, a byte that needs one, an
 * empty id, or bytes that are not UTF-8.
 */
export function decodeToken(token) {
  if (typeof token !== "string" || token === "") {
    throw new Error("empty token");
  }
  const bytes = Buffer.from(token, "utf8");
  const out = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x25) {
      out.push(bytes[i]);
      continue;
    }
    const h = bytes.subarray(i + 1, i + 3).toString("latin1");
    if (!/^[0-9A-Fa-f]{2}$/.test(h)) {
      throw new Error(`bad escape at byte ${i} of ${JSON.stringify(token)}`);
    }
    out.push(parseInt(h, 16));
    i += 2;
  }
  let id;
  try {
    id = utf8.decode(Uint8Array.from(out));
  } catch {
    throw new Error(`${JSON.stringify(token)} decodes to bytes that are not UTF-8`);
  }
  if (id === "") {
    throw new Error("the token decodes to an empty id");
  }
  const canonical = encodeToken(id);
  if (canonical !== token) {
    throw new Error(`${JSON.stringify(token)} is not canonical: the id's token is ${JSON.stringify(canonical)}`);
  }
  return id;
}

/**
 * kvKey returns the CRM_CUSTOMERS key of a customer id: the id itself when
 * it is made only of A-Z a-z 0-9 _ -, otherwise '=' followed by the id's
 * unpadded base64url.
 */
export function kvKey(id) {
  if (typeof id !== "string" || id === "") {
    throw new TypeError("a customer id is a non-empty string");
  }
  if (/^[A-Za-z0-9_-]+$/.test(id)) {
    return id;
  }
  return "=" + Buffer.from(id, "utf8").toString("base64url");
}
