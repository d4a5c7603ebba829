// Checks lib/ids.js against the bridge's test vectors,
// schemas/subject-tokens.json, and the read model's key encoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decodeToken, encodeToken, kvKey } from "../lib/ids.js";

const vectors = JSON.parse(readFileSync(new URL("../../../schemas/subject-tokens.json", import.meta.url), "utf8"));

test("the vectors are there", () => {
  assert.ok(vectors.valid.length > 10, "valid vectors");
  assert.ok(vectors.invalid.length > 10, "invalid vectors");
});

for (const v of vectors.valid) {
  test(`valid: ${v.note}`, () => {
    assert.equal(encodeToken(v.id), v.token, `encodeToken(${JSON.stringify(v.id)})`);
    assert.equal(decodeToken(v.token), v.id, `decodeToken(${JSON.stringify(v.token)})`);
  });
}

for (const v of vectors.invalid) {
  test(`invalid: ${v.reason}`, () => {
    assert.throws(() => decodeToken(v.token), Error, `decodeToken(${JSON.stringify(v.token)}) must refuse it`);
    if (v.canonical !== undefined) {
      assert.throws(() => decodeToken(v.token), { message: new RegExp(`token is ${JSON.stringify(v.canonical).replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}`) });
    }
  });
}

test("kvKey: the id, or = and unpadded base64url", () => {
  for (const [id, key] of [
    ["cus_123", "cus_123"],
    ["A-z_09", "A-z_09"],
    ["a.b", "=YS5i"],
    ["a b", "=YSBi"],
    ["kundé", "=a3VuZMOp"],
    ["=", "=PQ"],
    ["??>", "=Pz8-"],
  ]) {
    assert.equal(kvKey(id), key, `kvKey(${JSON.stringify(id)})`);
  }
  assert.throws(() => kvKey(""), TypeError);
});
