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
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AuditFile,
  AuditError,
  type AuditLine,
  type AuditRecord,
  auditFiles,
  DEFAULT_MAX_FILE_BYTES,
  FILE_PATTERN,
  fileName,
  GENESIS_HASH,
  HEAD_FILE,
  type Head,
  LINE_FIELDS,
  lineBody,
  lineHash,
  parseLine,
  readHead,
  shapeProblem,
} from "./audit-chain.js";

export { AuditError, type AuditLine, type AuditRecord } from "./audit-chain.js";
export { type AuditFilter, type AuditVerification, parseSince, readAudit, verifyAudit } from "./audit-verify.js";

export interface AuditLogOptions {
  /** Start a new file once the current one would grow past this (default 64 MiB). */
  readonly maxFileBytes?: number;
}

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
