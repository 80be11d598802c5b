// The scale-and-minimum search of the K-quants that store weights as `scale·q − min` (Q2_K, Q4_K,
// Q5_K): ggml's make_qkx2_quants in WebAssembly, the same algorithm as ../kernels/scale-search-affine.ts
// (read its header for what the search does). Every float variable is f32 where C's is float, and
// each float operation happens in C's order, so levels, scale and minimum come out bit-identical.
//
// Per-weight steps that do not depend on order (levels, products, error terms) run four lanes at a
// time: a SIMD f32 operation rounds each lane exactly as the scalar one would. Sums stay scalar and
// strictly left to right, as in C. Shortcuts that provably change nothing:
//  - a candidate spacing that gives the same levels as the previous one is skipped (same fit, same
//    error: it already lost, or won and cannot beat itself);
//  - the float32 running sums restart from the first weight whose level changed;
//  - a candidate whose error clearly exceeds the best is rejected on a four-lane sum of the same
//    error terms (see `clearlyNotBetter`); the rest get C's sequential sum, stopped once it reaches
//    the best (its terms are ≥ 0, so a rounded partial sum never decreases).
import { nearestInt } from "./common";

/** The largest sub-block searched (Q4_K and Q5_K: 32; Q2_K: 16). */
const MAX_N = 32;

// Scratch, 16-byte aligned for v128 access.
/** x − min for the current best minimum (changes only when a candidate wins). */
const SHIFTED: usize = memory.data(MAX_N * 4, 16);
/** Levels (i32) of the candidate computed last; −1 (never a level) before the first. */
const CANDIDATE: usize = memory.data(MAX_N * 4, 16);
/** Levels (i32) of the best candidate so far. */
const BEST: usize = memory.data(MAX_N * 4, 16);
/** w·l, w·l·l and w·l·x of the candidate, per weight. */
const WL: usize = memory.data(MAX_N * 4, 16);
const WLL: usize = memory.data(MAX_N * 4, 16);
const WLX: usize = memory.data(MAX_N * 4, 16);
/** Σw·l, Σw·l², Σw·l·x after each weight (for the candidate in CANDIDATE). */
const RUN_L: usize = memory.data(MAX_N * 4, 16);
const RUN_L2: usize = memory.data(MAX_N * 4, 16);
const RUN_XL: usize = memory.data(MAX_N * 4, 16);
/** A candidate's error terms w·diff² (or w·|diff|). */
const TERMS: usize = memory.data(MAX_N * 4, 16);

/** The minimum found by the last search, negated (what ggml writes to *the_min). */
export let affineNegatedMin: f32 = 0;

/** ggml's nearest_int on four lanes: the same bit trick, the same wrap-around outside ±2²². */
@inline export function nearestInt4(value: v128): v128 {
  const shifted = f32x4.add(value, f32x4.splat(12582912.0));
  return i32x4.sub(v128.and(shifted, i32x4.splat(0x007fffff)), i32x4.splat(0x00400000));
}

/** MAX(0, MIN(maxLevel, l)) on four lanes. */
@inline export function clampLevels4(levels: v128, maxLevel: i32): v128 {
  return i32x4.max_s(i32x4.min_s(levels, i32x4.splat(maxLevel)), i32x4.splat(0));
}

/** Four i32 vectors (each lane 0…255) at `from` to 16 bytes at `to`. */
@inline export function narrowToBytes(from: usize, to: usize): void {
  const low = i16x8.narrow_i32x4_u(v128.load(from), v128.load(from, 16));
  const high = i16x8.narrow_i32x4_u(v128.load(from, 32), v128.load(from, 48));
  v128.store(to, i8x16.narrow_i16x8_u(low, high));
}

/** The error terms w·diff² (or w·|diff| with `absoluteError`) of levels at `levels` for scale·l + min. */
@inline function errorTerms(n: i32, x: usize, weights: usize, levels: usize, scale: f32, min: f32, absoluteError: bool): void {
  const scales = f32x4.splat(scale);
  const mins = f32x4.splat(min);
  for (let i = 0; i < n; i += 4) {
    const at = <usize>i << 2;
    const l = f32x4.convert_i32x4_s(v128.load(levels + at));
    const diff = f32x4.sub(f32x4.add(f32x4.mul(scales, l), mins), v128.load(x + at));
    const measure = absoluteError ? f32x4.abs(diff) : f32x4.mul(diff, diff);
    v128.store(TERMS + at, f32x4.mul(v128.load(weights + at), measure));
  }
}

/**
 * True when the sequential float32 sum of the n error terms in TERMS is certainly ≥ `bestError`.
 * The terms are ≥ 0 (or NaN, which never proves anything here). A four-lane sum rounds each term at
 * most n/4 + 2 ≤ 10 times, each by at most u = 2⁻²⁴ relatively, so it is ≤ (1 + u)¹⁰·Σ; C's
 * sequential sum is ≥ (1 − u)³¹·Σ (additions of non-negative floats never lose more, and overflow
 * only raises them). Reaching bestError·(1 + 2⁻¹⁶) therefore proves C's sum ≥ bestError, as long as
 * bestError is a normal float far from overflow (checked: between 2⁻¹⁰⁰ and 2¹²⁰, so that the
 * threshold keeps its relative margin, and an overflowed four-lane sum means a total far above it).
 */
@inline function clearlyNotBetter(n: i32, bestError: f32): bool {
  let lanes = v128.load(TERMS);
  for (let i = 4; i < n; i += 4) lanes = f32x4.add(lanes, v128.load(TERMS + (<usize>i << 2)));
  const sum =
    f32x4.extract_lane(lanes, 0) + f32x4.extract_lane(lanes, 1) + (f32x4.extract_lane(lanes, 2) + f32x4.extract_lane(lanes, 3));
  return bestError > <f32>7.888609e-31 && bestError < <f32>1.329228e36 && sum >= bestError * <f32>1.0000153;
}

/**
 * make_qkx2_quants for the n (16 or 32) floats at `x` with importances (≥ 0) at `weights`: writes the
 * n levels as bytes to `levels`, returns the scale and leaves the negated minimum in
 * `affineNegatedMin`. maxLevel is nmax, firstOffset rmin, offsetStep rdelta, steps nstep (≥ 1),
 * absoluteError use_mad. Inlined so that each quantizer gets a copy specialized to its constants.
 */
@inline export function searchAffineScale(
  x: usize,
  weights: usize,
  n: i32,
  maxLevel: i32,
  firstOffset: f32,
  offsetStep: f32,
  steps: i32,
  absoluteError: bool,
  levels: usize,
): f32 {
  let min = load<f32>(x);
  let max = min;
  let sumW = load<f32>(weights);
  let sumX: f32 = sumW * min;
  for (let i = 1; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v < min) min = v;
    if (v > max) max = v;
    const w = load<f32>(weights + (<usize>i << 2));
    sumW += w;
    sumX += w * v;
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (let i = 0; i < n; i += 16) v128.store(levels + i, i32x4.splat(0));
    affineNegatedMin = -min;
    return 0;
  }

  // Candidate 0: the plain min/max mapping.
  let range: f32 = max - min;
  let iscale: f32 = <f32>maxLevel / range;
  let scale: f32 = <f32>1 / iscale;
  const spacing = f32x4.splat(iscale);
  const mins = f32x4.splat(min);
  for (let i = 0; i < n; i += 4) {
    const at = <usize>i << 2;
    const shifted = f32x4.sub(v128.load(x + at), mins);
    v128.store(SHIFTED + at, shifted);
    v128.store(BEST + at, clampLevels4(nearestInt4(f32x4.mul(spacing, shifted)), maxLevel));
    v128.store(CANDIDATE + at, i32x4.splat(-1));
  }
  errorTerms(n, x, weights, BEST, scale, min, absoluteError);
  let bestError: f32 = 0;
  for (let i = 0; i < n; i++) bestError += load<f32>(TERMS + (<usize>i << 2));

  for (let step = 0; step <= steps; step++) {
    iscale = (firstOffset + offsetStep * <f32>step + <f32>maxLevel) / range;

    // This candidate's levels and their products; `changed` has a bit per weight whose level differs.
    const spacing = f32x4.splat(iscale);
    let changed: u32 = 0;
    for (let i = 0; i < n; i += 4) {
      const at = <usize>i << 2;
      const l = clampLevels4(nearestInt4(f32x4.mul(spacing, v128.load(SHIFTED + at))), maxLevel);
      changed |= <u32>i32x4.bitmask(i32x4.ne(l, v128.load(CANDIDATE + at))) << i;
      v128.store(CANDIDATE + at, l);
      const lf = f32x4.convert_i32x4_s(l);
      const wl = f32x4.mul(v128.load(weights + at), lf);
      v128.store(WL + at, wl);
      v128.store(WLL + at, f32x4.mul(wl, lf));
      v128.store(WLX + at, f32x4.mul(wl, v128.load(x + at)));
    }
    if (changed == 0) continue;

    // The sums are a strict left-to-right fold: up to the first change they are as before.
    const first = <i32>ctz(changed);
    let sumL: f32 = 0;
    let sumL2: f32 = 0;
    let sumXL: f32 = 0;
    if (first > 0) {
      const at = <usize>(first - 1) << 2;
      sumL = load<f32>(RUN_L + at);
      sumL2 = load<f32>(RUN_L2 + at);
      sumXL = load<f32>(RUN_XL + at);
    }
    for (let i = first; i < n; i++) {
      const at = <usize>i << 2;
      sumL += load<f32>(WL + at);
      sumL2 += load<f32>(WLL + at);
      sumXL += load<f32>(WLX + at);
      store<f32>(RUN_L + at, sumL);
      store<f32>(RUN_L2 + at, sumL2);
      store<f32>(RUN_XL + at, sumXL);
    }

    // Weighted least squares for x ≈ scale·l + min.
    const determinant: f32 = sumW * sumL2 - sumL * sumL;
    if (!(determinant > 0)) continue;
    let thisScale: f32 = (sumW * sumXL - sumX * sumL) / determinant;
    let thisMin: f32 = (sumL2 * sumX - sumL * sumXL) / determinant;
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = sumXL / sumL2;
    }

    errorTerms(n, x, weights, CANDIDATE, thisScale, thisMin, absoluteError);
    if (clearlyNotBetter(n, bestError)) continue;
    let error: f32 = 0;
    for (let i = 0; i < n; i++) {
      error += load<f32>(TERMS + (<usize>i << 2));
      if (!(error < bestError)) break;
    }
    if (error < bestError) {
      bestError = error;
      scale = thisScale;
      min = thisMin;
      // ggml measures the spacings tried after a win from the winner's minimum.
      range = max - min;
      const mins = f32x4.splat(min);
      for (let i = 0; i < n; i += 4) {
        const at = <usize>i << 2;
        v128.store(BEST + at, v128.load(CANDIDATE + at));
        v128.store(SHIFTED + at, f32x4.sub(v128.load(x + at), mins));
      }
    }
  }
  for (let i = 0; i < n; i += 16) narrowToBytes(BEST + (<usize>i << 2), levels + i);
  affineNegatedMin = -min;
  return scale;
}
