/**
 * Decides, before any data is touched, what a quantization will do with each tensor: its target
 * type, whether it is copied or converted, which fallback applied, and the output metadata. The
 * choices are llama-quantize's (llama_model_quantize), so the files come out byte-identical.
 */
import { type GgufHeader, GgufMetadata, type GgufTensorInfo, type TensorTypeLayout, u32 } from "../gguf/index.js";
import { type MixtureContext, type TensorRole, isSeventyB, isValueRole, mixtureType, tensorRole } from "./mixture.js";
import { type QuantPreset, presetByName } from "./presets.js";
import { type QuantType, quantTypeByName } from "./types.js";

export interface QuantizeOptions {
  /** A preset name, alias or ftype id (Q4_K_M, q4_k, 15 ...). */
  readonly preset: string;
  /** Every weight gets the preset's default type: no mixture, no special output handling. */
  readonly pure?: boolean;
  /** Keep output.weight as it is. */
  readonly leaveOutputTensor?: boolean;
  readonly outputTensorType?: string;
  readonly tokenEmbeddingType?: string;
  /** `PATTERN=TYPE` overrides: the first pattern (a regular expression, searched in the name) that matches wins. */
  readonly tensorTypes?: ReadonlyArray<{ readonly pattern: string; readonly type: string }>;
  /** Allow quantized input (quality suffers: the weights were already rounded once). */
  readonly allowRequantize?: boolean;
}

export interface PlannedTensor {
  readonly source: GgufTensorInfo;
  /** Equal to the source's type when the tensor is copied as it is. */
  readonly target: TensorTypeLayout;
  /** The type the rules wanted when the row length forced another one. */
  readonly fallbackFrom?: string;
}

export interface QuantizationPlan {
  readonly preset: QuantPreset;
  /** In output order: tensors outside blocks first, then by layer number, then by name. */
  readonly tensors: readonly PlannedTensor[];
  readonly metadata: GgufMetadata;
}

export type QuantizeErrorCode = "UNKNOWN_TYPE" | "REQUANTIZE" | "UNSUPPORTED_TYPE" | "BAD_OPTION";

export class QuantizeError extends Error {
  override readonly name = "QuantizeError";
  constructor(
    readonly code: QuantizeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** ggml's quantization format version, written to general.quantization_version. */
export const QUANTIZATION_VERSION = 2;

/** Keys llama-quantize drops: the output is one file. */
const DROPPED_KEYS = ["split.no", "split.count", "split.tensors.count", "general.quantization_version", "general.file_type"];

/** Name fragments of 2-D weights llama.cpp never quantizes (small, or used in ways that need full precision). */
const KEEP_AS_IS = [
  "_norm.weight",
  "ffn_gate_inp.weight",
  "ffn_gate_tid2eid.weight",
  "altup",
  "laurel",
  "per_layer_model_proj",
  "ssm_conv1d",
  "shortconv.conv.weight",
  "indexer.k_proj.weight",
  "indexer.q_proj.weight",
  ...["first", "w0", "w1", "w2", "v0", "v1", "v2", "a0", "a1", "a2", "g1", "g2", "decay_w1", "decay_w2", "lerp_fused"].map((part) => `time_mix_${part}.weight`),
  "attn_rel_b.weight",
  ".position_embd",
  "sam.pos_embd",
  "sam.neck.",
  "sam.net_",
  ".rel_pos",
  ".patch_embd",
  ".patch_merger",
  "a.rvq.codebook",
  "mm.a.code_embd",
];
const KEEP_EXACT = ["position_embd.weight", "token_types.weight"];

/** Dimensions as ggml counts them: trailing dimensions of size 1 do not count. */
function dimensionCount(shape: readonly number[]): number {
  let count = shape.length;
  while (count > 1 && shape[count - 1] === 1) count--;
  return count;
}

function mayQuantize(tensor: GgufTensorInfo, options: QuantizeOptions): boolean {
  if (dimensionCount(tensor.shape) < 2) return false;
  const name = tensor.name;
  if (!name.endsWith("weight")) return false;
  if (options.leaveOutputTensor && name === "output.weight") return false;
  return !KEEP_AS_IS.some((fragment) => name.includes(fragment)) && !KEEP_EXACT.includes(name);
}

/** llama.cpp's tensor order when quantizing: non-block tensors first, then blk.N by N, then by name. */
function outputOrder(a: GgufTensorInfo, b: GgufTensorInfo): number {
  const layer = (name: string): number => {
    const found = /^blk\.([+-]?\d+)\./.exec(name);
    return found ? Number(found[1]) : -1;
  };
  const byLayer = layer(a.name) - layer(b.name);
  return byLayer !== 0 ? byLayer : Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}

function typeNamed(name: string, what: string): QuantType {
  const type = quantTypeByName(name);
  if (type === undefined) throw new QuantizeError("UNKNOWN_TYPE", `${what} '${name}' is not a type slmkit can write`);
  return type;
}

/** Rows whose length is not a multiple of a type's block: llama-quantize's replacement types. */
const FALLBACKS: Record<string, string> = { Q2_K: "Q4_0", Q3_K: "Q4_0", TQ1_0: "Q4_0", TQ2_0: "Q4_0", Q4_K: "Q5_0", Q5_K: "Q5_1", Q6_K: "Q8_0" };

function withFallback(type: QuantType, rowLength: number): { type: QuantType; fallbackFrom?: string } {
  if (rowLength % type.blockSize === 0) return { type };
  const replacement = typeNamed(FALLBACKS[type.name] ?? type.name, "fallback type");
  const fits = rowLength % replacement.blockSize === 0 ? replacement : typeNamed("F16", "fallback type");
  return { type: fits, fallbackFrom: type.name };
}

interface ModelFacts {
  readonly architecture: string;
  readonly gqa: number;
  readonly experts: number;
  readonly is70B: boolean;
  readonly layers: number;
  readonly tiedEmbeddings: boolean;
  readonly valueCount: number;
}

function modelFacts(header: GgufHeader): ModelFacts {
  const meta = header.metadata;
  const architecture = meta.string("general.architecture") ?? "";
  const firstOf = (key: string): number | undefined => {
    const array = meta.array(key);
    if (array && array.itemType !== "string" && array.itemType !== "array" && array.itemType !== "bool") return Number(array.values[0] ?? 0);
    return meta.number(key);
  };
  const heads = firstOf(`${architecture}.attention.head_count`) ?? 0;
  const kvHeads = firstOf(`${architecture}.attention.head_count_kv`) ?? heads;
  const layers = meta.number(`${architecture}.block_count`) ?? 0;
  return {
    architecture,
    gqa: kvHeads === 0 ? 0 : Math.trunc(heads / kvHeads),
    experts: meta.number(`${architecture}.expert_count`) ?? 0,
    is70B: isSeventyB(architecture, layers, heads, kvHeads),
    layers,
    tiedEmbeddings: !header.tensors.some((tensor) => tensor.name === "output.weight"),
    valueCount: header.tensors.filter((tensor) => isValueRole(tensorRole(tensor.name))).length,
  };
}

export function planQuantization(header: GgufHeader, options: QuantizeOptions): QuantizationPlan {
  const preset = presetByName(options.preset);
  const defaultType = typeNamed(preset.defaultType, "preset type");
  const outputType = options.outputTensorType === undefined ? undefined : typeNamed(options.outputTensorType, "--output-tensor-type");
  const embeddingType = options.tokenEmbeddingType === undefined ? undefined : typeNamed(options.tokenEmbeddingType, "--token-embedding-type");
  const overrides = (options.tensorTypes ?? []).map(({ pattern, type }) => {
    let regex: RegExp;
    try {
      regex = new RegExp(pattern.toLowerCase());
    } catch (error) {
      throw new QuantizeError("BAD_OPTION", `--tensor-type pattern '${pattern}' is not a valid regular expression: ${(error as Error).message}`);
    }
    return { regex, type: typeNamed(type, `--tensor-type ${pattern}=`) };
  });
  const facts = modelFacts(header);
  // Counters advance in output order, as llama.cpp's do: they give ffn_down its layer and attn_v its index.
  const counters = { value: 0, ffnDown: 0, ffnGate: 0, ffnUp: 0 };

  const ordered = [...header.tensors].sort(outputOrder);
  const tensors = ordered.map((source): PlannedTensor => {
    if (!mayQuantize(source, options)) return { source, target: source.type };
    const role = tensorRole(source.name);
    if (embeddingType && role === "token_embd") return checked(source, embeddingType, options);
    if (outputType && role === "output") return checked(source, outputType, options);
    if (!defaultType.quantized) return checked(source, defaultType, options);

    let chosen = defaultType;
    const override = overrides.find(({ regex }) => regex.test(source.name));
    if (override) chosen = override.type;
    else if (!options.pure) chosen = typeNamed(chooseByMixture(source, role, preset, defaultType, facts, counters, outputType), "mixture type");
    const { type, fallbackFrom } = withFallback(chosen, source.shape[0]!);
    return { ...checked(source, type, options), ...(fallbackFrom === undefined ? {} : { fallbackFrom }) };
  });
  return { preset, tensors, metadata: outputMetadata(header.metadata, preset) };
}

function chooseByMixture(
  source: GgufTensorInfo,
  role: TensorRole,
  preset: QuantPreset,
  defaultType: QuantType,
  facts: ModelFacts,
  counters: { value: number; ffnDown: number; ffnGate: number; ffnUp: number },
  outputType: QuantType | undefined,
): string {
  // The output projection (and a token embedding that doubles as it) gets Q6_K, or Q8_0 where
  // rows do not fit the default type's blocks.
  if (role === "output" || (facts.tiedEmbeddings && role === "token_embd")) {
    if (outputType) return outputType.name;
    if (facts.architecture === "falcon" || source.shape[0]! % defaultType.blockSize !== 0) return "Q8_0";
    return defaultType.name === "Q8_0" ? "Q8_0" : "Q6_K";
  }
  const layerOf = (counter: number): number => {
    if (facts.experts <= 1) return counter;
    const found = /^blk\.(\d+)\./.exec(source.name);
    if (!found) throw new QuantizeError("BAD_OPTION", `cannot tell the layer of expert tensor ${source.name}`);
    return Number(found[1]);
  };
  const context: MixtureContext = {
    preset: preset.name,
    architecture: facts.architecture,
    gqa: facts.gqa,
    experts: facts.experts,
    is70B: facts.is70B,
    valueIndex: counters.value,
    valueCount: facts.valueCount,
    layer: role === "ffn_down" ? layerOf(counters.ffnDown) : role === "ffn_gate" ? layerOf(counters.ffnGate) : role === "ffn_up" ? layerOf(counters.ffnUp) : 0,
    layers: facts.layers,
  };
  const chosen = mixtureType(role, defaultType.name, context);
  if (isValueRole(role)) counters.value++;
  else if (role === "ffn_down") counters.ffnDown++;
  else if (role === "ffn_gate") counters.ffnGate++;
  else if (role === "ffn_up") counters.ffnUp++;
  return chosen;
}

/** A conversion's plan; types slmkit cannot decode, and unasked-for requantization, are refused up front. */
function checked(source: GgufTensorInfo, target: QuantType, options: QuantizeOptions): PlannedTensor {
  if (source.type.id === target.id) return { source, target };
  if (quantTypeByName(source.type.name) === undefined) {
    throw new QuantizeError("UNSUPPORTED_TYPE", `tensor '${source.name}' is ${source.type.name}, which slmkit cannot read yet`);
  }
  if (source.type.quantized && !options.allowRequantize) {
    throw new QuantizeError(
      "REQUANTIZE",
      `tensor '${source.name}' is already quantized (${source.type.name}); quantizing it again loses quality. Start from an F32/F16/BF16 model, or pass --allow-requantize`,
    );
  }
  return { source, target };
}

function outputMetadata(input: GgufMetadata, preset: QuantPreset): GgufMetadata {
  const output = new GgufMetadata([...input].filter(([key]) => !DROPPED_KEYS.includes(key)));
  output.set("general.quantization_version", u32(QUANTIZATION_VERSION));
  output.set("general.file_type", u32(preset.fileType));
  return output;
}
