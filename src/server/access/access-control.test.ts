import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ApiError } from "../api-error.js";
import { AccessControl, presentedKey } from "./access-control.js";
import { KeyStore } from "./keys.js";

const request = (headers: Record<string, string> = {}): IncomingMessage => ({ headers }) as unknown as IncomingMessage;

function status(work: () => unknown): number {
  try {
    work();
    return 200;
  } catch (error) {
    assert.ok(error instanceof ApiError);
    return error.status;
  }
}

test("auth turns on with the first key and stays on when every key is revoked or expired", () => {
  const directory = mkdtempSync(join(tmpdir(), "slmkit-access-"));
  try {
    const keys = new KeyStore(join(directory, "keys.json"));
    const access = new AccessControl({ keys });
    assert.equal(access.enabled(), false);
    assert.equal(status(() => access.check(request(), "inference")), 200, "no keys: open, as a loopback server has been");
    const { key } = keys.create({ name: "only", role: "user" });
    assert.equal(access.enabled(), true);
    assert.equal(status(() => access.check(request(), "inference")), 401);
    assert.equal(status(() => access.check(request({ authorization: `Bearer ${key}` }), "inference")), 200);
    keys.revoke("only");
    assert.equal(access.enabled(), true, "revoking the last key must not open the server");
    assert.equal(status(() => access.check(request(), "inference")), 401);
    assert.equal(status(() => access.check(request({ authorization: `Bearer ${key}` }), "inference")), 401);
    assert.equal(status(() => access.check(request(), "public")), 200);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("the key is read from Authorization: Bearer or x-api-key", () => {
  assert.equal(presentedKey(request({ authorization: "Bearer abc" })), "abc");
  assert.equal(presentedKey(request({ authorization: "bearer  abc " })), "abc");
  assert.equal(presentedKey(request({ "x-api-key": " abc " })), "abc");
  assert.equal(presentedKey(request({ authorization: "Basic abc" })), undefined);
  assert.equal(presentedKey(request()), undefined);
});
