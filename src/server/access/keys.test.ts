import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { KeyError, KeyStore, parseDuration } from "./keys.js";

const root = mkdtempSync(join(tmpdir(), "slmkit-keys-"));
after(() => rmSync(root, { recursive: true, force: true }));

let files = 0;
/** A fresh key file path in a directory that does not exist yet. */
function freshPath(): string {
  files++;
  return join(root, `home-${files}`, "keys.json");
}

const T0 = new Date("2025-01-01T00:00:00.000Z");
const minutes = (count: number): Date => new Date(T0.getTime() + count * 60_000);

function secretOf(key: string): string {
  const secret = /^slmkit-[0-9a-f]{12}-([A-Za-z0-9_-]{43})$/.exec(key)?.[1];
  assert.ok(secret, `key text '${key}' has the documented shape`);
  return secret;
}

/** The key file holds neither the key nor its secret, in any of the encodings a careless write could use. */
function assertNotInFile(path: string, keys: readonly string[]): void {
  const bytes = readFileSync(path);
  for (const key of keys) {
    const secret = secretOf(key);
    const raw = Buffer.from(secret, "base64url");
    for (const form of [key, secret, raw.toString("base64"), raw.toString("hex")]) {
      assert.equal(bytes.includes(form), false, `the key file contains a form of key ${key.slice(0, 19)}…`);
    }
    assert.equal(bytes.includes(raw), false, "the key file contains the raw secret bytes");
  }
}

const isKeyError = (code: KeyError["code"], pattern?: RegExp) => (error: unknown) =>
  error instanceof KeyError && error.code === code && (pattern === undefined || pattern.test(error.message));

describe("KeyStore", () => {
  it("creates a key that authenticates with its info, and an absent file means no keys", () => {
    const store = new KeyStore(freshPath());
    assert.deepEqual(store.list(), []);
    assert.equal(store.hasActiveKeys(T0), false);
    const { key, info } = store.create({ name: " ci-bot ", role: "user", models: [" qwen3:0.6b ", "llama3", "qwen3:0.6b", ""], expiresInMs: 60 * 60_000, limits: { requestsPerMinute: 60, concurrentStreams: 2 } }, T0);
    assert.match(key, /^slmkit-[0-9a-f]{12}-[A-Za-z0-9_-]{43}$/);
    assert.ok(key.startsWith(`slmkit-${info.id}-`));
    assert.deepEqual(info, {
      id: info.id,
      name: "ci-bot",
      role: "user",
      models: ["qwen3:0.6b", "llama3"],
      createdAt: "2025-01-01T00:00:00.000Z",
      expiresAt: "2025-01-01T01:00:00.000Z",
      revokedAt: null,
      limits: { requestsPerMinute: 60, concurrentStreams: 2 },
    });
    assert.deepEqual(store.authenticate(key, minutes(1)), { ok: true, key: info });
    assert.equal(store.hasActiveKeys(minutes(1)), true);
    assert.deepEqual(store.list(), [info]);
    const everyModel = store.create({ name: "admin", role: "admin" }, T0);
    assert.equal(everyModel.info.models, null);
    assert.equal(everyModel.info.expiresAt, null);
    assert.deepEqual(everyModel.info.limits, {});
    assert.equal(everyModel.info.id === info.id, false);
    assert.deepEqual(store.list().map((listed) => listed.name), ["ci-bot", "admin"]);
  });

  it("refuses wrong secrets, tampered ids and malformed text", () => {
    const store = new KeyStore(freshPath());
    const { key, info } = store.create({ name: "a", role: "viewer" }, T0);
    const other = store.create({ name: "b", role: "viewer" }, T0);
    const secret = secretOf(key);
    const flipped = `${secret.slice(0, -2)}${secret.at(-2) === "A" ? "B" : "A"}${secret.at(-1)}`;
    assert.deepEqual(store.authenticate(`slmkit-${info.id}-${flipped}`, T0), { ok: false, reason: "unknown" });
    assert.deepEqual(store.authenticate(`slmkit-${info.id}-${secretOf(other.key)}`, T0), { ok: false, reason: "unknown" }, "another key's secret");
    assert.deepEqual(store.authenticate(`slmkit-${other.info.id}-${secret}`, T0), { ok: false, reason: "unknown" }, "another key's id");
    const unknownId = info.id === "000000000000" ? "111111111111" : "000000000000";
    assert.deepEqual(store.authenticate(`slmkit-${unknownId}-${secret}`, T0), { ok: false, reason: "unknown" });
    for (const bad of ["", "slmkit", key.toUpperCase(), ` ${key}`, `${key}\n`, `${key}A`, key.slice(0, -1), key.replace("slmkit-", "slmkit_"), `Bearer ${key}`, `slmkit-${info.id}-${secret.slice(0, 42)}=`]) {
      assert.deepEqual(store.authenticate(bad, T0), { ok: false, reason: "malformed" }, JSON.stringify(bad));
    }
    assert.equal(store.authenticate(key, T0).ok, true, "the right key still works");
  });

  it("reports revoked and expired keys, and only active keys count as active", () => {
    const store = new KeyStore(freshPath());
    const expiring = store.create({ name: "short", role: "user", expiresInMs: 10 * 60_000 }, T0);
    assert.equal(store.authenticate(expiring.key, minutes(9)).ok, true);
    assert.deepEqual(store.authenticate(expiring.key, minutes(10)), { ok: false, reason: "expired" });
    assert.equal(store.hasActiveKeys(minutes(9)), true);
    assert.equal(store.hasActiveKeys(minutes(10)), false);

    const revocable = store.create({ name: "gone", role: "operator" }, T0);
    const revoked = store.revoke("gone", minutes(5));
    assert.equal(revoked.id, revocable.info.id);
    assert.equal(revoked.revokedAt, minutes(5).toISOString());
    assert.deepEqual(store.authenticate(revocable.key, minutes(6)), { ok: false, reason: "revoked" });
    assert.equal(store.hasActiveKeys(minutes(11)), false);
    assert.equal(store.list().find((listed) => listed.id === revocable.info.id)?.revokedAt, minutes(5).toISOString(), "a revoked key stays listed");
    assert.deepEqual(store.revoke(revocable.info.id, minutes(30)), revoked, "revoking again changes nothing");
    assert.throws(() => store.revoke("nobody"), isKeyError("NOT_FOUND", /'nobody'/));
    // A wrong secret for a revoked key is just unknown: its state is told only to its holder.
    assert.deepEqual(store.authenticate(`slmkit-${revocable.info.id}-${"A".repeat(43)}`, minutes(6)), { ok: false, reason: "unknown" });
  });

  it("never writes a key or its secret to the file, which is private to its owner", () => {
    const path = freshPath();
    const store = new KeyStore(path);
    const keys: string[] = [];
    for (let index = 0; index < 5; index++) {
      keys.push(store.create({ name: `key-${index}`, role: "user", models: ["m"], limits: { tokensPerMinute: 1000 } }, T0).key);
      assertNotInFile(path, keys);
    }
    store.revoke("key-2", minutes(1));
    assertNotInFile(path, keys);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, "..")).mode & 0o077, 0, "the new directory is private too");
    const file = JSON.parse(readFileSync(path, "utf8")) as { version: number; keys: Array<Record<string, unknown>> };
    assert.equal(file.version, 1);
    assert.equal(file.keys.length, 5);
    for (const record of file.keys) {
      assert.match(record.salt as string, /^[0-9a-f]{32}$/);
      assert.match(record.hash as string, /^[0-9a-f]{64}$/);
    }
    assert.equal(new Set(file.keys.map((record) => record.salt)).size, 5, "every key has its own salt");
  });

  it("lets a long-lived store see keys created and revoked by another", () => {
    const path = freshPath();
    const server = new KeyStore(path);
    assert.equal(server.hasActiveKeys(T0), false);
    const cli = new KeyStore(path);
    const first = cli.create({ name: "first", role: "user" }, T0);
    assert.equal(server.hasActiveKeys(T0), true);
    assert.deepEqual(server.authenticate(first.key, T0), { ok: true, key: first.info });
    const second = new KeyStore(path).create({ name: "second", role: "admin" }, T0);
    assert.equal(server.authenticate(second.key, T0).ok, true);
    new KeyStore(path).revoke(first.info.id, minutes(1));
    assert.deepEqual(server.authenticate(first.key, minutes(2)), { ok: false, reason: "revoked" });
    assert.deepEqual(cli.list().map((info) => [info.name, info.revokedAt]), [
      ["first", minutes(1).toISOString()],
      ["second", null],
    ]);
    rmSync(path);
    assert.equal(server.hasActiveKeys(T0), false, "a deleted file means no keys");
    assert.deepEqual(server.authenticate(second.key, T0), { ok: false, reason: "unknown" });
  });

  it("keeps names unique among keys that are not revoked", () => {
    const store = new KeyStore(freshPath());
    const old = store.create({ name: "bot", role: "user" }, T0);
    assert.throws(() => store.create({ name: " bot", role: "viewer" }, T0), isKeyError("DUPLICATE_NAME", new RegExp(`'bot'.*${old.info.id}`)));
    store.revoke("bot", minutes(1));
    const renewed = store.create({ name: "bot", role: "user" }, minutes(2));
    assert.equal(store.revoke("bot", minutes(3)).id, renewed.info.id, "a name names the key that is not revoked");
    assert.equal(store.list().length, 2);
  });

  it("refuses bad options", () => {
    const store = new KeyStore(freshPath());
    const bad: Array<Parameters<KeyStore["create"]>[0]> = [
      { name: "  ", role: "user" },
      { name: "x".repeat(65), role: "user" },
      { name: "tab\there", role: "user" },
      { name: "0123456789ab", role: "user" },
      { name: "r", role: "root" as "user" },
      { name: "m", role: "user", models: [" ", ""] },
      { name: "e", role: "user", expiresInMs: 0 },
      { name: "e", role: "user", expiresInMs: -5 },
      { name: "e", role: "user", expiresInMs: 1e300 },
      { name: "l", role: "user", limits: { requestsPerMinute: 0 } },
      { name: "l", role: "user", limits: { concurrentStreams: 1.5 } },
    ];
    for (const options of bad) assert.throws(() => store.create(options, T0), isKeyError("BAD_OPTION"), JSON.stringify(options));
    assert.deepEqual(store.list(), []);
  });

  it("names a corrupt file and says what to do", () => {
    const damaged: Array<[string, RegExp]> = [
      ["{ not json", /not JSON/],
      ["[]", /"version": 1/],
      [JSON.stringify({ version: 2, keys: [] }), /"version": 1/],
      [JSON.stringify({ version: 1, keys: [{ id: "abc" }] }), /keys\[0\]: 'id'/],
    ];
    for (const [content, detail] of damaged) {
      const path = freshPath();
      const store = new KeyStore(path);
      store.create({ name: "k", role: "user" }, T0);
      writeFileSync(path, content);
      for (const call of [() => store.list(), () => store.hasActiveKeys(), () => store.authenticate(`slmkit-000000000000-${"A".repeat(43)}`), () => store.create({ name: "n", role: "user" })]) {
        assert.throws(call, isKeyError("CORRUPT", new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*Restore it from a backup`)));
        assert.throws(call, isKeyError("CORRUPT", detail));
      }
    }
    const duplicated = freshPath();
    const store = new KeyStore(duplicated);
    store.create({ name: "k", role: "user" }, T0);
    const file = JSON.parse(readFileSync(duplicated, "utf8")) as { keys: unknown[] };
    writeFileSync(duplicated, JSON.stringify({ version: 1, keys: [file.keys[0], { ...(file.keys[0] as object), name: "k2" }] }));
    assert.throws(() => store.list(), isKeyError("CORRUPT", /appears twice/));
  });
});

describe("parseDuration", () => {
  it("reads a whole number and one unit", () => {
    assert.equal(parseDuration("30d"), 30 * 86_400_000);
    assert.equal(parseDuration("12h"), 12 * 3_600_000);
    assert.equal(parseDuration("90m"), 90 * 60_000);
    assert.equal(parseDuration("45s"), 45_000);
    assert.equal(parseDuration(" 1d "), 86_400_000);
  });

  it("refuses anything else", () => {
    for (const bad of ["", "30", "d", "0d", "-1d", "1.5h", "30x", "1d12h", "30 d", "1D", "99999999999999999999d"]) {
      assert.throws(() => parseDuration(bad), isKeyError("BAD_OPTION", /duration/), bad);
    }
  });
});
