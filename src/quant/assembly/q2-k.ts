// Q2_K in WebAssembly: the same arithmetic as ../kernels/q2-k.ts (ggml's quantize_row_q2_K_ref and
// dequantize_row_q2_K), with native float32. The block layout is described there.
import { loadHalf, nearestInt, storeHalf } from "./common";
import { affineNegatedMin, clampLevels4, nearestInt4, narrowToBytes, searchAffineScale } from "./scale-search-affine";

const BLOCK_BYTES = 84;
const LEVELS_AT = 16;
const D_AT = 80;
const DMIN_AT = 82;

// Scratch for one super-block (16-byte aligned).
/** The 256 levels, one byte each. */
const LEVELS: usize = memory.data(256, 16);
/** Importances of one sub-block's 16 weights. */
const WEIGHTS: usize = memory.data(16 * 4, 16);
/** Final levels of one sub-block as i32, before narrowing to bytes. */
const WIDE: usize = memory.data(16 * 4, 16);
const SCALES: usize = memory.data(16 * 4, 16);
const MINS: usize = memory.data(16 * 4, 16);

function quantizeSuperBlock(x: usize, y: usize): void {
  let maxScale: f32 = 0;
  let maxMin: f32 = 0;
  for (let j = 0; j < 16; j++) {
    const sub = x + (<usize>j << 6);
    // Importance of each weight: its magnitude.
    for (let l = 0; l < 16; l += 4) v128.store(WEIGHTS + (<usize>l << 2), f32x4.abs(v128.load(sub + (<usize>l << 2))));
    const scale = searchAffineScale(sub, WEIGHTS, 16, 3, -0.5, <f32>0.1, 15, true, LEVELS + (<usize>j << 4));
    const negatedMin = affineNegatedMin;
    store<f32>(SCALES + (<usize>j << 2), scale);
    store<f32>(MINS + (<usize>j << 2), negatedMin);
    if (scale > maxScale) maxScale = scale;
    if (negatedMin > maxMin) maxMin = negatedMin;
  }

  // ggml assigns the rounded ints to uint8_t bytes without clamping: byte stores wrap the same way.
  if (maxScale > 0) {
    const inverse: f32 = <f32>15 / maxScale;
    for (let j = 0; j < 16; j++) store<u8>(y + j, <u8>nearestInt(inverse * load<f32>(SCALES + (<usize>j << 2))));
    storeHalf(y + D_AT, maxScale / <f32>15);
  } else {
    v128.store(y, i8x16.splat(0));
    storeHalf(y + D_AT, 0);
  }
  if (maxMin > 0) {
    const inverse: f32 = <f32>15 / maxMin;
    for (let j = 0; j < 16; j++) {
      store<u8>(y + j, load<u8>(y + j) | <u8>(nearestInt(inverse * load<f32>(MINS + (<usize>j << 2))) << 4));
    }
    storeHalf(y + DMIN_AT, maxMin / <f32>15);
  } else {
    storeHalf(y + DMIN_AT, 0);
  }

  // Re-round every weight against the scales as decoded (F16 d and dmin, 4-bit factors).
  const d = loadHalf(y + D_AT);
  const dMin = loadHalf(y + DMIN_AT);
  for (let j = 0; j < 16; j++) {
    const factors = <u32>load<u8>(y + j);
    const subScale: f32 = d * <f32>(factors & 0x0f);
    // C's `!d` is `d == 0`: a NaN scale (F16-overflowed d times 0) is re-rounded, not skipped.
    if (subScale == 0) continue;
    const subMin: f32 = dMin * <f32>(factors >> 4);
    const sub = x + (<usize>j << 6);
    const scales = f32x4.splat(subScale);
    const mins = f32x4.splat(subMin);
    for (let l = 0; l < 16; l += 4) {
      const at = <usize>l << 2;
      v128.store(WIDE + at, clampLevels4(nearestInt4(f32x4.div(f32x4.add(v128.load(sub + at), mins), scales)), 3));
    }
    narrowToBytes(WIDE, LEVELS + (<usize>j << 4));
  }
}

export function quantizeQ2_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 8) * BLOCK_BYTES;
    quantizeSuperBlock(x, y);
    // Byte l of half h: weights 128h + l, +32, +64, +96 in bits 0–1, 2–3, 4–5, 6–7.
    for (let half = 0; half < 2; half++) {
      const from = LEVELS + (<usize>half << 7);
      const to = y + LEVELS_AT + (<usize>half << 5);
      for (let l = 0; l < 32; l += 16) {
        const packed = v128.or(
          v128.or(v128.load(from + l), i8x16.shl(v128.load(from + 32 + l), 2)),
          v128.or(i8x16.shl(v128.load(from + 64 + l), 4), i8x16.shl(v128.load(from + 96 + l), 6)),
        );
        v128.store(to + l, packed);
      }
    }
  }
}

export function dequantizeQ2_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const q = src + <usize>(block >> 8) * BLOCK_BYTES;
    const y = dst + (<usize>block << 2);
    const d = loadHalf(q + D_AT);
    const dMin = loadHalf(q + DMIN_AT);
    for (let half = 0; half < 2; half++) {
      const bytes = q + LEVELS_AT + (<usize>half << 5);
      for (let shift = 0; shift < 8; shift += 2) {
        // Weights 128·half + 16·shift … + 32: two sub-blocks of 16, both read from the same 32 bytes.
        const subBlock = 8 * half + shift;
        for (let part = 0; part < 2; part++) {
          const factors = <u32>load<u8>(q + subBlock + part);
          const scale = f32x4.splat(d * <f32>(factors & 0x0f));
          const min = f32x4.splat(dMin * <f32>(factors >> 4));
          const levels = v128.and(i8x16.shr_u(v128.load(bytes + (<usize>part << 4)), shift), i8x16.splat(3));
          const low = i16x8.extend_low_i8x16_u(levels);
          const high = i16x8.extend_high_i8x16_u(levels);
          const out = y + ((<usize>(128 * half + 16 * shift + 16 * part)) << 2);
          v128.store(out, f32x4.sub(f32x4.mul(scale, f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(low))), min));
          v128.store(out, f32x4.sub(f32x4.mul(scale, f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(low))), min), 16);
          v128.store(out, f32x4.sub(f32x4.mul(scale, f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(high))), min), 32);
          v128.store(out, f32x4.sub(f32x4.mul(scale, f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(high))), min), 48);
        }
      }
    }
  }
}
