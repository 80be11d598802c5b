/**
 * The stored form of the audit chain: the fields of a line in their fixed order, the canonical JSON and
 * hash that link each line to the one before, the numbered files and head.json, and reading them back.
 * audit-log.ts writes lines in this form; audit-verify.ts checks and reads them.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
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
  /** Only with --audit-content: the request body and the text generated for it. */
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


/** An audit directory that cannot be continued, or a record that would make an unreadable line. */
export class AuditError extends Error {
  override readonly name = "AuditError";
}

export const GENESIS_HASH = "0".repeat(64);
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
export const HEAD_FILE = "head.json";
export const FILE_PATTERN = /^audit-(\d{6,})\.jsonl$/;

export interface FieldKind {
  readonly test: (value: unknown) => boolean;
  readonly words: string;
}

export const isCount = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;
export const KINDS = {
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
export const LINE_FIELDS: ReadonlyArray<readonly [Exclude<keyof AuditLine, "hash">, FieldKind]> = [
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
export const KNOWN_FIELDS = new Set<string>([...LINE_FIELDS.map(([name]) => name), "hash"]);

export function isContent(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const fields = value as Record<string, unknown>;
  return Object.keys(fields).every((key) => key === "request" || key === "output") && (fields.output === undefined || typeof fields.output === "string");
}

/** Why `value` is not a well-formed line (fields, their types, nothing extra), or undefined when it is. */
export function shapeProblem(value: unknown): string | undefined {
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
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const fields = value as Record<string, unknown>;
    return `{${Object.keys(fields).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson(fields[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The line without its hash, fields in LINE_FIELDS order: what is hashed, and how the line starts. */
export function lineBody(line: Omit<AuditLine, "hash">): string {
  const fields = line as unknown as Record<string, unknown>;
  const parts = LINE_FIELDS.filter(([name]) => fields[name] !== undefined).map(([name]) => `"${name}":${canonicalJson(fields[name])}`);
  return `{${parts.join(",")}}`;
}

export function lineHash(prev: string, body: string): string {
  return createHash("sha256").update(`${prev}\n${body}`).digest("hex");
}

export function fileName(number: number): string {
  return `audit-${String(number).padStart(6, "0")}.jsonl`;
}

export interface AuditFile {
  readonly name: string;
  readonly number: number;
}

/** The audit files of a directory in chain order (by number); none when it does not exist. */
export function auditFiles(directory: string): AuditFile[] {
  if (!existsSync(directory)) return [];
  const files: AuditFile[] = [];
  for (const name of readdirSync(directory)) {
    const match = FILE_PATTERN.exec(name);
    if (match) files.push({ name, number: Number(match[1]) });
  }
  return files.sort((a, b) => a.number - b.number);
}

export interface Head {
  readonly seq: number;
  readonly hash: string;
  readonly file: string;
}

/** head.json: undefined when absent, a reason in words when unreadable. */
export function readHead(directory: string): Head | string | undefined {
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
export function parseLine(text: string): { line: AuditLine } | { reason: string; seq: number | null } {
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

export interface StoredText {
  readonly fileIndex: number;
  readonly file: string;
  /** 1-based within the file. */
  readonly line: number;
  readonly text: string;
}

/** The lines of the files from a given position on, one file in memory at a time. */
export function* storedLines(directory: string, files: readonly AuditFile[], fromFile = 0, fromLine = 1): Generator<StoredText> {
  for (let fileIndex = fromFile; fileIndex < files.length; fileIndex++) {
    const file = files[fileIndex]!.name;
    const texts = readFileSync(join(directory, file), "utf8").split("\n");
    if (texts.at(-1) === "") texts.pop();
    for (let index = fileIndex === fromFile ? fromLine - 1 : 0; index < texts.length; index++) {
      yield { fileIndex, file, line: index + 1, text: texts[index]! };
    }
  }
}
