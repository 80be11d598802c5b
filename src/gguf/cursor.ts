import { isUtf8 } from "node:buffer";
import type { ByteSource } from "./byte-source.js";
import { GgufError } from "./errors.js";

const WINDOW_BYTES = 1 << 20;

/**
 * Reads little-endian values from a ByteSource through a sliding window, checking every read
 * against the end of the file first, so malformed lengths fail with TRUNCATED instead of reading
 * (or allocating) past the end.
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

  /** The next `length` bytes, valid until the next read; copy them to keep them. */
  take(length: number, what: string): Buffer {
    if (length > this.remaining) {
      this.fail("TRUNCATED", `the file ends while reading ${what} (${length} bytes needed, ${this.remaining} left): it is truncated`);
    }
    const start = this.position - this.windowStart;
    if (start < 0 || start + length > this.window.length) {
      const windowLength = Math.min(Math.max(length, WINDOW_BYTES), this.remaining);
      const bytes = this.source.read(this.position, windowLength);
      this.window = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.windowStart = this.position;
    }
    const offset = this.position - this.windowStart;
    this.position += length;
    return this.window.subarray(offset, offset + length);
  }

  u8(what: string): number {
    return this.take(1, what).readUInt8(0);
  }
  i8(what: string): number {
    return this.take(1, what).readInt8(0);
  }
  u16(what: string): number {
    return this.take(2, what).readUInt16LE(0);
  }
  i16(what: string): number {
    return this.take(2, what).readInt16LE(0);
  }
  u32(what: string): number {
    return this.take(4, what).readUInt32LE(0);
  }
  i32(what: string): number {
    return this.take(4, what).readInt32LE(0);
  }
  f32(what: string): number {
    return this.take(4, what).readFloatLE(0);
  }
  f64(what: string): number {
    return this.take(8, what).readDoubleLE(0);
  }
  u64(what: string): bigint {
    return this.take(8, what).readBigUInt64LE(0);
  }
  i64(what: string): bigint {
    return this.take(8, what).readBigInt64LE(0);
  }

  /**
   * A u64 count or length that must be small enough to be real: at most `limit`, and (given the
   * least bytes one item takes) no more items than the rest of the file could hold.
   */
  count(what: string, bytesPerItem: number, limit = Number.MAX_SAFE_INTEGER): number {
    const at = this.position;
    const value = this.u64(what);
    const fits = BigInt(Math.floor(this.remaining / Math.max(bytesPerItem, 1)));
    if (value > BigInt(limit) || value > fits) {
      const code = bytesPerItem === 1 ? "ABSURD_LENGTH" : "ABSURD_COUNT";
      const detail =
        value > BigInt(limit)
          ? `${what} is ${value}, more than the limit of ${limit}`
          : `${what} is ${value}, more than the ${this.remaining} bytes left in the file can hold: the file is truncated or corrupt`;
      this.fail(code, detail, at);
    }
    return Number(value);
  }

  /** A length-prefixed string. Invalid UTF-8 is kept as raw bytes so that it round-trips. */
  string(what: string, maxBytes: number): { value: string; raw?: Uint8Array } {
    const length = this.count(`length of ${what}`, 1, maxBytes);
    const bytes = this.take(length, what);
    const value = bytes.toString("utf8");
    return isUtf8(bytes) ? { value } : { value, raw: Uint8Array.from(bytes) };
  }
}
