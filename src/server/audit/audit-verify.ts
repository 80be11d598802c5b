/**
 * Checking an audit directory's chain line by line (naming the first line that breaks it) and reading
 * its lines back with filters.
 */
import { type AuditFile, type AuditLine, auditFiles, fileName, GENESIS_HASH, HEAD_FILE, type Head, lineBody, lineHash, parseLine, readHead, type StoredText, storedLines } from "./audit-chain.js";

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
