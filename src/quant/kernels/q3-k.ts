/**
 * Q3_K: 3-bit symmetric quantization in super-blocks of 256 weights, 110 bytes each (3.4375 bits per
 * weight). A weight decodes as d · (s[g] − 32) · (q − 4), with q in 0…7, a 6-bit group scale s[g]
 * and g = index / 16.
 *
 * Block layout (byte offsets):
 *   0   hmask[32]   bit 2 of the codes: bit b of byte i belongs to code 32b + i.
 *   32  qs[64]      bits 0–1 of the codes: the block is two halves of 128; byte 32h + i holds, from
 *                   bit 0 up, codes 128h + i, +32, +64, +96.
 *   96  scales[12]  the sixteen 6-bit group scales: bytes 0–7 hold the low nibbles (group g in byte
 *                   g mod 8, groups 8–15 in the high nibbles), and bits 2k…2k+1 of byte 8 + (g mod 4)
 *                   hold the top two bits of group g = 4k + (g mod 4).
 *   108 d           F16 super-block scale.
 *
 * The quantizer follows ggml's quantize_row_q3_K_ref step by step: each group's scale comes from a
 * greedy level refinement, the scales are quantized to 6 bits against the largest, and the weights
 * are re-rounded against the scales as stored, so the bytes equal llama-quantize's (no imatrix).
 */
import type { QuantKernel } from "./kernel.js";
import { f32, readHalf, writeHalf } from "./float-ops.js";
import { clampLevel, fitScaleByLevelRefinement, nearestIntLikeGgml, quantizeAgainstScale } from "./scale-search-symmetric.js";

const QK = 256;
const GROUP = 16;
const GROUPS = QK / GROUP;
const NMAX = 4;

const HMASK = 0;
const QS = 32;
const SCALES = 96;
const D = 108;
const BYTES_PER_BLOCK = 110;

// One super-block of working state, reused for every block.
const codes = new Int8Array(QK);
const groupScales = new Float32Array(GROUPS);

/** The 6-bit scale code of group `g` (0…63) from a block's 12 packed scale bytes at `scales`. */
function scaleCode(q: Uint8Array, scales: number, g: number): number {
  const low = g < 8 ? q[scales + g]! & 0x0f : q[scales + g - 8]! >> 4;
  const high = (q[scales + 8 + (g & 3)]! >> (2 * (g >> 2))) & 3;
  return low | (high << 4);
}

// (A plain loop: TypedArray.prototype.fill on a 12-byte range costs more than the bytes.)
function clearScaleBytes(y: Uint8Array, scales: number): void {
  for (let at = scales; at < scales + 12; at++) y[at] = 0;
}

/** Quantizes the group scales to 6-bit codes against the largest and packs them at `scales`. */
function writeScaleCodes(y: Uint8Array, scales: number, maxScale: number): void {
  clearScaleBytes(y, scales);
  const iscale = f32(-32 / maxScale);
  for (let g = 0; g < GROUPS; g++) {
    // ggml keeps this in an int8_t before clamping; the product is within ±32, so no wrap occurs.
    const rounded = (nearestIntLikeGgml(f32(iscale * groupScales[g]!)) << 24) >> 24;
    const code = clampLevel(rounded, 32) + 32;
    if (g < 8) y[scales + g] = code & 0x0f;
    else y[scales + g - 8]! |= (code & 0x0f) << 4;
    y[scales + 8 + (g & 3)]! |= (code >> 4) << (2 * (g >> 2));
  }
}

function quantizeBlock(x: Float32Array, start: number, y: Uint8Array, out: number): void {
  let maxScale = 0;
  let maxAbsScale = 0;
  for (let g = 0; g < GROUPS; g++) {
    const scale = fitScaleByLevelRefinement(x, start + g * GROUP, GROUP, NMAX, codes, g * GROUP);
    groupScales[g] = scale;
    const absScale = Math.abs(scale);
    if (absScale > maxAbsScale) {
      maxAbsScale = absScale;
      maxScale = scale;
    }
  }

  if (maxScale !== 0) {
    writeScaleCodes(y, out + SCALES, maxScale);
    // d = maxScale / −32, written as the reciprocal of the inverse scale as ggml does.
    writeHalf(y, out + D, f32(1 / f32(-32 / maxScale)));
  } else {
    // Every group scale is 0: the scale bytes stay 0 (so each decodes as −32) under d = 0.
    clearScaleBytes(y, out + SCALES);
    writeHalf(y, out + D, 0);
  }

  // Re-round the weights against the scales as they will be decoded (F16 d times s − 32).
  // A group whose decoded scale is 0 keeps the codes from its search.
  const d = readHalf(y, out + D);
  for (let g = 0; g < GROUPS; g++) {
    const groupScale = f32(d * (scaleCode(y, out + SCALES, g) - 32));
    if (groupScale === 0) continue;
    quantizeAgainstScale(x, start + g * GROUP, GROUP, groupScale, NMAX, codes, g * GROUP);
  }

  // Split each 3-bit code into its high bit (hmask) and low two bits (qs).
  for (let i = 0; i < 32; i++) {
    let highBits = 0;
    let lowFirstHalf = 0;
    let lowSecondHalf = 0;
    for (let k = 0; k < 4; k++) {
      const a = codes[32 * k + i]!;
      const b = codes[128 + 32 * k + i]!;
      highBits |= ((a >> 2) << k) | ((b >> 2) << (k + 4));
      lowFirstHalf |= (a & 3) << (2 * k);
      lowSecondHalf |= (b & 3) << (2 * k);
    }
    y[out + HMASK + i] = highBits;
    y[out + QS + i] = lowFirstHalf;
    y[out + QS + 32 + i] = lowSecondHalf;
  }
}

function dequantizeBlock(q: Uint8Array, at: number, y: Float32Array, start: number): void {
  const d = readHalf(q, at + D);
  for (let g = 0; g < GROUPS; g++) {
    const groupScale = f32(d * (scaleCode(q, at + SCALES, g) - 32));
    // Group g covers elements 16g…16g+15: half g >> 3, bit pair (g >> 1) & 3, bytes from 16·(g & 1).
    const half = g >> 3;
    const pair = (g >> 1) & 3;
    const shift = 2 * pair;
    const highBit = half * 4 + pair;
    for (let j = 0; j < GROUP; j++) {
      const i = 16 * (g & 1) + j;
      const low = (q[at + QS + half * 32 + i]! >> shift) & 3;
      // The 3-bit code minus 4, without a branch on the (random) high bit.
      const code = (low | (((q[at + HMASK + i]! >> highBit) & 1) << 2)) - 4;
      y[start + g * GROUP + j] = groupScale * code;
    }
  }
}

export const q3_K: QuantKernel = {
  quantize(x, y, count) {
    for (let start = 0, out = 0; start < count; start += QK, out += BYTES_PER_BLOCK) quantizeBlock(x, start, y, out);
  },
  dequantize(q, y, count) {
    for (let start = 0, at = 0; start < count; start += QK, at += BYTES_PER_BLOCK) dequantizeBlock(q, at, y, start);
  },
};
