/**
 * What a model takes in memory, computed from its shapes: the weights for any target type (through
 * the quantizer's own plan, so the bytes agree with the file `slmkit quantize` writes), the KV cache
 * for a context, and the runtime's compute buffers and own allocations.
 *
 * Weights and KV cache are exact. The compute buffer and the runtime are models fitted to measured
 * peak RSS (BENCHMARKS.md, "Fit"), said so where they are defined.
 */
import { type GgufHeader, tensorByteSize } from "../gguf/index.js";
import { planQuantization } from "../quant/index.js";

/** The K/V cache types llama.cpp offers for the cache (--cache-type-k/-v). */
export const CACHE_TYPES = { f16: { bytes: 2, block: 1 }, q8_0: { bytes: 34, block: 32 }, q4_0: { bytes: 18, block: 32 } } as const;
export type CacheType = keyof typeof CACHE_TYPES;

export interface AttentionShape {
  readonly layers: number;
  readonly kvHeads: number;
  /** Width of one K head and one V head (they differ in some architectures). */
  readonly keyWidth: number;
  readonly valueWidth: number;
  readonly embeddingWidth: number;
  readonly feedForwardWidth: number;
  readonly vocabularySize: number;
  /** Sliding-window attention (Gemma 3): tokens a local layer attends to, and the period of local/global layers. */
  readonly slidingWindow?: number;
  /** Every `slidingPattern`-th layer is global, the others local (Gemma 3: 6, i.e. five local, one global). */
  readonly slidingPattern?: number;
}

export interface Footprint {
  readonly weightsBytes: number;
  /** Weights copied into an accelerator's layout (AMX) beside the mapped file. */
  readonly acceleratorCopyBytes: number;
  readonly kvCacheBytes: number;
  /** The part of the compute buffer a run writes (resident on the CPU). */
  readonly computeBytes: number;
  /** The whole compute buffer llama.cpp reserves (what a GPU must hold). */
  readonly computeReservedBytes: number;
  readonly runtimeBytes: number;
  readonly totalBytes: number;
}

/** Tensor data bytes as stored (no type) or after `slmkit quantize` to `type`. */
export function weightsBytes(header: GgufHeader, type?: string): number {
  if (type === undefined) return header.tensors.reduce((sum, tensor) => sum + tensor.byteSize, 0);
  const plan = planQuantization(header, { preset: type, allowRequantize: true });
  return plan.tensors.reduce((sum, tensor) => sum + tensorByteSize(tensor.target, tensor.source.shape), 0);
}

/**
 * Bytes of the K and V caches: llama.cpp pads the context to 256 cells; with sliding-window attention
 * the local layers get their own cache of the window plus a micro-batch (padded, at most the context),
 * the global layers the whole context.
 */
export function kvCacheBytes(shape: AttentionShape, contextTokens: number, cacheType: CacheType = "f16"): number {
  const { bytes, block } = CACHE_TYPES[cacheType];
  const cells = padCells(contextTokens);
  const perLayerToken = shape.kvHeads * (shape.keyWidth + shape.valueWidth);
  const local = localLayers(shape);
  const localCells = shape.slidingWindow === undefined ? 0 : Math.min(cells, padCells(shape.slidingWindow + Math.min(MICRO_BATCH, contextTokens)));
  const elements = perLayerToken * ((shape.layers - local) * cells + local * localCells);
  return Math.ceil(elements / block) * bytes;
}

const padCells = (cells: number): number => Math.ceil(cells / 256) * 256;

/** Layers with sliding-window attention: in each period of `slidingPattern` layers all but the last. */
function localLayers(shape: AttentionShape): number {
  if (shape.slidingWindow === undefined || shape.slidingWindow <= 0) return 0;
  const period = shape.slidingPattern ?? 6;
  let count = 0;
  for (let layer = 0; layer < shape.layers; layer++) if (layer % period < period - 1) count++;
  return count;
}

/** llama.cpp's default micro-batch: the most prompt tokens evaluated in one step. */
export const MICRO_BATCH = 512;

/**
 * The compute buffer llama.cpp reserves (and a GPU must hold): logits for a whole micro-batch
 * (vocabulary × 512 × 4 bytes, the largest part for small models with large vocabularies),
 * activations of the widest layer, and a little more; for small vocabularies the activations of a
 * full batch. Within 3% of the "compute buffer size" llama.cpp logs for the models in BENCHMARKS.md.
 */
export function computeReservedBytes(shape: AttentionShape, contextTokens: number): number {
  const tokens = Math.min(MICRO_BATCH, contextTokens);
  const logits = shape.vocabularySize * tokens * 4 + tokens * (shape.feedForwardWidth + shape.embeddingWidth) * 2;
  // With a small vocabulary the activations, not the logits, are the largest set alive at once.
  return Math.max(logits, activationBytes(shape, tokens)) + 2 * 1024 * 1024;
}

/** Activations written for a batch of `tokens`: about 12 bytes per token per feed-forward and embedding width (measured, below). */
function activationBytes(shape: AttentionShape, tokens: number): number {
  return tokens * (shape.feedForwardWidth + shape.embeddingWidth) * 12;
}

/**
 * The part of the compute buffer a run touches on the CPU, where untouched pages take no memory.
 * llama.cpp computes logits only for the rows it outputs (one per sequence when generating), so
 * the reserved logits are never written; what is written are the activations of the largest batch
 * of prompt tokens: about 12 bytes per token per feed-forward and embedding width (measured: a
 * 512-token batch raised peak RSS by 18.7 MiB on a 768/2048-wide model and 24.6 MiB on a
 * 1024/3072-wide one, BENCHMARKS.md), plus one row of logits.
 */
export function computeResidentBytes(shape: AttentionShape, batchTokens: number): number {
  return activationBytes(shape, batchTokens) + shape.vocabularySize * 4;
}

/**
 * The process around the model: Node.js, node-llama-cpp and llama.cpp, and the vocabulary's tables in
 * llama.cpp and in node-llama-cpp's parsed metadata. Measured (bench/fit.ts, "Runtime"): peak RSS of
 * `slmkit run` minus weights and KV cache on one-layer models that differ only in vocabulary size,
 * averaged over two runs. It is not a straight line (the first 32k tokens cost ~1 KiB each, later
 * ones ~0.6 KiB), so it is interpolated between the measured sizes and extended with the last slope.
 */
export function runtimeBytes(shape: AttentionShape): number {
  const tokens = shape.vocabularySize;
  const mib = 1024 * 1024;
  const points = RUNTIME_BY_VOCABULARY;
  if (tokens <= points[0]![0]) return Math.round(points[0]![1] * mib);
  for (let index = 1; index < points.length; index++) {
    const [x1, y1] = points[index]!;
    const [x0, y0] = points[index - 1]!;
    if (tokens <= x1 || index === points.length - 1) return Math.round((y0 + ((tokens - x0) * (y1 - y0)) / (x1 - x0)) * mib);
  }
  return Math.round(points.at(-1)![1] * mib);
}
/** [vocabulary size, MiB]. */
const RUNTIME_BY_VOCABULARY: ReadonlyArray<readonly [number, number]> = [
  [512, 105.4],
  [32000, 137.3],
  [64000, 148.9],
  [128000, 190.9],
  [151936, 199.5],
  [256000, 260.0],
];

/**
 * On CPUs with AMX (Intel Sapphire Rapids and later), node-llama-cpp's CPU build copies the weights
 * of the types its AMX kernels take into an AMX buffer, beside the mapped file: about their size again
 * (Q8_0's layout 12% more), as llama.cpp logs ("AMX model buffer size"). Elsewhere nothing is copied
 * for these types. (CPU_REPACK on AVX2 without AMX is not modelled yet.)
 */
const AMX_TYPES: Readonly<Record<string, number>> = { F16: 1, Q4_0: 1, Q4_1: 1, Q8_0: 1.12, Q4_K: 1, Q5_K: 1, Q6_K: 1, IQ4_XS: 1 };

export function acceleratorCopyBytes(header: GgufHeader, cpuFeatures: readonly string[], type?: string): number {
  if (!cpuFeatures.includes("amx_int8")) return 0;
  const tensors = type === undefined ? header.tensors.map((tensor) => ({ type: tensor.type, source: tensor })) : planQuantization(header, { preset: type, allowRequantize: true }).tensors.map((tensor) => ({ type: tensor.target, source: tensor.source }));
  let bytes = 0;
  for (const { type: layout, source } of tensors) {
    const factor = AMX_TYPES[layout.name];
    if (factor !== undefined && source.shape.length >= 2) bytes += tensorByteSize(layout, source.shape) * factor;
  }
  return Math.round(bytes);
}

export interface FootprintOptions {
  readonly weightsBytes: number;
  readonly contextTokens: number;
  readonly cacheType?: CacheType;
  readonly acceleratorCopyBytes?: number;
  /** The largest batch of prompt tokens evaluated at once (default: a full micro-batch, any prompt). */
  readonly batchTokens?: number;
}

/**
 * Resident memory of a run on the CPU: weights (mapped from the file; every page is read), the
 * accelerator copy, the KV cache (cleared at creation, so all resident), the touched compute buffer
 * and the runtime. `computeReservedBytes` is reported beside it: what a GPU would have to hold.
 */
export function footprint(shape: AttentionShape, options: FootprintOptions): Footprint {
  const { weightsBytes: weights, contextTokens, cacheType = "f16", acceleratorCopyBytes: copy = 0 } = options;
  const batch = Math.min(options.batchTokens ?? MICRO_BATCH, MICRO_BATCH, contextTokens);
  const kvCache = kvCacheBytes(shape, contextTokens, cacheType);
  const compute = computeResidentBytes(shape, batch);
  const runtime = runtimeBytes(shape);
  return {
    weightsBytes: weights,
    acceleratorCopyBytes: copy,
    kvCacheBytes: kvCache,
    computeBytes: compute,
    computeReservedBytes: computeReservedBytes(shape, contextTokens),
    runtimeBytes: runtime,
    totalBytes: weights + copy + kvCache + compute + runtime,
  };
}

/** The attention shape from a GGUF header's metadata (key/value widths default to width / heads). */
export function attentionShapeOf(header: GgufHeader): AttentionShape {
  const metadata = header.metadata;
  const arch = metadata.string("general.architecture") ?? "";
  const number = (key: string): number | undefined => metadata.number(`${arch}.${key}`);
  const embeddingWidth = number("embedding_length") ?? 0;
  const heads = number("attention.head_count") ?? 1;
  const headWidth = heads > 0 ? embeddingWidth / heads : 0;
  const vocabulary = metadata.arrayLength("tokenizer.ggml.tokens") ?? number("vocab_size") ?? 0;
  return {
    layers: number("block_count") ?? 0,
    kvHeads: number("attention.head_count_kv") ?? heads,
    keyWidth: number("attention.key_length") ?? headWidth,
    valueWidth: number("attention.value_length") ?? headWidth,
    embeddingWidth,
    feedForwardWidth: number("feed_forward_length") ?? 0,
    vocabularySize: vocabulary,
    ...slidingOf(arch, number),
  };
}

/** llama.cpp gives Gemma 3 sliding-window layers when the file has a window (period 6 unless the file says). */
function slidingOf(arch: string, number: (key: string) => number | undefined): Pick<AttentionShape, "slidingWindow" | "slidingPattern"> {
  const window = number("attention.sliding_window");
  if (arch !== "gemma3" || window === undefined || window <= 0) return {};
  return { slidingWindow: window, slidingPattern: number("attention.sliding_window_pattern") ?? 6 };
}
