/**
 * A lock between processes on one store: a file created exclusively, holding its owner's pid, host
 * and a random token. A lock whose owner on this host is gone (killed mid-pull) is taken over; only
 * the process that wins a second exclusive file (`.takeover`) may remove it, after checking that it
 * still holds the same dead owner, so two waiters never both take it. A live owner is waited for, and
 * the wait ends when the caller's signal fires.
 */
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";

const POLL_MS = 100;
/** A takeover guard older than this was left by a process that died in the middle of a takeover. */
const GUARD_EXPIRY_MS = 10_000;

/** The lock files this process holds now (a pid alone cannot tell: a restarted container reuses pid 1). */
const held = new Set<string>();

export interface LockOptions {
  readonly onWait?: () => void;
  readonly signal?: AbortSignal;
}

export async function withFileLock<T>(path: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const token = `${process.pid} ${hostname()} ${randomBytes(8).toString("hex")}`;
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    if (createExclusive(path, token)) break;
    const stale = staleContent(path);
    if (stale !== undefined) {
      takeOver(path, stale);
      continue;
    }
    if (!told) options.onWait?.();
    told = true;
    await sleep(POLL_MS, options.signal);
  }
  held.add(path);
  try {
    return await work();
  } finally {
    held.delete(path);
    if (readOrUndefined(path) === token) rmSync(path, { force: true });
  }
}

function createExclusive(path: string, content: string): boolean {
  try {
    const handle = openSync(path, "wx");
    try {
      writeSync(handle, content);
    } finally {
      closeSync(handle);
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** The lock's content when its owner is known to be gone; undefined when it is (or may be) alive. */
function staleContent(path: string): string | undefined {
  const text = readOrUndefined(path);
  if (text === undefined) return undefined; // gone already: the next create decides
  if (text === "") {
    // Created but not yet written: held, unless its creator died in that instant long ago.
    const age = Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0);
    return age > GUARD_EXPIRY_MS ? text : undefined;
  }
  const [pidText, host] = text.split(" ");
  const pid = Number(pidText);
  if (host !== undefined && host !== hostname()) return undefined; // another machine's process: cannot tell, wait
  if (!Number.isInteger(pid) || pid <= 0) return text;
  if (pid === process.pid) return held.has(path) ? undefined : text;
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? undefined : text;
  }
}

/** Removes a stale lock, if this process wins the takeover guard and the lock is still the stale one. */
function takeOver(path: string, stale: string): void {
  const guard = `${path}.takeover`;
  const guardAge = Date.now() - (statSync(guard, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
  if (guardAge > GUARD_EXPIRY_MS) rmSync(guard, { force: true });
  if (!createExclusive(guard, String(process.pid))) return;
  try {
    if (readOrUndefined(path) === stale) rmSync(path, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, milliseconds);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
