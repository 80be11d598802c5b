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
 * Every float operation that decides the result is rounded to float32 (`f32`) in the order the C
 * code performs it, so the chosen levels, scale and minimum are bit-identical to ggml's. JavaScript
 * pays two conversions per float32 rounding, so the search avoids work it can prove changes nothing:
 *  - a level is recomputed only when the growing spacing can have moved it (see `recheckAbove`);
 *  - a candidate with the same levels as the previous one is skipped (same fit, same error);
 *  - the float32 sums restart from the first element whose level changed;
 *  - a candidate whose error provably cannot beat the best is rejected with a double-precision
 *    lower bound (see `errorCannotBeat`); only the rest get the exact float32 error.
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

// Per-call scratch, reused so the search allocates nothing. Float64Arrays hold float32 values: reading
// them costs no float32 → float64 conversion, which is most of what JavaScript pays for float32 math.
const xs = new Float64Array(MAX_SUB_BLOCK);
const ws = new Float64Array(MAX_SUB_BLOCK);
/** x − min for the current best minimum. */
const shifted = new Float64Array(MAX_SUB_BLOCK);
/** The levels of the candidate spacing being tried, and their products with w, w·l and w·x. */
const candidate = new Int32Array(MAX_SUB_BLOCK);
const wl = new Float64Array(MAX_SUB_BLOCK);
const wll = new Float64Array(MAX_SUB_BLOCK);
const wlx = new Float64Array(MAX_SUB_BLOCK);
/** Running sums Σw·l, Σw·l², Σw·l·x after each element, for the candidate in `candidate`. */
const runningL = new Float64Array(MAX_SUB_BLOCK);
const runningL2 = new Float64Array(MAX_SUB_BLOCK);
const runningXL = new Float64Array(MAX_SUB_BLOCK);

/**
 * The spacing (iscale) from which each element's level must be recomputed. Between wins the
 * spacing only grows from step to step and x − min is fixed, so a level only rises, and only once
 * iscale·(x − min) nears the next half-integer: below that, the level is known to be unchanged.
 */
const recheckAbove = new Float64Array(MAX_SUB_BLOCK);

/** No level is ever this: marks `candidate` (and the products) as not computed. */
const NO_LEVEL = -1;

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

/** Below this magnitude a float32's rounding error is under 2⁻¹⁸, far inside TIE_MARGIN. */
const FAST_ROUND_LIMIT = 64;
const TIE_MARGIN = 2 ** -14;

/**
 * nearest_int(f32(product)) for the exact double product of two floats, without the two float32
 * conversions. Rounding to float32 moves a value by less than TIE_MARGIN here and cannot carry it
 * across a half-integer unless it is that close to one; only those (and large values) take the
 * exact path. floor(p + 0.5) equals round-half-even everywhere else.
 */
function roundProduct(product: number): number {
  const lifted = product + 0.5;
  if (lifted < FAST_ROUND_LIMIT && lifted > -FAST_ROUND_LIMIT) {
    const level = Math.floor(lifted) | 0;
    const fraction = lifted - level;
    if (fraction > TIE_MARGIN && fraction < 1 - TIE_MARGIN) return level;
  }
  return ggmlNearestInt(f32(product)) | 0;
}

/**
 * Finds levels, scale and minimum for `n` (≤ 32) weights `x[xAt…]` with importances
 * `weights[0…n)` (float32 values, ≥ 0, as every K-quant uses). Levels go to `levels[levelsAt…]`;
 * scale and negated minimum to `fit`.
 */
export function searchAffineScale(
  settings: AffineSearchSettings,
  x: Float32Array,
  xAt: number,
  n: number,
  weights: Float64Array,
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
  xs[0] = min;
  ws[0] = sumW;
  for (let i = 1; i < n; i++) {
    const v = x[xAt + i]!;
    const w = weights[i]!;
    xs[i] = v;
    ws[i] = w;
    if (v < min) min = v;
    if (v > max) max = v;
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

  // x − min only changes when a candidate wins (see below): keep it between steps.
  let range = f32(max - min);
  for (let i = 0; i < n; i++) shifted[i] = f32(xs[i]! - min);

  // Candidate 0: the plain min/max mapping.
  let iscale = f32(maxLevel / range);
  let scale = f32(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = clampLevel(roundProduct(iscale * shifted[i]!), maxLevel);
    levels[levelsAt + i] = l;
    const diff = f32(f32(f32(scale * l) + min) - xs[i]!);
    bestError = f32(bestError + f32(ws[i]! * (absoluteError ? Math.abs(diff) : f32(diff * diff))));
    candidate[i] = NO_LEVEL;
    recheckAbove[i] = -Infinity;
  }

  let nextRecheckAt = -Infinity;
  for (let step = 0; step <= settings.steps; step++) {
    iscale = f32(f32(f32(settings.firstOffset + f32(settings.offsetStep * step)) + maxLevel) / range);

    // The fit and error of a candidate depend only on its levels (with w and x), and neighbouring
    // spacings usually differ in a level or two. No element due for a recheck: same levels as before.
    if (iscale < nextRecheckAt) continue;
    let firstChange = n;
    nextRecheckAt = Infinity;
    for (let i = 0; i < n; i++) {
      // Written as "not below" so that a NaN spacing recomputes too.
      if (iscale < recheckAbove[i]!) {
        if (recheckAbove[i]! < nextRecheckAt) nextRecheckAt = recheckAbove[i]!;
        continue;
      }
      const l = clampLevel(roundProduct(iscale * shifted[i]!), maxLevel);
      const recheck = nextRecheck(l, shifted[i]!, range, maxLevel);
      recheckAbove[i] = recheck;
      if (recheck < nextRecheckAt) nextRecheckAt = recheck;
      if (candidate[i] !== l) {
        candidate[i] = l;
        const product = f32(ws[i]! * l);
        wl[i] = product;
        wll[i] = f32(product * l);
        wlx[i] = f32(product * xs[i]!);
        if (i < firstChange) firstChange = i;
      }
    }
    // Same levels as the previous candidate: same fit and error, which already lost (or won).
    if (firstChange === n) continue;

    // The sums are a strict left-to-right float32 fold: before the first change it is unchanged.
    let sumL = firstChange > 0 ? runningL[firstChange - 1]! : 0;
    let sumL2 = firstChange > 0 ? runningL2[firstChange - 1]! : 0;
    let sumXL = firstChange > 0 ? runningXL[firstChange - 1]! : 0;
    for (let i = firstChange; i < n; i++) {
      sumL = runningL[i] = f32(sumL + wl[i]!);
      sumL2 = runningL2[i] = f32(sumL2 + wll[i]!);
      sumXL = runningXL[i] = f32(sumXL + wlx[i]!);
    }

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

    // Most candidates lose clearly: a cheap lower bound proves it without the float32 arithmetic.
    if (errorCannotBeat(thisScale, thisMin, n, absoluteError, bestError, sumW)) continue;

    // Non-negative terms: once the partial float32 sum reaches the best error, the total cannot be
    // smaller, so stop early (a NaN stops it too, and is never smaller either).
    let error = 0;
    for (let i = 0; i < n; i++) {
      const diff = f32(f32(f32(thisScale * candidate[i]!) + thisMin) - xs[i]!);
      error = f32(error + f32(ws[i]! * (absoluteError ? Math.abs(diff) : f32(diff * diff))));
      if (!(error < bestError)) break;
    }
    if (error < bestError) {
      for (let i = 0; i < n; i++) levels[levelsAt + i] = candidate[i]!;
      bestError = error;
      scale = thisScale;
      min = thisMin;
      // A quirk ggml's results depend on: the spacings tried after a win are measured from the
      // winner's minimum (max − thisMin), not from the data's minimum.
      range = f32(max - min);
      for (let i = 0; i < n; i++) {
        shifted[i] = f32(xs[i]! - min);
        recheckAbove[i] = -Infinity;
      }
      nextRecheckAt = -Infinity;
    }
  }
  fit.scale = scale;
  fit.negatedMin = -min;
}

const UNIT_ROUNDOFF = 2 ** -24;

/**
 * True when the float32 error ggml would compute for this candidate is certainly ≥ `bestError`
 * (so ggml rejects it), proved with double arithmetic instead of ~5 float32 roundings per weight.
 *
 * Why it is a proof: with u = 2⁻²⁴, each float32 operation errs by at most u relative (plus 2⁻¹⁵⁰
 * absolute for an underflowing product). So ggml's diff, fl(fl(fl(s·l) + m) − x), is at least
 * (1 − u)(|D| − δ) in magnitude, where D is the same expression in doubles and
 * δ = 3u(|s·l| + |m| + |D|) + 2⁻¹⁴⁸ covers the three float32 roundings and the double ones. The
 * squared (or absolute) terms, their weighting and the n − 1 additions of non-negative numbers
 * lose at most (n + 4)·u relatively more, plus (2w + 1)·2⁻¹⁵⁰ absolute per term. With n ≤ 32,
 * ggml's error ≥ S·(1 − 2⁻¹⁸) − (Σw + 32)·2⁻¹⁴⁷ for S = Σ w·max(0, |D| − δ)^p, so reaching
 * (bestError + that slack)·(1 + 2⁻¹⁷) — which also absorbs the rounding of S itself — settles it.
 * Partial sums only grow, so the loop stops as soon as the threshold is reached. A NaN never
 * proves anything here, and ggml would reject a NaN error anyway.
 */
function errorCannotBeat(scale: number, min: number, n: number, absoluteError: boolean, bestError: number, sumW: number): boolean {
  const threshold = (bestError + (sumW + 32) * 2 ** -147) * (1 + 2 ** -17);
  const minPart = Math.abs(min);
  let lowerSum = 0;
  for (let i = 0; i < n; i++) {
    const product = scale * candidate[i]!;
    const diff = Math.abs(product + min - xs[i]!);
    const margin = 3 * UNIT_ROUNDOFF * (Math.abs(product) + minPart + diff) + 2 ** -148;
    const certain = diff - margin;
    if (certain > 0) lowerSum += ws[i]! * (absoluteError ? certain : certain * certain);
    if (lowerSum >= threshold) return true;
  }
  return false;
}

/** Stays well clear of float32 rounding (< 2⁻¹⁸ here) and of the double division's. */
const RECHECK_MARGIN = 2 ** -9;

/**
 * The lowest spacing at which `level` (computed for `shifted` at the current spacing) could change.
 * With a positive range the spacing is positive: elements at or below the minimum stay at level 0
 * and the top level cannot rise. Anything unusual (NaN, a non-positive range) is always recomputed.
 */
function nextRecheck(level: number, shifted: number, range: number, maxLevel: number): number {
  if (!(range > 0)) return -Infinity;
  if (shifted > 0) return level < maxLevel ? (level + 0.5 - RECHECK_MARGIN) / shifted : Infinity;
  return shifted <= 0 ? Infinity : -Infinity;
}

function clampLevel(level: number, maxLevel: number): number {
  return level < 0 ? 0 : level > maxLevel ? maxLevel : level;
}
