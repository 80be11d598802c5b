/** The unquantized element types: F32 (a copy), F16 and BF16 (round to nearest even). */
import { bf16ToFp32, fp16ToFp32, fp32ToBf16, fp32ToFp16 } from "../float16.js";
import type { QuantKernel } from "./kernel.js";

export const f32Kernel: QuantKernel = {
  quantize(x, y, count) {
    y.set(new Uint8Array(x.buffer, x.byteOffset, count * 4));
  },
  dequantize(q, y, count) {
    new Uint8Array(y.buffer, y.byteOffset, count * 4).set(q.subarray(0, count * 4));
  },
};

function halfKernel(encode: (value: number) => number, decode: (bits: number) => number): QuantKernel {
  return {
    quantize(x, y, count) {
      for (let i = 0, o = 0; i < count; i++, o += 2) {
        const bits = encode(x[i]!);
        y[o] = bits & 0xff;
        y[o + 1] = bits >>> 8;
      }
    },
    dequantize(q, y, count) {
      for (let i = 0, o = 0; i < count; i++, o += 2) y[i] = decode(q[o]! | (q[o + 1]! << 8));
    },
  };
}

export const f16Kernel = halfKernel(fp32ToFp16, fp16ToFp32);
export const bf16Kernel = halfKernel(fp32ToBf16, bf16ToFp32);
