/**
 * The statistics the benchmark scripts report. One median for all of them: with an even number of
 * rounds it is the mean of the two middle values (bench/serve once took the lower one, which put every
 * 10-round ratio a half-step low).
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface Interval {
  readonly low: number;
  readonly high: number;
}

export interface BootstrapOptions {
  /** Resampled sets drawn. Default 4000. */
  readonly resamples?: number;
  /** Share of the resampled statistics the interval holds. Default 0.95. */
  readonly confidence?: number;
  /** The same seed and data give the same interval on every run. Default 1. */
  readonly seed?: number;
}

/**
 * The percentile bootstrap interval of `statistic` (the median by default) over `values`: sets of the
 * same size are drawn from `values` with replacement, the statistic taken of each, and the interval is
 * the middle `confidence` of those. For bench/serve's per-round ratios it says which true ratios the
 * rounds cannot tell apart on a machine whose speed drifts from turn to turn; with few rounds it is
 * rough (and never wider than the values themselves).
 */
export function bootstrapInterval(values: readonly number[], statistic: (sample: readonly number[]) => number = median, options: BootstrapOptions = {}): Interval {
  if (values.length === 0) return { low: NaN, high: NaN };
  const resamples = options.resamples ?? 4000;
  const confidence = options.confidence ?? 0.95;
  const random = seededRandom(options.seed ?? 1);
  const sample = new Array<number>(values.length);
  const statistics: number[] = [];
  for (let draw = 0; draw < resamples; draw++) {
    for (let index = 0; index < values.length; index++) sample[index] = values[Math.floor(random() * values.length)]!;
    statistics.push(statistic(sample));
  }
  statistics.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return {
    low: statistics[Math.floor(tail * resamples)]!,
    high: statistics[Math.min(resamples - 1, Math.ceil((1 - tail) * resamples) - 1)]!,
  };
}

/** Uniform numbers in [0, 1) from a 32-bit seed (the mulberry32 generator): small, fast, repeatable. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}
