/**
 * Files that are either absent or whole: written to a temporary file in the same directory, flushed
 * to disk, renamed over the target, and the directory flushed so the rename survives a crash.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** `mode` sets the new file's permissions (e.g. 0o600 for secrets) from the moment it exists. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o666): void {
  const directory = dirname(path);
  mkdirSync(directory, { recursive: true });
  const temporary = join(directory, `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = openSync(temporary, "wx", mode);
  try {
    writeSync(handle, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(handle);
  } catch (error) {
    closeSync(handle);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(handle);
  renameSync(temporary, path);
  syncDirectory(directory);
}

/** Moves a finished file into place atomically, flushing it and its new directory. */
export function moveIntoPlace(from: string, to: string): void {
  const handle = openSync(from, "r");
  try {
    fsyncSync(handle);
  } finally {
    closeSync(handle);
  }
  mkdirSync(dirname(to), { recursive: true });
  renameSync(from, to);
  syncDirectory(dirname(to));
}

function syncDirectory(directory: string): void {
  // Not every file system lets a directory be opened for fsync; the rename is still atomic there.
  try {
    const handle = openSync(directory, "r");
    try {
      fsyncSync(handle);
    } finally {
      closeSync(handle);
    }
  } catch {
    // ignore
  }
}
