/**
 * The scale-and-minimum search shared by the K-quants that store weights as `scale·q − min`
 * (Q2_K, Q4_K, Q5_K): ggml's make_qkx2_quants, reproduced operation by operation in float32.
 *
 * For one sub-block of n weights it picks an unsigned level q ∈ [0, maxLevel] per weight, a scale and
 * a minimum (≤ 0) so that the weighted error Σ wᵢ·err(scale·qᵢ + min − xᵢ) is small:
 *  1. Start from the plain min/max mapping: min = min(x, 0), scale = (max − min) / maxLevel.
 *  2. Try `steps + 1` slightly different level spacings, iscale = (maxLevel + offset) / (max − min)
 *     for offset = firstOffset, firstOffset + offsetStep, …; for each, round (x − min)·iscale to
 *     levels and solve the weighted least-squares line through (level, x) for the best scale and
 *     minimum. `min` here is the current best minimum: once a candidate wins, later candidates are
 *     measured from its fitted minimum rather than from the data's (ggml does so; we must too).
 *  3. Keep whichever candidate has the smallest error (squared, or absolute for Q2_K).
 *
 * Every float operation is rounded to float32 (`f32`) in the order the C code performs it, so the
 * chosen levels, scale and minimum are bit-identical to ggml's.
 */
import { f32 } from "./float-ops.js";

/** The tuning constants each type passes to the search. */
export interface AffineSearchSettings {
  /** Highest level (nmax): 3 for Q2_K, 15 for Q4_K, 31 for Q5_K. */
  readonly maxLevel: number;
  /** Offset added to maxLevel for the first candidate spacing (rmin). */
  readonly firstOffset: number;
  /** Increment of that offset between candidates (rdelta), already a float32 value. */
  readonly offsetStep: number;
  /** Number of increments (nstep): the search tries steps + 1 candidate spacings. */
  readonly steps: number;
  /** Measure error as |diff| (Q2_K) rather than diff² (Q4_K, Q5_K). */
  readonly absoluteError: boolean;
}

/** Where the search writes its answer: `scale·q − negatedMin` reconstructs a weight. */
export interface AffineFit {
  scale: number;
  /** The minimum negated (≥ 0 except in degenerate cases), as ggml returns it. */
  negatedMin: number;
}

/** The largest sub-block the K-quants search over (Q4_K and Q5_K use 32, Q2_K 16). */
const MAX_SUB_BLOCK = 32;

// Per-call scratch, reused so the search allocates nothing.
const candidate = new Uint8Array(MAX_SUB_BLOCK);
const shifted = new Float32Array(MAX_SUB_BLOCK);

const bitsAsFloat = new Float32Array(1);
const bitsAsInt = new Int32Array(bitsAsFloat.buffer);

/**
 * ggml's nearest_int exactly, including out of its documented range: it adds 1.5·2²³ and reads the
 * low 23 mantissa bits of the float32 sum. Within |value| < 2²² that is round-half-to-even; beyond
 * it (possible in the final rounding pass of a block with an extreme dynamic range, where ggml's
 * assert is compiled out) the bit pattern gives a wrapped value that ggml then clamps, and so must we.
 */
export function ggmlNearestInt(value: number): number {
  const biased = f32(value + 12582912);
  // In [2²³, 2²⁴) a float32 is an integer whose mantissa bits are biased − 2²³: the common case.
  if (biased >= 8388608 && biased < 16777216) return biased - 12582912;
  bitsAsFloat[0] = biased;
  return (bitsAsInt[0]! & 0x007fffff) - 0x00400000;
}

/**
 * Finds levels, scale and minimum for `n` (≤ 32) weights `x[xAt…]` with importance `weights[0…n)`.
 * Levels go to `levels[levelsAt…]`; scale and negated minimum to `fit`.
 */
export function searchAffineScale(
  settings: AffineSearchSettings,
  x: Float32Array,
  xAt: number,
  n: number,
  weights: Float32Array,
  levels: Uint8Array,
  levelsAt: number,
  fit: AffineFit,
): void {
  const maxLevel = settings.maxLevel;
  const absoluteError = settings.absoluteError;

  let min = x[xAt]!;
  let max = min;
  let sumW = weights[0]!;
  let sumX = f32(sumW * min);
  for (let i = 1; i < n; i++) {
    const v = x[xAt + i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    const w = weights[i]!;
    sumW = f32(sumW + w);
    sumX = f32(sumX + f32(w * v));
  }
  // The minimum is an offset subtracted from non-negative levels: it may not be positive.
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < n; i++) levels[levelsAt + i] = 0;
    fit.scale = 0;
    fit.negatedMin = -min;
    return;
  }

  // x − min only changes when a candidate wins (see below): keep it, as float32, between steps.
  let range = f32(max - min);
  for (let i = 0; i < n; i++) shifted[i] = x[xAt + i]! - min;

  // Candidate 0: the plain min/max mapping.
  let iscale = f32(maxLevel / range);
  let scale = f32(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = clampLevel(ggmlNearestInt(f32(iscale * shifted[i]!)), maxLevel);
    levels[levelsAt + i] = l;
    const diff = f32(f32(f32(scale * l) + min) - x[xAt + i]!);
    bestError = f32(bestError + f32(weights[i]! * (absoluteError ? Math.abs(diff) : f32(diff * diff))));
  }

  for (let step = 0; step <= settings.steps; step++) {
    iscale = f32(f32(f32(settings.firstOffset + f32(settings.offsetStep * step)) + maxLevel) / range);
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    // A candidate whose levels equal the previous candidate's has the same fit and error (they depend
    // on the levels, weights and x only), which already lost or won against the best: skip it.
    let changed = step === 0;
    for (let i = 0; i < n; i++) {
      const l = clampLevel(ggmlNearestInt(f32(iscale * shifted[i]!)), maxLevel);
      if (candidate[i] !== l) {
        candidate[i] = l;
        changed = true;
      }
      const wl = f32(weights[i]! * l);
      sumL = f32(sumL + wl);
      sumL2 = f32(sumL2 + f32(wl * l));
      sumXL = f32(sumXL + f32(wl * x[xAt + i]!));
    }
    if (!changed) continue;
    // Weighted least squares for x ≈ scale·l + min; D is the determinant of the normal equations.
    const determinant = f32(f32(sumW * sumL2) - f32(sumL * sumL));
    if (!(determinant > 0)) continue;
    let thisScale = f32(f32(f32(sumW * sumXL) - f32(sumX * sumL)) / determinant);
    let thisMin = f32(f32(f32(sumL2 * sumX) - f32(sumL * sumXL)) / determinant);
    if (thisMin > 0) {
      // Refit with the minimum pinned at zero.
      thisMin = 0;
      thisScale = f32(sumXL / sumL2);
    }
    let error = 0;
    for (let i = 0; i < n; i++) {
      const diff = f32(f32(f32(thisScale * candidate[i]!) + thisMin) - x[xAt + i]!);
      error = f32(error + f32(weights[i]! * (absoluteError ? Math.abs(diff) : f32(diff * diff))));
    }
    if (error < bestError) {
      for (let i = 0; i < n; i++) levels[levelsAt + i] = candidate[i]!;
      bestError = error;
      scale = thisScale;
      min = thisMin;
      // A quirk ggml's results depend on: the spacings tried after a win are measured from the
      // winner's minimum (max − thisMin), not from the data's minimum.
      range = f32(max - min);
      for (let i = 0; i < n; i++) shifted[i] = x[xAt + i]! - min;
    }
  }
  fit.scale = scale;
  fit.negatedMin = -min;
}

function clampLevel(level: number, maxLevel: number): number {
  return level < 0 ? 0 : level > maxLevel ? maxLevel : level;
}
