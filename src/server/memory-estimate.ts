/**
 * What a model will take in memory once loaded, from its GGUF header alone: the tensor data (every
 * part of a split model), the KV cache for every sequence, compute buffers and the runtime, through
 * the fit stage's footprint. Loaded models then report their real use.
 */
import { existsSync, statSync } from "node:fs";
import { acceleratorCopyBytes, attentionShapeOf, deviceProfile, footprint } from "../fit/index.js";
import { readGgufHeader } from "../gguf/index.js";

const DEFAULT_CONTEXT = 4096;

export function estimateResidentBytes(path: string, options: { contextSize?: number; parallel?: number }): number {
  const header = readGgufHeader(path);
  const shape = attentionShapeOf(header);
  const trained = header.metadata.number(`${header.metadata.string("general.architecture") ?? ""}.context_length`);
  const context = (options.contextSize ?? Math.min(trained ?? DEFAULT_CONTEXT, DEFAULT_CONTEXT)) * (options.parallel ?? 1);
  const weights = weightsOnDisk(path, header.tensors.reduce((sum, tensor) => sum + tensor.byteSize, 0));
  // The accelerator copy is counted for the first part's tensors (all of them for an unsplit model).
  const copy = acceleratorCopyBytes(header, deviceProfile().cpuFeatures);
  return footprint(shape, { weightsBytes: weights, contextTokens: context, acceleratorCopyBytes: copy }).totalBytes;
}

/** A split model's first part holds only some tensors: count the other parts' files as weights too. */
function weightsOnDisk(path: string, firstPartBytes: number): number {
  const split = /^(.*)-00001-of-(\d{5})\.gguf$/i.exec(path);
  if (!split) return firstPartBytes;
  let total = firstPartBytes;
  for (let index = 2; index <= Number(split[2]); index++) {
    const part = `${split[1]}-${String(index).padStart(5, "0")}-of-${split[2]}.gguf`;
    if (existsSync(part)) total += statSync(part).size;
  }
  return total;
}
