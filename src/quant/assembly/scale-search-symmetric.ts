// Scale searches of the symmetric K-quants (Q6_K, Q3_K) in WebAssembly: ggml's make_qx_quants (with
// rmse_type 1, no importance weights) and make_q3_quants, on groups of 16 floats, with the float32
// arithmetic of ../kernels/scale-search-symmetric.ts and of ggml. Each search fits one scale s so that
// x ≈ s·l with integer levels l in [−nmax, nmax − 1], weighting each element's squared error by x².
//
// What keeps the bytes equal to ggml's, for every input:
//   - every float operation that feeds a decision is the same float32 operation, with the same
//     operands, in the same order (sums are accumulated element by element, never reassociated);
//   - rounding is ggml's nearest_int bit trick (common.ts), so out-of-range values wrap as in C and
//     NaN rounds to 0 — no range checks, no fallback path;
//   - SIMD only runs work whose lanes are independent: four elements' levels at once, or the sums of
//     four candidate scales at once (each lane accumulates its own candidate in element order).
//
// Levels are written as bytes offset by +nmax (0 … 2·nmax − 1), ready to pack; a group whose largest
// magnitude is below GROUP_MAX_EPS gets scale 0 and raw zero bytes (not offset), as in ggml.
import { maxLaneF32, nearestInt } from "./common";

/** ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this is encoded as all zeros. */
export const GROUP_MAX_EPS: f32 = 1e-15;

/** nearest_int on four lanes: add 1.5·2^23 and keep the low mantissa bits (wraps exactly as C). */
@inline export function nearestIntX4(value: v128): v128 {
  const shifted = f32x4.add(value, f32x4.splat(12582912.0));
  return i32x4.sub(v128.and(shifted, i32x4.splat(0x007fffff)), i32x4.splat(0x00400000));
}

/** MAX(−nmax, MIN(nmax − 1, l)) on four i32 lanes. */
@inline export function clampLevelX4(level: v128, nmax: i32): v128 {
  return i32x4.max_s(i32x4.min_s(level, i32x4.splat(nmax - 1)), i32x4.splat(-nmax));
}

/** MAX(−nmax, MIN(nmax − 1, l)) on one integer. */
@inline export function clampLevel(level: i32, nmax: i32): i32 {
  return max<i32>(-nmax, min<i32>(nmax - 1, level));
}

/** Sixteen i32 lanes in [0, 255] as sixteen bytes (lane order kept). */
@inline export function narrowToBytes(a: v128, b: v128, c: v128, d: v128): v128 {
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d));
}

/**
 * The element of largest magnitude among the 16 at `x` (the first of equals), with its sign; +0 when
 * all are zero. As C's `if (fabsf(v) > amax)` scan, NaN never wins: pmax keeps its first operand,
 * which starts at 0 and never becomes NaN.
 */
@inline export function signedAbsMax16(x: usize): f32 {
  const a0 = f32x4.abs(v128.load(x));
  const a1 = f32x4.abs(v128.load(x, 16));
  const a2 = f32x4.abs(v128.load(x, 32));
  const a3 = f32x4.abs(v128.load(x, 48));
  let m = f32x4.pmax(f32x4.splat(0), a0);
  m = f32x4.pmax(m, a1);
  m = f32x4.pmax(m, a2);
  m = f32x4.pmax(m, a3);
  const amax = maxLaneF32(m);
  if (amax == 0) return 0;
  // The first lane (in element order) whose magnitude equals the largest.
  const target = f32x4.splat(amax);
  const mask =
    <u32>i32x4.bitmask(f32x4.eq(a0, target)) |
    (<u32>i32x4.bitmask(f32x4.eq(a1, target)) << 4) |
    (<u32>i32x4.bitmask(f32x4.eq(a2, target)) << 8) |
    (<u32>i32x4.bitmask(f32x4.eq(a3, target)) << 12);
  return load<f32>(x + (<usize>ctz<u32>(mask) << 2));
}

/** Codes clamp(nearest_int(x·iscale)) + nmax of 16 floats at `x`, as 16 bytes at `levels`. */
@inline function levelsAgainstIscale(x: usize, iscale: f32, nmax: i32, levels: usize): void {
  const s = f32x4.splat(iscale);
  const offset = i32x4.splat(nmax);
  const l0 = i32x4.add(clampLevelX4(nearestIntX4(f32x4.mul(s, v128.load(x))), nmax), offset);
  const l1 = i32x4.add(clampLevelX4(nearestIntX4(f32x4.mul(s, v128.load(x, 16))), nmax), offset);
  const l2 = i32x4.add(clampLevelX4(nearestIntX4(f32x4.mul(s, v128.load(x, 32))), nmax), offset);
  const l3 = i32x4.add(clampLevelX4(nearestIntX4(f32x4.mul(s, v128.load(x, 48))), nmax), offset);
  v128.store(levels, narrowToBytes(l0, l1, l2, l3));
}

/**
 * Codes clamp(nearest_int(x / scale)) + nmax of 16 floats at `x` against a fixed scale, as 16 bytes
 * at `levels`: the K-quants' final rounding once a block's scales are stored. (Division, not a
 * multiplication by the reciprocal, as in ggml.)
 */
export function quantizeAgainstScale(x: usize, scale: f32, nmax: i32, levels: usize): void {
  const s = f32x4.splat(scale);
  const offset = i32x4.splat(nmax);
  const l0 = i32x4.add(clampLevelX4(nearestIntX4(f32x4.div(v128.load(x), s)), nmax), offset);
  const l1 = i32x4.add(clampLevelX4(nearestIntX4(f32x4.div(v128.load(x, 16), s)), nmax), offset);
  const l2 = i32x4.add(clampLevelX4(nearestIntX4(f32x4.div(v128.load(x, 32), s)), nmax), offset);
  const l3 = i32x4.add(clampLevelX4(nearestIntX4(f32x4.div(v128.load(x, 48), s)), nmax), offset);
  v128.store(levels, narrowToBytes(l0, l1, l2, l3));
}

// ───────────────────────────── grid search (make_qx_quants) ─────────────────────────────

/** The 19 candidates k = −9…9 (inverse scale −(nmax + 0.1f·k)/max) sit in lanes k + 9 of 5 vectors; lane 19 (k = 10) is computed and ignored. */
const GRID_CENTER: usize = 9;
const GRID_SIZE: usize = 19;
// Per candidate (20 lanes each): inverse scale, Σ(x²·x)·l and Σ(x²·l)·l.
const GRID_ISCALES: usize = memory.data(80, 16);
const GRID_SUMLX: usize = memory.data(80, 16);
const GRID_SUML2: usize = memory.data(80, 16);

/** Four candidates' levels (one per lane) of one element (splatted in `xv`), as floats. */
@inline function candidateLevels(iscales: v128, xv: v128, nmax: i32): v128 {
  return f32x4.convert_i32x4_s(clampLevelX4(nearestIntX4(f32x4.mul(iscales, xv)), nmax));
}

/**
 * ggml's make_qx_quants(16, nmax, x, L, rmse_type = 1, no weights): the 19 inverse scales
 * −(nmax + 0.1f·k)/max, k = −9…9, each rounding every element; k = 0 first, then the others in
 * ascending order, each replacing the best when (Σw·x·l)² > best·Σw·l² in float32, w = x². Writes
 * the winner's codes (level + nmax) to `levels`, returns its scale Σw·x·l / Σw·l² (the centre's,
 * by C's `suml2 ? sumlx/suml2 : 0`, when none beats it: NaN if its sums are NaN, as in C).
 *
 * The candidates' sums do not depend on each other, so they are computed four at a time, a lane per
 * candidate, each lane adding its terms in element order exactly as C's loop does; only the
 * comparisons run in sequence, in C's order, on the finished sums.
 */
export function fitScaleByGridSearch(x: usize, nmax: i32, levels: usize): f32 {
  const max = signedAbsMax16(x);
  if (Mathf.abs(max) < GROUP_MAX_EPS) {
    v128.store(levels, i32x4.splat(0));
    return 0;
  }
  // iscale = −(nmax + 0.1f·k) / max, in C's float32 steps; k = 0 gives −nmax / max exactly.
  const tenth = f32x4.splat(0.1);
  const base = f32x4.splat(<f32>nmax);
  const maxv = f32x4.splat(max);
  let k = f32x4(-9, -8, -7, -6);
  const four = f32x4.splat(4);
  for (let v: usize = 0; v < 80; v += 16) {
    v128.store(GRID_ISCALES + v, f32x4.div(f32x4.neg(f32x4.add(base, f32x4.mul(tenth, k))), maxv));
    k = f32x4.add(k, four);
  }
  const i0 = v128.load(GRID_ISCALES);
  const i1 = v128.load(GRID_ISCALES, 16);
  const i2 = v128.load(GRID_ISCALES, 32);
  const i3 = v128.load(GRID_ISCALES, 48);
  const i4 = v128.load(GRID_ISCALES, 64);
  let lx0 = f32x4.splat(0);
  let lx1 = lx0;
  let lx2 = lx0;
  let lx3 = lx0;
  let lx4 = lx0;
  let l20 = lx0;
  let l21 = lx0;
  let l22 = lx0;
  let l23 = lx0;
  let l24 = lx0;
  for (let i: usize = 0; i < 64; i += 4) {
    const value = load<f32>(x + i);
    const w = value * value;
    const xv = f32x4.splat(value);
    const wv = f32x4.splat(w);
    const wxv = f32x4.splat(w * value);
    // sumlx += (w·x)·l; suml2 += (w·l)·l — per lane, in element order.
    const c0 = candidateLevels(i0, xv, nmax);
    lx0 = f32x4.add(lx0, f32x4.mul(wxv, c0));
    l20 = f32x4.add(l20, f32x4.mul(f32x4.mul(wv, c0), c0));
    const c1 = candidateLevels(i1, xv, nmax);
    lx1 = f32x4.add(lx1, f32x4.mul(wxv, c1));
    l21 = f32x4.add(l21, f32x4.mul(f32x4.mul(wv, c1), c1));
    const c2 = candidateLevels(i2, xv, nmax);
    lx2 = f32x4.add(lx2, f32x4.mul(wxv, c2));
    l22 = f32x4.add(l22, f32x4.mul(f32x4.mul(wv, c2), c2));
    const c3 = candidateLevels(i3, xv, nmax);
    lx3 = f32x4.add(lx3, f32x4.mul(wxv, c3));
    l23 = f32x4.add(l23, f32x4.mul(f32x4.mul(wv, c3), c3));
    const c4 = candidateLevels(i4, xv, nmax);
    lx4 = f32x4.add(lx4, f32x4.mul(wxv, c4));
    l24 = f32x4.add(l24, f32x4.mul(f32x4.mul(wv, c4), c4));
  }
  v128.store(GRID_SUMLX, lx0);
  v128.store(GRID_SUMLX, lx1, 16);
  v128.store(GRID_SUMLX, lx2, 32);
  v128.store(GRID_SUMLX, lx3, 48);
  v128.store(GRID_SUMLX, lx4, 64);
  v128.store(GRID_SUML2, l20);
  v128.store(GRID_SUML2, l21, 16);
  v128.store(GRID_SUML2, l22, 32);
  v128.store(GRID_SUML2, l23, 48);
  v128.store(GRID_SUML2, l24, 64);
  // C's decisions, in C's order: the centre first (`suml2 ? … : 0` is true for NaN), then the rest.
  let sumlx = load<f32>(GRID_SUMLX + (GRID_CENTER << 2));
  let suml2 = load<f32>(GRID_SUML2 + (GRID_CENTER << 2));
  let scale: f32 = suml2 != 0 ? sumlx / suml2 : 0;
  let best = scale * sumlx;
  let winner: usize = GRID_CENTER;
  for (let c: usize = 0; c < GRID_SIZE; c++) {
    if (c == GRID_CENTER) continue;
    sumlx = load<f32>(GRID_SUMLX + (c << 2));
    suml2 = load<f32>(GRID_SUML2 + (c << 2));
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      winner = c;
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  levelsAgainstIscale(x, load<f32>(GRID_ISCALES + (winner << 2)), nmax, levels);
  return scale;
}

// ───────────────────────────── level refinement (make_q3_quants) ─────────────────────────────

/** ggml's refinement makes at most this many passes over the group. */
const REFINE_SWEEPS = 5;
// Per element of the group: x² and x²·x (float32, C's order), and the signed level.
const REFINE_W: usize = memory.data(64, 16);
const REFINE_WX: usize = memory.data(64, 16);

/**
 * ggml's make_q3_quants(16, nmax, x, L, do_rmse = true): levels for the inverse scale −nmax/max,
 * then up to five sweeps re-picking each element's level as nearest_int(x·Σ'w·l² / Σ'w·x·l) over the
 * others (Σ' without the element), kept when it raises (Σw·x·l)²/Σw·l² (compared multiplied out, in
 * C's order). Writes codes (level + nmax) to `levels`, returns Σw·x·l / Σw·l² (0 unless Σw·l² > 0).
 * The sweeps are sequential by nature; only the per-element invariants and the first rounding are
 * computed four lanes at a time.
 */
export function fitScaleByLevelRefinement(x: usize, nmax: i32, levels: usize): f32 {
  const max = signedAbsMax16(x);
  if (Mathf.abs(max) < GROUP_MAX_EPS) {
    v128.store(levels, i32x4.splat(0));
    return 0;
  }
  const iscale: f32 = <f32>-nmax / max;
  const s = f32x4.splat(iscale);
  for (let k: usize = 0; k < 64; k += 16) {
    const v = v128.load(x + k);
    const w = f32x4.mul(v, v);
    v128.store(REFINE_W + k, w);
    v128.store(REFINE_WX + k, f32x4.mul(w, v));
  }
  const l0 = clampLevelX4(nearestIntX4(f32x4.mul(s, v128.load(x))), nmax);
  const l1 = clampLevelX4(nearestIntX4(f32x4.mul(s, v128.load(x, 16))), nmax);
  const l2 = clampLevelX4(nearestIntX4(f32x4.mul(s, v128.load(x, 32))), nmax);
  const l3 = clampLevelX4(nearestIntX4(f32x4.mul(s, v128.load(x, 48))), nmax);
  // Signed levels as bytes (narrowing saturates, but every level is within ±nmax).
  v128.store(levels, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(l0, l1), i16x8.narrow_i32x4_s(l2, l3)));
  let sumlx: f32 = 0;
  let suml2: f32 = 0;
  for (let i: usize = 0; i < 16; i++) {
    const l = <f32>load<i8>(levels + i);
    const w = load<f32>(REFINE_W + (i << 2));
    sumlx += load<f32>(REFINE_WX + (i << 2)) * l;
    suml2 += w * l * l;
  }
  for (let sweep = 0; sweep < REFINE_SWEEPS; sweep++) {
    let changed = 0;
    for (let i: usize = 0; i < 16; i++) {
      const w = load<f32>(REFINE_W + (i << 2));
      const wx = load<f32>(REFINE_WX + (i << 2));
      const current = <i32>load<i8>(levels + i);
      const currentF = <f32>current;
      let slx = sumlx - wx * currentF;
      if (slx > 0) {
        let sl2 = suml2 - w * currentF * currentF;
        const candidate = clampLevel(nearestInt((load<f32>(x + (i << 2)) * sl2) / slx), nmax);
        if (candidate != current) {
          const candidateF = <f32>candidate;
          slx += wx * candidateF;
          sl2 += w * candidateF * candidateF;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            store<i8>(levels + i, <i8>candidate);
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  v128.store(levels, i8x16.add(v128.load(levels), i8x16.splat(<i8>nmax)));
  return suml2 > 0 ? sumlx / suml2 : 0;
}
