import { type GgufValue, f32, u32 } from "../gguf/index.js";
import { CHATML_TEMPLATE, TAGGED_TURNS_TEMPLATE } from "./chat-templates.js";
import type { TokenizerKind } from "./tokenizers.js";

/** The shape of a decoder-only transformer, in the terms GGUF metadata uses. */
export interface ModelShape {
  readonly layers: number;
  /** Embedding width (n_embd). */
  readonly width: number;
  /** Hidden width of the feed-forward block (n_ff). */
  readonly feedForward: number;
  readonly heads: number;
  readonly kvHeads: number;
  /** Width of one attention head; llama derives it as width / heads. */
  readonly headDim: number;
  readonly contextLength: number;
  /** Output projection shares the token embedding (no output.weight tensor). */
  readonly tiedEmbeddings: boolean;
  /** Tokens a sliding-window layer attends to (Gemma 3; five layers of six are local). */
  readonly slidingWindow?: number;
}

export interface TensorPlan {
  readonly name: string;
  /** ggml order: shape[0] is the row length. */
  readonly shape: readonly number[];
  /** Norm weights are stored as F32 and set to 1; matrices get random values in the chosen type. */
  readonly role: "norm" | "matrix";
}

/** One row per architecture slmkit can synthesize: its tokenizer, template, defaults, keys and tensors. */
export interface ArchitectureSpec {
  readonly name: string;
  readonly tokenizer: TokenizerKind;
  readonly chatTemplate: string;
  readonly defaults: ModelShape;
  readonly ropeFreqBase: number;
  readonly normEpsilon: number;
  /** Keys beyond the shared ones (context_length, block_count, ...) that this architecture needs. */
  extraMetadata(shape: ModelShape): Array<[string, GgufValue]>;
  /** Tensors of one transformer block, without the `blk.N.` prefix. */
  layerTensors(shape: ModelShape): TensorPlan[];
}

function attentionAndFeedForward(shape: ModelShape, withQkNorm: boolean): TensorPlan[] {
  const q = shape.heads * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  const tensors: TensorPlan[] = [
    { name: "attn_norm.weight", shape: [shape.width], role: "norm" },
    { name: "attn_q.weight", shape: [shape.width, q], role: "matrix" },
    { name: "attn_k.weight", shape: [shape.width, kv], role: "matrix" },
    { name: "attn_v.weight", shape: [shape.width, kv], role: "matrix" },
    { name: "attn_output.weight", shape: [q, shape.width], role: "matrix" },
  ];
  if (withQkNorm) {
    tensors.push({ name: "attn_q_norm.weight", shape: [shape.headDim], role: "norm" });
    tensors.push({ name: "attn_k_norm.weight", shape: [shape.headDim], role: "norm" });
  }
  tensors.push(
    { name: "ffn_norm.weight", shape: [shape.width], role: "norm" },
    { name: "ffn_gate.weight", shape: [shape.width, shape.feedForward], role: "matrix" },
    { name: "ffn_up.weight", shape: [shape.width, shape.feedForward], role: "matrix" },
    { name: "ffn_down.weight", shape: [shape.feedForward, shape.width], role: "matrix" },
  );
  return tensors;
}

export const ARCHITECTURES: readonly ArchitectureSpec[] = [
  {
    name: "llama",
    tokenizer: "spm",
    chatTemplate: TAGGED_TURNS_TEMPLATE,
    defaults: { layers: 2, width: 64, feedForward: 192, heads: 4, kvHeads: 2, headDim: 16, contextLength: 2048, tiedEmbeddings: false },
    ropeFreqBase: 10000,
    normEpsilon: 1e-5,
    extraMetadata: (shape) => [["llama.rope.dimension_count", u32(shape.headDim)]],
    layerTensors: (shape) => attentionAndFeedForward(shape, false),
  },
  {
    name: "qwen3",
    tokenizer: "bpe",
    chatTemplate: CHATML_TEMPLATE,
    defaults: { layers: 2, width: 64, feedForward: 192, heads: 4, kvHeads: 2, headDim: 16, contextLength: 4096, tiedEmbeddings: true },
    ropeFreqBase: 1000000,
    normEpsilon: 1e-6,
    extraMetadata: (shape) => [
      ["qwen3.attention.key_length", u32(shape.headDim)],
      ["qwen3.attention.value_length", u32(shape.headDim)],
    ],
    layerTensors: (shape) => attentionAndFeedForward(shape, true),
  },
  {
    name: "gemma3",
    tokenizer: "spm",
    chatTemplate: TAGGED_TURNS_TEMPLATE,
    defaults: { layers: 2, width: 64, feedForward: 192, heads: 4, kvHeads: 2, headDim: 16, contextLength: 4096, tiedEmbeddings: true, slidingWindow: 512 },
    ropeFreqBase: 1000000,
    normEpsilon: 1e-6,
    extraMetadata: (shape) => [
      ["gemma3.attention.key_length", u32(shape.headDim)],
      ["gemma3.attention.value_length", u32(shape.headDim)],
      ["gemma3.attention.sliding_window", u32(shape.slidingWindow ?? 512)],
    ],
    layerTensors: gemma3Block,
  },
];

/**
 * Gemma 3's block: the llama block with query/key norms and a norm after attention and after the
 * feed-forward network (llama.cpp's gemma3 loader wants all four).
 */
function gemma3Block(shape: ModelShape): TensorPlan[] {
  const q = shape.heads * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  return [
    { name: "attn_norm.weight", shape: [shape.width], role: "norm" },
    { name: "attn_q.weight", shape: [shape.width, q], role: "matrix" },
    { name: "attn_k.weight", shape: [shape.width, kv], role: "matrix" },
    { name: "attn_v.weight", shape: [shape.width, kv], role: "matrix" },
    { name: "attn_output.weight", shape: [q, shape.width], role: "matrix" },
    { name: "attn_q_norm.weight", shape: [shape.headDim], role: "norm" },
    { name: "attn_k_norm.weight", shape: [shape.headDim], role: "norm" },
    { name: "post_attention_norm.weight", shape: [shape.width], role: "norm" },
    { name: "ffn_norm.weight", shape: [shape.width], role: "norm" },
    { name: "ffn_gate.weight", shape: [shape.width, shape.feedForward], role: "matrix" },
    { name: "ffn_up.weight", shape: [shape.width, shape.feedForward], role: "matrix" },
    { name: "ffn_down.weight", shape: [shape.feedForward, shape.width], role: "matrix" },
    { name: "post_ffw_norm.weight", shape: [shape.width], role: "norm" },
  ];
}

export function architectureByName(name: string): ArchitectureSpec | undefined {
  return ARCHITECTURES.find((spec) => spec.name === name);
}

/** Shared hyperparameter keys every architecture here carries. */
export function commonHyperparameters(spec: ArchitectureSpec, shape: ModelShape, vocabularySize: number): Array<[string, GgufValue]> {
  const key = (suffix: string): string => `${spec.name}.${suffix}`;
  return [
    [key("vocab_size"), u32(vocabularySize)],
    [key("context_length"), u32(shape.contextLength)],
    [key("embedding_length"), u32(shape.width)],
    [key("block_count"), u32(shape.layers)],
    [key("feed_forward_length"), u32(shape.feedForward)],
    [key("attention.head_count"), u32(shape.heads)],
    [key("attention.head_count_kv"), u32(shape.kvHeads)],
    [key("attention.layer_norm_rms_epsilon"), f32(spec.normEpsilon)],
    [key("rope.freq_base"), f32(spec.ropeFreqBase)],
  ];
}
