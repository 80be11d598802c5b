/**
 * Q4_K and Q5_K: super-blocks of 256 weights in eight sub-blocks of 32, each weight stored as
 * `d·scaleⱼ·q − dmin·minⱼ` with an unsigned q (4 bits for Q4_K, 5 for Q5_K).
 *
 * Q4_K block, 144 bytes:           Q5_K block, 176 bytes:
 *   0  d     F16                     0  d     F16
 *   2  dmin  F16                     2  dmin  F16
 *   4  12 bytes of 6-bit scales      4  12 bytes of 6-bit scales
 *      and mins (layout below)          and mins (layout below)
 *  16  128 bytes of 4-bit levels    16  32 bytes of fifth bits
 *                                   48  128 bytes of low 4 bits
 *
 * Levels come in 64-weight groups of 32 bytes: byte l of group g holds weight 64g + l in its low
 * nibble and weight 64g + 32 + l in its high nibble. Q5_K's fifth bits: bit 2g of byte l belongs to
 * weight 64g + l, bit 2g + 1 to weight 64g + 32 + l.
 *
 * The quantizers follow ggml's reference (quantize_row_q4_K_ref / q5_K_ref, no importance matrix) in
 * float32, operation by operation, so the bytes equal llama-quantize's.
 */
import { f32, readHalf, writeHalf } from "./float-ops.js";
import type { QuantKernel } from "./kernel.js";
import { type AffineFit, type AffineSearchSettings, ggmlNearestInt, searchAffineScale } from "./scale-search-affine.js";

const SUPER_BLOCK = 256;
const SUB_BLOCK = 32;
const SUB_BLOCKS = SUPER_BLOCK / SUB_BLOCK;
/** Sub-block scales and minimums are quantized to 6 bits against the block's largest. */
const MAX_SCALE_LEVEL = 63;

const Q4_BYTES = 144;
const Q5_BYTES = 176;
const SCALES_AT = 4;
const Q4_LEVELS_AT = 16;
const Q5_HIGH_BITS_AT = 16;
const Q5_LEVELS_AT = 48;

const Q4_SEARCH: AffineSearchSettings = { maxLevel: 15, firstOffset: -1, offsetStep: f32(0.1), steps: 20, absoluteError: false };
const Q5_SEARCH: AffineSearchSettings = { maxLevel: 31, firstOffset: -0.5, offsetStep: f32(0.1), steps: 15, absoluteError: false };

/*
 * The 12 scale bytes hold eight 6-bit scales s0…s7 and eight 6-bit minimums m0…m7:
 *   bytes 0–3:  s0…s3 in bits 0–5, the top two bits of s4…s7 in bits 6–7
 *   bytes 4–7:  m0…m3 in bits 0–5, the top two bits of m4…m7 in bits 6–7
 *   bytes 8–11: low four bits of s4…s7 in bits 0–3, low four bits of m4…m7 in bits 4–7
 */

/** Writes the 6-bit scale and minimum of sub-block j (in order j = 0…7: later ones OR into earlier bytes). */
function packScaleAndMin(y: Uint8Array, at: number, j: number, scale: number, min: number): void {
  if (j < 4) {
    y[at + j] = scale;
    y[at + j + 4] = min;
  } else {
    y[at + j + 4] = (scale & 0x0f) | ((min & 0x0f) << 4);
    y[at + j - 4]! |= (scale >> 4) << 6;
    y[at + j]! |= (min >> 4) << 6;
  }
}

/** The 6-bit scale of sub-block j (ggml's get_scale_min_k4, first half). */
function unpackScale(q: Uint8Array, at: number, j: number): number {
  return j < 4 ? q[at + j]! & 63 : (q[at + j + 4]! & 0x0f) | ((q[at + j - 4]! >> 6) << 4);
}

/** The 6-bit minimum of sub-block j (ggml's get_scale_min_k4, second half). */
function unpackMin(q: Uint8Array, at: number, j: number): number {
  return j < 4 ? q[at + j + 4]! & 63 : (q[at + j + 4]! >> 4) | ((q[at + j]! >> 6) << 4);
}

// Scratch for one super-block, reused across blocks and calls.
const levels = new Uint8Array(SUPER_BLOCK);
const weights = new Float64Array(SUB_BLOCK); // float32 values
const scales = new Float32Array(SUB_BLOCKS);
const mins = new Float32Array(SUB_BLOCKS);
const scaleLevels = new Uint8Array(SUB_BLOCKS);
const minLevels = new Uint8Array(SUB_BLOCKS);
const fit: AffineFit = { scale: 0, negatedMin: 0 };

/**
 * Fills `levels` with the final per-weight levels (0…settings.maxLevel) of the super-block at
 * `x[start…]` and writes d, dmin and the packed scales at `y[out…]`.
 */
function quantizeSuperBlock(settings: AffineSearchSettings, x: Float32Array, start: number, y: Uint8Array, out: number): void {
  const maxLevel = settings.maxLevel;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < SUB_BLOCKS; j++) {
    const subStart = start + j * SUB_BLOCK;
    // Importance of each weight: the sub-block's RMS plus its own magnitude.
    let sumSquares = 0;
    for (let l = 0; l < SUB_BLOCK; l++) {
      const v = x[subStart + l]!;
      sumSquares = f32(sumSquares + f32(v * v));
    }
    const rms = f32(Math.sqrt(f32(sumSquares / SUB_BLOCK)));
    for (let l = 0; l < SUB_BLOCK; l++) weights[l] = f32(rms + Math.abs(x[subStart + l]!));
    searchAffineScale(settings, x, subStart, SUB_BLOCK, weights, levels, j * SUB_BLOCK, fit);
    scales[j] = fit.scale;
    mins[j] = fit.negatedMin;
    if (fit.scale > maxScale) maxScale = fit.scale;
    if (fit.negatedMin > maxMin) maxMin = fit.negatedMin;
  }

  const inverseScale = maxScale > 0 ? f32(MAX_SCALE_LEVEL / maxScale) : 0;
  const inverseMin = maxMin > 0 ? f32(MAX_SCALE_LEVEL / maxMin) : 0;
  for (let j = 0; j < SUB_BLOCKS; j++) {
    // ggml stores the rounded value in a uint8_t before capping it at 63: keep the wrap-around.
    const scaleLevel = Math.min(MAX_SCALE_LEVEL, ggmlNearestInt(f32(inverseScale * scales[j]!)) & 0xff);
    const minLevel = Math.min(MAX_SCALE_LEVEL, ggmlNearestInt(f32(inverseMin * mins[j]!)) & 0xff);
    scaleLevels[j] = scaleLevel;
    minLevels[j] = minLevel;
    packScaleAndMin(y, out + SCALES_AT, j, scaleLevel, minLevel);
  }
  writeHalf(y, out, f32(maxScale / MAX_SCALE_LEVEL));
  writeHalf(y, out + 2, f32(maxMin / MAX_SCALE_LEVEL));

  // Re-round every weight against the scales as they will be decoded (F16 d and dmin, 6-bit factors).
  // The 6-bit values pack losslessly, so scaleLevels/minLevels equal what unpacking would give.
  const d = readHalf(y, out);
  const dMin = readHalf(y, out + 2);
  for (let j = 0; j < SUB_BLOCKS; j++) {
    const subScale = f32(d * scaleLevels[j]!);
    // A zero scale keeps the search's levels (ggml skips the sub-block). Not `!subScale`: in C,
    // `!d` is `d == 0`, false for NaN (an F16-overflowed d times a zero factor), which gets re-rounded.
    if (subScale === 0) continue;
    const subMin = f32(dMin * minLevels[j]!);
    const subStart = start + j * SUB_BLOCK;
    for (let l = 0; l < SUB_BLOCK; l++) {
      const level = ggmlNearestInt(f32(f32(x[subStart + l]! + subMin) / subScale));
      levels[j * SUB_BLOCK + l] = level < 0 ? 0 : level > maxLevel ? maxLevel : level;
    }
  }
}

export const q4_K: QuantKernel = {
  quantize(x, y, count) {
    for (let start = 0, out = 0; start < count; start += SUPER_BLOCK, out += Q4_BYTES) {
      quantizeSuperBlock(Q4_SEARCH, x, start, y, out);
      for (let group = 0; group < SUPER_BLOCK; group += 64) {
        const at = out + Q4_LEVELS_AT + group / 2;
        for (let l = 0; l < 32; l++) y[at + l] = levels[group + l]! | (levels[group + 32 + l]! << 4);
      }
    }
  },
  dequantize(q, y, count) {
    for (let start = 0, at = 0; start < count; start += SUPER_BLOCK, at += Q4_BYTES) {
      const d = readHalf(q, at);
      const dMin = readHalf(q, at + 2);
      for (let group = 0; group < 4; group++) {
        const lowScale = f32(d * unpackScale(q, at + SCALES_AT, 2 * group));
        const lowMin = f32(dMin * unpackMin(q, at + SCALES_AT, 2 * group));
        const highScale = f32(d * unpackScale(q, at + SCALES_AT, 2 * group + 1));
        const highMin = f32(dMin * unpackMin(q, at + SCALES_AT, 2 * group + 1));
        const bytes = at + Q4_LEVELS_AT + 32 * group;
        const first = start + 64 * group;
        for (let l = 0; l < 32; l++) {
          const byte = q[bytes + l]!;
          y[first + l] = f32(lowScale * (byte & 0x0f)) - lowMin;
          y[first + 32 + l] = f32(highScale * (byte >> 4)) - highMin;
        }
      }
    }
  },
};

export const q5_K: QuantKernel = {
  quantize(x, y, count) {
    for (let start = 0, out = 0; start < count; start += SUPER_BLOCK, out += Q5_BYTES) {
      quantizeSuperBlock(Q5_SEARCH, x, start, y, out);
      const high = out + Q5_HIGH_BITS_AT;
      for (let l = 0; l < 32; l++) y[high + l] = 0;
      for (let group = 0; group < 4; group++) {
        const at = out + Q5_LEVELS_AT + 32 * group;
        const lowBit = 1 << (2 * group);
        const highBit = lowBit << 1;
        for (let l = 0; l < 32; l++) {
          const a = levels[64 * group + l]!;
          const b = levels[64 * group + 32 + l]!;
          if (a > 15) y[high + l]! |= lowBit;
          if (b > 15) y[high + l]! |= highBit;
          y[at + l] = (a & 0x0f) | ((b & 0x0f) << 4);
        }
      }
    }
  },
  dequantize(q, y, count) {
    for (let start = 0, at = 0; start < count; start += SUPER_BLOCK, at += Q5_BYTES) {
      const d = readHalf(q, at);
      const dMin = readHalf(q, at + 2);
      for (let group = 0; group < 4; group++) {
        const lowScale = f32(d * unpackScale(q, at + SCALES_AT, 2 * group));
        const lowMin = f32(dMin * unpackMin(q, at + SCALES_AT, 2 * group));
        const highScale = f32(d * unpackScale(q, at + SCALES_AT, 2 * group + 1));
        const highMin = f32(dMin * unpackMin(q, at + SCALES_AT, 2 * group + 1));
        const bytes = at + Q5_LEVELS_AT + 32 * group;
        const first = start + 64 * group;
        const lowBit = 1 << (2 * group);
        const highBit = lowBit << 1;
        for (let l = 0; l < 32; l++) {
          const byte = q[bytes + l]!;
          const fifth = q[at + Q5_HIGH_BITS_AT + l]!;
          const a = (byte & 0x0f) + (fifth & lowBit ? 16 : 0);
          const b = (byte >> 4) + (fifth & highBit ? 16 : 0);
          y[first + l] = f32(lowScale * a) - lowMin;
          y[first + 32 + l] = f32(highScale * b) - highMin;
        }
      }
    }
  },
};
