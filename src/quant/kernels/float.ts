/** The unquantized element types: F32 (a copy), F16 and BF16 (round to nearest even). */
import { fp32BitsToBf16, fp32BitsToFp16, halfToFloatTable } from "../float16.js";
import type { QuantKernel } from "./kernel.js";

export const f32Kernel: QuantKernel = {
  quantize(x, y, count) {
    y.set(new Uint8Array(x.buffer, x.byteOffset, count * 4));
  },
  dequantize(q, y, count) {
    new Uint8Array(y.buffer, y.byteOffset, count * 4).set(q.subarray(0, count * 4));
  },
};

/** 16-bit little-endian words of a byte array, without copying when the bytes are 2-aligned. */
function words(q: Uint8Array, count: number): Uint16Array {
  if (q.byteOffset % 2 === 0) return new Uint16Array(q.buffer, q.byteOffset, count);
  return new Uint16Array(Uint8Array.from(q.subarray(0, count * 2)).buffer, 0, count);
}

function encodeHalves(x: Float32Array, y: Uint8Array, count: number, encode: (bits: number) => number): void {
  const bits = new Uint32Array(x.buffer, x.byteOffset, count);
  for (let i = 0, o = 0; i < count; i++, o += 2) {
    const half = encode(bits[i]!);
    y[o] = half & 0xff;
    y[o + 1] = half >>> 8;
  }
}

export const f16Kernel: QuantKernel = {
  quantize: (x, y, count) => encodeHalves(x, y, count, fp32BitsToFp16),
  dequantize(q, y, count) {
    // Every F16 value is exactly a float: a 64k-entry table turns decoding into one lookup.
    const table = halfToFloatTable;
    const halves = words(q, count);
    for (let i = 0; i < count; i++) y[i] = table[halves[i]!]!;
  },
};

export const bf16Kernel: QuantKernel = {
  quantize: (x, y, count) => encodeHalves(x, y, count, fp32BitsToBf16),
  dequantize(q, y, count) {
    // BF16 is the top half of a float: shift the bits into place through an integer view.
    const halves = words(q, count);
    const bits = new Uint32Array(y.buffer, y.byteOffset, count);
    for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
  },
};
