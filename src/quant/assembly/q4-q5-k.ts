// Q4_K and Q5_K in WebAssembly: the same arithmetic as ../kernels/q4-q5-k.ts (ggml's
// quantize_row_q4_K_ref / q5_K_ref and dequantize_row_q4_K / q5_K), with native float32. Block layouts
// are described there.
import { loadHalf, nearestInt, storeHalf } from "./common";
import { affineNegatedMin, clampLevels4, nearestInt4, narrowToBytes, searchAffineScale } from "./scale-search-affine";

const Q4_BYTES = 144;
const Q5_BYTES = 176;

// Scratch for one super-block (16-byte aligned).
/** The 256 levels, one byte each. */
const LEVELS: usize = memory.data(256, 16);
/** Importances of one sub-block's 32 weights. */
const WEIGHTS: usize = memory.data(32 * 4, 16);
/** Final levels of one sub-block as i32, before narrowing to bytes. */
const WIDE: usize = memory.data(32 * 4, 16);
const SCALES: usize = memory.data(8 * 4, 16);
const MINS: usize = memory.data(8 * 4, 16);
/** The 6-bit scale and minimum levels of the eight sub-blocks. */
const SCALE_LEVELS: usize = memory.data(8, 16);
const MIN_LEVELS: usize = memory.data(8, 16);

/**
 * Fills LEVELS with the final levels (0…maxLevel) of the 256 floats at `x` and writes d, dmin and the
 * 12 packed scale bytes at `y`.
 */
@inline function quantizeSuperBlock(x: usize, y: usize, maxLevel: i32, firstOffset: f32, steps: i32): void {
  let maxScale: f32 = 0;
  let maxMin: f32 = 0;
  for (let j = 0; j < 8; j++) {
    const sub = x + (<usize>j << 7);
    let sumSquares: f32 = 0;
    for (let l = 0; l < 32; l++) {
      const v = load<f32>(sub + (<usize>l << 2));
      sumSquares += v * v;
    }
    const rms = f32x4.splat(Mathf.sqrt(sumSquares / <f32>32));
    for (let l = 0; l < 32; l += 4) {
      const at = <usize>l << 2;
      v128.store(WEIGHTS + at, f32x4.add(rms, f32x4.abs(v128.load(sub + at))));
    }
    const scale = searchAffineScale(sub, WEIGHTS, 32, maxLevel, firstOffset, <f32>0.1, steps, false, LEVELS + (<usize>j << 5));
    const negatedMin = affineNegatedMin;
    store<f32>(SCALES + (<usize>j << 2), scale);
    store<f32>(MINS + (<usize>j << 2), negatedMin);
    if (scale > maxScale) maxScale = scale;
    if (negatedMin > maxMin) maxMin = negatedMin;
  }

  const inverseScale: f32 = maxScale > 0 ? <f32>63 / maxScale : 0;
  const inverseMin: f32 = maxMin > 0 ? <f32>63 / maxMin : 0;
  for (let j = 0; j < 8; j++) {
    // ggml stores the rounded value in a uint8_t before capping it at 63: keep the wrap-around.
    let scaleLevel = nearestInt(inverseScale * load<f32>(SCALES + (<usize>j << 2))) & 0xff;
    let minLevel = nearestInt(inverseMin * load<f32>(MINS + (<usize>j << 2))) & 0xff;
    if (scaleLevel > 63) scaleLevel = 63;
    if (minLevel > 63) minLevel = 63;
    store<u8>(SCALE_LEVELS + j, <u8>scaleLevel);
    store<u8>(MIN_LEVELS + j, <u8>minLevel);
    const scales = y + 4;
    if (j < 4) {
      store<u8>(scales + j, <u8>scaleLevel);
      store<u8>(scales + j + 4, <u8>minLevel);
    } else {
      store<u8>(scales + j + 4, <u8>((scaleLevel & 0x0f) | ((minLevel & 0x0f) << 4)));
      store<u8>(scales + j - 4, load<u8>(scales + j - 4) | <u8>((scaleLevel >> 4) << 6));
      store<u8>(scales + j, load<u8>(scales + j) | <u8>((minLevel >> 4) << 6));
    }
  }
  storeHalf(y, maxScale / <f32>63);
  storeHalf(y + 2, maxMin / <f32>63);

  // Re-round every weight against the scales as decoded (F16 d and dmin, 6-bit factors, which pack
  // losslessly: SCALE_LEVELS and MIN_LEVELS are what unpacking would give).
  const d = loadHalf(y);
  const dMin = loadHalf(y + 2);
  for (let j = 0; j < 8; j++) {
    const subScale: f32 = d * <f32>load<u8>(SCALE_LEVELS + j);
    // C's `!d` is `d == 0`: a NaN scale (F16-overflowed d times 0) is re-rounded, not skipped.
    if (subScale == 0) continue;
    const subMin: f32 = dMin * <f32>load<u8>(MIN_LEVELS + j);
    const sub = x + (<usize>j << 7);
    const scales = f32x4.splat(subScale);
    const mins = f32x4.splat(subMin);
    for (let l = 0; l < 32; l += 4) {
      const at = <usize>l << 2;
      const level = nearestInt4(f32x4.div(f32x4.add(v128.load(sub + at), mins), scales));
      v128.store(WIDE + at, clampLevels4(level, maxLevel));
    }
    narrowToBytes(WIDE, LEVELS + (<usize>j << 5));
    narrowToBytes(WIDE + 64, LEVELS + (<usize>j << 5) + 16);
  }
}

export function quantizeQ4_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 8) * Q4_BYTES;
    quantizeSuperBlock(x, y, 15, -1, 20);
    // Byte l of group g: weight 64g + l in the low nibble, 64g + 32 + l in the high one.
    for (let group = 0; group < 4; group++) {
      const from = LEVELS + (<usize>group << 6);
      const to = y + 16 + (<usize>group << 5);
      for (let l = 0; l < 32; l += 16) {
        v128.store(to + l, v128.or(v128.load(from + l), i8x16.shl(v128.load(from + 32 + l), 4)));
      }
    }
  }
}

export function quantizeQ5_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 8) * Q5_BYTES;
    quantizeSuperBlock(x, y, 31, -0.5, 15);
    // Low four bits as in Q4_K; the fifth bit of weight 64g + l is bit 2g of byte l of the high
    // bits, that of 64g + 32 + l bit 2g + 1.
    for (let l = 0; l < 32; l += 16) {
      let high = i8x16.splat(0);
      for (let group = 0; group < 4; group++) {
        const from = LEVELS + (<usize>group << 6) + l;
        const a = v128.load(from);
        const b = v128.load(from + 32);
        high = v128.or(high, i8x16.shl(i8x16.shr_u(a, 4), 2 * group));
        high = v128.or(high, i8x16.shl(i8x16.shr_u(b, 4), 2 * group + 1));
        const low = v128.and(a, i8x16.splat(0x0f));
        v128.store(y + 48 + (<usize>group << 5) + l, v128.or(low, i8x16.shl(b, 4)));
      }
      v128.store(y + 16 + l, high);
    }
  }
}

/** The 6-bit scale of sub-block j from the 12 packed bytes at `q` (ggml's get_scale_min_k4). */
@inline function unpackScale(q: usize, j: i32): u32 {
  return j < 4 ? <u32>load<u8>(q + j) & 63 : (<u32>load<u8>(q + j + 4) & 0x0f) | ((<u32>load<u8>(q + j - 4) >> 6) << 4);
}

/** The 6-bit minimum of sub-block j. */
@inline function unpackMin(q: usize, j: i32): u32 {
  return j < 4 ? <u32>load<u8>(q + j + 4) & 63 : (<u32>load<u8>(q + j + 4) >> 4) | ((<u32>load<u8>(q + j) >> 6) << 4);
}

/** Sixteen bytes (levels) to four f32x4 scale·level − min at `y`. */
@inline function decode16(bytes: v128, scale: v128, min: v128, y: usize): void {
  const low = i16x8.extend_low_i8x16_u(bytes);
  const high = i16x8.extend_high_i8x16_u(bytes);
  v128.store(y, f32x4.sub(f32x4.mul(scale, f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(low))), min));
  v128.store(y, f32x4.sub(f32x4.mul(scale, f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(low))), min), 16);
  v128.store(y, f32x4.sub(f32x4.mul(scale, f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(high))), min), 32);
  v128.store(y, f32x4.sub(f32x4.mul(scale, f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(high))), min), 48);
}

@inline function dequantizeBlock(q: usize, y: usize, fifthBits: bool): void {
  const d = loadHalf(q);
  const dMin = loadHalf(q + 2);
  const levels = q + (fifthBits ? 48 : 16);
  for (let group = 0; group < 4; group++) {
    const lowScale = f32x4.splat(d * <f32>unpackScale(q + 4, 2 * group));
    const lowMin = f32x4.splat(dMin * <f32>unpackMin(q + 4, 2 * group));
    const highScale = f32x4.splat(d * <f32>unpackScale(q + 4, 2 * group + 1));
    const highMin = f32x4.splat(dMin * <f32>unpackMin(q + 4, 2 * group + 1));
    const out = y + (<usize>group << 8);
    for (let l = 0; l < 32; l += 16) {
      const bytes = v128.load(levels + (<usize>group << 5) + l);
      let a = v128.and(bytes, i8x16.splat(0x0f));
      let b = i8x16.shr_u(bytes, 4);
      if (fifthBits) {
        const high = v128.load(q + 16 + l);
        a = v128.or(a, i8x16.shl(v128.and(i8x16.shr_u(high, 2 * group), i8x16.splat(1)), 4));
        b = v128.or(b, i8x16.shl(v128.and(i8x16.shr_u(high, 2 * group + 1), i8x16.splat(1)), 4));
      }
      decode16(a, lowScale, lowMin, out + (<usize>l << 2));
      decode16(b, highScale, highMin, out + 128 + (<usize>l << 2));
    }
  }
}

export function dequantizeQ4_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    dequantizeBlock(src + <usize>(block >> 8) * Q4_BYTES, dst + (<usize>block << 2), false);
  }
}

export function dequantizeQ5_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    dequantizeBlock(src + <usize>(block >> 8) * Q5_BYTES, dst + (<usize>block << 2), true);
  }
}
