/**
 * What a model will take in memory once loaded, from its GGUF header alone: the tensor data, the
 * KV cache for every sequence (16-bit K and V), and a margin for compute buffers. A rough rule for
 * the pool's budget until the fit stage computes it exactly; loaded models report their real use.
 */
import { readGgufHeader, summarizeModel } from "../gguf/index.js";

/** Compute buffers and the runtime's own allocations, beyond weights and cache. */
const OVERHEAD_BYTES = 64 * 1024 * 1024;
const DEFAULT_CONTEXT = 4096;

export function estimateResidentBytes(path: string, options: { contextSize?: number; parallel?: number }): number {
  const summary = summarizeModel(readGgufHeader(path));
  const context = options.contextSize ?? Math.min(summary.contextLength ?? DEFAULT_CONTEXT, DEFAULT_CONTEXT);
  const headWidth = summary.embeddingWidth !== undefined && summary.heads ? summary.embeddingWidth / summary.heads : 0;
  const kvBytes = (summary.layers ?? 0) * context * (options.parallel ?? 1) * (summary.kvHeads ?? summary.heads ?? 0) * headWidth * 2 * 2;
  return summary.tensorBytes + kvBytes + OVERHEAD_BYTES;
}
