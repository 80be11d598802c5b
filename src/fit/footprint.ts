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
 * The compute buffer: activations of one micro-batch through the widest layer, attention scores,
 * and the logits of one output row. A first estimate (see the file's note).
 */
export function computeBytes(shape: AttentionShape, contextTokens: number): number {
  const tokens = Math.min(MICRO_BATCH, contextTokens);
  const activations = tokens * (shape.embeddingWidth * 4 + shape.feedForwardWidth * 2) * 4;
  const attention = tokens * Math.min(contextTokens, 4096) * 4;
  const logits = shape.vocabularySize * 4;
  return activations + attention + logits;
}

/** The process itself: Node.js, node-llama-cpp and llama.cpp's own allocations before a model. A first estimate. */
export const RUNTIME_BYTES = 96 * 1024 * 1024;

export function footprint(shape: AttentionShape, weights: number, contextTokens: number, cacheType: CacheType = "f16"): Footprint {
  const kvCache = kvCacheBytes(shape, contextTokens, cacheType);
  const compute = computeBytes(shape, contextTokens);
  return { weightsBytes: weights, kvCacheBytes: kvCache, computeBytes: compute, runtimeBytes: RUNTIME_BYTES, totalBytes: weights + kvCache + compute + RUNTIME_BYTES };
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
