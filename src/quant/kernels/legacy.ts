/**
 * The original 32-element block quantizers: Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0. Each block stores an F16
 * scale (and, for the _1 types, an F16 minimum) and one small integer per weight. The arithmetic
 * follows ggml's reference quantizers (quantize_row_*_ref) operation by operation, in float32, so the
 * bytes are identical to llama-quantize's.
 */
import type { QuantKernel } from "./kernel.js";
import { FLOAT_MAX, f32, readHalf, roundAwayFromZero, writeHalf } from "./float-ops.js";

const BLOCK = 32;
const HALF = BLOCK / 2;

/** Index of the element with the largest magnitude in a block (the first one on ties). */
function signedAbsMax(x: Float32Array, start: number): number {
  let amax = 0;
  let max = 0;
  for (let j = start; j < start + BLOCK; j++) {
    const v = x[j]!;
    const magnitude = Math.abs(v);
    if (amax < magnitude) {
      amax = magnitude;
      max = v;
    }
  }
  return max;
}

function minMax(x: Float32Array, start: number): [number, number] {
  let min = FLOAT_MAX;
  let max = -FLOAT_MAX;
  for (let j = start; j < start + BLOCK; j++) {
    const v = x[j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** Symmetric 4-bit: d = max / −8, q = min(15, trunc(x/d + 8.5)). 18 bytes per block. */
export const q4_0: QuantKernel = {
  quantize(x, y, count) {
    for (let block = 0, out = 0; block < count; block += BLOCK, out += 18) {
      const d = f32(signedAbsMax(x, block) / -8);
      const id = d !== 0 ? f32(1 / d) : 0;
      writeHalf(y, out, d);
      for (let j = 0; j < HALF; j++) {
        const low = Math.min(15, Math.trunc(f32(f32(x[block + j]! * id) + 8.5)));
        const high = Math.min(15, Math.trunc(f32(f32(x[block + HALF + j]! * id) + 8.5)));
        y[out + 2 + j] = low | (high << 4);
      }
    }
  },
  dequantize(q, y, count) {
    for (let block = 0, at = 0; block < count; block += BLOCK, at += 18) {
      const d = readHalf(q, at);
      for (let j = 0; j < HALF; j++) {
        const byte = q[at + 2 + j]!;
        y[block + j] = ((byte & 0x0f) - 8) * d;
        y[block + HALF + j] = ((byte >> 4) - 8) * d;
      }
    }
  },
};

/** Asymmetric 4-bit: d = (max − min) / 15, q = min(15, trunc((x − min)/d + 0.5)). 20 bytes per block. */
export const q4_1: QuantKernel = {
  quantize(x, y, count) {
    for (let block = 0, out = 0; block < count; block += BLOCK, out += 20) {
      const [min, max] = minMax(x, block);
      const d = f32(f32(max - min) / 15);
      const id = d !== 0 ? f32(1 / d) : 0;
      writeHalf(y, out, d);
      writeHalf(y, out + 2, min);
      for (let j = 0; j < HALF; j++) {
        const low = Math.min(15, Math.trunc(f32(f32(f32(x[block + j]! - min) * id) + 0.5)));
        const high = Math.min(15, Math.trunc(f32(f32(f32(x[block + HALF + j]! - min) * id) + 0.5)));
        y[out + 4 + j] = low | (high << 4);
      }
    }
  },
  dequantize(q, y, count) {
    for (let block = 0, at = 0; block < count; block += BLOCK, at += 20) {
      const d = readHalf(q, at);
      const m = readHalf(q, at + 2);
      for (let j = 0; j < HALF; j++) {
        const byte = q[at + 4 + j]!;
        y[block + j] = f32((byte & 0x0f) * d) + m;
        y[block + HALF + j] = f32((byte >> 4) * d) + m;
      }
    }
  },
};

/** Writes the fifth bits of a 5-bit block: bit j for element j, bit j + 16 for element j + 16. */
function writeHighBits(y: Uint8Array, at: number, bits: number): void {
  y[at] = bits & 0xff;
  y[at + 1] = (bits >>> 8) & 0xff;
  y[at + 2] = (bits >>> 16) & 0xff;
  y[at + 3] = bits >>> 24;
}

function readHighBits(q: Uint8Array, at: number): number {
  return (q[at]! | (q[at + 1]! << 8) | (q[at + 2]! << 16) | (q[at + 3]! << 24)) >>> 0;
}

/** Symmetric 5-bit: d = max / −16, q = min(31, trunc(x/d + 16.5)). 22 bytes per block. */
export const q5_0: QuantKernel = {
  quantize(x, y, count) {
    for (let block = 0, out = 0; block < count; block += BLOCK, out += 22) {
      const d = f32(signedAbsMax(x, block) / -16);
      const id = d !== 0 ? f32(1 / d) : 0;
      writeHalf(y, out, d);
      let high = 0;
      for (let j = 0; j < HALF; j++) {
        const a = Math.min(31, Math.trunc(f32(f32(x[block + j]! * id) + 16.5)));
        const b = Math.min(31, Math.trunc(f32(f32(x[block + HALF + j]! * id) + 16.5)));
        y[out + 6 + j] = (a & 0x0f) | ((b & 0x0f) << 4);
        high |= ((a & 0x10) >>> 4) << j;
        high |= ((b & 0x10) >>> 4) << (j + HALF);
      }
      writeHighBits(y, out + 2, high);
    }
  },
  dequantize(q, y, count) {
    for (let block = 0, at = 0; block < count; block += BLOCK, at += 22) {
      const d = readHalf(q, at);
      const high = readHighBits(q, at + 2);
      for (let j = 0; j < HALF; j++) {
        const byte = q[at + 6 + j]!;
        const a = ((byte & 0x0f) | (((high >>> j) << 4) & 0x10)) - 16;
        const b = ((byte >> 4) | ((high >>> (j + 12)) & 0x10)) - 16;
        y[block + j] = a * d;
        y[block + HALF + j] = b * d;
      }
    }
  },
};

/** Asymmetric 5-bit: d = (max − min) / 31, q = trunc((x − min)/d + 0.5). 24 bytes per block. */
export const q5_1: QuantKernel = {
  quantize(x, y, count) {
    for (let block = 0, out = 0; block < count; block += BLOCK, out += 24) {
      const [min, max] = minMax(x, block);
      const d = f32(f32(max - min) / 31);
      const id = d !== 0 ? f32(1 / d) : 0;
      writeHalf(y, out, d);
      writeHalf(y, out + 2, min);
      let high = 0;
      for (let j = 0; j < HALF; j++) {
        // C converts to uint8_t here, without clamping: keep the low 8 bits.
        const a = Math.trunc(f32(f32(f32(x[block + j]! - min) * id) + 0.5)) & 0xff;
        const b = Math.trunc(f32(f32(f32(x[block + HALF + j]! - min) * id) + 0.5)) & 0xff;
        y[out + 8 + j] = (a & 0x0f) | ((b & 0x0f) << 4);
        high |= ((a & 0x10) >>> 4) << j;
        high |= ((b & 0x10) >>> 4) << (j + HALF);
      }
      writeHighBits(y, out + 4, high);
    }
  },
  dequantize(q, y, count) {
    for (let block = 0, at = 0; block < count; block += BLOCK, at += 24) {
      const d = readHalf(q, at);
      const m = readHalf(q, at + 2);
      const high = readHighBits(q, at + 4);
      for (let j = 0; j < HALF; j++) {
        const byte = q[at + 8 + j]!;
        const a = (byte & 0x0f) | (((high >>> j) << 4) & 0x10);
        const b = (byte >> 4) | ((high >>> (j + 12)) & 0x10);
        y[block + j] = f32(a * d) + m;
        y[block + HALF + j] = f32(b * d) + m;
      }
    }
  },
};

/** Symmetric 8-bit: d = amax / 127, q = round(x/d) (ties away from zero). 34 bytes per block. */
export const q8_0: QuantKernel = {
  quantize(x, y, count) {
    for (let block = 0, out = 0; block < count; block += BLOCK, out += 34) {
      let amax = 0;
      for (let j = block; j < block + BLOCK; j++) amax = Math.max(amax, Math.abs(x[j]!));
      const d = f32(amax / 127);
      const id = d !== 0 ? f32(1 / d) : 0;
      writeHalf(y, out, d);
      for (let j = 0; j < BLOCK; j++) y[out + 2 + j] = roundAwayFromZero(f32(x[block + j]! * id)) & 0xff;
    }
  },
  dequantize(q, y, count) {
    for (let block = 0, at = 0; block < count; block += BLOCK, at += 34) {
      const d = readHalf(q, at);
      for (let j = 0; j < BLOCK; j++) y[block + j] = ((q[at + 2 + j]! << 24) >> 24) * d;
    }
  },
};
