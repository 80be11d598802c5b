import {
  SYNTHETIC_SEED_KEY,
  type GgufHeader,
  GgufMetadata,
  type GgufToWrite,
  type GgufValue,
  layoutGguf,
  type TensorToWrite,
  type TensorTypeLayout,
  str,
  tensorTypeByName,
  u32,
  writeGgufFile,
} from "../gguf/index.js";
import { fp32ToBf16, fp32ToFp16, type QuantType, quantizeRows, quantTypeByName } from "../quant/index.js";
import { ARCHITECTURES, type ArchitectureSpec, type ModelShape, type TensorPlan, architectureByName, commonHyperparameters } from "./architectures.js";
import { SeededRandom, streamSeed } from "./random.js";
import { buildTokenizer } from "./tokenizers.js";

/** Weight types synth writes directly; quantized types come from the quantizer. */
export const SYNTH_WEIGHT_TYPES = ["F32", "F16", "BF16"] as const;
export type SynthWeightType = (typeof SYNTH_WEIGHT_TYPES)[number];

const FILE_TYPE_OF: Record<SynthWeightType, number> = { F32: 0, F16: 1, BF16: 32 };
/** Standard deviation of the random weights; small, as in a freshly initialized model. */
const WEIGHT_STD = 0.02;
const CHUNK_ELEMENTS = 1 << 20;

export interface SynthOptions {
  readonly architecture: string;
  /** Any shape field left out takes the architecture's default (headDim: width / heads). */
  readonly shape?: Partial<ModelShape>;
  /** Pad the vocabulary to this many tokens (real models have 32k–256k). */
  readonly vocabularySize?: number;
  readonly type?: SynthWeightType;
  readonly seed?: number;
  readonly name?: string;
  readonly output: string;
  /** Called as tensor data is written. */
  readonly onProgress?: (bytesWritten: number, totalBytes: number) => void;
  /**
   * Matrices of any type slmkit can quantize to (Q4_0, Q6_K ...), filled by repeating one quantized
   * block of random values: quick to write at any size, for timing kernels (whose speed does not
   * depend on the values), not for anything that reads the weights. Overrides `type` for matrices.
   */
  readonly tiledMatrixType?: string;
}

export interface SynthResult {
  readonly path: string;
  readonly header: GgufHeader;
  readonly shape: ModelShape;
  readonly seed: number;
}

export class SynthError extends Error {
  override readonly name = "SynthError";
}

/** Writes a random-weight model of a real architecture, with a working tokenizer and chat template. */
export async function synthesizeModel(options: SynthOptions): Promise<SynthResult> {
  const spec = specNamed(options.architecture);
  const shape = resolveShape(spec, options.shape ?? {});
  let tokenizer;
  try {
    tokenizer = buildTokenizer(spec.tokenizer, { vocabularySize: options.vocabularySize });
  } catch (error) {
    throw new SynthError((error as Error).message);
  }
  const gguf = modelToWrite(spec, shape, options, tokenizer.vocabularySize, [...tokenizer.metadata, ["tokenizer.chat_template", str(spec.chatTemplate)]]);
  const report = options.onProgress;
  const header = await writeGgufFile(options.output, gguf, report && ((progress) => report(progress.bytesWritten, progress.totalBytes)));
  return { path: options.output, header, shape, seed: options.seed ?? 42 };
}

/**
 * The header the model `synthesizeModel` would write, without writing it or building its tokenizer
 * (the vocabulary size is given as `<arch>.vocab_size`): for computing a model's footprint and
 * speed from its shapes alone.
 */
export function plannedHeader(options: Omit<SynthOptions, "output" | "onProgress"> & { readonly vocabularySize: number }): GgufHeader {
  const spec = specNamed(options.architecture);
  return layoutGguf(modelToWrite(spec, resolveShape(spec, options.shape ?? {}), options, options.vocabularySize, [])).header;
}

function specNamed(name: string): ArchitectureSpec {
  const spec = architectureByName(name);
  if (spec === undefined) throw new SynthError(`unknown architecture '${name}'; choose one of: ${ARCHITECTURES.map((a) => a.name).join(", ")}`);
  return spec;
}

function modelToWrite(spec: ArchitectureSpec, shape: ModelShape, options: Omit<SynthOptions, "output">, vocabularySize: number, tokenizerMetadata: Array<[string, GgufValue]>): GgufToWrite {
  const type = options.type ?? "F32";
  const seed = options.seed ?? 42;
  const metadata = new GgufMetadata([
    ["general.architecture", str(spec.name)],
    ["general.type", str("model")],
    ["general.name", str(options.name ?? `synthetic-${spec.name}`)],
    ["general.description", str(`random weights (slmkit synth, seed ${seed}): a test model whose output is gibberish`)],
    ["general.file_type", u32(FILE_TYPE_OF[type])],
    [SYNTHETIC_SEED_KEY, u32(seed)],
    ...commonHyperparameters(spec, shape, vocabularySize),
    ...spec.extraMetadata(shape),
    ...tokenizerMetadata,
  ]);

  const tiled = options.tiledMatrixType === undefined ? undefined : quantTypeByName(options.tiledMatrixType);
  if (options.tiledMatrixType !== undefined && tiled === undefined) throw new SynthError(`no quantizer for ${options.tiledMatrixType}`);
  const weightLayout = tiled ?? tensorTypeByName(type)!;
  const plans: TensorPlan[] = [{ name: "token_embd.weight", shape: [shape.width, vocabularySize], role: "matrix" }];
  for (let layer = 0; layer < shape.layers; layer++) {
    for (const tensor of spec.layerTensors(shape)) plans.push({ ...tensor, name: `blk.${layer}.${tensor.name}` });
  }
  plans.push({ name: "output_norm.weight", shape: [shape.width], role: "norm" });
  if (!shape.tiedEmbeddings) plans.push({ name: "output.weight", shape: [shape.width, vocabularySize], role: "matrix" });

  const tensors: TensorToWrite[] = plans.map((plan) => {
    const layout = plan.role === "norm" ? tensorTypeByName("F32")! : weightLayout;
    if (tiled && plan.role === "matrix") return { name: plan.name, type: layout, shape: plan.shape, data: () => tiledTensorData(plan, tiled, seed) };
    return { name: plan.name, type: layout, shape: plan.shape, data: () => randomTensorData(plan, layout, seed) };
  });
  return { metadata, tensors };
}

function resolveShape(spec: ArchitectureSpec, given: Partial<ModelShape>): ModelShape {
  const width = given.width ?? spec.defaults.width;
  const heads = given.heads ?? spec.defaults.heads;
  const headDim = given.headDim ?? (given.width !== undefined || given.heads !== undefined ? width / heads : spec.defaults.headDim);
  const shape: ModelShape = { ...spec.defaults, ...given, width, heads, headDim };
  for (const [field, value] of Object.entries(shape)) {
    if (typeof value === "number" && (!Number.isInteger(value) || value < 1)) {
      throw new SynthError(`${field} must be a whole number ≥ 1 (got ${value}); check --width / --heads`);
    }
  }
  if (shape.heads % shape.kvHeads !== 0) throw new SynthError(`heads (${shape.heads}) must be a multiple of kv heads (${shape.kvHeads})`);
  if (shape.headDim % 2 !== 0) throw new SynthError(`head width ${shape.headDim} must be even for rotary embeddings`);
  return shape;
}

/** Streams a tensor's values: ones for norms, N(0, 0.02²) for matrices, in the tensor's type. */
async function* randomTensorData(plan: TensorPlan, layout: TensorTypeLayout, seed: number): AsyncGenerator<Uint8Array> {
  const elements = plan.shape.reduce((a, b) => a * b, 1);
  const random = new SeededRandom(streamSeed(seed, plan.name));
  for (let start = 0; start < elements; start += CHUNK_ELEMENTS) {
    const count = Math.min(CHUNK_ELEMENTS, elements - start);
    const values = new Float32Array(count);
    if (plan.role === "norm") values.fill(1);
    else for (let i = 0; i < count; i++) values[i] = random.nextNormal() * WEIGHT_STD;
    yield encode(values, layout.name);
    // Let other work (a server's requests, progress output) run between chunks of a big model.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const TILE_ELEMENTS = 1 << 16;

/** One quantized tile of random values, repeated to the tensor's size (rows are whole blocks, so tiles align). */
async function* tiledTensorData(plan: TensorPlan, type: QuantType, seed: number): AsyncGenerator<Uint8Array> {
  const elements = plan.shape.reduce((a, b) => a * b, 1);
  const random = new SeededRandom(streamSeed(seed, plan.name));
  const values = new Float32Array(TILE_ELEMENTS);
  for (let i = 0; i < values.length; i++) values[i] = random.nextNormal() * WEIGHT_STD;
  const tile = quantizeRows(type, values, 1, TILE_ELEMENTS);
  const bytes = (elements / type.blockSize) * type.bytesPerBlock;
  const chunk = new Uint8Array(Math.max(tile.length, Math.floor((8 << 20) / tile.length) * tile.length));
  for (let offset = 0; offset < chunk.length; offset += tile.length) chunk.set(tile, offset);
  for (let written = 0; written < bytes; written += chunk.length) {
    yield chunk.subarray(0, Math.min(chunk.length, bytes - written));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function encode(values: Float32Array, typeName: string): Uint8Array {
  if (typeName === "F32") return new Uint8Array(values.buffer);
  const halves = new Uint16Array(values.length);
  const convert = typeName === "F16" ? fp32ToFp16 : fp32ToBf16;
  for (let i = 0; i < values.length; i++) halves[i] = convert(values[i]!);
  return new Uint8Array(halves.buffer);
}
