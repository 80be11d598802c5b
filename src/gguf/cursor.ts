import { isUtf8 } from "node:buffer";
import type { ByteSource } from "./byte-source.js";
import { GgufError } from "./errors.js";

const WINDOW_BYTES = 1 << 20;
const TWO_TO_32 = 4294967296;

/**
 * Reads little-endian values from a ByteSource through a sliding window, checking every read
 * against the end of the file first, so malformed lengths fail with TRUNCATED instead of reading
 * (or allocating) past the end. Hot paths (a 150k-token vocabulary is 300k strings and lengths) read
 * straight from the window: no BigInt and no per-value Buffer unless a value is absurd.
 */
export class Cursor {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  position = 0;

  constructor(readonly source: ByteSource) {}

  get remaining(): number {
    return this.source.size - this.position;
  }

  fail(code: GgufError["code"], detail: string, offset = this.position): never {
    throw new GgufError(code, detail, offset, this.source.name);
  }

  /** Makes `length` bytes at the position readable in the window; returns their offset in it, and advances. */
  private advance(length: number, what: string): number {
    if (length > this.remaining) {
      this.fail("TRUNCATED", `the file ends while reading ${what} (${length} bytes needed, ${this.remaining} left): it is truncated`);
    }
    let offset = this.position - this.windowStart;
    if (offset < 0 || offset + length > this.window.length) {
      // A source holding only the first part of a file (a remote prefix) is read no further than it
      // holds unless a value itself reaches further.
      const held = this.source.available === undefined ? this.remaining : Math.max(length, this.source.available - this.position);
      const windowLength = Math.min(Math.max(length, WINDOW_BYTES), this.remaining, held);
      const bytes = this.source.read(this.position, windowLength);
      this.window = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.windowStart = this.position;
      offset = 0;
    }
    this.position += length;
    return offset;
  }

  /** The next `length` bytes, valid until the next read; copy them to keep them. */
  take(length: number, what: string): Buffer {
    const offset = this.advance(length, what);
    return this.window.subarray(offset, offset + length);
  }

  u8(what: string): number {
    return this.window.readUInt8(this.advance(1, what));
  }
  i8(what: string): number {
    return this.window.readInt8(this.advance(1, what));
  }
  u16(what: string): number {
    return this.window.readUInt16LE(this.advance(2, what));
  }
  i16(what: string): number {
    return this.window.readInt16LE(this.advance(2, what));
  }
  u32(what: string): number {
    return this.window.readUInt32LE(this.advance(4, what));
  }
  i32(what: string): number {
    return this.window.readInt32LE(this.advance(4, what));
  }
  f32(what: string): number {
    return this.window.readFloatLE(this.advance(4, what));
  }
  f64(what: string): number {
    return this.window.readDoubleLE(this.advance(8, what));
  }
  u64(what: string): bigint {
    return this.window.readBigUInt64LE(this.advance(8, what));
  }
  i64(what: string): bigint {
    return this.window.readBigInt64LE(this.advance(8, what));
  }

  /** A u64 as a number, or Infinity when it does not fit one exactly (above 2^53). */
  u64Number(what: string): number {
    const offset = this.advance(8, what);
    const high = this.window.readUInt32LE(offset + 4);
    if (high >= 0x200000) return Infinity;
    return high * TWO_TO_32 + this.window.readUInt32LE(offset);
  }

  /**
   * A u64 count or length that must be small enough to be real: at most `limit`, and (given the
   * least bytes one item takes) no more items than the rest of the file could hold.
   */
  count(what: string, bytesPerItem: number, limit = Number.MAX_SAFE_INTEGER): number {
    const at = this.position;
    const value = this.u64Number(what);
    const fits = Math.floor(this.remaining / Math.max(bytesPerItem, 1));
    if (value > limit || value > fits) {
      const exact = Buffer.from(this.source.read(at, 8)).readBigUInt64LE(0);
      const code = bytesPerItem === 1 ? "ABSURD_LENGTH" : "ABSURD_COUNT";
      const detail =
        value > limit
          ? `${what} is ${exact}, more than the limit of ${limit}`
          : `${what} is ${exact}, more than the ${this.remaining} bytes left in the file can hold: the file is truncated or corrupt`;
      this.fail(code, detail, at);
    }
    return value;
  }

  /** A length-prefixed string. Invalid UTF-8 is kept as raw bytes so that it round-trips. */
  string(what: string, maxBytes: number): { value: string; raw?: Uint8Array } {
    const length = this.count(`length of ${what}`, 1, maxBytes);
    const offset = this.advance(length, what);
    const value = this.window.toString("utf8", offset, offset + length);
    // Decoding replaces bad sequences with U+FFFD; only then is the (rarer) validity check worth running.
    if (value.includes("\uFFFD") && !isUtf8(this.window.subarray(offset, offset + length))) {
      return { value, raw: Uint8Array.from(this.window.subarray(offset, offset + length)) };
    }
    return { value };
  }
}
