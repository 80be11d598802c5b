import type { GgufMetadata } from "./metadata.js";
import type { GgufHeader } from "./reader.js";

/** The mission's classes of language model by parameter count; one row each, smallest first. */
export const MODEL_CLASSES = [
  { name: "tiny", below: 0.1e9, description: "below 100M parameters" },
  { name: "micro", below: 1.45e9, description: "100M–1.4B parameters" },
  { name: "small", below: 13.95e9, description: "1.5B–13.9B parameters" },
  { name: "medium", below: 30.05e9, description: "14B–30B parameters" },
  { name: "large", below: Infinity, description: "above 30B parameters: large, not an SLM" },
] as const;

export type ModelClassName = (typeof MODEL_CLASSES)[number]["name"];

/**
 * The class of a model with `parameters` weights. Boundaries sit halfway between the classes' names
 * as written to one decimal (1.4B is micro, 1.5B small), since that is how models are named.
 */
export function classifyModel(parameters: number): (typeof MODEL_CLASSES)[number] {
  return MODEL_CLASSES.find((modelClass) => parameters < modelClass.below)!;
}

export interface TensorTypeCount {
  readonly tensors: number;
  readonly parameters: number;
  readonly bytes: number;
}

export interface ModelSummary {
  readonly architecture: string | undefined;
  readonly name: string | undefined;
  readonly ggufVersion: number;
  /** Sum of the elements of every tensor (the output and token embedding counted as stored). */
  readonly parameters: number;
  readonly modelClass: ModelClassName;
  readonly contextLength: number | undefined;
  readonly layers: number | undefined;
  readonly heads: number | undefined;
  readonly kvHeads: number | undefined;
  readonly embeddingWidth: number | undefined;
  readonly feedForwardWidth: number | undefined;
  readonly tokenizerModel: string | undefined;
  readonly vocabularySize: number | undefined;
  readonly hasChatTemplate: boolean;
  readonly fileType: string | undefined;
  readonly tensorCount: number;
  readonly tensorTypes: Readonly<Record<string, TensorTypeCount>>;
  readonly tensorBytes: number;
  readonly fileSize: number;
  /** Tensor data bits per weight, as llama.cpp reports it when loading. */
  readonly bitsPerWeight: number;
}

/** llama_ftype names, by the value of general.file_type. */
const FILE_TYPES: Record<number, string> = {
  0: "ALL_F32",
  1: "MOSTLY_F16",
  2: "MOSTLY_Q4_0",
  3: "MOSTLY_Q4_1",
  7: "MOSTLY_Q8_0",
  8: "MOSTLY_Q5_0",
  9: "MOSTLY_Q5_1",
  10: "MOSTLY_Q2_K",
  11: "MOSTLY_Q3_K_S",
  12: "MOSTLY_Q3_K_M",
  13: "MOSTLY_Q3_K_L",
  14: "MOSTLY_Q4_K_S",
  15: "MOSTLY_Q4_K_M",
  16: "MOSTLY_Q5_K_S",
  17: "MOSTLY_Q5_K_M",
  18: "MOSTLY_Q6_K",
  19: "MOSTLY_IQ2_XXS",
  20: "MOSTLY_IQ2_XS",
  21: "MOSTLY_Q2_K_S",
  22: "MOSTLY_IQ3_XS",
  23: "MOSTLY_IQ3_XXS",
  24: "MOSTLY_IQ1_S",
  25: "MOSTLY_IQ4_NL",
  26: "MOSTLY_IQ3_S",
  27: "MOSTLY_IQ3_M",
  28: "MOSTLY_IQ2_S",
  29: "MOSTLY_IQ2_M",
  30: "MOSTLY_IQ4_XS",
  31: "MOSTLY_IQ1_M",
  32: "MOSTLY_BF16",
  36: "MOSTLY_TQ1_0",
  37: "MOSTLY_TQ2_0",
  38: "MOSTLY_MXFP4_MOE",
  39: "MOSTLY_NVFP4",
  40: "MOSTLY_Q1_0",
  41: "MOSTLY_Q2_0",
};

/** Metadata key slmkit synth writes: its presence marks a model whose weights are random. */
export const SYNTHETIC_SEED_KEY = "slmkit.synthetic.seed";

export function isSynthetic(header: GgufHeader): boolean {
  return header.metadata.has(SYNTHETIC_SEED_KEY);
}

/** Everything `slmkit inspect` tells about a model, computed from its header alone. */
export function summarizeModel(header: GgufHeader): ModelSummary {
  const meta = header.metadata;
  const architecture = meta.string("general.architecture");
  const archKey = (suffix: string): string => `${architecture ?? "unknown"}.${suffix}`;
  const tensorTypes: Record<string, TensorTypeCount> = {};
  let parameters = 0;
  let tensorBytes = 0;
  for (const tensor of header.tensors) {
    parameters += tensor.elements;
    tensorBytes += tensor.byteSize;
    const entry = tensorTypes[tensor.type.name] ?? { tensors: 0, parameters: 0, bytes: 0 };
    tensorTypes[tensor.type.name] = {
      tensors: entry.tensors + 1,
      parameters: entry.parameters + tensor.elements,
      bytes: entry.bytes + tensor.byteSize,
    };
  }
  const heads = widest(meta, archKey("attention.head_count"));
  const fileTypeId = meta.number("general.file_type");
  return {
    architecture,
    name: meta.string("general.name"),
    ggufVersion: header.version,
    parameters,
    modelClass: classifyModel(parameters).name,
    contextLength: meta.number(archKey("context_length")),
    layers: meta.number(archKey("block_count")),
    heads,
    kvHeads: widest(meta, archKey("attention.head_count_kv")) ?? heads,
    embeddingWidth: meta.number(archKey("embedding_length")),
    feedForwardWidth: widest(meta, archKey("feed_forward_length")),
    tokenizerModel: meta.string("tokenizer.ggml.model"),
    vocabularySize: meta.arrayLength("tokenizer.ggml.tokens") ?? meta.number(archKey("vocab_size")),
    hasChatTemplate: meta.string("tokenizer.chat_template") !== undefined,
    fileType: fileTypeId === undefined ? undefined : (FILE_TYPES[fileTypeId] ?? `unknown (${fileTypeId})`),
    tensorCount: header.tensors.length,
    tensorTypes,
    tensorBytes,
    fileSize: header.fileSize,
    bitsPerWeight: parameters === 0 ? 0 : (tensorBytes * 8) / parameters,
  };
}

/** A per-model value that some architectures store per layer (an array): the largest entry. */
function widest(meta: GgufMetadata, key: string): number | undefined {
  const array = meta.array(key);
  if (array && array.itemType !== "string" && array.itemType !== "array" && array.itemType !== "bool") {
    let largest: number | undefined;
    for (const item of array.values) largest = Math.max(largest ?? 0, Number(item));
    return largest;
  }
  return meta.number(key);
}
