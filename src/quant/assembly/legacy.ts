// The 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) in WebAssembly SIMD: the arithmetic of
// ../kernels/legacy.ts (and of ggml's reference quantizers), four lanes at a time. Every lane does
// the same float32 operations as the scalar code, and the block reductions used here (largest
// magnitude, minimum, maximum) do not depend on order, so the bytes are the same. (Inputs holding
// NaN are the exception: the scalar search's answer then depends on where the NaN sits.)
import { absMaxF32, loadHalf, storeHalf } from "./common";

const HALF_F32: v128 = f32x4.splat(0.5);
const ONE_F32: v128 = f32x4.splat(1.0);
const SIGN_BITS: v128 = i32x4.splat(0x80000000);

/** C's roundf on four lanes, exactly: trunc(x), plus ±1 where the dropped fraction is at least ½. */
@inline function roundAwayX4(value: v128): v128 {
  const whole = f32x4.trunc(value);
  const fraction = f32x4.abs(f32x4.sub(value, whole));
  const step = v128.or(v128.and(value, SIGN_BITS), ONE_F32);
  return f32x4.add(whole, v128.and(f32x4.ge(fraction, HALF_F32), step));
}

/** The first element of a block whose magnitude is the block's largest (C keeps the first on ties). */
@inline function signedAbsMax32(x: usize): f32 {
  const amax = absMaxF32(x, 128);
  // C starts from +0 and only replaces it on a strictly larger magnitude: an all-zero block gives +0.
  if (amax == 0) return 0;
  for (let j: usize = 0; j < 128; j += 4) {
    const v = load<f32>(x + j);
    if (Mathf.abs(v) == amax) return v;
  }
  return 0;
}

// Minimum and maximum of a block, as the scalar `if (v < min) min = v; if (v > max) max = v;`.
@inline function minMax32(x: usize, out: usize): void {
  let low = f32x4.splat(<f32>3.4028234663852886e38);
  let high = f32x4.splat(<f32>-3.4028234663852886e38);
  for (let k: usize = 0; k < 128; k += 16) {
    const v = v128.load(x + k);
    low = f32x4.pmin(low, v);
    high = f32x4.pmax(high, v);
  }
  v128.store(out, low);
  v128.store(out + 16, high);
  let min = load<f32>(out);
  let max = load<f32>(out + 16);
  for (let lane: usize = 4; lane < 16; lane += 4) {
    const a = load<f32>(out + lane);
    const b = load<f32>(out + 16 + lane);
    if (a < min) min = a;
    if (b > max) max = b;
  }
  store<f32>(out, min);
  store<f32>(out + 4, max);
}

const MIN_MAX: usize = memory.data(32, 16);

/** 32 lanes (8 vectors at x, each times `scale` plus `offset`, truncated) as i32 vectors, capped at `cap`. */
@inline function levels(x: usize, scale: v128, offset: v128, cap: v128, k: usize): v128 {
  return i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(v128.load(x + k), scale), offset)), cap);
}

@inline function levelsFromMin(x: usize, min: v128, scale: v128, offset: v128, cap: v128, k: usize): v128 {
  return i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + k), min), scale), offset)), cap);
}

/** Bytes of sixteen 4-bit pairs: element j in the low nibble, element j + 16 in the high one. */
@inline function packNibbles(low0: v128, low1: v128, low2: v128, low3: v128, high0: v128, high1: v128, high2: v128, high3: v128): v128 {
  const mask = i32x4.splat(0x0f);
  const b0 = v128.or(v128.and(low0, mask), i32x4.shl(v128.and(high0, mask), 4));
  const b1 = v128.or(v128.and(low1, mask), i32x4.shl(v128.and(high1, mask), 4));
  const b2 = v128.or(v128.and(low2, mask), i32x4.shl(v128.and(high2, mask), 4));
  const b3 = v128.or(v128.and(low3, mask), i32x4.shl(v128.and(high3, mask), 4));
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(b0, b1), i16x8.narrow_i32x4_u(b2, b3));
}

/** The fifth bits (bit 4) of sixteen i32 lanes as a 16-bit mask, lane 0 lowest. */
@inline function fifthBits(l0: v128, l1: v128, l2: v128, l3: v128): u32 {
  const bytes = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(l0, l1), i16x8.narrow_i32x4_u(l2, l3));
  return <u32>i8x16.bitmask(i8x16.shl(bytes, 3));
}

export function quantizeQ8_0(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 32) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 5) * 34;
    const d: f32 = absMaxF32(x, 128) / <f32>127;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    storeHalf(y, d);
    const scale = f32x4.splat(id);
    for (let k: usize = 0; k < 128; k += 64) {
      const a = i32x4.trunc_sat_f32x4_s(roundAwayX4(f32x4.mul(v128.load(x + k), scale)));
      const b = i32x4.trunc_sat_f32x4_s(roundAwayX4(f32x4.mul(v128.load(x + k + 16), scale)));
      const c = i32x4.trunc_sat_f32x4_s(roundAwayX4(f32x4.mul(v128.load(x + k + 32), scale)));
      const e = i32x4.trunc_sat_f32x4_s(roundAwayX4(f32x4.mul(v128.load(x + k + 48), scale)));
      v128.store(y + 2 + (k >> 2), i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, e)));
    }
  }
}

export function dequantizeQ8_0(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 32) {
    const q = src + <usize>(block >> 5) * 34;
    const y = dst + (<usize>block << 2);
    const d = loadHalf(q);
    for (let j = 0; j < 32; j++) store<f32>(y + (<usize>j << 2), <f32>load<i8>(q + 2 + j) * d);
  }
}

export function quantizeQ4_0(src: usize, dst: usize, count: i32): void {
  const offset = f32x4.splat(8.5);
  const cap = i32x4.splat(15);
  for (let block = 0; block < count; block += 32) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 5) * 18;
    const d: f32 = signedAbsMax32(x) / <f32>-8;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    storeHalf(y, d);
    const s = f32x4.splat(id);
    v128.store(
      y + 2,
      packNibbles(
        levels(x, s, offset, cap, 0),
        levels(x, s, offset, cap, 16),
        levels(x, s, offset, cap, 32),
        levels(x, s, offset, cap, 48),
        levels(x, s, offset, cap, 64),
        levels(x, s, offset, cap, 80),
        levels(x, s, offset, cap, 96),
        levels(x, s, offset, cap, 112),
      ),
    );
  }
}

export function dequantizeQ4_0(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 32) {
    const q = src + <usize>(block >> 5) * 18;
    const y = dst + (<usize>block << 2);
    const d = loadHalf(q);
    for (let j = 0; j < 16; j++) {
      const byte = <i32>load<u8>(q + 2 + j);
      store<f32>(y + (<usize>j << 2), <f32>((byte & 0x0f) - 8) * d);
      store<f32>(y + (<usize>(j + 16) << 2), <f32>((byte >> 4) - 8) * d);
    }
  }
}

export function quantizeQ4_1(src: usize, dst: usize, count: i32): void {
  const offset = f32x4.splat(0.5);
  const cap = i32x4.splat(15);
  for (let block = 0; block < count; block += 32) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 5) * 20;
    minMax32(x, MIN_MAX);
    const min = load<f32>(MIN_MAX);
    const d: f32 = (load<f32>(MIN_MAX, 4) - min) / <f32>15;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    storeHalf(y, d);
    storeHalf(y + 2, min);
    const s = f32x4.splat(id);
    const m = f32x4.splat(min);
    v128.store(
      y + 4,
      packNibbles(
        levelsFromMin(x, m, s, offset, cap, 0),
        levelsFromMin(x, m, s, offset, cap, 16),
        levelsFromMin(x, m, s, offset, cap, 32),
        levelsFromMin(x, m, s, offset, cap, 48),
        levelsFromMin(x, m, s, offset, cap, 64),
        levelsFromMin(x, m, s, offset, cap, 80),
        levelsFromMin(x, m, s, offset, cap, 96),
        levelsFromMin(x, m, s, offset, cap, 112),
      ),
    );
  }
}

export function dequantizeQ4_1(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 32) {
    const q = src + <usize>(block >> 5) * 20;
    const y = dst + (<usize>block << 2);
    const d = loadHalf(q);
    const m = loadHalf(q + 2);
    for (let j = 0; j < 16; j++) {
      const byte = <i32>load<u8>(q + 4 + j);
      store<f32>(y + (<usize>j << 2), <f32>(byte & 0x0f) * d + m);
      store<f32>(y + (<usize>(j + 16) << 2), <f32>(byte >> 4) * d + m);
    }
  }
}

export function quantizeQ5_0(src: usize, dst: usize, count: i32): void {
  const offset = f32x4.splat(16.5);
  const cap = i32x4.splat(31);
  for (let block = 0; block < count; block += 32) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 5) * 22;
    const d: f32 = signedAbsMax32(x) / <f32>-16;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    storeHalf(y, d);
    const s = f32x4.splat(id);
    const l0 = levels(x, s, offset, cap, 0);
    const l1 = levels(x, s, offset, cap, 16);
    const l2 = levels(x, s, offset, cap, 32);
    const l3 = levels(x, s, offset, cap, 48);
    const h0 = levels(x, s, offset, cap, 64);
    const h1 = levels(x, s, offset, cap, 80);
    const h2 = levels(x, s, offset, cap, 96);
    const h3 = levels(x, s, offset, cap, 112);
    store<u32>(y + 2, fifthBits(l0, l1, l2, l3) | (fifthBits(h0, h1, h2, h3) << 16));
    v128.store(y + 6, packNibbles(l0, l1, l2, l3, h0, h1, h2, h3));
  }
}

export function dequantizeQ5_0(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 32) {
    const q = src + <usize>(block >> 5) * 22;
    const y = dst + (<usize>block << 2);
    const d = loadHalf(q);
    const high = load<u32>(q + 2);
    for (let j = 0; j < 16; j++) {
      const byte = <i32>load<u8>(q + 6 + j);
      const a = ((byte & 0x0f) | <i32>(((high >> <u32>j) << 4) & 0x10)) - 16;
      const b = ((byte >> 4) | <i32>((high >> <u32>(j + 12)) & 0x10)) - 16;
      store<f32>(y + (<usize>j << 2), <f32>a * d);
      store<f32>(y + (<usize>(j + 16) << 2), <f32>b * d);
    }
  }
}

export function quantizeQ5_1(src: usize, dst: usize, count: i32): void {
  const offset = f32x4.splat(0.5);
  // No cap in C: the uint8_t conversion keeps the low 8 bits, and the packing the low 5.
  const cap = i32x4.splat(0x7fffffff);
  for (let block = 0; block < count; block += 32) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 5) * 24;
    minMax32(x, MIN_MAX);
    const min = load<f32>(MIN_MAX);
    const d: f32 = (load<f32>(MIN_MAX, 4) - min) / <f32>31;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    storeHalf(y, d);
    storeHalf(y + 2, min);
    const s = f32x4.splat(id);
    const m = f32x4.splat(min);
    const byte = i32x4.splat(0xff);
    const l0 = v128.and(levelsFromMin(x, m, s, offset, cap, 0), byte);
    const l1 = v128.and(levelsFromMin(x, m, s, offset, cap, 16), byte);
    const l2 = v128.and(levelsFromMin(x, m, s, offset, cap, 32), byte);
    const l3 = v128.and(levelsFromMin(x, m, s, offset, cap, 48), byte);
    const h0 = v128.and(levelsFromMin(x, m, s, offset, cap, 64), byte);
    const h1 = v128.and(levelsFromMin(x, m, s, offset, cap, 80), byte);
    const h2 = v128.and(levelsFromMin(x, m, s, offset, cap, 96), byte);
    const h3 = v128.and(levelsFromMin(x, m, s, offset, cap, 112), byte);
    store<u32>(y + 4, fifthBits(l0, l1, l2, l3) | (fifthBits(h0, h1, h2, h3) << 16));
    v128.store(y + 8, packNibbles(l0, l1, l2, l3, h0, h1, h2, h3));
  }
}

export function dequantizeQ5_1(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 32) {
    const q = src + <usize>(block >> 5) * 24;
    const y = dst + (<usize>block << 2);
    const d = loadHalf(q);
    const m = loadHalf(q + 2);
    const high = load<u32>(q + 4);
    for (let j = 0; j < 16; j++) {
      const byte = <i32>load<u8>(q + 8 + j);
      const a = (byte & 0x0f) | <i32>(((high >> <u32>j) << 4) & 0x10);
      const b = (byte >> 4) | <i32>((high >> <u32>(j + 12)) & 0x10);
      store<f32>(y + (<usize>j << 2), <f32>a * d + m);
      store<f32>(y + (<usize>(j + 16) << 2), <f32>b * d + m);
    }
  }
}
