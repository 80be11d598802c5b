// Q3_K in WebAssembly: ggml's quantize_row_q3_K_ref and dequantize_row_q3_K, with the float32
// arithmetic of ../kernels/q3-k.ts (which documents the 110-byte block layout). Per super-block of 256:
// a level refinement fits each group of 16 a scale, the scales become 6-bit codes against the
// largest (d = max/−32 stored as F16), and the weights are re-rounded against the scales as decoded.
import { loadHalf, nearestInt, storeHalf } from "./common";
import { clampLevel, fitScaleByLevelRefinement, quantizeAgainstScale } from "./scale-search-symmetric";

const NMAX = 4;
const HMASK: usize = 0;
const QS: usize = 32;
const SCALES: usize = 96;
const D: usize = 108;
const BYTES_PER_BLOCK: usize = 110;

// One super-block of working state: the codes (level + 4) and the group scales.
const CODES: usize = memory.data(256, 16);
const GROUP_SCALES: usize = memory.data(64, 16);

/** The 6-bit scale code of group `g` (0…63) from a block's 12 packed scale bytes at `scales`. */
@inline function scaleCode(scales: usize, g: usize): i32 {
  const low = g < 8 ? <i32>load<u8>(scales + g) & 0x0f : <i32>load<u8>(scales + g - 8) >> 4;
  const high = (<i32>load<u8>(scales + 8 + (g & 3)) >> (<i32>(g >> 2) << 1)) & 3;
  return low | (high << 4);
}

function quantizeBlock(x: usize, y: usize): void {
  let maxScale: f32 = 0;
  let amax: f32 = 0;
  for (let g: usize = 0; g < 16; g++) {
    const scale = fitScaleByLevelRefinement(x + (g << 6), NMAX, CODES + (g << 4));
    store<f32>(GROUP_SCALES + (g << 2), scale);
    const absScale = Mathf.abs(scale);
    if (absScale > amax) {
      amax = absScale;
      maxScale = scale;
    }
  }

  const scales = y + SCALES;
  store<u64>(scales, 0);
  store<u32>(scales, 0, 8);
  if (maxScale != 0) {
    const iscale: f32 = <f32>-32 / maxScale;
    for (let g: usize = 0; g < 16; g++) {
      // C keeps nearest_int's result in an int8_t (a wrap) before clamping to a 6-bit code.
      const rounded = <i32><i8>nearestInt(iscale * load<f32>(GROUP_SCALES + (g << 2)));
      const code = clampLevel(rounded, 32) + 32;
      if (g < 8) store<u8>(scales + g, <u8>(code & 0x0f));
      else store<u8>(scales + g - 8, load<u8>(scales + g - 8) | <u8>((code & 0x0f) << 4));
      const at = scales + 8 + (g & 3);
      store<u8>(at, load<u8>(at) | <u8>((code >> 4) << (<i32>(g >> 2) << 1)));
    }
    storeHalf(y + D, <f32>1 / iscale);
  } else {
    storeHalf(y + D, 0);
  }

  // Re-round against the scales as decoded; a group whose decoded scale is 0 keeps its search's codes.
  const d = loadHalf(y + D);
  for (let g: usize = 0; g < 16; g++) {
    const groupScale = d * <f32>(scaleCode(scales, g) - 32);
    if (groupScale == 0) continue;
    quantizeAgainstScale(x + (g << 6), groupScale, NMAX, CODES + (g << 4));
  }

  // Codes are 0…7: bit 2 of code 32k + m goes to bit k of hmask[m]; bits 0–1 of codes 128h + 32k + m
  // to bits 2k…2k+1 of qs[32h + m].
  const three = i8x16.splat(3);
  for (let m: usize = 0; m < 32; m += 16) {
    let hmask = i32x4.splat(0);
    for (let k: u32 = 0; k < 8; k++) {
      hmask = v128.or(hmask, i8x16.shl(i8x16.shr_u(v128.load(CODES + (<usize>k << 5) + m), 2), k));
    }
    v128.store(y + HMASK + m, hmask);
    for (let half: usize = 0; half < 2; half++) {
      const codes = CODES + half * 128 + m;
      let low = v128.and(v128.load(codes), three);
      low = v128.or(low, i8x16.shl(v128.and(v128.load(codes, 32), three), 2));
      low = v128.or(low, i8x16.shl(v128.and(v128.load(codes, 64), three), 4));
      low = v128.or(low, i8x16.shl(v128.and(v128.load(codes, 96), three), 6));
      v128.store(y + QS + half * 32 + m, low);
    }
  }
}

export function quantizeQ3_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    quantizeBlock(src + (<usize>block << 2), dst + <usize>(block >> 8) * BYTES_PER_BLOCK);
  }
}

export function dequantizeQ3_K(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const q = src + <usize>(block >> 8) * BYTES_PER_BLOCK;
    const y = dst + (<usize>block << 2);
    const d = loadHalf(q + D);
    for (let g: usize = 0; g < 16; g++) {
      // dl = d · (s − 32), then dl · (code − 4), as C.
      const dl = f32x4.splat(d * <f32>(scaleCode(q + SCALES, g) - 32));
      // Group g: half g >> 3, bit pair (g >> 1) & 3, bytes 16·(g & 1) … +15 of qs and hmask.
      const half = g >> 3;
      const pair = <u32>((g >> 1) & 3);
      const offset = (g & 1) << 4;
      const low = v128.and(i8x16.shr_u(v128.load(q + QS + half * 32 + offset), pair << 1), i8x16.splat(3));
      const high = v128.and(i8x16.shr_u(v128.load(q + HMASK + offset), pair + <u32>(half << 2)), i8x16.splat(1));
      // code − 4 = low + 4·high − 4, as signed bytes, widened to four vectors of i32.
      const codes = i8x16.sub(v128.or(low, i8x16.shl(high, 2)), i8x16.splat(4));
      const wide0 = i16x8.extend_low_i8x16_s(codes);
      const wide1 = i16x8.extend_high_i8x16_s(codes);
      const out = y + (g << 6);
      v128.store(out, f32x4.mul(dl, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(wide0))));
      v128.store(out, f32x4.mul(dl, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(wide0))), 16);
      v128.store(out, f32x4.mul(dl, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(wide1))), 32);
      v128.store(out, f32x4.mul(dl, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(wide1))), 48);
    }
  }
}
