// F16 and BF16 rows to and from float32.
import { fp16ToFp32, fp32ToFp16 } from "./common";

const TWO_TO_MINUS_24: v128 = f32x4.splat(5.960464477539063e-8);

/**
 * Four F16 values (in i32 lanes) to float32, exactly and without denormal arithmetic (which costs
 * x86 a microcode assist per lane): normal halves and infinities/NaNs by rebiasing the exponent in
 * integer arithmetic, subnormal halves as mantissa × 2^-24 from an integer conversion.
 */
@inline function halvesToFloats(halves: v128): v128 {
  const magnitude = v128.and(halves, i32x4.splat(0x7fff));
  const special = i32x4.ge_u(magnitude, i32x4.splat(0x7c00));
  const subnormal = i32x4.lt_u(magnitude, i32x4.splat(0x0400));
  // Exponent bias 15 → 127: add 112 << 23; the all-ones exponent 31 → 255: add 224 << 23.
  const rebias = v128.bitselect(i32x4.splat(0x70000000), i32x4.splat(0x38000000), special);
  const normal = i32x4.add(i32x4.shl(magnitude, 13), rebias);
  const small = f32x4.mul(f32x4.convert_i32x4_u(magnitude), TWO_TO_MINUS_24);
  const value = v128.bitselect(small, normal, subnormal);
  return v128.or(value, i32x4.shl(v128.and(halves, i32x4.splat(0x8000)), 16));
}

export function decodeF16(src: usize, dst: usize, count: i32): void {
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const halves = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), halvesToFloats(i32x4.extend_low_i16x8_u(halves)));
    v128.store(dst + (<usize>i << 2) + 16, halvesToFloats(i32x4.extend_high_i16x8_u(halves)));
  }
  for (; i < count; i++) store<f32>(dst + (<usize>i << 2), fp16ToFp32(<u32>load<u16>(src + (<usize>i << 1))));
}

export function encodeF16(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i++) store<u16>(dst + (<usize>i << 1), <u16>fp32ToFp16(load<f32>(src + (<usize>i << 2))));
}

export function decodeBF16(src: usize, dst: usize, count: i32): void {
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const halves = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(halves), 16));
    v128.store(dst + (<usize>i << 2) + 16, i32x4.shl(i32x4.extend_high_i16x8_u(halves), 16));
  }
  for (; i < count; i++) store<u32>(dst + (<usize>i << 2), <u32>load<u16>(src + (<usize>i << 1)) << 16);
}
