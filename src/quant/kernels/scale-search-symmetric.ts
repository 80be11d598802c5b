/**
 * Scale searches for the symmetric K-quants (Q3_K and Q6_K): each fits one scale `s` to a small group
 * of floats so that x ≈ s·q with integer levels q in [−nmax, nmax − 1], and no minimum. The two
 * strategies reproduce ggml's make_q3_quants (greedy per-element refinement) and make_qx_quants (a
 * grid of 19 candidate scales), computing in float32 in ggml's order so the chosen levels and scales
 * are bit-identical. Both weight each element's squared error by x², which favours the large values.
 *
 * Levels are written offset by +nmax, so they are unsigned codes in [0, 2·nmax − 1], ready to pack.
 */
import { f32, nearestInt } from "./float-ops.js";

/** ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this is encoded as all zeros. */
export const GROUP_MAX_EPS = f32(1e-15);

/** Largest group these searches accept: one super-block. */
const MAX_GROUP = 256;

// Per-element x² and x³ (as float32, in ggml's order: (x·x)·x), computed once per group.
const weightScratch = new Float32Array(MAX_GROUP);
const weightedXScratch = new Float32Array(MAX_GROUP);

const bitsAsFloat = new Float32Array(1);
const bitsAsInt = new Int32Array(bitsAsFloat.buffer);

/**
 * ggml's nearest_int for any input, not only |value| < 2^22: it adds 1.5·2^23 in float32 and reads the
 * low mantissa bits back, so out-of-range values wrap and NaN becomes 0 (later clamps then pick a
 * level). Only the rare out-of-range case pays for the bit reinterpretation.
 */
export function nearestIntLikeGgml(value: number): number {
  const shifted = f32(value + 12582912);
  // In [2^23, 2^24) the float's integer value and its mantissa bits agree.
  if (shifted >= 8388608 && shifted < 16777216) return shifted - 12582912;
  bitsAsFloat[0] = shifted;
  return (bitsAsInt[0]! & 0x7fffff) - 0x400000;
}

/** The element of largest magnitude (the first of equals), with its sign; 0 for an empty or zero group. */
function signedAbsMax(x: Float32Array, start: number, count: number): number {
  let amax = 0;
  let max = 0;
  for (let i = start; i < start + count; i++) {
    const v = x[i]!;
    const magnitude = Math.abs(v);
    if (magnitude > amax) {
      amax = magnitude;
      max = v;
    }
  }
  return max;
}

/** `value` clamped to the signed level range [−nmax, nmax − 1]. A NaN (impossible here) would pass through. */
function clampLevel(value: number, nmax: number): number {
  return value < -nmax ? -nmax : value > nmax - 1 ? nmax - 1 : value;
}

/**
 * ggml's make_q3_quants with its rmse refinement: start from levels for scale max/−nmax, then up to
 * five sweeps that re-pick each element's level as the least-squares optimum given all the others,
 * keeping a change only when it raises (Σw·x·q)² / Σw·q² (equivalently, lowers the weighted error).
 * Writes levels + nmax into `levels` and returns the scale (Σw·x·q / Σw·q²); an all-zero group gets
 * scale 0 and raw zero codes (not offset, as in ggml).
 */
export function fitScaleByLevelRefinement(x: Float32Array, start: number, count: number, nmax: number, levels: Int8Array, levelsStart: number): number {
  const max = signedAbsMax(x, start, count);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    for (let i = 0; i < count; i++) levels[levelsStart + i] = 0;
    return 0;
  }
  const iscale = f32(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < count; i++) {
    const v = x[start + i]!;
    const w = f32(v * v);
    const wx = f32(w * v);
    weightScratch[i] = w;
    weightedXScratch[i] = wx;
    const l = clampLevel(nearestIntLikeGgml(f32(iscale * v)), nmax);
    levels[levelsStart + i] = l;
    sumlx = f32(sumlx + f32(wx * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  for (let sweep = 0; sweep < 5; sweep++) {
    let changed = 0;
    for (let i = 0; i < count; i++) {
      const w = weightScratch[i]!;
      const wx = weightedXScratch[i]!;
      const current = levels[levelsStart + i]!;
      // The sums without element i; its optimal level given the rest is x·(Σ'w·q²)/(Σ'w·x·q).
      let slx = f32(sumlx - f32(wx * current));
      if (!(slx > 0)) continue;
      let sl2 = f32(suml2 - f32(f32(w * current) * current));
      const candidate = clampLevel(nearestIntLikeGgml(f32(f32(x[start + i]! * sl2) / slx)), nmax);
      if (candidate === current) continue;
      slx = f32(slx + f32(wx * candidate));
      sl2 = f32(sl2 + f32(f32(w * candidate) * candidate));
      // Compare slx²/sl2 with sumlx²/suml2 without dividing, multiplied out in ggml's order.
      if (sl2 > 0 && f32(f32(slx * slx) * suml2) > f32(f32(sumlx * sumlx) * sl2)) {
        levels[levelsStart + i] = candidate;
        sumlx = slx;
        suml2 = sl2;
        changed++;
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < count; i++) levels[levelsStart + i] = levels[levelsStart + i]! + nmax;
  return suml2 > 0 ? f32(sumlx / suml2) : 0;
}

/**
 * ggml's make_qx_quants with rmse_type 1 and no importance weights (what Q6_K's reference uses):
 * tries the 19 inverse scales −(nmax + 0.1·k)/max for k = −9…9, rounds every element for each, and
 * keeps the candidate with the largest (Σw·x·q)² / Σw·q², w = x². The first candidate (k = 0) wins
 * ties. Writes levels + nmax into `levels` and returns the least-squares scale Σw·x·q / Σw·q² of the
 * winner; an all-zero group gets scale 0 and raw zero codes.
 */
export function fitScaleByGridSearch(x: Float32Array, start: number, count: number, nmax: number, levels: Int8Array, levelsStart: number): number {
  const max = signedAbsMax(x, start, count);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    for (let i = 0; i < count; i++) levels[levelsStart + i] = 0;
    return 0;
  }
  const lowest = -nmax;
  const highest = nmax - 1;
  let bestIscale = f32(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < count; i++) {
    const v = x[start + i]!;
    const w = f32(v * v);
    const wx = f32(w * v);
    weightScratch[i] = w;
    weightedXScratch[i] = wx;
    let l = nearestIntLikeGgml(f32(bestIscale * v));
    l = l < lowest ? lowest : l > highest ? highest : l;
    sumlx = f32(sumlx + f32(wx * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  let scale = suml2 !== 0 ? f32(sumlx / suml2) : 0;
  let best = f32(scale * sumlx);
  for (let step = -9; step <= 9; step++) {
    if (step === 0) continue;
    const iscale = f32(-f32(nmax + f32(f32(0.1) * step)) / max);
    sumlx = 0;
    suml2 = 0;
    // Q6_K's hot loop. |iscale·x| < nmax + 1 here, so the fast nearestInt is exact; it yields NaN
    // only where x or max is not finite, and then w·x·q is NaN in ggml too, so the sums still agree.
    for (let i = 0; i < count; i++) {
      let l = nearestInt(f32(iscale * x[start + i]!));
      l = l < lowest ? lowest : l > highest ? highest : l;
      sumlx = f32(sumlx + f32(weightedXScratch[i]! * l));
      suml2 = f32(suml2 + f32(f32(weightScratch[i]! * l) * l));
    }
    if (suml2 > 0 && f32(sumlx * sumlx) > f32(best * suml2)) {
      // ggml re-rounds the levels here; rounding once for the final winner gives the same levels.
      bestIscale = iscale;
      scale = f32(sumlx / suml2);
      best = f32(scale * sumlx);
    }
  }
  for (let i = 0; i < count; i++) {
    const l = nearestIntLikeGgml(f32(bestIscale * x[start + i]!));
    levels[levelsStart + i] = (l < lowest ? lowest : l > highest ? highest : l) + nmax;
  }
  return scale;
}
