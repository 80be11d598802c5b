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
