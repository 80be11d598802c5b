/**
 * Scale searches for the symmetric K-quants (Q3_K and Q6_K): each fits one scale `s` to a group of 16
 * floats so that x ≈ s·q with integer levels q in [−nmax, nmax − 1], and no minimum. The two
 * strategies reproduce ggml's make_q3_quants (greedy per-element refinement) and make_qx_quants (a
 * grid of 19 candidate scales) bit for bit: every float32 operation that decides an outcome is done
 * in float32, in ggml's order. Both weight each element's squared error by x², favouring large values.
 *
 * Each search has a fast path for ordinary groups and a direct port for the rest (non-finite values,
 * extreme magnitudes), where ggml's nearest_int wraps around and its sums overflow; the fast paths
 * detect those groups and hand them over, so the results never differ.
 *
 * Levels are written offset by +nmax, so they are unsigned codes in [0, 2·nmax − 1], ready to pack.
 */
import { f32 } from "./float-ops.js";

/** ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this is encoded as all zeros. */
export const GROUP_MAX_EPS = f32(1e-15);

/** nearest_int is a plain rounding for |value| below this (ggml asserts as much, but does not check). */
export const NEAREST_INT_LIMIT = 4194303;

/** 1.5·2^52: adding and subtracting it rounds a double to an integer, ties to even. */
const ROUNDING_SHIFT = 6755399441055744;

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

/**
 * nearest_int for |value| ≤ NEAREST_INT_LIMIT, the common case: a float32 value rounded in double
 * precision, ties to even. Hot loops use this and check the range once per group (tracking the
 * largest |value| with Math.max, which also catches NaN), redoing the rare group that exceeds it
 * with nearestIntLikeGgml. Keeping the rare path out of the loop matters: V8 compiles the loop
 * noticeably slower when it merely contains the bit-reinterpreting branch.
 */
export function roundHalfEven(value: number): number {
  return value + ROUNDING_SHIFT - ROUNDING_SHIFT;
}

/**
 * An integer level (within int32) clamped to [−nmax, nmax − 1], without branches: at 3 bits the
 * clamp triggers often and unpredictably, and V8 turns a conditional into a jump, not a cmov.
 */
export function clampLevel(level: number, nmax: number): number {
  const overTop = (level - (nmax - 1)) | 0;
  const belowTop = nmax - 1 + (overTop & (overTop >> 31)); // min(level, nmax − 1)
  const overBottom = (belowTop + nmax) | 0;
  return (overBottom & ~(overBottom >> 31)) - nmax; // max(·, −nmax)
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

/**
 * Codes (level + nmax) of `count` weights against a fixed scale: nearest_int(x / scale), clamped to
 * [−nmax, nmax − 1]. The K-quant quantizers do this once a block's scales are final.
 */
export function quantizeAgainstScale(x: Float32Array, start: number, count: number, scale: number, nmax: number, codes: Int8Array, codesStart: number): void {
  let largest = 0; // the largest |x / scale|, NaN if any was NaN
  for (let i = 0; i < count; i++) {
    const scaled = f32(x[start + i]! / scale);
    largest = Math.max(largest, Math.abs(scaled));
    codes[codesStart + i] = clampLevel(roundHalfEven(scaled), nmax) + nmax;
  }
  if (!(largest <= NEAREST_INT_LIMIT)) quantizeAgainstScaleLikeGgml(x, start, count, scale, nmax, codes, codesStart);
}

/** quantizeAgainstScale with nearest_int's wrap-around, for the rare group beyond its plain range. */
function quantizeAgainstScaleLikeGgml(x: Float32Array, start: number, count: number, scale: number, nmax: number, codes: Int8Array, codesStart: number): void {
  for (let i = 0; i < count; i++) codes[codesStart + i] = clampLevel(nearestIntLikeGgml(f32(x[start + i]! / scale)), nmax) + nmax;
}

// ───────────────────────────── level refinement (make_q3_quants) ─────────────────────────────

/** Largest group the level refinement accepts: Q3_K's 16. */
const MAX_REFINE_GROUP = 16;
// Per-element float32 x² and x³ (in ggml's order: (x·x)·x), and signed levels, for one group.
const refineWeights = new Float64Array(MAX_REFINE_GROUP);
const refineWeightedXs = new Float64Array(MAX_REFINE_GROUP);
const refineLevels = new Float64Array(MAX_REFINE_GROUP);
/** ggml's refinement makes at most this many passes over the group. */
const REFINE_SWEEPS = 5;

/**
 * ggml's make_q3_quants with its rmse refinement: start from levels for scale max/−nmax, then up to
 * five sweeps that re-pick each element's level as the least-squares optimum given all the others,
 * keeping a change only when it raises (Σw·x·q)² / Σw·q², w = x² (equivalently, lowers the weighted
 * error). Writes levels + nmax into `levels` and returns the scale Σw·x·q / Σw·q²; an all-zero group
 * gets scale 0 and raw zero codes (not offset, as in ggml).
 */
export function fitScaleByLevelRefinement(x: Float32Array, start: number, count: number, nmax: number, levels: Int8Array, levelsStart: number): number {
  if (count > MAX_REFINE_GROUP) throw new RangeError(`groups of ${count} exceed the level refinement's ${MAX_REFINE_GROUP}`);
  const max = signedAbsMax(x, start, count);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    for (let i = 0; i < count; i++) levels[levelsStart + i] = 0;
    return 0;
  }
  const scale = refineWithPlainRounding(x, start, count, nmax, max);
  if (scale === scale) {
    for (let i = 0; i < count; i++) levels[levelsStart + i] = refineLevels[i]! + nmax;
    return scale;
  }
  return refineWithGgmlRounding(x, start, count, nmax, max, levels, levelsStart);
}

/**
 * The refinement with roundHalfEven, leaving signed levels in `refineLevels`; NaN when a rounding
 * argument left nearest_int's plain range (non-finite input, or a sweep dividing by a tiny sum).
 */
function refineWithPlainRounding(x: Float32Array, start: number, count: number, nmax: number, max: number): number {
  const iscale = f32(-nmax / max);
  let largest = 0; // the largest |argument| of a rounding, NaN if any was NaN
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < count; i++) {
    const v = x[start + i]!;
    const w = f32(v * v);
    const wx = f32(w * v);
    refineWeights[i] = w;
    refineWeightedXs[i] = wx;
    const scaled = f32(iscale * v);
    largest = Math.max(largest, Math.abs(scaled));
    const l = clampLevel(roundHalfEven(scaled), nmax);
    refineLevels[i] = l;
    sumlx = f32(sumlx + f32(wx * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  for (let sweep = 0; sweep < REFINE_SWEEPS; sweep++) {
    let changed = 0;
    for (let i = 0; i < count; i++) {
      const w = refineWeights[i]!;
      const wx = refineWeightedXs[i]!;
      const current = refineLevels[i]!;
      // The sums without element i; its optimal level given the rest is x·(Σ'w·q²)/(Σ'w·x·q).
      let slx = f32(sumlx - f32(wx * current));
      if (!(slx > 0)) continue;
      let sl2 = f32(suml2 - f32(f32(w * current) * current));
      const optimum = f32(f32(x[start + i]! * sl2) / slx);
      largest = Math.max(largest, Math.abs(optimum));
      const candidate = clampLevel(roundHalfEven(optimum), nmax);
      if (candidate === current) continue;
      slx = f32(slx + f32(wx * candidate));
      sl2 = f32(sl2 + f32(f32(w * candidate) * candidate));
      // Compare slx²/sl2 with sumlx²/suml2 without dividing, multiplied out in ggml's order.
      if (sl2 > 0 && f32(f32(slx * slx) * suml2) > f32(f32(sumlx * sumlx) * sl2)) {
        refineLevels[i] = candidate;
        sumlx = slx;
        suml2 = sl2;
        changed++;
      }
    }
    if (changed === 0) break;
  }
  if (!(largest <= NEAREST_INT_LIMIT)) return NaN;
  return suml2 > 0 ? f32(sumlx / suml2) : 0;
}

/** The refinement exactly as ggml runs it, nearest_int's wrap-around included; writes levels + nmax. */
function refineWithGgmlRounding(x: Float32Array, start: number, count: number, nmax: number, max: number, levels: Int8Array, levelsStart: number): number {
  const iscale = f32(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < count; i++) {
    const v = x[start + i]!;
    const w = f32(v * v);
    const l = clampLevel(nearestIntLikeGgml(f32(iscale * v)), nmax);
    refineLevels[i] = l;
    sumlx = f32(sumlx + f32(f32(w * v) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  for (let sweep = 0; sweep < REFINE_SWEEPS; sweep++) {
    let changed = 0;
    for (let i = 0; i < count; i++) {
      const v = x[start + i]!;
      const w = f32(v * v);
      const current = refineLevels[i]!;
      let slx = f32(sumlx - f32(f32(w * v) * current));
      if (!(slx > 0)) continue;
      let sl2 = f32(suml2 - f32(f32(w * current) * current));
      const candidate = clampLevel(nearestIntLikeGgml(f32(f32(v * sl2) / slx)), nmax);
      if (candidate === current) continue;
      slx = f32(slx + f32(f32(w * v) * candidate));
      sl2 = f32(sl2 + f32(f32(w * candidate) * candidate));
      if (sl2 > 0 && f32(f32(slx * slx) * suml2) > f32(f32(sumlx * sumlx) * sl2)) {
        refineLevels[i] = candidate;
        sumlx = slx;
        suml2 = sl2;
        changed++;
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < count; i++) levels[levelsStart + i] = refineLevels[i]! + nmax;
  return suml2 > 0 ? f32(sumlx / suml2) : 0;
}

// ───────────────────────────── grid search (make_qx_quants) ─────────────────────────────

/** Largest group the grid search accepts: Q6_K's 16 (the fast path's error bounds count on it). */
const MAX_GRID_GROUP = 16;
/** The grid: inverse scales −(nmax + 0.1·k)/max for k = −9…9, kept at index k + 9, so |iscale| grows with the index. */
const GRID_SIZE = 19;
/** Index of k = 0, the candidate ggml tries first. */
const GRID_CENTER = 9;
/** A step index meaning "the level never steps along the grid"; its slot in per-candidate arrays is ignored. */
const NO_STEP = GRID_SIZE;

/**
 * The fast path's error bounds need every nonzero term and product to stay a normal, finite float32.
 * An element has a nonzero level only when |x| ≥ max/66, and the products compared, (Σw·x·q)² and
 * best·Σw·q², lie between (31·max³)² and (528·max³)², so a largest magnitude in this range keeps
 * all of them within [2^−126, 2^127). Other groups take the direct path.
 */
const FAST_PATH_MIN_MAGNITUDE = 1e-6;
const FAST_PATH_MAX_MAGNITUDE = 131072;
/**
 * Relative margin for deciding ggml's comparison from double-precision sums. Rounding each term to
 * float32 (once for w·x·q, twice for w·q·q) and adding 16 same-sign terms in float32 (≤ 15·2^−24 of
 * the total) moves Σw·x·q by at most 9.6e−7 and Σw·q² by 1.1e−6 relative, and the two products
 * compared are rounded once more, so their ratio moves by at most 3.1e−6.
 */
const SCREENING_MARGIN = 4e-6;
/**
 * Margin, in level units, for trusting a linear estimate of where an element's level steps. Against
 * the straight line −(nmax + 0.1f·k)·x/max, the grid's roundings (nmax + 0.1f·k to half an ulp of
 * 2^−18, then iscale and iscale·x to 2^−24 relative each) put every iscale·x within 5.9e−6, so the
 * line through the two ends of the grid is within 1.17e−5 of every point.
 */
const STEP_ESTIMATE_MARGIN = 1.25e-5;

const gridIscales = new Float64Array(GRID_SIZE);
// Per element: float32 x² and x³, the level at the first candidate, the (at most two) grid indices
// where the level steps, and the level after each step.
const weights = new Float64Array(MAX_GRID_GROUP);
const weightedXs = new Float64Array(MAX_GRID_GROUP);
const startLevels = new Float64Array(MAX_GRID_GROUP);
const firstSteps = new Float64Array(MAX_GRID_GROUP);
const firstStepLevels = new Float64Array(MAX_GRID_GROUP);
const secondSteps = new Float64Array(MAX_GRID_GROUP);
const endLevels = new Float64Array(MAX_GRID_GROUP);
// Per candidate: Σw·x·q and Σw·q² in double precision, and the number of level steps up to it
// (two candidates have the same levels exactly when these counts are equal).
const estimatedSumLX = new Float64Array(GRID_SIZE + 1);
const estimatedSumL2 = new Float64Array(GRID_SIZE + 1);
const stepsUpTo = new Float64Array(GRID_SIZE + 1);
// The centre candidate's float32 running sums before each element, shared by the exact sums of
// any candidate up to its first element with a different level.
const centerPrefixLX = new Float64Array(MAX_GRID_GROUP + 1);
const centerPrefixL2 = new Float64Array(MAX_GRID_GROUP + 1);
// Exactly rounded step indices of one element: [first, second].
const exactSteps = new Float64Array(2);
// The exact float32 sums of one candidate: [Σw·x·q, Σw·q²].
const candidateSums = new Float64Array(2);

/**
 * ggml's make_qx_quants with rmse_type 1 and no importance weights (what Q6_K's reference uses):
 * tries the 19 inverse scales −(nmax + 0.1·k)/max for k = −9…9, rounds every element for each, and
 * keeps the candidate with the largest (Σw·x·q)² / Σw·q², w = x², where k = 0 is tried first and
 * the others in ascending order, each replacing the best only when strictly better in float32.
 * Writes levels + nmax into `levels` and returns the least-squares scale Σw·x·q / Σw·q² of the
 * winner; an all-zero group gets scale 0 and raw zero codes.
 */
export function fitScaleByGridSearch(x: Float32Array, start: number, count: number, nmax: number, levels: Int8Array, levelsStart: number): number {
  if (count > MAX_GRID_GROUP) throw new RangeError(`groups of ${count} exceed the grid search's ${MAX_GRID_GROUP}`);
  const max = signedAbsMax(x, start, count);
  const amax = Math.abs(max);
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < count; i++) levels[levelsStart + i] = 0;
    return 0;
  }
  for (let index = 0; index < GRID_SIZE; index++) gridIscales[index] = f32(-f32(nmax + f32(f32(0.1) * (index - GRID_CENTER))) / max);
  if (amax >= FAST_PATH_MIN_MAGNITUDE && amax <= FAST_PATH_MAX_MAGNITUDE) {
    const scale = gridSearchFast(x, start, count, nmax, max, levels, levelsStart);
    if (scale === scale) return scale;
  }
  return gridSearchDirect(x, start, count, nmax, levels, levelsStart);
}

/** An element's level under `iscale`: round(iscale·v) of the float32 product, ties to even, clamped to [−nmax, nmax − 1]. */
function gridLevel(iscale: number, v: number, nmax: number): number {
  // |iscale·v| < nmax + 1 on the grid, where this rounding equals ggml's nearest_int.
  const l = roundHalfEven(f32(iscale * v));
  return l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
}

/**
 * ggml's loop as written: every candidate rounds every element and sums in float32. Used for groups
 * outside the fast path's range and for non-finite input (where NaN levels make the sums NaN, as
 * ggml's 0 levels times infinite weights do).
 */
function gridSearchDirect(x: Float32Array, start: number, count: number, nmax: number, levels: Int8Array, levelsStart: number): number {
  let bestIscale = gridIscales[GRID_CENTER]!;
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < count; i++) {
    const v = x[start + i]!;
    const w = f32(v * v);
    const l = gridLevel(bestIscale, v, nmax);
    sumlx = f32(sumlx + f32(f32(w * v) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  let scale = suml2 !== 0 ? f32(sumlx / suml2) : 0;
  let best = f32(scale * sumlx);
  for (let index = 0; index < GRID_SIZE; index++) {
    if (index === GRID_CENTER) continue;
    const iscale = gridIscales[index]!;
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < count; i++) {
      const v = x[start + i]!;
      const w = f32(v * v);
      const l = gridLevel(iscale, v, nmax);
      sumlx = f32(sumlx + f32(f32(w * v) * l));
      suml2 = f32(suml2 + f32(f32(w * l) * l));
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
    levels[levelsStart + i] = (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l) + nmax;
  }
  return scale;
}

/**
 * The same search with a fraction of the work, for finite groups in the safe range; returns NaN
 * (leaving `levels` for the direct path to overwrite) when it finds input it does not handle. Three facts make most of ggml's
 * 19 × 16 roundings and float32 sums redundant without changing any result:
 *
 * - An element's level is a monotone step function along the grid, which spans less than two
 *   levels, so it steps at most twice. The steps are found from a straight-line estimate through
 *   the grid's two ends, checked by exact rounding only when the estimate lands near a boundary.
 * - Candidates with the same levels have the same float32 sums. Otherwise the sums are estimated
 *   in double precision, which settles ggml's strict comparison unless it is within a 4e−6 margin.
 * - Only the centre, the winners and the near ties need exact float32 sums, and each of these
 *   reuses the centre's running sums up to its first element with a different level.
 */
function gridSearchFast(x: Float32Array, start: number, count: number, nmax: number, max: number, levels: Int8Array, levelsStart: number): number {
  for (let index = 0; index <= GRID_SIZE; index++) {
    estimatedSumLX[index] = 0;
    estimatedSumL2[index] = 0;
    stepsUpTo[index] = 0;
  }
  const firstIscale = gridIscales[0]!;
  const lastIscale = gridIscales[GRID_SIZE - 1]!;
  let baseLX = 0;
  let baseL2 = 0;
  let centerLX = 0;
  let centerL2 = 0;
  // Elements whose estimated steps need checking by exact rounding, one bit each. Doing that after
  // the loop keeps the loop free of calls, which V8 compiles much better.
  let doubtful = 0;
  // The largest element sits on a level boundary by construction (iscale·max = −(nmax + 0.1·k) is
  // a half-integer at two grid points), so its steps are always doubtful: round them exactly now.
  exactStepsOf(max, nmax);
  const maxStep1 = exactSteps[0]!;
  const maxStep2 = exactSteps[1]!;
  for (let i = 0; i < count; i++) {
    const v = x[start + i]!;
    const w = f32(v * v);
    const wx = f32(w * v);
    const pFirst = f32(firstIscale * v);
    const pLast = f32(lastIscale * v);
    let l0 = roundHalfEven(pFirst);
    l0 = l0 < -nmax ? -nmax : l0 > nmax - 1 ? nmax - 1 : l0;
    let lEnd = roundHalfEven(pLast);
    lEnd = lEnd < -nmax ? -nmax : lEnd > nmax - 1 ? nmax - 1 : lEnd;
    baseLX += wx * l0;
    baseL2 += w * l0 * l0;
    let step1 = NO_STEP;
    let step2 = NO_STEP;
    let l1 = lEnd;
    if (l0 !== lEnd) {
      if (l0 !== l0) return NaN;
      const direction = lEnd > l0 ? 1 : -1;
      // Fractional grid index per unit of iscale·v, and the estimate margin in index units.
      const indexPerLevel = (GRID_SIZE - 1) / (pLast - pFirst);
      const slack = STEP_ESTIMATE_MARGIN * Math.abs(indexPerLevel);
      const position1 = (l0 + 0.5 * direction - pFirst) * indexPerLevel;
      step1 = Math.floor(position1) + 1;
      if (!(position1 - (step1 - 1) > slack && step1 - position1 > slack)) {
        if (v === max) step1 = maxStep1;
        else {
          doubtful |= 1 << i;
          step1 = step1 < 1 ? 1 : step1 > GRID_SIZE - 1 ? GRID_SIZE - 1 : step1;
        }
      }
      l1 = l0 + direction;
      estimatedSumLX[step1] = estimatedSumLX[step1]! + wx * direction;
      estimatedSumL2[step1] = estimatedSumL2[step1]! + w * (l1 * l1 - l0 * l0);
      stepsUpTo[step1] = stepsUpTo[step1]! + 1;
      if (l1 !== lEnd) {
        // The grid spans |0.1·18/nmax|·|v/max| < 2 levels, so a second step is the last.
        if (l1 + direction !== lEnd) return NaN;
        const position2 = (l1 + 0.5 * direction - pFirst) * indexPerLevel;
        step2 = Math.floor(position2) + 1;
        if (!(position2 - (step2 - 1) > slack && step2 - position2 > slack && step2 > step1)) {
          if (v === max) step2 = maxStep2;
          else {
            doubtful |= 1 << i;
            step2 = step2 <= step1 ? step1 + 1 : step2 > GRID_SIZE ? GRID_SIZE : step2;
          }
        }
        estimatedSumLX[step2] = estimatedSumLX[step2]! + wx * direction;
        estimatedSumL2[step2] = estimatedSumL2[step2]! + w * (lEnd * lEnd - l1 * l1);
        stepsUpTo[step2] = stepsUpTo[step2]! + 1;
      }
    }
    weights[i] = w;
    weightedXs[i] = wx;
    startLevels[i] = l0;
    firstSteps[i] = step1;
    firstStepLevels[i] = l1;
    secondSteps[i] = step2;
    endLevels[i] = lEnd;
    // The centre's levels (the usual winner) and exact float32 sums, keeping the running sums.
    const center = GRID_CENTER < step1 ? l0 : GRID_CENTER < step2 ? l1 : lEnd;
    levels[levelsStart + i] = center + nmax;
    centerPrefixLX[i] = centerLX;
    centerPrefixL2[i] = centerL2;
    centerLX = f32(centerLX + f32(wx * center));
    centerL2 = f32(centerL2 + f32(f32(w * center) * center));
  }
  centerPrefixLX[count] = centerLX;
  centerPrefixL2[count] = centerL2;
  if (doubtful !== 0) {
    settleDoubtfulSteps(x, start, count, nmax, doubtful);
    centerLX = centerPrefixLX[count]!;
    centerL2 = centerPrefixL2[count]!;
  }
  estimatedSumLX[0] = estimatedSumLX[0]! + baseLX;
  estimatedSumL2[0] = estimatedSumL2[0]! + baseL2;
  for (let index = 1; index < GRID_SIZE; index++) {
    estimatedSumLX[index] = estimatedSumLX[index]! + estimatedSumLX[index - 1]!;
    estimatedSumL2[index] = estimatedSumL2[index]! + estimatedSumL2[index - 1]!;
    stepsUpTo[index] = stepsUpTo[index]! + stepsUpTo[index - 1]!;
  }

  // ggml's selection: the centre first, then k = −9…9 skipping 0, replacing the best only when better.
  let bestIndex = GRID_CENTER;
  let scale = centerL2 !== 0 ? f32(centerLX / centerL2) : 0;
  let best = f32(scale * centerLX);
  for (let index = 0; index < GRID_SIZE; index++) {
    // Same levels as the best: same sums, so adopting it or not changes nothing.
    if (index === GRID_CENTER || stepsUpTo[index] === stepsUpTo[bestIndex]) continue;
    const estimateLX = estimatedSumLX[index]!;
    const lhs = estimateLX * estimateLX;
    const rhs = best * estimatedSumL2[index]!;
    if (lhs < rhs * (1 - SCREENING_MARGIN)) continue;
    exactCandidateSums(index, count);
    const sumlx = candidateSums[0]!;
    const suml2 = candidateSums[1]!;
    if (lhs > rhs * (1 + SCREENING_MARGIN) || (suml2 > 0 && f32(sumlx * sumlx) > f32(best * suml2))) {
      bestIndex = index;
      scale = f32(sumlx / suml2);
      best = f32(scale * sumlx);
    }
  }
  if (bestIndex !== GRID_CENTER || doubtful !== 0) {
    for (let i = 0; i < count; i++) levels[levelsStart + i] = levelAt(i, bestIndex) + nmax;
  }
  return scale;
}

/**
 * Replaces the estimated steps of the elements flagged in `doubtful` by exactly rounded ones, moves
 * their contributions to the per-candidate step arrays accordingly, and recomputes the centre's
 * float32 running sums.
 */
function settleDoubtfulSteps(x: Float32Array, start: number, count: number, nmax: number, doubtful: number): void {
  for (let i = 0; i < count; i++) {
    if ((doubtful & (1 << i)) === 0) continue;
    const v = x[start + i]!;
    const w = weights[i]!;
    const wx = weightedXs[i]!;
    const l0 = startLevels[i]!;
    const l1 = firstStepLevels[i]!;
    const lEnd = endLevels[i]!;
    const oldStep1 = firstSteps[i]!;
    const oldStep2 = secondSteps[i]!;
    exactStepsOf(v, nmax);
    const step1 = exactSteps[0]!;
    const step2 = exactSteps[1]!;
    estimatedSumLX[oldStep1] = estimatedSumLX[oldStep1]! - wx * (l1 - l0);
    estimatedSumL2[oldStep1] = estimatedSumL2[oldStep1]! - w * (l1 * l1 - l0 * l0);
    stepsUpTo[oldStep1] = stepsUpTo[oldStep1]! - 1;
    estimatedSumLX[oldStep2] = estimatedSumLX[oldStep2]! - wx * (lEnd - l1);
    estimatedSumL2[oldStep2] = estimatedSumL2[oldStep2]! - w * (lEnd * lEnd - l1 * l1);
    stepsUpTo[oldStep2] = stepsUpTo[oldStep2]! - 1;
    estimatedSumLX[step1] = estimatedSumLX[step1]! + wx * (l1 - l0);
    estimatedSumL2[step1] = estimatedSumL2[step1]! + w * (l1 * l1 - l0 * l0);
    stepsUpTo[step1] = stepsUpTo[step1]! + 1;
    estimatedSumLX[step2] = estimatedSumLX[step2]! + wx * (lEnd - l1);
    estimatedSumL2[step2] = estimatedSumL2[step2]! + w * (lEnd * lEnd - l1 * l1);
    stepsUpTo[step2] = stepsUpTo[step2]! + 1;
    firstSteps[i] = step1;
    secondSteps[i] = step2;
  }
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < count; i++) {
    const l = levelAt(i, GRID_CENTER);
    centerPrefixLX[i] = sumlx;
    centerPrefixL2[i] = suml2;
    sumlx = f32(sumlx + f32(weightedXs[i]! * l));
    suml2 = f32(suml2 + f32(f32(weights[i]! * l) * l));
  }
  centerPrefixLX[count] = sumlx;
  centerPrefixL2[count] = suml2;
}

/** The grid indices where `v`'s level steps (NO_STEP for none), by exact rounding, into `exactSteps`. */
function exactStepsOf(v: number, nmax: number): void {
  const l0 = gridLevel(gridIscales[0]!, v, nmax);
  const lEnd = gridLevel(gridIscales[GRID_SIZE - 1]!, v, nmax);
  const step1 = l0 === lEnd ? NO_STEP : exactStep(v, nmax, l0, 1);
  const l1 = step1 === NO_STEP ? lEnd : gridLevel(gridIscales[step1]!, v, nmax);
  exactSteps[0] = step1;
  exactSteps[1] = l1 === lEnd ? NO_STEP : exactStep(v, nmax, l1, step1 + 1);
}

/** The first grid index from `from` on where `v`'s level is no longer `level` (one is known to exist). */
function exactStep(v: number, nmax: number, level: number, from: number): number {
  let index = from;
  while (gridLevel(gridIscales[index]!, v, nmax) === level) index++;
  return index;
}

/** Element i's level under grid candidate `index`. */
function levelAt(i: number, index: number): number {
  return index < firstSteps[i]! ? startLevels[i]! : index < secondSteps[i]! ? firstStepLevels[i]! : endLevels[i]!;
}

/** The exact float32 sums of candidate `index` into `candidateSums`, resuming the centre's from the first element that differs. */
function exactCandidateSums(index: number, count: number): void {
  const low = index < GRID_CENTER ? index : GRID_CENTER;
  const high = index < GRID_CENTER ? GRID_CENTER : index;
  let first = 0;
  for (; first < count; first++) {
    // The element's level differs between the two candidates when it steps in (low, high].
    const step1 = firstSteps[first]!;
    const step2 = secondSteps[first]!;
    if ((step1 > low && step1 <= high) || (step2 > low && step2 <= high)) break;
  }
  let sumlx = centerPrefixLX[first]!;
  let suml2 = centerPrefixL2[first]!;
  for (let i = first; i < count; i++) {
    const l = levelAt(i, index);
    sumlx = f32(sumlx + f32(weightedXs[i]! * l));
    suml2 = f32(suml2 + f32(f32(weights[i]! * l) * l));
  }
  candidateSums[0] = sumlx;
  candidateSums[1] = suml2;
}
