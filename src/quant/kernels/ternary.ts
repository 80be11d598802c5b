/**
 * Ternary types for BitNet b1.58-style models, whose weights are −1, 0 or +1 times a scale. Each
 * super-block of 256 stores one F16 scale (amax) *after* its codes.
 *
 * - TQ2_0 (2.06 bits per weight, 66 bytes): 2 bits per weight holding trit + 1 (0, 1, 2). Byte m of
 *   each 32-byte group holds elements m, m+32, m+64, m+96 of its 128 elements, lowest bits first.
 * - TQ1_0 (1.69 bits per weight, 54 bytes): 5 trits per byte, in base 3, stored as the byte
 *   ⌈t·256/243⌉ so that multiplying by 3^n and keeping the high part of ×3 reads trit n back
 *   (no division when decoding). 48 bytes hold 240 weights (a 32-byte group of 160, then a 16-byte
 *   group of 80, element m + 32n or m + 16n in trit n); 4 more bytes hold the last 16 weights at 4
 *   trits each (element j + 4n), shifted up one trit so they decode the same way.
 */
import type { QuantKernel } from "./kernel.js";
import { f32, readHalf, roundAwayFromZero, writeHalf } from "./float-ops.js";

const QK_K = 256;
const TQ1_BYTES = 54;
const TQ2_BYTES = 66;

function absMax(x: Float32Array, start: number): number {
  let amax = 0;
  for (let j = start; j < start + QK_K; j++) amax = Math.max(amax, Math.abs(x[j]!));
  return amax;
}

/** The trit of one weight as 0, 1 or 2: round(x / amax) + 1, rounding halves away from zero. */
function trit(value: number, inverseScale: number): number {
  return roundAwayFromZero(f32(value * inverseScale)) + 1;
}

/** ⌈t · 256 / 243⌉ for a base-3 number t of five trits. */
function packTrits(t: number): number {
  return Math.floor((t * 256 + 242) / 243);
}

export const tq1_0: QuantKernel = {
  quantize(x, y, count) {
    for (let block = 0, out = 0; block < count; block += QK_K, out += TQ1_BYTES) {
      const d = absMax(x, block);
      const id = d !== 0 ? f32(1 / d) : 0;
      let at = block;
      // 32 bytes × 5 trits, then 16 bytes × 5 trits.
      for (const [byteOffset, width] of [
        [0, 32],
        [32, 16],
      ] as const) {
        for (let m = 0; m < width; m++) {
          let t = 0;
          for (let n = 0; n < 5; n++) t = t * 3 + trit(x[at + m + n * width]!, id);
          y[out + byteOffset + m] = packTrits(t);
        }
        at += 5 * width;
      }
      // The last 16 weights: 4 bytes × 4 trits, shifted into the top four trit places.
      for (let j = 0; j < 4; j++) {
        let t = 0;
        for (let m = 0; m < 4; m++) t = t * 3 + trit(x[at + j + m * 4]!, id);
        y[out + 48 + j] = packTrits(t * 3);
      }
      writeHalf(y, out + 52, d);
    }
  },
  dequantize(q, y, count) {
    const POW3 = [1, 3, 9, 27, 81];
    const read = (byte: number, n: number): number => ((((byte * POW3[n]!) & 0xff) * 3) >> 8) - 1;
    for (let block = 0, at = 0; block < count; block += QK_K, at += TQ1_BYTES) {
      const d = readHalf(q, at + 52);
      let o = block;
      for (const [byteOffset, width] of [
        [0, 32],
        [32, 16],
      ] as const) {
        for (let n = 0; n < 5; n++) for (let m = 0; m < width; m++) y[o++] = read(q[at + byteOffset + m]!, n) * d;
      }
      for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) y[o++] = read(q[at + 48 + j]!, n) * d;
    }
  },
};

export const tq2_0: QuantKernel = {
  quantize(x, y, count) {
    for (let block = 0, out = 0; block < count; block += QK_K, out += TQ2_BYTES) {
      const d = absMax(x, block);
      const id = d !== 0 ? f32(1 / d) : 0;
      for (let group = 0; group < 2; group++) {
        const at = block + group * 128;
        for (let m = 0; m < 32; m++) {
          let byte = 0;
          for (let n = 0; n < 4; n++) byte += (trit(x[at + m + n * 32]!, id) & 3) << (2 * n);
          y[out + group * 32 + m] = byte;
        }
      }
      writeHalf(y, out + 64, d);
    }
  },
  dequantize(q, y, count) {
    for (let block = 0, at = 0; block < count; block += QK_K, at += TQ2_BYTES) {
      const d = readHalf(q, at + 64);
      let o = block;
      for (let group = 0; group < 2; group++) {
        for (let n = 0; n < 4; n++) for (let m = 0; m < 32; m++) y[o++] = (((q[at + group * 32 + m]! >> (2 * n)) & 3) - 1) * d;
      }
    }
  },
};
