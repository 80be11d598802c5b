/**
 * The server's audit trail: one JSON line per request under $SLMKIT_HOME/audit/, in files
 * audit-000001.jsonl, audit-000002.jsonl, ... Each line carries the hash of the line before it, so
 * editing, deleting, inserting or reordering a line breaks the chain where it happened, and
 * head.json (the last seq and hash, rewritten after every line) shows when lines were cut from the end.
 *
 * What this does not do: someone who can write these files can also rewrite the whole chain and
 * head.json consistently, and nothing here will notice. A hash chain is tamper-evident, not
 * tamper-proof; to be sure of a log, ship its lines (or at least the head hash, often) off the machine
 * as they are written. One writer per directory: two servers appending to the same one fork the chain.
 */
import { createHash } from "node:crypto";
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What the server records about one request (no prompt or output text unless content is given). */
export interface AuditRecord {
  /** When the request arrived, ISO 8601. */
  readonly time: string;
  readonly requestId: string;
  /** The API key used, or null when the server runs without keys. */
  readonly keyId: string | null;
  readonly keyName: string | null;
  readonly role: string | null;
  readonly method: string;
  /** The route pattern, e.g. "/v1/chat/completions" (not the raw URL, which may carry parameters). */
  readonly route: string;
  readonly model: string | null;
  readonly status: number;
  readonly tokensIn: number | null;
  readonly tokensOut: number | null;
  readonly latencyMs: number;
  /** The remote address. */
  readonly client: string;
  /** The request body and the generated text: only when the server runs with --audit-content. */
  readonly content?: { readonly request?: unknown; readonly output?: string };
}

/** A stored line: the record plus its place in the chain. */
export interface AuditLine extends AuditRecord {
  /** 1 for the first line ever written to the directory, then one more per line, across files. */
  readonly seq: number;
  /** The hash of the line before (64 zeros for seq 1). */
  readonly prev: string;
  /** sha256 hex of prev + "\n" + the canonical JSON of every other field. */
  readonly hash: string;
}

export interface AuditLogOptions {
  /** Start a new file once the current one would grow past this (default 64 MiB). */
  readonly maxFileBytes?: number;
}

export type AuditVerification =
  | { readonly ok: true; readonly files: number; readonly lines: number }
  /** `line` is 1-based within `file`; `seq` is null when the line could not be read. */
  | { readonly ok: false; readonly file: string; readonly line: number; readonly seq: number | null; readonly reason: string };

type AuditFailure = Extract<AuditVerification, { ok: false }>;

export interface AuditFilter {
  readonly keyId?: string;
  /** Lines at or after this time. */
  readonly since?: Date;
  /** The route pattern, matched exactly. */
  readonly route?: string;
  readonly status?: number;
}

/** An audit directory that cannot be continued, or a record that would make an unreadable line. */
export class AuditError extends Error {
  override readonly name = "AuditError";
}

const GENESIS_HASH = "0".repeat(64);
const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
const HEAD_FILE = "head.json";
const FILE_PATTERN = /^audit-(\d{6,})\.jsonl$/;

interface FieldKind {
  readonly test: (value: unknown) => boolean;
  readonly words: string;
}

const isCount = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;
const KINDS = {
  seq: { test: (value) => Number.isSafeInteger(value) && (value as number) >= 1, words: "a whole number from 1" },
  time: { test: (value) => typeof value === "string" && !Number.isNaN(Date.parse(value)), words: "an ISO 8601 time" },
  text: { test: (value) => typeof value === "string", words: "a string" },
  textOrNull: { test: (value) => value === null || typeof value === "string", words: "a string or null" },
  status: { test: (value) => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 999, words: "an HTTP status" },
  countOrNull: { test: (value) => value === null || isCount(value), words: "a whole number or null" },
  milliseconds: { test: (value) => typeof value === "number" && Number.isFinite(value) && value >= 0, words: "a number of milliseconds" },
  content: { test: isContent, words: "an object with request and/or output (a string)" },
  hash: { test: (value) => typeof value === "string" && /^[0-9a-f]{64}$/.test(value), words: "64 hex digits" },
} satisfies Record<string, FieldKind>;

/**
 * Every field of a line but its hash, in the order they are written and hashed. Read by the writer,
 * the hasher and the checker alike. Only content may be absent.
 */
const LINE_FIELDS: ReadonlyArray<readonly [Exclude<keyof AuditLine, "hash">, FieldKind]> = [
  ["seq", KINDS.seq],
  ["time", KINDS.time],
  ["requestId", KINDS.text],
  ["keyId", KINDS.textOrNull],
  ["keyName", KINDS.textOrNull],
  ["role", KINDS.textOrNull],
  ["method", KINDS.text],
  ["route", KINDS.text],
  ["model", KINDS.textOrNull],
  ["status", KINDS.status],
  ["tokensIn", KINDS.countOrNull],
  ["tokensOut", KINDS.countOrNull],
  ["latencyMs", KINDS.milliseconds],
  ["client", KINDS.text],
  ["content", KINDS.content],
  ["prev", KINDS.hash],
];
const KNOWN_FIELDS = new Set<string>([...LINE_FIELDS.map(([name]) => name), "hash"]);

function isContent(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const fields = value as Record<string, unknown>;
  return Object.keys(fields).every((key) => key === "request" || key === "output") && (fields.output === undefined || typeof fields.output === "string");
}

/** Why `value` is not a well-formed line (fields, their types, nothing extra), or undefined when it is. */
function shapeProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "not a JSON object";
  const line = value as Record<string, unknown>;
  for (const [name, kind] of LINE_FIELDS) {
    if (!(name in line)) {
      if (name !== "content") return `field '${name}' is missing`;
    } else if (!kind.test(line[name])) {
      return `field '${name}' is not ${kind.words}`;
    }
  }
  const unknown = Object.keys(line).find((key) => !KNOWN_FIELDS.has(key));
  return unknown === undefined ? undefined : `field '${unknown}' is not part of an audit line`;
}

/** JSON with object keys sorted at every depth, so equal values always give the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const fields = value as Record<string, unknown>;
    return `{${Object.keys(fields).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson(fields[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The line without its hash, fields in LINE_FIELDS order: what is hashed, and how the line starts. */
function lineBody(line: Omit<AuditLine, "hash">): string {
  const fields = line as unknown as Record<string, unknown>;
  const parts = LINE_FIELDS.filter(([name]) => fields[name] !== undefined).map(([name]) => `"${name}":${canonicalJson(fields[name])}`);
  return `{${parts.join(",")}}`;
}

function lineHash(prev: string, body: string): string {
  return createHash("sha256").update(`${prev}\n${body}`).digest("hex");
}

function fileName(number: number): string {
  return `audit-${String(number).padStart(6, "0")}.jsonl`;
}

interface AuditFile {
  readonly name: string;
  readonly number: number;
}

/** The audit files of a directory in chain order (by number); none when it does not exist. */
function auditFiles(directory: string): AuditFile[] {
  if (!existsSync(directory)) return [];
  const files: AuditFile[] = [];
  for (const name of readdirSync(directory)) {
    const match = FILE_PATTERN.exec(name);
    if (match) files.push({ name, number: Number(match[1]) });
  }
  return files.sort((a, b) => a.number - b.number);
}

interface Head {
  readonly seq: number;
  readonly hash: string;
  readonly file: string;
}

/** head.json: undefined when absent, a reason in words when unreadable. */
function readHead(directory: string): Head | string | undefined {
  const path = join(directory, HEAD_FILE);
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return `${HEAD_FILE} is not JSON (${(error as Error).message})`;
  }
  const head = value as Partial<Record<keyof Head, unknown>> | null;
  if (head === null || typeof head !== "object" || !KINDS.seq.test(head.seq) || !KINDS.hash.test(head.hash) || typeof head.file !== "string" || !FILE_PATTERN.test(head.file)) {
    return `${HEAD_FILE} does not hold {seq, hash, file}`;
  }
  return head as Head;
}

/** Parses one stored line; the reason in words when it is not JSON or not shaped like a line. */
function parseLine(text: string): { line: AuditLine } | { reason: string; seq: number | null } {
  if (text.trim() === "") return { reason: "the line is empty", seq: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { reason: `the line is not JSON (${(error as Error).message})`, seq: null };
  }
  const problem = shapeProblem(value);
  if (problem !== undefined) {
    const seq = (value as { seq?: unknown } | null)?.seq;
    return { reason: problem, seq: KINDS.seq.test(seq) ? (seq as number) : null };
  }
  return { line: value as AuditLine };
}

interface StoredText {
  readonly fileIndex: number;
  readonly file: string;
  /** 1-based within the file. */
  readonly line: number;
  readonly text: string;
}

/** The lines of the files from a given position on, one file in memory at a time. */
function* storedLines(directory: string, files: readonly AuditFile[], fromFile = 0, fromLine = 1): Generator<StoredText> {
  for (let fileIndex = fromFile; fileIndex < files.length; fileIndex++) {
    const file = files[fileIndex]!.name;
    const texts = readFileSync(join(directory, file), "utf8").split("\n");
    if (texts.at(-1) === "") texts.pop();
    for (let index = fileIndex === fromFile ? fromLine - 1 : 0; index < texts.length; index++) {
      yield { fileIndex, file, line: index + 1, text: texts[index]! };
    }
  }
}

/** Appends request records to a directory's chain, continuing whatever chain is already there. */
export class AuditLog {
  readonly #directory: string;
  readonly #maxFileBytes: number;
  #seq: number;
  #hash: string;
  #fileNumber: number;
  #fileBytes: number;
  /** The newest file did not end with a newline (a write cut short): start the next line on a new one. */
  #needsNewline: boolean;
  #closed = false;

  /** Creates the directory (mode 0700) if need be and finds where the chain stands. */
  constructor(directory: string, options: AuditLogOptions = {}) {
    this.#directory = directory;
    this.#maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const files = auditFiles(directory);
    const head = readHead(directory);
    if (typeof head === "string") throw new AuditError(`cannot continue the audit chain in ${directory}: ${head}; run 'slmkit audit verify', then move the directory aside to start a new chain`);
    const newest = files.at(-1);
    const tail = lastLineOf(directory, files);
    const last = tail === undefined ? undefined : parseLine(tail.text);
    const lastLine = last !== undefined && "line" in last && lineHash(last.line.prev, lineBody(last.line)) === last.line.hash ? last.line : undefined;
    // The file is ahead of head.json only when the server stopped between writing a line and the head.
    // Otherwise head.json wins, so that a line appended after lines were cut or rewritten links to
    // what was really there, and verify still finds the damage.
    if (lastLine !== undefined && (head === undefined || lastLine.seq > head.seq)) {
      this.#seq = lastLine.seq;
      this.#hash = lastLine.hash;
    } else if (head !== undefined) {
      this.#seq = head.seq;
      this.#hash = head.hash;
    } else if (tail !== undefined) {
      throw new AuditError(`cannot continue the audit chain in ${directory}: the last line of ${tail.file} is not a valid audit line and ${HEAD_FILE} is missing; run 'slmkit audit verify', then move the directory aside to start a new chain`);
    } else {
      this.#seq = 0;
      this.#hash = GENESIS_HASH;
    }
    const headNumber = head === undefined ? 0 : Number(FILE_PATTERN.exec(head.file)![1]);
    this.#fileNumber = Math.max(newest?.number ?? 1, headNumber);
    const current = join(directory, fileName(this.#fileNumber));
    this.#fileBytes = existsSync(current) ? statSync(current).size : 0;
    this.#needsNewline = this.#fileBytes > 0 && !endsWithNewline(current, this.#fileBytes);
  }

  /** Writes one line (one write call) and then head.json; starts a new file first when this one is full. */
  append(record: AuditRecord): AuditLine {
    if (this.#closed) throw new AuditError("the audit log is closed");
    // Content goes through JSON once so that what is hashed is exactly what a reader will parse back.
    const content = record.content === undefined ? undefined : (JSON.parse(JSON.stringify(record.content)) as AuditRecord["content"]);
    const given: Record<string, unknown> = { ...record, content, seq: this.#seq + 1, prev: this.#hash };
    const unsigned = Object.fromEntries(LINE_FIELDS.filter(([name]) => given[name] !== undefined).map(([name]) => [name, given[name]])) as Omit<AuditLine, "hash">;
    const problem = shapeProblem(unsigned);
    if (problem !== undefined) throw new AuditError(`cannot audit request ${record.requestId}: ${problem}`);
    const body = lineBody(unsigned);
    const hash = lineHash(unsigned.prev, body);
    const text = `${this.#needsNewline ? "\n" : ""}${body.slice(0, -1)},"hash":"${hash}"}\n`;
    const bytes = Buffer.byteLength(text);
    if (this.#fileBytes > 0 && this.#fileBytes + bytes > this.#maxFileBytes) {
      this.#fileNumber += 1;
      this.#fileBytes = 0;
    }
    const file = fileName(this.#fileNumber);
    appendFileSync(join(this.#directory, file), text, { mode: 0o600 });
    this.#fileBytes += bytes;
    this.#needsNewline = false;
    this.#seq = unsigned.seq;
    this.#hash = hash;
    writeHead(this.#directory, { seq: this.#seq, hash, file });
    return { ...unsigned, hash };
  }

  /** Further appends throw. Every line is already on disk; there is nothing to flush. */
  close(): void {
    this.#closed = true;
  }
}

/** head.json replaced whole: written beside it, then renamed over it. */
function writeHead(directory: string, head: Head): void {
  const temporary = join(directory, `.${HEAD_FILE}.${process.pid}.tmp`);
  writeFileSync(temporary, `${JSON.stringify(head)}\n`, { mode: 0o600 });
  renameSync(temporary, join(directory, HEAD_FILE));
}

/** The last line of the newest non-empty file, read from its end (files may be large). */
function lastLineOf(directory: string, files: readonly AuditFile[]): { file: string; text: string } | undefined {
  for (let index = files.length - 1; index >= 0; index--) {
    const file = files[index]!.name;
    const handle = openSync(join(directory, file), "r");
    try {
      const size = fstatSync(handle).size;
      let collected = Buffer.alloc(0);
      let position = size;
      while (position > 0) {
        const length = Math.min(64 * 1024, position);
        position -= length;
        const chunk = Buffer.alloc(length);
        readSync(handle, chunk, 0, length, position);
        collected = Buffer.concat([chunk, collected]);
        const end = collected.at(-1) === 0x0a ? collected.length - 1 : collected.length;
        const start = end === 0 ? -1 : collected.lastIndexOf(0x0a, end - 1);
        if (start >= 0 || position === 0) return { file, text: collected.subarray(start + 1, end).toString("utf8") };
      }
    } finally {
      closeSync(handle);
    }
  }
  return undefined;
}

function endsWithNewline(path: string, size: number): boolean {
  const handle = openSync(path, "r");
  try {
    const last = Buffer.alloc(1);
    readSync(handle, last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    closeSync(handle);
  }
}

/**
 * Walks the chain from the first file to head.json and names the first line that breaks it: not
 * JSON, edited (hash), out of order, inserted, missing (a seq gap, a deleted file), or cut from the end.
 */
export function verifyAudit(directory: string): AuditVerification {
  const files = auditFiles(directory);
  const head = readHead(directory);
  const fail = (place: { file: string; line: number }, seq: number | null, reason: string): AuditFailure => ({ ok: false, file: place.file, line: place.line, seq, reason });
  let previous: (StoredText & { seq: number; prev: string; hash: string }) | undefined;
  let pastHead: StoredText | undefined;
  let lines = 0;

  for (const stored of storedLines(directory, files)) {
    const parsed = parseLine(stored.text);
    if (!("line" in parsed)) return fail(stored, parsed.seq, parsed.reason);
    const line = parsed.line;
    if (lineHash(line.prev, lineBody(line)) !== line.hash) return fail(stored, line.seq, "the hash does not match the line's contents: the line was edited (or forged)");
    const expectedSeq = previous === undefined ? 1 : previous.seq + 1;
    const expectedPrev = previous?.hash ?? GENESIS_HASH;

    if (line.seq > expectedSeq) {
      const later = findSeq(directory, files, stored, expectedSeq);
      if (later !== undefined) return fail(stored, line.seq, `out of order: seq ${expectedSeq} should come here but is later, at ${later.file} line ${later.line} (lines were moved or swapped)`);
      const missing = line.seq - 1 === expectedSeq ? `seq ${expectedSeq} is` : `seq ${expectedSeq}–${line.seq - 1} are`;
      const missingFiles = stored.line === 1 ? skippedFiles(files, stored.fileIndex) : [];
      const filesNote = missingFiles.length === 0 ? "" : ` (${missingFiles.join(", ")} ${missingFiles.length === 1 ? "is" : "are"} missing)`;
      if (previous === undefined) return fail(stored, line.seq, `the chain starts at seq ${line.seq}, not 1: ${missing} missing, the first line(s) or file(s) were deleted${filesNote}`);
      return fail(stored, line.seq, `${missing} missing before this line: ${line.seq - expectedSeq} line(s) deleted${filesNote}`);
    }
    if (line.seq < expectedSeq) {
      if (previous !== undefined && line.hash === previous.hash) return fail(stored, line.seq, "a copy of the line before it: a line was inserted here");
      if (previous !== undefined && line.seq === previous.seq && line.prev === previous.prev) {
        // Two lines claim the same place. The genuine one is the one its successor links to.
        if (nextPrev(directory, files, stored, head) === line.hash) return fail(previous, previous.seq, `inserted: this line and the next both claim seq ${line.seq}, and the chain goes on from the next`);
        return fail(stored, line.seq, `inserted: this line and the one before it both claim seq ${line.seq}, and the chain goes on from the one before`);
      }
      return fail(stored, line.seq, `seq ${line.seq} where seq ${expectedSeq} should be: a line was inserted or moved here`);
    }
    if (line.prev !== expectedPrev) {
      if (previous === undefined) return fail(stored, line.seq, `the first line of the chain must have prev ${GENESIS_HASH.slice(0, 8)}…: it was rewritten`);
      return fail(stored, line.seq, `prev does not match the hash of the line before it (seq ${previous.seq}, ${previous.file} line ${previous.line}): one of the two was rewritten`);
    }
    if (head !== undefined && typeof head !== "string" && line.seq === head.seq + 1) pastHead = stored;
    previous = { ...stored, seq: line.seq, prev: line.prev, hash: line.hash };
    lines += 1;
  }

  if (typeof head === "string") return fail({ file: HEAD_FILE, line: 1 }, null, head);
  if (head === undefined) {
    if (previous === undefined) return { ok: true, files: files.length, lines: 0 };
    return fail(previous, previous.seq, `${HEAD_FILE} is missing, so lines cut from the end could not be noticed`);
  }
  if (previous === undefined) return fail({ file: head.file, line: 1 }, null, `no audit lines, but ${HEAD_FILE} records seq ${head.seq} in ${head.file}: the files were deleted or emptied`);
  if (previous.seq < head.seq) {
    const gone = files.some((file) => file.name === head.file) ? "" : ` (${head.file} is missing)`;
    return fail({ file: previous.file, line: previous.line + 1 }, previous.seq + 1, `the chain ends at seq ${previous.seq} but ${HEAD_FILE} records seq ${head.seq}: the last ${head.seq - previous.seq} line(s) were cut${gone}`);
  }
  if (previous.seq > head.seq && pastHead !== undefined) {
    return fail(pastHead, head.seq + 1, `the chain goes on past ${HEAD_FILE} (seq ${head.seq}): lines were added after the last recorded write, by hand or by a server stopped between writing a line and the head`);
  }
  if (previous.hash !== head.hash) return fail(previous, previous.seq, `the last line's hash differs from ${HEAD_FILE}'s: the line was rewritten`);
  if (previous.file !== head.file) return fail(previous, previous.seq, `${HEAD_FILE} places seq ${head.seq} in ${head.file}, not ${previous.file}: files were renamed`);
  return { ok: true, files: files.length, lines };
}

/** Where a seq turns up after a position, if anywhere (only read on a failure, to tell moves from deletions). */
function findSeq(directory: string, files: readonly AuditFile[], after: StoredText, seq: number): StoredText | undefined {
  for (const stored of storedLines(directory, files, after.fileIndex, after.line + 1)) {
    const parsed = parseLine(stored.text);
    if ("line" in parsed && parsed.line.seq === seq) return stored;
  }
  return undefined;
}

/** The prev of the line after a position, or head.json's hash at the end of the chain. */
function nextPrev(directory: string, files: readonly AuditFile[], after: StoredText, head: Head | string | undefined): string | undefined {
  const next = storedLines(directory, files, after.fileIndex, after.line + 1).next();
  if (next.done === true) return typeof head === "object" ? head.hash : undefined;
  const parsed = parseLine(next.value.text);
  return "line" in parsed ? parsed.line.prev : undefined;
}

/** The file names missing between a file and the one before it. */
function skippedFiles(files: readonly AuditFile[], index: number): string[] {
  const from = index === 0 ? 0 : files[index - 1]!.number;
  const skipped: string[] = [];
  for (let number = from + 1; number < files[index]!.number; number++) skipped.push(fileName(number));
  return skipped;
}

/** The lines that pass the filter, in chain order. Lines that cannot be read are skipped: verifyAudit reports them. */
export function readAudit(directory: string, filter: AuditFilter = {}): AuditLine[] {
  const since = filter.since?.getTime();
  const matches: AuditLine[] = [];
  for (const stored of storedLines(directory, auditFiles(directory))) {
    const parsed = parseLine(stored.text);
    if (!("line" in parsed)) continue;
    const line = parsed.line;
    if (filter.keyId !== undefined && line.keyId !== filter.keyId) continue;
    if (filter.route !== undefined && line.route !== filter.route) continue;
    if (filter.status !== undefined && line.status !== filter.status) continue;
    if (since !== undefined && Date.parse(line.time) < since) continue;
    matches.push(line);
  }
  return matches;
}

const SINCE_UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A --since value: a span back from `now` ("30m", "1h", "2d", "1h30m"; units s m h d w) or a date
 * ("2024-05-01", UTC midnight; "2024-05-01T10:00:00Z"). Undefined when it is neither.
 */
export function parseSince(text: string, now: Date = new Date()): Date | undefined {
  const trimmed = text.trim();
  if (/^(?:\d+(?:\.\d+)?[smhdw])+$/.test(trimmed)) {
    let total = 0;
    for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) total += Number(amount) * SINCE_UNIT_MS[unit!]!;
    return new Date(now.getTime() - total);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const time = Date.parse(trimmed);
    if (Number.isFinite(time)) return new Date(time);
  }
  return undefined;
}
