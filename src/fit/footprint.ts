/**
 * What a model takes in memory, computed from its shapes: the weights for any target type (through
 * the quantizer's own plan, so the bytes agree with the file `slmkit quantize` writes), the KV cache
 * for a context, and the runtime's compute buffers and own allocations.
 *
 * Weights and KV cache are exact. The compute buffer and runtime figures are first estimates, to be
 * calibrated against measured RSS (issue 6): they are labelled so in the output.
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
}

export interface Footprint {
  readonly weightsBytes: number;
  /** Weights copied into an accelerator's layout (AMX) beside the mapped file. */
  readonly acceleratorCopyBytes: number;
  readonly kvCacheBytes: number;
  readonly computeBytes: number;
  readonly runtimeBytes: number;
  readonly totalBytes: number;
}

/** Tensor data bytes as stored (no type) or after `slmkit quantize` to `type`. */
export function weightsBytes(header: GgufHeader, type?: string): number {
  if (type === undefined) return header.tensors.reduce((sum, tensor) => sum + tensor.byteSize, 0);
  const plan = planQuantization(header, { preset: type, allowRequantize: true });
  return plan.tensors.reduce((sum, tensor) => sum + tensorByteSize(tensor.target, tensor.source.shape), 0);
}

/** Bytes of the K and V caches for `contextTokens` tokens in every layer. */
export function kvCacheBytes(shape: AttentionShape, contextTokens: number, cacheType: CacheType = "f16"): number {
  const { bytes, block } = CACHE_TYPES[cacheType];
  const perToken = shape.layers * shape.kvHeads * (shape.keyWidth + shape.valueWidth);
  return Math.ceil((perToken * contextTokens) / block) * bytes;
}

/** llama.cpp's default micro-batch: the compute buffer holds activations for this many tokens. */
const MICRO_BATCH = 512;

/**
 * The compute buffer llama.cpp reserves: logits for a whole micro-batch (vocabulary × 512 × 4 bytes:
 * the largest part for small models with large vocabularies), activations of the widest layer, and a
 * little more. Within 3% of the "compute buffer size" llama.cpp logs for the models in BENCHMARKS.md.
 */
export function computeBytes(shape: AttentionShape, contextTokens: number): number {
  const tokens = Math.min(MICRO_BATCH, contextTokens);
  const logits = shape.vocabularySize * tokens * 4;
  const activations = tokens * (shape.feedForwardWidth + shape.embeddingWidth) * 2;
  return logits + activations + 2 * 1024 * 1024;
}

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

/** The process itself: Node.js, node-llama-cpp and llama.cpp before a model (stories260K's peak RSS minus its model, BENCHMARKS.md). */
export const RUNTIME_BYTES = 100 * 1024 * 1024;

export function footprint(shape: AttentionShape, weights: number, contextTokens: number, cacheType: CacheType = "f16", acceleratorCopy = 0): Footprint {
  const kvCache = kvCacheBytes(shape, contextTokens, cacheType);
  const compute = computeBytes(shape, contextTokens);
  return {
    weightsBytes: weights,
    acceleratorCopyBytes: acceleratorCopy,
    kvCacheBytes: kvCache,
    computeBytes: compute,
    runtimeBytes: RUNTIME_BYTES,
    totalBytes: weights + acceleratorCopy + kvCache + compute + RUNTIME_BYTES,
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
  };
}
