/**
 * Q6_K: 6-bit symmetric quantization in super-blocks of 256 weights, 210 bytes each (6.5625 bits per
 * weight). A weight decodes as d · scale[g] · (q − 32), with q in 0…63 and g = index / 16.
 *
 * Block layout (byte offsets):
 *   0   ql[128]     low 4 bits of the codes. The block is two halves of 128; in half h, byte
 *                   64h + i (i < 32) holds code 128h + i in its low nibble and 128h + 64 + i in its
 *                   high nibble, and byte 64h + 32 + i holds codes 128h + 32 + i and 128h + 96 + i.
 *   128 qh[64]      high 2 bits: byte 32h + i holds, from bit 0 up, codes 128h + i, +32, +64, +96.
 *   192 scales[16]  signed 8-bit scale of each group of 16 weights.
 *   208 d           F16 super-block scale.
 *
 * The quantizer follows ggml's quantize_row_q6_K_ref step by step: a grid search picks each group's
 * scale, the 16 scales are quantized to int8 against the largest, and the weights are re-rounded
 * against the scales as stored, so the bytes equal llama-quantize's (without an importance matrix).
 */
import type { QuantKernel } from "./kernel.js";
import { f32, readHalf, writeHalf } from "./float-ops.js";
import { GROUP_MAX_EPS, fitScaleByGridSearch, nearestIntLikeGgml, quantizeAgainstScale } from "./scale-search-symmetric.js";

const QK = 256;
const GROUP = 16;
const GROUPS = QK / GROUP;
const NMAX = 32;

const QL = 0;
const QH = 128;
const SCALES = 192;
const D = 208;
const BYTES_PER_BLOCK = 210;

// One super-block of working state, reused for every block.
const codes = new Int8Array(QK);
const groupScales = new Float32Array(GROUPS);

function quantizeBlock(x: Float32Array, start: number, y: Uint8Array, out: number): void {
  let maxScale = 0;
  let maxAbsScale = 0;
  for (let g = 0; g < GROUPS; g++) {
    const scale = fitScaleByGridSearch(x, start + g * GROUP, GROUP, NMAX, codes, g * GROUP);
    groupScales[g] = scale;
    const absScale = Math.abs(scale);
    if (absScale > maxAbsScale) {
      maxAbsScale = absScale;
      maxScale = scale;
    }
  }

  if (maxAbsScale < GROUP_MAX_EPS) {
    // Nothing to encode: ggml writes an all-zero block (d = +0 is all-zero bits too).
    for (let at = out; at < out + BYTES_PER_BLOCK; at++) y[at] = 0;
    return;
  }

  // The group scales become int8 multiples of d = maxScale / −128; −128 itself is representable.
  const iscale = f32(-128 / maxScale);
  writeHalf(y, out + D, f32(1 / iscale));
  for (let g = 0; g < GROUPS; g++) {
    const q = nearestIntLikeGgml(f32(iscale * groupScales[g]!));
    y[out + SCALES + g] = (q < 127 ? q : 127) & 0xff;
  }

  // Re-round the weights against the scales as they will be decoded (F16 d times the int8 scale).
  // A group whose decoded scale is 0 keeps the codes from its search.
  const d = readHalf(y, out + D);
  for (let g = 0; g < GROUPS; g++) {
    const groupScale = f32(d * ((y[out + SCALES + g]! << 24) >> 24));
    if (groupScale === 0) continue;
    quantizeAgainstScale(x, start + g * GROUP, GROUP, groupScale, NMAX, codes, g * GROUP);
  }

  for (let half = 0; half < 2; half++) {
    const base = half * 128;
    const ql = out + QL + half * 64;
    const qh = out + QH + half * 32;
    for (let i = 0; i < 32; i++) {
      const c0 = codes[base + i]!;
      const c1 = codes[base + 32 + i]!;
      const c2 = codes[base + 64 + i]!;
      const c3 = codes[base + 96 + i]!;
      y[ql + i] = (c0 & 0x0f) | ((c2 & 0x0f) << 4);
      y[ql + 32 + i] = (c1 & 0x0f) | ((c3 & 0x0f) << 4);
      y[qh + i] = (c0 >> 4) | ((c1 >> 4) << 2) | ((c2 >> 4) << 4) | ((c3 >> 4) << 6);
    }
  }
}

function dequantizeBlock(q: Uint8Array, at: number, y: Float32Array, start: number): void {
  const d = readHalf(q, at + D);
  for (let half = 0; half < 2; half++) {
    const ql = at + QL + half * 64;
    const qh = at + QH + half * 32;
    const base = start + half * 128;
    for (let i = 0; i < 32; i++) {
      const low = q[ql + i]!;
      const lowNext = q[ql + 32 + i]!;
      const high = q[qh + i]!;
      const c0 = ((low & 0x0f) | ((high & 3) << 4)) - 32;
      const c1 = ((lowNext & 0x0f) | (((high >> 2) & 3) << 4)) - 32;
      const c2 = ((low >> 4) | (((high >> 4) & 3) << 4)) - 32;
      const c3 = ((lowNext >> 4) | (((high >> 6) & 3) << 4)) - 32;
      // Group of element base + 32k + i is 8·half + 2k + i/16; decoded as (d · scale) · code.
      const group = at + SCALES + half * 8 + (i >> 4);
      y[base + i] = f32(d * ((q[group]! << 24) >> 24)) * c0;
      y[base + 32 + i] = f32(d * ((q[group + 2]! << 24) >> 24)) * c1;
      y[base + 64 + i] = f32(d * ((q[group + 4]! << 24) >> 24)) * c2;
      y[base + 96 + i] = f32(d * ((q[group + 6]! << 24) >> 24)) * c3;
    }
  }
}

export const q6_K: QuantKernel = {
  quantize(x, y, count) {
    for (let start = 0, out = 0; start < count; start += QK, out += BYTES_PER_BLOCK) quantizeBlock(x, start, y, out);
  },
  dequantize(q, y, count) {
    for (let start = 0, at = 0; start < count; start += QK, at += BYTES_PER_BLOCK) dequantizeBlock(q, at, y, start);
  },
};
