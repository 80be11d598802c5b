import { type GgufValue, float32s, int32s, str, strings, u32, bool } from "../gguf/index.js";
import { countPieces, trainMerges } from "./bpe-trainer.js";
import { TOKENIZER_CORPUS } from "./corpus.js";

/** llama.cpp's token types (llama_token_type). */
const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, byte: 6 } as const;

export type TokenizerKind = "spm" | "bpe";

export interface SyntheticTokenizer {
  readonly kind: TokenizerKind;
  readonly vocabularySize: number;
  /** Metadata entries (tokenizer.ggml.*) to write into the GGUF. */
  readonly metadata: ReadonlyArray<[string, GgufValue]>;
}

export interface TokenizerOptions {
  /** Merges to learn from the corpus; more merges, longer tokens. */
  readonly merges?: number;
  /** Pad the vocabulary with filler tokens up to this size (to match a real model's shape). */
  readonly vocabularySize?: number;
}

const DEFAULT_MERGES = 400;

export function buildTokenizer(kind: TokenizerKind, options: TokenizerOptions = {}): SyntheticTokenizer {
  return kind === "spm" ? buildSentencePiece(options) : buildByteLevelBpe(options);
}

/**
 * A SentencePiece-style vocabulary as llama models carry it (tokenizer.ggml.model = "llama"):
 * <unk> <s> </s>, 256 byte-fallback tokens, the corpus's characters, then learned pieces whose
 * score orders the merges.
 */
function buildSentencePiece(options: TokenizerOptions): SyntheticTokenizer {
  const words = countPieces(
    TOKENIZER_CORPUS,
    (text) => text.split(/\s+/).filter((word) => word.length > 0).map((word) => `▁${word}`),
    (piece) => [...piece],
  );
  const { merges, alphabet } = trainMerges(words, options.merges ?? DEFAULT_MERGES);
  const vocab = new VocabularyBuilder();
  vocab.add("<unk>", TokenType.unknown, 0);
  vocab.add("<s>", TokenType.control, 0);
  vocab.add("</s>", TokenType.control, 0);
  for (let byte = 0; byte < 256; byte++) vocab.add(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.byte, 0);
  alphabet.forEach((symbol, index) => vocab.add(symbol, TokenType.normal, -(merges.length + index)));
  merges.forEach(([left, right], rank) => vocab.add(left + right, TokenType.normal, -rank));
  vocab.padTo(options.vocabularySize, (n) => `▁w${n.toString(36)}`, -1e6);
  return {
    kind: "spm",
    vocabularySize: vocab.size,
    metadata: [
      ["tokenizer.ggml.model", str("llama")],
      ["tokenizer.ggml.tokens", strings(vocab.tokens)],
      ["tokenizer.ggml.scores", float32s(vocab.scores)],
      ["tokenizer.ggml.token_type", int32s(vocab.types)],
      ["tokenizer.ggml.unknown_token_id", u32(0)],
      ["tokenizer.ggml.bos_token_id", u32(1)],
      ["tokenizer.ggml.eos_token_id", u32(2)],
      ["tokenizer.ggml.add_bos_token", bool(true)],
      ["tokenizer.ggml.add_eos_token", bool(false)],
    ],
  };
}

// The pre-tokenizer regex llama.cpp applies for tokenizer.ggml.pre = "qwen2".
const QWEN2_PRETOKENIZER =
  /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

const BPE_SPECIAL_TOKENS = [
  { text: "<|endoftext|>", type: TokenType.control },
  { text: "<|im_start|>", type: TokenType.control },
  { text: "<|im_end|>", type: TokenType.control },
  { text: "<think>", type: TokenType.userDefined },
  { text: "</think>", type: TokenType.userDefined },
] as const;

/**
 * A byte-level BPE vocabulary as Qwen models carry it (tokenizer.ggml.model = "gpt2", pre "qwen2"):
 * the 256 byte symbols, learned merges, and ChatML special tokens at the end.
 */
function buildByteLevelBpe(options: TokenizerOptions): SyntheticTokenizer {
  const byteToSymbol = byteLevelAlphabet();
  const toSymbols = (piece: string): string[] => [...Buffer.from(piece, "utf8")].map((byte) => byteToSymbol[byte]!);
  const words = countPieces(TOKENIZER_CORPUS, (text) => text.match(QWEN2_PRETOKENIZER) ?? [], toSymbols);
  const { merges } = trainMerges(words, options.merges ?? DEFAULT_MERGES);
  const vocab = new VocabularyBuilder();
  for (const symbol of byteToSymbol) vocab.add(symbol, TokenType.normal, 0);
  const mergeTexts: string[] = [];
  for (const [left, right] of merges) {
    if (vocab.add(left + right, TokenType.normal, 0)) mergeTexts.push(`${left} ${right}`);
  }
  const minimum = vocab.size + BPE_SPECIAL_TOKENS.length;
  if (options.vocabularySize !== undefined && options.vocabularySize < minimum) {
    throw new RangeError(`a vocabulary of ${options.vocabularySize} is too small: this tokenizer needs at least ${minimum} tokens`);
  }
  vocab.padTo(options.vocabularySize === undefined ? undefined : options.vocabularySize - BPE_SPECIAL_TOKENS.length, (n) => `Ġw${n.toString(36)}`, 0);
  const firstSpecial = vocab.size;
  for (const special of BPE_SPECIAL_TOKENS) vocab.add(special.text, special.type, 0);
  const idOf = (text: string): number => firstSpecial + BPE_SPECIAL_TOKENS.findIndex((special) => special.text === text);
  return {
    kind: "bpe",
    vocabularySize: vocab.size,
    metadata: [
      ["tokenizer.ggml.model", str("gpt2")],
      ["tokenizer.ggml.pre", str("qwen2")],
      ["tokenizer.ggml.tokens", strings(vocab.tokens)],
      ["tokenizer.ggml.token_type", int32s(vocab.types)],
      ["tokenizer.ggml.merges", strings(mergeTexts)],
      ["tokenizer.ggml.eos_token_id", u32(idOf("<|im_end|>"))],
      ["tokenizer.ggml.padding_token_id", u32(idOf("<|endoftext|>"))],
      ["tokenizer.ggml.bos_token_id", u32(idOf("<|endoftext|>"))],
      ["tokenizer.ggml.add_bos_token", bool(false)],
    ],
  };
}

/**
 * GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for
 * themselves, the rest are shifted above U+0100, so every byte string is a visible string.
 */
function byteLevelAlphabet(): string[] {
  const symbols: string[] = new Array<string>(256);
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    symbols[byte] = String.fromCodePoint(printable ? byte : 256 + shifted++);
  }
  return symbols;
}

class VocabularyBuilder {
  readonly tokens: string[] = [];
  readonly scores: number[] = [];
  readonly types: number[] = [];
  private readonly seen = new Set<string>();

  get size(): number {
    return this.tokens.length;
  }

  /** Adds a token unless it is already there; says whether it was added. */
  add(text: string, type: number, score: number): boolean {
    if (this.seen.has(text)) return false;
    this.seen.add(text);
    this.tokens.push(text);
    this.types.push(type);
    this.scores.push(score);
    return true;
  }

  padTo(size: number | undefined, filler: (n: number) => string, score: number): void {
    if (size === undefined) return;
    if (size < this.size) throw new RangeError(`a vocabulary of ${size} is too small: this tokenizer needs at least ${this.size} tokens`);
    for (let n = 0; this.size < size; n++) this.add(filler(n), TokenType.normal, score);
  }
}
