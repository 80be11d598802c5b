// Shared pieces of the WebAssembly kernels (AssemblyScript: f32 arithmetic is native float32, so the
// reference quantizers' float code carries over operation for operation). Memory is managed by the
// JavaScript side: kernels read and write where they are told and keep their scratch in static data.

/** ggml's nearest_int: add 1.5·2^23 and keep the mantissa bits (ties to even; wraps outside ±2^22 as C does). */
@inline export function nearestInt(value: f32): i32 {
  const shifted = value + <f32>12582912.0;
  return (reinterpret<i32>(shifted) & 0x007fffff) - 0x00400000;
}

/** C's roundf (ties away from zero), computed in double so that |x| + 0.5 is exact. */
@inline export function roundAway(value: f32): f32 {
  const magnitude = Math.floor(Math.abs(<f64>value) + 0.5);
  return <f32>(value < 0 ? -magnitude : magnitude);
}

/** float → int conversion as C compiles it on x86 for in-range values: truncation; no trap on NaN. */
@inline export function truncToInt(value: f32): i32 {
  return <i32>value;
}

/** F16 bits of a float, rounding to nearest even (ggml's GGML_FP32_TO_FP16). */
export function fp32ToFp16(value: f32): u32 {
  const bits = reinterpret<u32>(value);
  const sign = (bits >> 16) & 0x8000;
  const exponent = <i32>((bits >> 23) & 0xff);
  const mantissa = bits & 0x7fffff;
  if (exponent == 0xff) return sign | 0x7c00 | (mantissa != 0 ? 0x200 | (mantissa >> 13) : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = <u32>(14 - halfExponent);
    const halfMantissa = full >> shift;
    const remainder = full & ((<u32>1 << shift) - 1);
    const halfway = <u32>1 << (shift - 1);
    const roundUp = remainder > halfway || (remainder == halfway && (halfMantissa & 1) == 1);
    return sign | (halfMantissa + (roundUp ? 1 : 0));
  }
  const halfMantissa = mantissa >> 13;
  const remainder = mantissa & 0x1fff;
  const roundUp = remainder > 0x1000 || (remainder == 0x1000 && (halfMantissa & 1) == 1);
  return sign | ((<u32>halfExponent << 10) + halfMantissa + (roundUp ? 1 : 0));
}

/** The float value of F16 bits (exact), by bit manipulation. */
@inline export function fp16ToFp32(half: u32): f32 {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent == 0) {
    // Subnormal (or zero): mantissa × 2^-24, exact in float32.
    const magnitude = <f32>mantissa * <f32>5.9604644775390625e-8;
    return reinterpret<f32>(reinterpret<u32>(magnitude) | sign);
  }
  if (exponent == 0x1f) return reinterpret<f32>(sign | 0x7f800000 | (mantissa << 13));
  return reinterpret<f32>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

@inline export function storeHalf(at: usize, value: f32): void {
  store<u16>(at, <u16>fp32ToFp16(value));
}

@inline export function loadHalf(at: usize): f32 {
  return fp16ToFp32(<u32>load<u16>(at));
}

/** Largest of the four f32 lanes of `m`, reduced pairwise with `a > b ? a : b`. */
@inline export function maxLaneF32(m: v128): f32 {
  const a = f32x4.extract_lane(m, 0);
  const b = f32x4.extract_lane(m, 1);
  const c = f32x4.extract_lane(m, 2);
  const d = f32x4.extract_lane(m, 3);
  const ab = a > b ? a : b;
  const cd = c > d ? c : d;
  return ab > cd ? ab : cd;
}

/** Largest |x| of the `bytes / 4` floats at `x` (`bytes` a multiple of 16): C's MAX(amax, fabsf(v)) over them. */
@inline export function absMaxF32(x: usize, bytes: usize): f32 {
  let m = f32x4.splat(0);
  for (let k: usize = 0; k < bytes; k += 16) m = f32x4.pmax(m, f32x4.abs(v128.load(x + k)));
  return maxLaneF32(m);
}
