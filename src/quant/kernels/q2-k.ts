/**
 * Q2_K: super-blocks of 256 weights in sixteen sub-blocks of 16, each weight stored as
 * `d·scaleⱼ·q − dmin·minⱼ` with a 2-bit unsigned q and 4-bit per-sub-block scale and minimum.
 *
 * Block, 84 bytes:
 *   0  16 bytes: sub-block j's scale in the low nibble of byte j, its minimum in the high nibble
 *  16  64 bytes of 2-bit levels
 *  80  d     F16 (unit of the scales)
 *  82  dmin  F16 (unit of the minimums)
 *
 * Levels come in two 128-weight halves of 32 bytes: byte l of half h holds weight 128h + l in bits
 * 0–1, 128h + 32 + l in bits 2–3, 128h + 64 + l in bits 4–5 and 128h + 96 + l in bits 6–7.
 *
 * The quantizer follows ggml's reference (quantize_row_q2_K_ref, no importance matrix) in float32,
 * operation by operation, so the bytes equal llama-quantize's.
 */
import { f32, readHalf, writeHalf } from "./float-ops.js";
import type { QuantKernel } from "./kernel.js";
import { type AffineFit, type AffineSearchSettings, ggmlNearestInt, searchAffineScale } from "./scale-search-affine.js";

const SUPER_BLOCK = 256;
const SUB_BLOCK = 16;
const SUB_BLOCKS = SUPER_BLOCK / SUB_BLOCK;
const MAX_LEVEL = 3;
/** Sub-block scales and minimums are quantized to 4 bits against the block's largest. */
const MAX_SCALE_LEVEL = 15;

const BLOCK_BYTES = 84;
const LEVELS_AT = 16;
const D_AT = 80;
const DMIN_AT = 82;

const SEARCH: AffineSearchSettings = { maxLevel: MAX_LEVEL, firstOffset: -0.5, offsetStep: f32(0.1), steps: 15, absoluteError: true };

// Scratch for one super-block, reused across blocks and calls.
const levels = new Uint8Array(SUPER_BLOCK);
const weights = new Float64Array(SUB_BLOCK); // float32 values
const scales = new Float32Array(SUB_BLOCKS);
const mins = new Float32Array(SUB_BLOCKS);
const fit: AffineFit = { scale: 0, negatedMin: 0 };

function quantizeSuperBlock(x: Float32Array, start: number, y: Uint8Array, out: number): void {
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < SUB_BLOCKS; j++) {
    const subStart = start + j * SUB_BLOCK;
    // Importance of each weight: its magnitude.
    for (let l = 0; l < SUB_BLOCK; l++) weights[l] = Math.abs(x[subStart + l]!);
    searchAffineScale(SEARCH, x, subStart, SUB_BLOCK, weights, levels, j * SUB_BLOCK, fit);
    scales[j] = fit.scale;
    mins[j] = fit.negatedMin;
    if (fit.scale > maxScale) maxScale = fit.scale;
    if (fit.negatedMin > maxMin) maxMin = fit.negatedMin;
  }

  // ggml assigns the rounded ints to uint8_t bytes without clamping; Uint8Array stores wrap the same way.
  if (maxScale > 0) {
    const inverse = f32(MAX_SCALE_LEVEL / maxScale);
    for (let j = 0; j < SUB_BLOCKS; j++) y[out + j] = ggmlNearestInt(f32(inverse * scales[j]!));
    writeHalf(y, out + D_AT, f32(maxScale / MAX_SCALE_LEVEL));
  } else {
    for (let j = 0; j < SUB_BLOCKS; j++) y[out + j] = 0;
    writeHalf(y, out + D_AT, 0);
  }
  if (maxMin > 0) {
    const inverse = f32(MAX_SCALE_LEVEL / maxMin);
    for (let j = 0; j < SUB_BLOCKS; j++) y[out + j]! |= ggmlNearestInt(f32(inverse * mins[j]!)) << 4;
    writeHalf(y, out + DMIN_AT, f32(maxMin / MAX_SCALE_LEVEL));
  } else {
    writeHalf(y, out + DMIN_AT, 0);
  }

  // Re-round every weight against the scales as they will be decoded (F16 d and dmin, 4-bit factors).
  const d = readHalf(y, out + D_AT);
  const dMin = readHalf(y, out + DMIN_AT);
  for (let j = 0; j < SUB_BLOCKS; j++) {
    const factors = y[out + j]!;
    const subScale = f32(d * (factors & 0x0f));
    // A zero scale keeps the search's levels (ggml skips the sub-block). Not `!subScale`: in C,
    // `!d` is `d == 0`, false for NaN (an F16-overflowed d times a zero factor), which gets re-rounded.
    if (subScale === 0) continue;
    const subMin = f32(dMin * (factors >> 4));
    const subStart = start + j * SUB_BLOCK;
    for (let l = 0; l < SUB_BLOCK; l++) {
      const level = ggmlNearestInt(f32(f32(x[subStart + l]! + subMin) / subScale));
      levels[j * SUB_BLOCK + l] = level < 0 ? 0 : level > MAX_LEVEL ? MAX_LEVEL : level;
    }
  }
}

export const q2_K: QuantKernel = {
  quantize(x, y, count) {
    for (let start = 0, out = 0; start < count; start += SUPER_BLOCK, out += BLOCK_BYTES) {
      quantizeSuperBlock(x, start, y, out);
      for (let half = 0; half < SUPER_BLOCK; half += 128) {
        const at = out + LEVELS_AT + half / 4;
        for (let l = 0; l < 32; l++) {
          const first = half + l;
          y[at + l] = levels[first]! | (levels[first + 32]! << 2) | (levels[first + 64]! << 4) | (levels[first + 96]! << 6);
        }
      }
    }
  },
  dequantize(q, y, count) {
    for (let start = 0, at = 0; start < count; start += SUPER_BLOCK, at += BLOCK_BYTES) {
      const d = readHalf(q, at + D_AT);
      const dMin = readHalf(q, at + DMIN_AT);
      for (let half = 0; half < 2; half++) {
        const bytes = at + LEVELS_AT + 32 * half;
        for (let shift = 0; shift < 8; shift += 2) {
          // Weights 128·half + 16·shift … + 32: two sub-blocks of 16, both read from the same 32 bytes.
          const first = start + 128 * half + 16 * shift;
          const subBlock = 8 * half + shift;
          for (let part = 0; part < 2; part++) {
            const factors = q[at + subBlock + part]!;
            const subScale = f32(d * (factors & 0x0f));
            const subMin = f32(dMin * (factors >> 4));
            for (let l = 16 * part; l < 16 * part + 16; l++) {
              y[first + l] = f32(subScale * ((q[bytes + l]! >> shift) & 3)) - subMin;
            }
          }
        }
      }
    }
  },
};
