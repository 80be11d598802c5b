// Q6_K in WebAssembly: ggml's quantize_row_q6_K_ref and dequantize_row_q6_K, with the float32
// arithmetic of ../kernels/q6-k.ts (which documents the 210-byte block layout). Per super-block of 256:
// a grid search fits each group of 16 a scale, the 16 scales become int8 multiples of d = max/−128
// (d stored as F16), and the weights are re-rounded against the scales as decoded.
import { loadHalf, nearestInt, storeHalf } from "./common";
import { GROUP_MAX_EPS, fitScaleByGridSearch, quantizeAgainstScale } from "./scale-search-symmetric";

const NMAX = 32;
const QL: usize = 0;
const QH: usize = 128;
const SCALES: usize = 192;
const D: usize = 208;
const BYTES_PER_BLOCK: usize = 210;

// One super-block of working state: the codes (level + 32) and the group scales.
const CODES: usize = memory.data(256, 16);
const GROUP_SCALES: usize = memory.data(64, 16);

function quantizeBlock(x: usize, y: usize): void {
  let maxScale: f32 = 0;
  let maxAbsScale: f32 = 0;
  for (let g: usize = 0; g < 16; g++) {
    const scale = fitScaleByGridSearch(x + (g << 6), NMAX, CODES + (g << 4));
    store<f32>(GROUP_SCALES + (g << 2), scale);
    const absScale = Mathf.abs(scale);
    if (absScale > maxAbsScale) {
      maxAbsScale = absScale;
      maxScale = scale;
    }
  }

  if (maxAbsScale < GROUP_MAX_EPS) {
    // Nothing to encode: an all-zero block (d = +0 included).
    const zero = i32x4.splat(0);
    for (let at: usize = 0; at < 208; at += 16) v128.store(y + at, zero);
    store<u16>(y + 208, 0);
    return;
  }

  const iscale: f32 = <f32>-128 / maxScale;
  storeHalf(y + D, <f32>1 / iscale);
  for (let g: usize = 0; g < 16; g++) {
    // MIN(127, ·) into an int8_t: the store keeps the low byte, as C's conversion does.
    store<i8>(y + SCALES + g, <i8>min<i32>(127, nearestInt(iscale * load<f32>(GROUP_SCALES + (g << 2)))));
  }

  // Re-round against the scales as decoded; a group whose decoded scale is 0 keeps its search's codes.
  const d = loadHalf(y + D);
  for (let g: usize = 0; g < 16; g++) {
    const groupScale = d * <f32>load<i8>(y + SCALES + g);
    if (groupScale == 0) continue;
    quantizeAgainstScale(x + (g << 6), groupScale, NMAX, CODES + (g << 4));
  }

  // Codes are 0…63 (or raw 0): low nibbles to ql, top two bits to qh.
  const nibble = i8x16.splat(0x0f);
  for (let half: usize = 0; half < 2; half++) {
    const codes = CODES + half * 128;
    const ql = y + QL + half * 64;
    const qh = y + QH + half * 32;
    for (let l: usize = 0; l < 32; l += 16) {
      const c0 = v128.load(codes + l);
      const c1 = v128.load(codes + l + 32);
      const c2 = v128.load(codes + l + 64);
      const c3 = v128.load(codes + l + 96);
      v128.store(ql + l, v128.or(v128.and(c0, nibble), i8x16.shl(c2, 4)));
      v128.store(ql + l + 32, v128.or(v128.and(c1, nibble), i8x16.shl(c3, 4)));
      let high = i8x16.shr_u(c0, 4);
      high = v128.or(high, i8x16.shl(i8x16.shr_u(c1, 4), 2));
      high = v128.or(high, i8x16.shl(i8x16.shr_u(c2, 4), 4));
      high = v128.or(high, i8x16.shl(i8x16.shr_u(c3, 4), 6));
      v128.store(qh + l, high);
    }
  }
}

export function quantizeQ6_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    quantizeBlock(src + (<usize>block << 2), dst + <usize>(block >> 8) * BYTES_PER_BLOCK);
  }
}

/** Four i32 lanes of codes as floats (code − 32) times the lane's decoded scale (d · sc), C's order. */
@inline function decodeX4(codes: v128, scale: f32): v128 {
  return f32x4.mul(f32x4.splat(scale), f32x4.convert_i32x4_s(i32x4.sub(codes, i32x4.splat(32))));
}

export function dequantizeQ6_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const q = src + <usize>(block >> 8) * BYTES_PER_BLOCK;
    const y = dst + (<usize>block << 2);
    const d = loadHalf(q + D);
    for (let half: usize = 0; half < 2; half++) {
      const ql = q + QL + half * 64;
      const qh = q + QH + half * 32;
      const sc = q + SCALES + half * 8;
      const out = y + half * 512;
      for (let l: usize = 0; l < 32; l += 4) {
        const is = l >> 4;
        const low = v128.load32_zero(ql + l);
        const lowNext = v128.load32_zero(ql + l + 32);
        const high = v128.load32_zero(qh + l);
        // Bytes to i32 lanes: four consecutive l.
        const lowW = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(low));
        const lowNextW = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(lowNext));
        const highW = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(high));
        const nib = i32x4.splat(0x0f);
        const two = i32x4.splat(3);
        const q1 = v128.or(v128.and(lowW, nib), i32x4.shl(v128.and(highW, two), 4));
        const q2 = v128.or(v128.and(lowNextW, nib), i32x4.shl(v128.and(i32x4.shr_u(highW, 2), two), 4));
        const q3 = v128.or(i32x4.shr_u(lowW, 4), i32x4.shl(v128.and(i32x4.shr_u(highW, 4), two), 4));
        const q4 = v128.or(i32x4.shr_u(lowNextW, 4), i32x4.shl(i32x4.shr_u(highW, 6), 4));
        const o = out + (l << 2);
        v128.store(o, decodeX4(q1, d * <f32>load<i8>(sc + is)));
        v128.store(o, decodeX4(q2, d * <f32>load<i8>(sc + is + 2)), 128);
        v128.store(o, decodeX4(q3, d * <f32>load<i8>(sc + is + 4)), 256);
        v128.store(o, decodeX4(q4, d * <f32>load<i8>(sc + is + 6)), 384);
      }
    }
  }
}
