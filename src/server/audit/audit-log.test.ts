import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { AuditError, AuditLog, type AuditLine, type AuditRecord, type AuditVerification, parseSince, readAudit, verifyAudit } from "./audit-log.js";

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A fresh directory for a log (the audit directory itself does not exist yet: AuditLog makes it). */
function auditDirectory(): string {
  const parent = mkdtempSync(join(tmpdir(), "slmkit-audit-"));
  directories.push(parent);
  return join(parent, "audit");
}

function record(index: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: new Date(Date.UTC(2024, 4, 1, 12, index)).toISOString(),
    requestId: `req-${index}`,
    keyId: index % 2 === 0 ? "key-even" : "key-odd",
    keyName: index % 2 === 0 ? "alice" : "bob",
    role: "user",
    method: "POST",
    route: index % 3 === 0 ? "/api/chat" : "/v1/chat/completions",
    model: "qwen3:0.6b",
    status: index === 4 ? 429 : 200,
    tokensIn: 10 + index,
    tokensOut: 20 + index,
    latencyMs: 100 + index,
    client: "127.0.0.1",
    ...overrides,
  };
}

/** A directory holding `count` lines (records 1..count). */
function writtenLog(count: number, maxFileBytes?: number): string {
  const directory = auditDirectory();
  const log = new AuditLog(directory, { maxFileBytes });
  for (let index = 1; index <= count; index++) log.append(record(index));
  log.close();
  return directory;
}

const FIRST = "audit-000001.jsonl";

function linesOf(directory: string, file = FIRST): string[] {
  return readFileSync(join(directory, file), "utf8").split("\n").slice(0, -1);
}

function rewrite(directory: string, lines: readonly string[], file = FIRST): void {
  writeFileSync(join(directory, file), lines.map((line) => `${line}\n`).join(""));
}

/** A line as the writer would make it, hash and all: what a careful forger would produce. */
function forged(fields: Omit<AuditLine, "hash">): string {
  const order = ["seq", "time", "requestId", "keyId", "keyName", "role", "method", "route", "model", "status", "tokensIn", "tokensOut", "latencyMs", "client", "prev"] as const;
  const body = `{${order.map((name) => `"${name}":${JSON.stringify(fields[name])}`).join(",")}}`;
  const hash = createHash("sha256").update(`${fields.prev}\n${body}`).digest("hex");
  return `${body.slice(0, -1)},"hash":"${hash}"}`;
}

function assertFails(result: AuditVerification, file: string, line: number, seq: number | null, reason: RegExp): void {
  assert.equal(result.ok, false, `expected a failure, got ${JSON.stringify(result)}`);
  if (result.ok) return;
  assert.deepEqual({ file: result.file, line: result.line, seq: result.seq }, { file, line, seq }, result.reason);
  assert.match(result.reason, reason);
}

describe("audit log", () => {
  it("writes a chain that reads back and verifies", () => {
    const directory = writtenLog(5);
    const lines = readAudit(directory);
    assert.deepEqual(lines.map((line) => line.seq), [1, 2, 3, 4, 5]);
    assert.equal(lines[0]!.prev, "0".repeat(64));
    for (let index = 1; index < lines.length; index++) assert.equal(lines[index]!.prev, lines[index - 1]!.hash);
    const { seq: _seq, prev: _prev, hash: _hash, ...third } = lines[2]!;
    assert.deepEqual(third, record(3));
    assert.deepEqual(verifyAudit(directory), { ok: true, files: 1, lines: 5 });
    assert.deepEqual(JSON.parse(readFileSync(join(directory, "head.json"), "utf8")), { seq: 5, hash: lines[4]!.hash, file: FIRST });
    assert.equal(statSync(directory).mode & 0o777, 0o700);
    assert.equal(statSync(join(directory, FIRST)).mode & 0o777, 0o600);
  });

  it("hashes prev, a newline and the line's fields in their fixed order", () => {
    const [first] = linesOf(writtenLog(1));
    const { hash, ...rest } = JSON.parse(first!) as AuditLine;
    assert.equal(first, forged(rest));
    assert.equal(hash, createHash("sha256").update(`${"0".repeat(64)}\n${JSON.stringify(rest)}`).digest("hex"));
  });

  it("records no request or output text unless content is given, and then hashes it", () => {
    const directory = auditDirectory();
    const log = new AuditLog(directory);
    log.append(record(1));
    log.append(record(2, { content: { request: { messages: [{ role: "user", content: "secret prompt" }], stream: false }, output: "the reply" } }));
    assert.doesNotMatch(linesOf(directory)[0]!, /content|secret|reply/);
    assert.deepEqual(readAudit(directory)[1]!.content, { request: { messages: [{ role: "user", content: "secret prompt" }], stream: false }, output: "the reply" });
    assert.deepEqual(verifyAudit(directory), { ok: true, files: 1, lines: 2 });
    const lines = linesOf(directory);
    rewrite(directory, [lines[0]!, lines[1]!.replace("the reply", "another reply")]);
    assertFails(verifyAudit(directory), FIRST, 2, 2, /edited/);
  });

  it("refuses a record that would make an unreadable line", () => {
    const log = new AuditLog(auditDirectory());
    assert.throws(() => log.append(record(1, { status: 20.5 })), (error: unknown) => error instanceof AuditError && /status/.test(error.message));
    assert.throws(() => log.append(record(1, { time: "yesterday" })), AuditError);
    log.close();
    assert.throws(() => log.append(record(1)), /closed/);
  });
});

describe("audit tampering", () => {
  it("an edited field fails on that line", () => {
    const directory = writtenLog(5);
    const lines = linesOf(directory);
    lines[2] = lines[2]!.replace('"status":200', '"status":500');
    rewrite(directory, lines);
    assertFails(verifyAudit(directory), FIRST, 3, 3, /hash does not match.*edited/);
  });

  it("an added field fails on that line, though the hash does not cover it", () => {
    const directory = writtenLog(5);
    const lines = linesOf(directory);
    lines[1] = lines[1]!.replace("{", '{"note":"harmless",');
    rewrite(directory, lines);
    assertFails(verifyAudit(directory), FIRST, 2, 2, /'note' is not part/);
  });

  it("a deleted line fails on the line that now stands in its place", () => {
    const directory = writtenLog(5);
    const lines = linesOf(directory);
    lines.splice(2, 1);
    rewrite(directory, lines);
    assertFails(verifyAudit(directory), FIRST, 3, 4, /seq 3 is missing.*deleted/);
  });

  it("an inserted line fails on the inserted line: forged, copied, or forged with a correct hash", () => {
    const original = writtenLog(5);
    const lines = linesOf(original);
    const second = JSON.parse(lines[1]!) as AuditLine;

    const hashOnly = writtenLog(5);
    rewrite(hashOnly, [...lines.slice(0, 2), lines[1]!.replace("req-2", "req-99"), ...lines.slice(2)]);
    assertFails(verifyAudit(hashOnly), FIRST, 3, 2, /hash does not match/);

    const copied = writtenLog(5);
    rewrite(copied, [...lines.slice(0, 2), lines[1]!, ...lines.slice(2)]);
    assertFails(verifyAudit(copied), FIRST, 3, 2, /copy of the line before/);

    const { hash: _hash, ...fields } = JSON.parse(lines[2]!) as AuditLine;
    const impostor = forged({ ...fields, requestId: "req-forged", prev: second.hash });
    const before = writtenLog(5);
    rewrite(before, [...lines.slice(0, 2), impostor, ...lines.slice(2)]);
    assertFails(verifyAudit(before), FIRST, 3, 3, /inserted/);
    const after = writtenLog(5);
    rewrite(after, [...lines.slice(0, 3), impostor, ...lines.slice(3)]);
    assertFails(verifyAudit(after), FIRST, 4, 3, /inserted/);
  });

  it("two swapped lines fail on the first of them", () => {
    const directory = writtenLog(5);
    const lines = linesOf(directory);
    rewrite(directory, [lines[0]!, lines[1]!, lines[3]!, lines[2]!, lines[4]!]);
    assertFails(verifyAudit(directory), FIRST, 3, 4, /out of order: seq 3 .* line 4/);
  });

  it("a line that is not JSON fails on that line", () => {
    const directory = writtenLog(5);
    const lines = linesOf(directory);
    lines[1] = "this is not an audit line";
    rewrite(directory, lines);
    assertFails(verifyAudit(directory), FIRST, 2, null, /not JSON/);
  });

  it("lines cut from the end fail against head.json, naming the first missing line", () => {
    const directory = writtenLog(5);
    rewrite(directory, linesOf(directory).slice(0, 3));
    assertFails(verifyAudit(directory), FIRST, 4, 4, /ends at seq 3 .* records seq 5.* 2 line\(s\) were cut/);
  });

  it("a last line rewritten with a fresh hash fails against head.json", () => {
    const directory = writtenLog(3);
    const lines = linesOf(directory);
    const { hash: _hash, ...fields } = JSON.parse(lines[2]!) as AuditLine;
    lines[2] = forged({ ...fields, status: 200, tokensOut: 1 });
    rewrite(directory, lines);
    assertFails(verifyAudit(directory), FIRST, 3, 3, /rewritten/);
  });

  it("a missing or broken head.json fails", () => {
    const directory = writtenLog(3);
    rmSync(join(directory, "head.json"));
    assertFails(verifyAudit(directory), FIRST, 3, 3, /head\.json is missing/);
    writeFileSync(join(directory, "head.json"), "{");
    assertFails(verifyAudit(directory), "head.json", 1, null, /not JSON/);
  });
});

describe("audit rotation", () => {
  /** Lines are about 400 bytes: two fit in 1000, so files hold 2, 2, 2, 1 lines of seven. */
  const rotated = (): string => writtenLog(7, 1000);

  it("starts a new file when one is full and keeps the chain across files", () => {
    const directory = rotated();
    assert.deepEqual(readdirSync(directory).filter((name) => name.endsWith(".jsonl")).sort(), ["audit-000001.jsonl", "audit-000002.jsonl", "audit-000003.jsonl", "audit-000004.jsonl"]);
    const lastOfFirst = JSON.parse(linesOf(directory).at(-1)!) as AuditLine;
    const firstOfSecond = JSON.parse(linesOf(directory, "audit-000002.jsonl")[0]!) as AuditLine;
    assert.equal(firstOfSecond.prev, lastOfFirst.hash);
    assert.equal(firstOfSecond.seq, lastOfFirst.seq + 1);
    assert.deepEqual(verifyAudit(directory), { ok: true, files: 4, lines: 7 });
    assert.deepEqual(readAudit(directory).map((line) => line.seq), [1, 2, 3, 4, 5, 6, 7]);
  });

  it("a deleted first file fails on the first line left", () => {
    const directory = rotated();
    rmSync(join(directory, FIRST));
    assertFails(verifyAudit(directory), "audit-000002.jsonl", 1, 3, /starts at seq 3, not 1.*audit-000001\.jsonl is missing/);
  });

  it("a deleted middle file fails on the first line after it", () => {
    const directory = rotated();
    rmSync(join(directory, "audit-000002.jsonl"));
    assertFails(verifyAudit(directory), "audit-000003.jsonl", 1, 5, /seq 3–4 are missing.*audit-000002\.jsonl is missing/);
  });

  it("a deleted last file fails against head.json", () => {
    const directory = rotated();
    rmSync(join(directory, "audit-000004.jsonl"));
    assertFails(verifyAudit(directory), "audit-000003.jsonl", 3, 7, /cut.*audit-000004\.jsonl is missing/);
  });
});

describe("reopening an audit directory", () => {
  it("continues the chain where the last log stopped", () => {
    const directory = writtenLog(3);
    const log = new AuditLog(directory);
    assert.equal(log.append(record(4)).seq, 4);
    log.close();
    const lines = readAudit(directory);
    assert.deepEqual(lines.map((line) => line.seq), [1, 2, 3, 4]);
    assert.equal(lines[3]!.prev, lines[2]!.hash);
    assert.deepEqual(verifyAudit(directory), { ok: true, files: 1, lines: 4 });
  });

  it("continues in the newest file after rotation", () => {
    const directory = writtenLog(3, 1000);
    const log = new AuditLog(directory, { maxFileBytes: 1000 });
    log.append(record(4));
    log.append(record(5));
    assert.deepEqual(readdirSync(directory).filter((name) => name.endsWith(".jsonl")).length, 3);
    assert.deepEqual(verifyAudit(directory), { ok: true, files: 3, lines: 5 });
  });

  it("picks up a line written just before a crash that left head.json one behind", () => {
    const directory = writtenLog(3);
    const lines = readAudit(directory);
    writeFileSync(join(directory, "head.json"), JSON.stringify({ seq: 2, hash: lines[1]!.hash, file: FIRST }));
    const log = new AuditLog(directory);
    assert.equal(log.append(record(4)).prev, lines[2]!.hash);
    assert.deepEqual(verifyAudit(directory), { ok: true, files: 1, lines: 4 });
  });

  it("does not paper over lines cut before it was opened", () => {
    const directory = writtenLog(4);
    rewrite(directory, linesOf(directory).slice(0, 2));
    new AuditLog(directory).append(record(5));
    assertFails(verifyAudit(directory), FIRST, 3, 5, /seq 3–4 are missing/);
  });

  it("starts a line cut short by a crash on a line of its own", () => {
    const directory = writtenLog(2);
    writeFileSync(join(directory, FIRST), `${linesOf(directory).join("\n")}\n{"seq":3,"ti`);
    new AuditLog(directory).append(record(3));
    assert.deepEqual(readAudit(directory).map((line) => line.seq), [1, 2, 3]);
    assertFails(verifyAudit(directory), FIRST, 3, null, /not JSON/);
  });

  it("refuses a directory whose chain it cannot find", () => {
    const directory = writtenLog(2);
    rmSync(join(directory, "head.json"));
    writeFileSync(join(directory, FIRST), "garbage\n");
    assert.throws(() => new AuditLog(directory), (error: unknown) => error instanceof AuditError && /cannot continue/.test(error.message));
  });

  it("treats a directory that does not exist as an empty log", () => {
    const directory = auditDirectory();
    assert.deepEqual(verifyAudit(directory), { ok: true, files: 0, lines: 0 });
    assert.deepEqual(readAudit(directory), []);
    assert.equal(existsSync(directory), false);
  });
});

describe("reading the audit log", () => {
  it("filters by key, time, route and status", () => {
    const directory = writtenLog(6);
    const seqs = (filter: Parameters<typeof readAudit>[1]): number[] => readAudit(directory, filter).map((line) => line.seq);
    assert.deepEqual(seqs({}), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(seqs({ keyId: "key-even" }), [2, 4, 6]);
    assert.deepEqual(seqs({ route: "/api/chat" }), [3, 6]);
    assert.deepEqual(seqs({ status: 429 }), [4]);
    assert.deepEqual(seqs({ since: new Date(Date.UTC(2024, 4, 1, 12, 5)) }), [5, 6]);
    assert.deepEqual(seqs({ keyId: "key-odd", route: "/v1/chat/completions" }), [1, 5]);
    assert.deepEqual(seqs({ keyId: "nobody" }), []);
  });

  it("reads --since as a span back from now or as a date", () => {
    const now = new Date("2024-05-10T12:00:00.000Z");
    const cases: Array<[string, string | undefined]> = [
      ["1h", "2024-05-10T11:00:00.000Z"],
      ["30m", "2024-05-10T11:30:00.000Z"],
      ["2d", "2024-05-08T12:00:00.000Z"],
      ["1h30m", "2024-05-10T10:30:00.000Z"],
      ["1w", "2024-05-03T12:00:00.000Z"],
      ["2024-05-01", "2024-05-01T00:00:00.000Z"],
      ["2024-05-01T08:15:00Z", "2024-05-01T08:15:00.000Z"],
      ["yesterday", undefined],
      ["5 minutes", undefined],
      ["2024-13-45", undefined],
      ["", undefined],
    ];
    for (const [text, expected] of cases) assert.equal(parseSince(text, now)?.toISOString(), expected, text);
  });
});
