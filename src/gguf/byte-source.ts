import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { GgufError } from "./errors.js";

/**
 * Random-access bytes the header parser reads from. Reads are synchronous: a header is parsed in
 * one go, and a file-backed source only ever holds its read window in memory.
 */
export interface ByteSource {
  /** Total size of the file in bytes. */
  readonly size: number;
  /** Names the source in error messages (a path or URL). */
  readonly name: string;
  /** Bytes from the start actually held, when less than `size` (a prefix of a remote file). */
  readonly available?: number;
  /** Exactly `length` bytes at `offset`; the caller has checked the range lies inside `size`. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

/** A file on disk, read with positional reads; never holds more than the last read in memory. */
export class FileByteSource implements ByteSource {
  readonly size: number;
  private fd: number | undefined;

  constructor(readonly name: string) {
    let size = 0;
    try {
      this.fd = openSync(name, "r");
      const stats = fstatSync(this.fd);
      if (stats.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
      size = stats.size;
    } catch (error) {
      if (this.fd !== undefined) closeSync(this.fd);
      throw ioError(error, name);
    }
    this.size = size;
  }

  read(offset: number, length: number): Uint8Array {
    if (this.fd === undefined) throw new GgufError("IO", "read after close", offset, this.name);
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      let got: number;
      try {
        got = readSync(this.fd, buffer, filled, length - filled, offset + filled);
      } catch (error) {
        throw ioError(error, this.name);
      }
      if (got === 0) throw new GgufError("TRUNCATED", "the file ended while reading (was it changed while being read?)", offset + filled, this.name);
      filled += got;
    }
    return buffer;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Bytes already in memory: a test fixture, or the first part of a remote file. */
export class BufferByteSource implements ByteSource {
  readonly size: number;

  constructor(
    private readonly bytes: Uint8Array,
    readonly name = "<buffer>",
  ) {
    this.size = bytes.length;
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }

  close(): void {}
}

/** Thrown by a PrefixByteSource asked for bytes beyond its prefix: fetch at least `needed` bytes and parse again. */
export class PrefixExhausted extends Error {
  override readonly name = "PrefixExhausted";
  constructor(readonly needed: number) {
    super(`the header reaches beyond the first bytes fetched (needs ${needed})`);
  }
}

/**
 * The first bytes of a larger file (a remote GGUF fetched with a Range request): reports the whole
 * file's size, so tensor extents are checked against it, and throws PrefixExhausted past the prefix.
 */
export class PrefixByteSource implements ByteSource {
  readonly available: number;

  constructor(
    private readonly prefix: Uint8Array,
    readonly size: number,
    readonly name: string,
  ) {
    this.available = prefix.length;
  }

  read(offset: number, length: number): Uint8Array {
    if (offset + length > this.prefix.length) throw new PrefixExhausted(offset + length);
    return this.prefix.subarray(offset, offset + length);
  }

  close(): void {}
}

/** Turns a Node file-system error into a one-line GgufError that says what to do. */
export function ioError(error: unknown, file: string): GgufError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return new GgufError("NOT_FOUND", "no such file; check the path", undefined, file);
  if (code === "EISDIR") return new GgufError("IO", "this is a directory; give a file path", undefined, file);
  if (code === "EACCES" || code === "EPERM") return new GgufError("IO", "permission denied", undefined, file);
  if (code === "ENOTDIR") return new GgufError("IO", "a part of this path is a file, not a directory", undefined, file);
  if (code === "ENOSPC" || code === "EDQUOT") return new GgufError("IO", "the disk is full: free some space and try again", undefined, file);
  if (code === "EFBIG") return new GgufError("IO", "the file would be larger than this system allows (a file size limit is set)", undefined, file);
  const message = error instanceof Error ? error.message : String(error);
  return new GgufError("IO", message, undefined, file);
}
