/**
 * IEEE half precision (F16) and bfloat16 (BF16) conversions, rounding to nearest even as ggml's
 * CPU code does, so converted tensors are bit-identical to llama.cpp's.
 */

// One float and its bits, for reading a float's bit pattern without a DataView call.
const floatScratch = new Float32Array(1);
const bitsScratch = new Uint32Array(floatScratch.buffer);

/** The F16 bits of a float, rounded to nearest even; NaN becomes a quiet NaN. */
export function fp32ToFp16(value: number): number {
  floatScratch[0] = value;
  return fp32BitsToFp16(bitsScratch[0]!);
}

/** The F16 bits of a float given by its IEEE bits (see fp32ToFp16). */
export function fp32BitsToFp16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  // Unbiased exponent rebased to F16's bias of 15.
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // overflow: infinity
  if (halfExponent <= 0) {
    // Subnormal (or zero) in F16: shift the mantissa with its implicit bit, rounding to nearest even.
    if (halfExponent < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const halfMantissa = full >>> shift;
    const remainder = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const roundUp = remainder > halfway || (remainder === halfway && (halfMantissa & 1) === 1);
    return sign | (halfMantissa + (roundUp ? 1 : 0));
  }
  const halfMantissa = mantissa >>> 13;
  const remainder = mantissa & 0x1fff;
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (halfMantissa & 1) === 1);
  // A carry out of the mantissa correctly bumps the exponent (and may reach infinity).
  return sign | ((halfExponent << 10) + halfMantissa + (roundUp ? 1 : 0));
}

/** The float value of every F16 bit pattern, indexed by the bits. */
export const halfToFloatTable = buildHalfTable();
const halfTable = halfToFloatTable;

function buildHalfTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) table[bits] = decodeHalf(bits);
  return table;
}

function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The float value of F16 bits (exact: every half is a float). */
export function fp16ToFp32(bits: number): number {
  return halfTable[bits & 0xffff]!;
}

/** The BF16 bits of a float: the top 16 bits, rounded to nearest even; NaN stays a quiet NaN. */
export function fp32ToBf16(value: number): number {
  floatScratch[0] = value;
  return fp32BitsToBf16(bitsScratch[0]!);
}

export function fp32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 64) & 0xffff;
  return ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16) & 0xffff;
}

export function bf16ToFp32(bits: number): number {
  bitsScratch[0] = (bits & 0xffff) << 16;
  return floatScratch[0]!;
}
