import { basename } from "node:path";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel, Token, TokenBias } from "node-llama-cpp";
import { readGgufHeader, summarizeModel } from "../gguf/index.js";
import { type ChatMessage, ChatTemplate } from "./chat-template.js";
import {
  type OutputGrammar,
  type Penalties,
  checkPenalties,
  checkTokenBias,
  compileGrammar,
  penaltiesOff,
  repeatPenaltyOption,
} from "./constraints.js";
import { EngineError } from "./errors.js";
import { createSpeculator, type Speculation, type Speculator } from "./speculation.js";
import { attentionShapeOf, kvCacheBytes } from "../fit/footprint.js";
import { NativeGeneration, lastTokens, nativeRuntimeAvailable } from "./native-generation.js";
import { GenerationOutput } from "./generation-output.js";
import { type Backend, getRuntime } from "./runtime.js";
import { DEFAULT_SAMPLING, type SamplingOptions, checkSampling } from "./sampling.js";
import { SequencePool, commonPrefixLength } from "./sequence-pool.js";

export interface LoadOptions {
  /** Tokens each sequence can hold (prompt + output). Default: the model's training context, at most 4096. */
  readonly contextSize?: number;
  /** Sequences decoded side by side, i.e. requests served at once. Default 1. */
  readonly parallel?: number;
  /** Requests that may wait for a sequence; beyond, generate() fails at once with BUSY. Default: no limit. */
  readonly maxQueue?: number;
  readonly backend?: Backend;
  /** Layers to offload to the GPU; "auto" fits as many as memory allows. */
  readonly gpuLayers?: "auto" | "max" | number;
  readonly threads?: number;
  readonly verbose?: boolean;
  /** Speculative decoding: a draft model or prompt lookup proposes tokens the model checks in batches. */
  readonly speculation?: Speculation;
  /**
   * What decodes: "native", slmkit's continuous batcher on llama.cpp's C API (the default on the CPU),
   * or "node-llama-cpp"'s sequences (the default with a GPU backend or speculative decoding, which the
   * native engine does not do).
   */
  readonly engine?: EngineKind;
}

export type EngineKind = "native" | "node-llama-cpp";

export interface GenerateRequest {
  /** The prompt as tokens, BOS included when the model wants one: see promptFromText / promptFromChat. */
  readonly prompt: readonly Token[];
  /** Most tokens to generate; the rest of the context when not given. */
  readonly maxTokens?: number;
  readonly sampling?: Partial<SamplingOptions>;
  /** Generation ends before any of these strings; they are not part of the output. */
  readonly stop?: readonly string[];
  /** Never end on an end-of-generation token (for benchmarks: always generate maxTokens). */
  readonly ignoreEos?: boolean;
  /** Output that must parse as JSON (or match a JSON schema), enforced token by token. */
  readonly grammar?: OutputGrammar;
  readonly penalties?: Penalties;
  /** Added to the logits of these tokens (OpenAI's logit_bias: -100 bans, +100 forces). */
  readonly tokenBias?: ReadonlyMap<number, number>;
  readonly signal?: AbortSignal;
  /**
   * Report each generated token's log probability and this many most likely alternatives (0 to
   * MAX_TOP_LOGPROBS); undefined: none. They are of the distribution the token was drawn from, after
   * temperature and the top-k/top-p/min-p filters (the model's own with temperature 0).
   */
  readonly logprobs?: number;
  /** Called with each piece of text as soon as it is final, with the log probabilities of the tokens it came from when asked. */
  readonly onText?: (text: string, logprobs?: readonly TokenLogprob[]) => void;
  /** Called as each token is generated (for timing; the text may still be held back). */
  readonly onToken?: () => void;
}

export type FinishReason = "stop" | "length" | "aborted";

/** Most alternatives per token a request may ask for (OpenAI's limit). */
export const MAX_TOP_LOGPROBS = 20;

export interface TokenAlternative {
  readonly token: Token;
  /** The token as text (a token that is part of a UTF-8 character shows as U+FFFD). */
  readonly text: string;
  /** Natural log of its probability; -Infinity when it could not be drawn. */
  readonly logprob: number;
}

export interface TokenLogprob extends TokenAlternative {
  /** The most likely tokens at that position, most likely first. */
  readonly top: readonly TokenAlternative[];
}

export interface GenerateResult {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
  /** Prompt tokens whose evaluation was reused from the previous request on the same sequence. */
  readonly reusedPromptTokens: number;
  readonly completionTokens: number;
  /** The generated tokens (end-of-generation token excluded). */
  readonly outputTokens: readonly Token[];
  /** Per output token, when the request asked for log probabilities. */
  readonly logprobs?: readonly TokenLogprob[];
  /** Proposed tokens the model accepted and rejected, under speculative decoding. */
  readonly speculation?: { readonly accepted: number; readonly rejected: number };
  /** From the request to the first generated token. */
  readonly promptMs: number;
  /** From the first generated token to the end. */
  readonly generationMs: number;
}

export const DEFAULT_CONTEXT_SIZE = 4096;

/** The name a model file is known by: its file name without `.gguf`. */
export function modelNameOf(path: string): string {
  return basename(path).replace(/\.gguf$/i, "");
}

/**
 * A model loaded into llama.cpp with a context of `parallel` sequences. Requests beyond that wait
 * for a free sequence; a request goes to the free sequence that already holds the longest part of
 * its prompt, so a growing conversation is not evaluated again from the start.
 */
export class LoadedModel {
  readonly name: string;
  readonly chatTemplate: ChatTemplate;
  private readonly specialTokens: { bos: string; eos: string };
  /** node-llama-cpp's sequences, when it decodes (engine "node-llama-cpp"). */
  private readonly sequences: SequencePool | undefined;
  private endOfGenerationTokens: Token[] | undefined;
  /** With the native engine node-llama-cpp holds only the vocabulary; embeddings load the weights on first use. */
  private embeddingModel: Promise<LlamaModel> | undefined;
  private embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
  /** Embedding requests run one at a time on the embedding context. */
  private embeddingQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly engine: { context: LlamaContext; speculator?: Speculator } | { native: NativeGeneration },
    readonly parallel: number,
    private readonly threads: number,
    maxQueue?: number,
  ) {
    this.name = modelNameOf(path);
    if ("context" in engine) {
      const speculator = engine.speculator;
      this.sequences = new SequencePool(
        Array.from({ length: parallel }, () => engine.context.getSequence(speculator ? { tokenPredictor: speculator.predictor() } : {})),
        this.name,
        maxQueue,
      );
    }
    const special = (token: Token | null): string => (token === null ? "" : model.detokenize([token], true));
    this.specialTokens = { bos: special(model.tokens.bos), eos: special(model.tokens.eos) };
    this.chatTemplate = new ChatTemplate(model.fileInfo.metadata.tokenizer?.chat_template, this.specialTokens);
  }

  static async load(path: string, options: LoadOptions = {}): Promise<LoadedModel> {
    const llama = await getRuntime({ backend: options.backend, verbose: options.verbose });
    // Where llama.cpp's C API cannot be reached (no prebuilt CPU library for this platform) the default
    // falls back to node-llama-cpp's sequences; /metrics' slmkit_model_engine_info tells which decodes.
    const engine: EngineKind = options.engine ?? (llama.gpu === false && options.speculation === undefined && nativeRuntimeAvailable() ? "native" : "node-llama-cpp");
    if (engine === "native" && options.speculation) throw new EngineError("BAD_OPTION", "speculative decoding runs on the node-llama-cpp engine; drop --engine native or the draft model");
    // node-llama-cpp's CPU default is max(4, cores) threads: on a 2-core machine its 4 threads spin
    // against each other and decoding runs ~400× slower (measured: 535 vs 1.2 ms/token on
    // stories260K). llama.cpp's own default is one thread per core; use that.
    const threads = options.threads ?? llama.cpuMathCores;
    let model: LlamaModel;
    try {
      // The native engine loads the weights itself: node-llama-cpp keeps only the vocabulary.
      model = await llama.loadModel({ modelPath: path, gpuLayers: options.gpuLayers ?? "auto", vocabOnly: engine === "native" });
    } catch (error) {
      throw new EngineError("LOAD_FAILED", `llama.cpp could not load ${path}: ${firstLine(error)}`);
    }
    const parallel = options.parallel ?? 1;
    // A vocabulary-only load knows no training context: the file's header does.
    const trainContext = engine === "native" ? (summarizeModel(readGgufHeader(path)).contextLength ?? DEFAULT_CONTEXT_SIZE) : model.trainContextSize;
    const contextSize = options.contextSize ?? Math.min(trainContext, DEFAULT_CONTEXT_SIZE);
    if (engine === "native") {
      try {
        const native = NativeGeneration.open(path, llama, model, { contextSize, parallel, maxQueue: options.maxQueue, threads, name: modelNameOf(path) });
        return new LoadedModel(path, llama, model, { native }, parallel, threads);
      } catch (error) {
        await model.dispose();
        throw error instanceof EngineError ? error : new EngineError("LOAD_FAILED", `could not load ${path} into the native engine: ${firstLine(error)}`);
      }
    }
    let context: LlamaContext;
    try {
      context = await model.createContext({ contextSize, sequences: parallel, threads });
    } catch (error) {
      await model.dispose();
      throw new EngineError("LOAD_FAILED", `could not create a context of ${contextSize} tokens × ${parallel} for ${path}: ${firstLine(error)}`);
    }
    let speculator: Speculator | undefined;
    if (options.speculation) {
      try {
        speculator = await createSpeculator(llama, model, options.speculation, { contextSize, sequences: parallel, threads: context.idealThreads });
      } catch (error) {
        await context.dispose();
        await model.dispose();
        throw error;
      }
    }
    return new LoadedModel(path, llama, model, { context, speculator }, parallel, threads, options.maxQueue);
  }

  /** Which engine decodes for this model. */
  get engineKind(): EngineKind {
    return "native" in this.engine ? "native" : "node-llama-cpp";
  }

  /** Sequences generating right now (at most `parallel`). */
  get busySequences(): number {
    return "native" in this.engine ? this.engine.native.busy : this.parallel - this.sequences!.freeCount;
  }

  /** Decodes the continuous batcher ran and the batch rows they carried (native engine; undefined otherwise). */
  get decodeStats(): { steps: number; rows: number } | undefined {
    return "native" in this.engine ? this.engine.native.decodeStats : undefined;
  }

  /** Requests waiting for a free sequence. */
  get waitingRequests(): number {
    return "native" in this.engine ? this.engine.native.queued : this.sequences!.waitingCount;
  }

  /**
   * Bytes of RAM and VRAM the model and its context occupy: as node-llama-cpp reports them, or for the
   * native engine its weights as llama.cpp loaded them plus the KV cache computed from the file's shape.
   */
  get memory(): { ram: number; vram: number } {
    if ("native" in this.engine) {
      this.cachedKvBytes ??= kvCacheBytes(attentionShapeOf(readGgufHeader(this.path)), this.contextSize * this.parallel);
      const embedding = this.loadedEmbeddingModel?.memoryUsage.ram ?? 0;
      return { ram: this.engine.native.weightsBytes + this.cachedKvBytes + this.model.memoryUsage.ram + embedding, vram: 0 };
    }
    const draft = this.engine.speculator?.memory ?? { ram: 0, vram: 0 };
    const context = this.engine.context;
    return {
      ram: this.model.memoryUsage.ram + context.memoryUsage.ram + draft.ram,
      vram: this.model.memoryUsage.vram + context.memoryUsage.vram + draft.vram,
    };
  }

  private cachedKvBytes: number | undefined;

  /** Tokens one sequence holds: prompt and output together. */
  get contextSize(): number {
    return "native" in this.engine ? this.engine.native.contextSize : this.engine.context.contextSize;
  }

  get trainContextSize(): number {
    return "native" in this.engine ? this.engine.native.trainingContext : this.model.trainContextSize;
  }

  /** Bytes of the model's weights as loaded. */
  get sizeBytes(): number {
    return "native" in this.engine ? this.engine.native.weightsBytes : this.model.size;
  }

  tokenize(text: string, options: { special?: boolean } = {}): Token[] {
    return this.model.tokenize(text, options.special ?? false);
  }

  /** Tokens as text; with `special`, control tokens (<|im_start|>, <think> ...) are written out too. */
  detokenize(tokens: readonly Token[], options: { special?: boolean } = {}): string {
    return this.model.detokenize(tokens, options.special ?? false);
  }

  /** A plain-text prompt as tokens, with BOS in front when the model expects one. */
  promptFromText(text: string): Token[] {
    return this.withBos(this.model.tokenize(text, false));
  }

  /**
   * The prompt for a chat: the template rendered (the model's own unless another is given), then
   * `assistantPrefix` (text the reply starts with); and the stop strings the template implies.
   */
  promptFromChat(
    messages: readonly ChatMessage[],
    variables?: Record<string, unknown>,
    assistantPrefix = "",
    template: ChatTemplate = this.chatTemplate,
  ): { tokens: Token[]; stop: readonly string[] } {
    const text = template.render(messages, variables) + assistantPrefix;
    return { tokens: this.withBos(this.model.tokenize(text, true)), stop: template.stopStrings };
  }

  /** Another Jinja chat template, with this model's special tokens (a Modelfile's TEMPLATE). */
  chatTemplateFrom(source: string): ChatTemplate {
    return new ChatTemplate(source, this.specialTokens);
  }

  private withBos(tokens: Token[]): Token[] {
    const bos = this.model.tokens.bos;
    if (bos === null || !this.model.tokens.shouldPrependBosToken || tokens[0] === bos) return tokens;
    return [bos, ...tokens];
  }

  /**
   * Throws the EngineError a request would fail with before generating anything (an empty or too
   * long prompt, sampling values out of range), so callers can answer it before committing to a
   * streamed response.
   */
  check(request: GenerateRequest): void {
    const problem =
      checkSampling(request.sampling ?? {}) ??
      checkPenalties(request.penalties) ??
      (request.tokenBias?.size ? checkTokenBias(request.tokenBias, this.vocabularySize) : undefined);
    if (problem !== undefined) throw new EngineError("BAD_OPTION", problem);
    if (request.logprobs !== undefined && !(Number.isInteger(request.logprobs) && request.logprobs >= 0 && request.logprobs <= MAX_TOP_LOGPROBS)) {
      throw new EngineError("BAD_OPTION", `top log probabilities must be a whole number from 0 to ${MAX_TOP_LOGPROBS}`);
    }
    if (request.prompt.length === 0) throw new EngineError("BAD_OPTION", "the prompt is empty");
    if (request.prompt.length >= this.contextSize) {
      throw new EngineError(
        "PROMPT_TOO_LONG",
        `the prompt is ${request.prompt.length} tokens but the context holds ${this.contextSize}; shorten it or load the model with a larger context`,
      );
    }
  }

  /**
   * check(), plus what needs a moment: compiling the request's grammar (a JSON schema the grammar
   * compiler cannot handle is a BAD_OPTION). Call it before committing to a streamed response.
   */
  async prepare(request: GenerateRequest): Promise<void> {
    this.check(request);
    if (request.grammar) await compileGrammar(this.llama, request.grammar);
  }

  private cachedVocabularySize: number | undefined;

  /** Tokens in the model's vocabulary (read from the file's header on first use). */
  get vocabularySize(): number {
    this.cachedVocabularySize ??= summarizeModel(readGgufHeader(this.path)).vocabularySize ?? 0;
    return this.cachedVocabularySize;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const started = performance.now();
    // Synchronous unless a grammar must be compiled: a request takes its sequence (or its place in
    // the queue) in the same tick it is made.
    this.check(request);
    if ("native" in this.engine) return this.engine.native.generate(request, started);
    if (request.grammar) await compileGrammar(this.llama, request.grammar);
    const prompt = request.prompt;
    const limit = this.contextSize - prompt.length;
    const maxTokens = Math.min(request.maxTokens ?? limit, limit);
    const sequences = this.sequences!;
    const sequence = await sequences.acquire(prompt, request.signal);
    try {
      if (request.signal?.aborted) throw new EngineError("ABORTED", "the request was cancelled before it started");
      const reused = await this.keepCommonPrefix(sequence, prompt);
      return await this.decode(sequence, request, prompt.slice(reused), maxTokens, { started, reused });
    } finally {
      sequences.release(sequence);
    }
  }

  private async decode(
    sequence: LlamaContextSequence,
    request: GenerateRequest,
    input: readonly Token[],
    maxTokens: number,
    meta: { started: number; reused: number },
  ): Promise<GenerateResult> {
    const sampling = { ...DEFAULT_SAMPLING, ...request.sampling };
    const output = new GenerationOutput(this.model, request, meta.started);
    const generated = output.generated;
    let finishReason: FinishReason = "length";
    const speculator = "context" in this.engine ? this.engine.speculator : undefined;
    const predictionsBefore = speculator ? { ...sequence.tokenPredictions } : undefined;
    // Prompt lookup proposes continuations of passages of the prompt: it is told the prompt.
    sequence.tokenPredictor?.updateInputTokens?.([...request.prompt]);
    if (maxTokens > 0 && !request.signal?.aborted) {
      const { LlamaGrammarEvaluationState } = await import("node-llama-cpp");
      const grammar = request.grammar ? await compileGrammar(this.llama, request.grammar) : undefined;
      const options = {
        temperature: sampling.temperature,
        topK: sampling.topK,
        topP: sampling.topP,
        minP: sampling.minP,
        seed: sampling.seed,
        tokenBias: await this.tokenBias(request),
        grammarEvaluationState: grammar ? new LlamaGrammarEvaluationState({ model: this.model, grammar }) : undefined,
        repeatPenalty: penaltiesOff(request.penalties) ? undefined : repeatPenaltyOption(request.penalties!, () => [...request.prompt, ...generated]),
        yieldEogToken: true,
      };
      // Distributions cost a JavaScript Map of the whole vocabulary per token: only when asked.
      const steps: AsyncIterable<{ token: Token; probabilities?: ReadonlyMap<Token, number> }> = output.wantsLogprobs
        ? sequence.evaluateWithMetadata([...input], { probabilities: true }, options)
        : mapAsync(sequence.evaluate([...input], options), (token) => ({ token }));
      for await (const { token, probabilities } of steps) {
        output.firstToken();
        if (this.model.isEogToken(token)) {
          finishReason = "stop";
          break;
        }
        // The tokens before this one decide how it reads (a leading space, a byte of a character).
        output.push(token, probabilities && this.tokenLogprob(token, probabilities, request.logprobs!, lastTokens(request.prompt, generated)));
        if (output.hitStop) {
          finishReason = "stop";
          break;
        }
        if (request.signal?.aborted) {
          finishReason = "aborted";
          break;
        }
        if (generated.length >= maxTokens) break;
      }
    } else if (request.signal?.aborted) {
      finishReason = "aborted";
    }
    return output.finish(finishReason, {
      reusedPromptTokens: meta.reused,
      ...(predictionsBefore && {
        speculation: { accepted: sequence.tokenPredictions.validated - predictionsBefore.validated, rejected: sequence.tokenPredictions.refuted - predictionsBefore.refuted },
      }),
    });
  }

  /** A drawn token's log probability and the `top` most likely tokens (the Map is ordered most likely first). */
  private tokenLogprob(token: Token, probabilities: ReadonlyMap<Token, number>, top: number, before: readonly Token[]): TokenLogprob {
    const alternative = (candidate: Token, probability: number | undefined): TokenAlternative => ({
      token: candidate,
      text: this.model.detokenize([candidate], false, before),
      logprob: probability === undefined || probability <= 0 ? -Infinity : Math.log(probability),
    });
    const alternatives: TokenAlternative[] = [];
    for (const [candidate, probability] of probabilities) {
      if (alternatives.length >= top) break;
      alternatives.push(alternative(candidate, probability));
    }
    return { ...alternative(token, probabilities.get(token)), top: alternatives };
  }

  /** Keeps the part of the sequence's cache that matches the prompt; returns its length. */
  private async keepCommonPrefix(sequence: LlamaContextSequence, prompt: readonly Token[]): Promise<number> {
    const cached = sequence.contextTokens;
    // The last prompt token is always evaluated again: its logits pick the first new token.
    const common = Math.min(commonPrefixLength(cached, prompt), prompt.length - 1);
    if (common < sequence.nextTokenIndex) {
      await sequence.eraseContextTokenRanges([{ start: common, end: sequence.nextTokenIndex }]);
    }
    return common;
  }

  /** The request's logit biases, with end-of-generation tokens banned under ignoreEos; undefined if none. */
  private async tokenBias(request: GenerateRequest): Promise<TokenBias | undefined> {
    if (!request.ignoreEos && (request.tokenBias === undefined || request.tokenBias.size === 0)) return undefined;
    const { TokenBias } = await import("node-llama-cpp");
    const bias = new TokenBias(this.model.tokenizer);
    for (const [token, value] of request.tokenBias ?? []) bias.set(token as Token, value <= -100 ? "never" : { logit: value });
    if (request.ignoreEos) {
      this.endOfGenerationTokens ??= findEndOfGenerationTokens(this.model, this.vocabularySize);
      for (const token of this.endOfGenerationTokens) bias.set(token, "never");
    }
    return bias;
  }

  /**
   * Embedding vectors of texts (one per text), from a separate embedding context made on first use,
   * and the tokens read. `normalize` scales each vector to length 1, as OpenAI's and Ollama's
   * /api/embed answers are.
   */
  async embed(texts: readonly string[], options: { normalize?: boolean; truncate?: boolean } = {}): Promise<{ vectors: number[][]; promptTokens: number }> {
    this.embeddingContext ??= this.weights().then((model) => model.createEmbeddingContext({ contextSize: Math.min(this.contextSize, this.trainContextSize), threads: this.threads }));
    const run = async (): Promise<{ vectors: number[][]; promptTokens: number }> => {
      const context = await this.embeddingContext!;
      const vectors: number[][] = [];
      let promptTokens = 0;
      for (const text of texts) {
        let tokens = this.model.tokenize(text, false);
        if (tokens.length === 0) throw new EngineError("BAD_OPTION", "an input to embed is empty");
        // The embedding context adds the model's beginning/end tokens and keeps one place free.
        const evaluated = context.calculateInputLength(tokens);
        const room = Math.min(this.contextSize, this.trainContextSize) - 1;
        if (evaluated > room) {
          if (!options.truncate) throw new EngineError("PROMPT_TOO_LONG", `an input to embed is ${evaluated} tokens but the embedding context holds ${room}`);
          tokens = tokens.slice(0, tokens.length - (evaluated - room));
        }
        promptTokens += Math.min(evaluated, room);
        const vector = [...(await context.getEmbeddingFor(tokens)).vector];
        if (options.normalize) {
          const length = Math.hypot(...vector);
          if (length > 0) for (let i = 0; i < vector.length; i++) vector[i]! /= length;
        }
        vectors.push(vector);
      }
      return { vectors, promptTokens };
    };
    const result = this.embeddingQueue.then(run, run);
    this.embeddingQueue = result.catch(() => undefined);
    return result;
  }

  /**
   * node-llama-cpp's model with its weights: the one loaded, or under the native engine (where
   * node-llama-cpp holds only the vocabulary) a second load made on first use, for embeddings.
   */
  private weights(): Promise<LlamaModel> {
    if (!("native" in this.engine)) return Promise.resolve(this.model);
    this.embeddingModel ??= this.llama.loadModel({ modelPath: this.path, gpuLayers: 0 }).then((model) => {
      this.loadedEmbeddingModel = model;
      return model;
    });
    return this.embeddingModel;
  }

  private loadedEmbeddingModel: LlamaModel | undefined;

  async dispose(): Promise<void> {
    this.sequences?.close();
    await (await this.embeddingContext?.catch(() => undefined))?.dispose();
    if ("native" in this.engine) {
      await this.engine.native.close();
      await (await this.embeddingModel?.catch(() => undefined))?.dispose();
    } else {
      await this.engine.context.dispose();
      await this.engine.speculator?.dispose();
    }
    await this.model.dispose();
  }
}

/** Every token llama.cpp treats as end of generation (EOS, EOT, <|im_end|> ...). */
function findEndOfGenerationTokens(model: LlamaModel, vocabularySize: number): Token[] {
  const found: Token[] = [];
  for (let token = 0; token < vocabularySize; token++) {
    if (model.isEogToken(token as Token)) found.push(token as Token);
  }
  return found;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

async function* mapAsync<T, U>(source: AsyncIterable<T>, map: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield map(item);
}
