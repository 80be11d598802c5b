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

/**
 * A small llama-named model with random F16 weights and F32 norms, written with the GGUF stage only
 * (the quantizer's tests must not depend on the synth stage, which depends on them).
 */
export async function writeTestModel(path: string, shape: { layers: number; width: number; feedForward: number; vocabulary: number }): Promise<void> {
  const { GgufMetadata, str, u32, tensorTypeByName, writeGgufFile } = await import("../gguf/index.js");
  const { fp32ToFp16 } = await import("./float16.js");
  const f16 = tensorTypeByName("F16")!;
  const f32 = tensorTypeByName("F32")!;
  const next = seededRandom(7);
  const matrix = (name: string, rows: number, columns: number) => {
    const data = new Uint8Array(rows * columns * 2);
    for (let i = 0; i < rows * columns; i++) {
      const bits = fp32ToFp16(normal(next) * 0.02);
      data[2 * i] = bits & 0xff;
      data[2 * i + 1] = bits >>> 8;
    }
    return { name, type: f16, shape: [columns, rows], data };
  };
  const norm = (name: string) => ({ name, type: f32, shape: [shape.width], data: new Uint8Array(new Float32Array(shape.width).fill(1).buffer) });
  const tensors = [matrix("token_embd.weight", shape.vocabulary, shape.width), norm("output_norm.weight"), matrix("output.weight", shape.vocabulary, shape.width)];
  for (let layer = 0; layer < shape.layers; layer++) {
    const at = (suffix: string) => `blk.${layer}.${suffix}`;
    tensors.push(
      norm(at("attn_norm.weight")),
      matrix(at("attn_q.weight"), shape.width, shape.width),
      matrix(at("attn_k.weight"), shape.width / 2, shape.width),
      matrix(at("attn_v.weight"), shape.width / 2, shape.width),
      matrix(at("attn_output.weight"), shape.width, shape.width),
      norm(at("ffn_norm.weight")),
      matrix(at("ffn_gate.weight"), shape.feedForward, shape.width),
      matrix(at("ffn_up.weight"), shape.feedForward, shape.width),
      matrix(at("ffn_down.weight"), shape.width, shape.feedForward),
    );
  }
  const metadata = new GgufMetadata([
    ["general.architecture", str("llama")],
    ["llama.block_count", u32(shape.layers)],
    ["llama.attention.head_count", u32(4)],
    ["llama.attention.head_count_kv", u32(2)],
    ["general.file_type", u32(1)],
  ]);
  await writeGgufFile(path, { metadata, tensors });
}
