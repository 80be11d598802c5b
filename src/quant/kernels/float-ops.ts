/**
 * Single-precision arithmetic helpers for the block quantizers. ggml's reference quantizers compute in
 * 32-bit floats; JavaScript computes in doubles. Rounding every intermediate result with `f32`
 * (Math.fround) reproduces the C results exactly: for +, −, × and ÷ of two floats, rounding the
 * double result to float gives the correctly rounded float result. Expressions must keep C's order.
 */
import { fp16ToFp32, fp32ToFp16 } from "../float16.js";

export const f32 = Math.fround;

/** ggml's nearest_int: rounds a float to the nearest integer, ties to even (|value| < 2^22). */
export function nearestInt(value: number): number {
  return f32(value + 12582912) - 12582912;
}

/**
 * C's roundf: to the nearest integer, ties away from zero. Written without a branch on the sign
 * (`+(value < 0)` compiles to a flag, not a jump): on weights, whose signs are random, a branch
 * mispredicts half the time and made this 4× slower. Exact for floats below 2^24 in magnitude.
 */
export function roundAwayFromZero(value: number): number {
  return Math.trunc(value + 0.5 - +(value < 0));
}

/** Largest finite float32 (C's FLT_MAX). */
export const FLOAT_MAX = 3.4028234663852886e38;

/** Writes a float as little-endian F16 bits at `offset`. */
export function writeHalf(dst: Uint8Array, offset: number, value: number): void {
  const bits = fp32ToFp16(value);
  dst[offset] = bits & 0xff;
  dst[offset + 1] = bits >>> 8;
}

/** Reads little-endian F16 bits at `offset` as a float. */
export function readHalf(src: Uint8Array, offset: number): number {
  return fp16ToFp32(src[offset]! | (src[offset + 1]! << 8));
}
