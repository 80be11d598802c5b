/**
 * Float data for quantizer tests: seeded, and shaped to reach the corners of the block quantizers
 * (all zeros, constants, one outlier, tiny and huge values, one sign only, near-ternary values).
 */

export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal deviate (Box–Muller) from `next`'s uniform draws. */
export function normal(next: () => number): number {
  return Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
}

export type BlockPattern = (index: number, next: () => number) => number;

/** Named fillers, one value per call; each is applied to whole blocks of 256. */
export const PATTERNS: Record<string, BlockPattern> = {
  normal: (_, next) => normal(next) * 0.02,
  wide: (_, next) => normal(next) * 3,
  uniform: (_, next) => next() * 2 - 1,
  zeros: () => 0,
  constant: () => 0.75,
  negativeConstant: () => -1.25,
  outlier: (i, next) => (i % 97 === 5 ? 40 : normal(next) * 0.01),
  tiny: (_, next) => normal(next) * 1e-6,
  huge: (_, next) => normal(next) * 3e4,
  allPositive: (_, next) => Math.abs(normal(next)) + 0.1,
  allNegative: (_, next) => -Math.abs(normal(next)) - 0.1,
  ternary: (_, next) => [-1, 0, 1][Math.floor(next() * 3)]! * 0.05,
  nearTernary: (_, next) => [-1, 0, 1][Math.floor(next() * 3)]! * 0.05 + normal(next) * 0.002,
  sparse: (_, next) => (next() < 0.1 ? normal(next) : 0),
  steps: (i) => ((i % 16) - 8) / 8,
};

/** `rows × rowLength` floats, cycling through every pattern block by block (blocks of 256). */
export function testMatrix(rows: number, rowLength: number, seed = 1): Float32Array {
  const next = seededRandom(seed);
  const patterns = Object.values(PATTERNS);
  const data = new Float32Array(rows * rowLength);
  for (let i = 0; i < data.length; i++) data[i] = patterns[Math.floor(i / 256) % patterns.length]!(i, next);
  return data;
}
