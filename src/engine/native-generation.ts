/**
 * Generation for `LoadedModel` on slmkit's own continuous batcher (llama.cpp's C API through koffi):
 * one decode per step for every running request, llama.cpp's sampler chains for sampling, logit
 * biases, penalties and grammars; stop strings, text and log probabilities in JS. node-llama-cpp still
 * provides the tokenizer, the chat template and the grammar compiler (a vocabulary-only load).
 *
 * Why not node-llama-cpp's own sequences: 4 of them decoded only 1.07× the tokens/s of one on a
 * qwen3-0.6b-shaped Q4_0 model, where llama.cpp's batched decode gains 2×; see BENCHMARKS.md.
 */
import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { compileGrammar, DEFAULT_PENALTY_WINDOW, penaltiesOff } from "./constraints.js";
import { GenerationOutput } from "./generation-output.js";
import type { FinishReason, GenerateRequest, GenerateResult, TokenAlternative, TokenLogprob } from "./model.js";
import { ContinuousBatcher } from "./native/continuous-batcher.js";
import { type SamplerSettings, llamaLibrary } from "./native/llama-library.js";
import { NativeModel } from "./native/native-model.js";
import { DEFAULT_SAMPLING } from "./sampling.js";
import { tokenDistribution } from "./token-distribution.js";

export interface NativeGenerationOptions {
  /** Cells per sequence. */
  readonly contextSize: number;
  readonly parallel: number;
  readonly maxQueue?: number;
  readonly threads?: number;
  readonly name: string;
}

export class NativeGeneration {
  private readonly batcher: ContinuousBatcher;
  private endOfGenerationTokens: number[] | undefined;

  private constructor(
    private readonly native: NativeModel,
    private readonly llama: Llama,
    /** node-llama-cpp's view of the same file (the vocabulary at least): text of tokens. */
    private readonly vocabulary: LlamaModel,
    options: NativeGenerationOptions,
  ) {
    this.batcher = new ContinuousBatcher(native, options.parallel, { maxQueue: options.maxQueue, name: `model ${options.name}` });
  }

  static open(path: string, llama: Llama, vocabulary: LlamaModel, options: NativeGenerationOptions): NativeGeneration {
    const native = NativeModel.open(path, {
      contextSize: options.contextSize * options.parallel,
      sequences: options.parallel,
      // One KV stream per sequence (llama-server's default). A unified cache let each row's attention
      // span every sequence's cells, and sequences keep theirs for prefix reuse: 4 clients on the
      // qwen3-0.6b twin made 52–57 tokens/s unified against 61–64 separate (bench/serve, alternating).
      unifiedCache: false,
      batchSize: Math.min(2048, options.contextSize * options.parallel),
      // The batcher asks for one row of logits per sequence a step, as llama-server does: a compute
      // buffer reserved for that many rows, not 512 (309 → 26.5 MiB on the qwen3-0.6b twin, 4 sequences).
      outputRows: options.parallel,
      threads: options.threads,
    });
    return new NativeGeneration(native, llama, vocabulary, options);
  }

  /** Cells one sequence holds: prompt and output together. */
  get contextSize(): number {
    return this.batcher.cellsPerSequence;
  }

  get busy(): number {
    return this.batcher.busy;
  }

  get queued(): number {
    return this.batcher.queued;
  }

  /** Decodes run so far and the batch rows they carried. */
  get decodeStats(): { steps: number; rows: number } {
    return { steps: this.batcher.stats.steps, rows: this.batcher.stats.rows };
  }

  /** The context the model was trained with. */
  get trainingContext(): number {
    return this.native.description.trainingContext;
  }

  /** Bytes of the weights as llama.cpp loaded them. */
  get weightsBytes(): number {
    return this.native.description.sizeBytes;
  }

  async generate(request: GenerateRequest, started: number): Promise<GenerateResult> {
    const prompt = Int32Array.from(request.prompt);
    const maxTokens = Math.min(request.maxTokens ?? Infinity, this.contextSize - prompt.length);
    const sampling = { ...DEFAULT_SAMPLING, ...request.sampling };
    const bias = this.biasOf(request);
    const settings: SamplerSettings = {
      temperature: sampling.temperature,
      topK: sampling.topK,
      topP: sampling.topP,
      minP: sampling.minP,
      seed: sampling.seed ?? Math.floor(Math.random() * 2 ** 32),
      ...(bias && { bias }),
      ...(request.grammar && { grammar: await this.grammarOf(request.grammar) }),
      ...(!penaltiesOff(request.penalties) && { penalties: this.penaltiesOf(request, prompt) }),
    };
    const output = new GenerationOutput(this.vocabulary, request, started);
    let result: { finishReason: FinishReason; reusedPromptTokens: number } = { finishReason: "length", reusedPromptTokens: 0 };
    if (maxTokens > 0) {
      result = await this.batcher.generate({
        prompt,
        maxTokens,
        sampling: settings,
        signal: request.signal,
        wantLogits: output.wantsLogprobs,
        onToken: (token, logits) => {
          // The tokens before this one decide how it reads (a leading space, a byte of a character).
          const logprob = logits && this.tokenLogprob(token as Token, logits, sampling, bias, request.logprobs!, lastTokens(request.prompt, output.generated));
          output.push(token as Token, logprob);
          return output.hitStop || request.signal?.aborted === true;
        },
      });
    }
    const finishReason: FinishReason = output.hitStop ? "stop" : request.signal?.aborted ? "aborted" : result.finishReason;
    return output.finish(finishReason, { reusedPromptTokens: result.reusedPromptTokens });
  }

  /** Ends running requests as aborted, waits for the decode in flight, frees the model. */
  async close(): Promise<void> {
    await this.batcher.close();
    this.native.close();
  }

  /** The request's logit biases (-100 bans), with every end-of-generation token banned under ignoreEos. */
  private biasOf(request: GenerateRequest): Map<number, number> | undefined {
    if (!request.ignoreEos && (request.tokenBias === undefined || request.tokenBias.size === 0)) return undefined;
    const bias = new Map<number, number>();
    for (const [token, value] of request.tokenBias ?? []) bias.set(token, value <= -100 ? -Infinity : value);
    if (request.ignoreEos) {
      this.endOfGenerationTokens ??= this.findEndOfGenerationTokens();
      for (const token of this.endOfGenerationTokens) bias.set(token, -Infinity);
    }
    return bias;
  }

  private findEndOfGenerationTokens(): number[] {
    const found: number[] = [];
    for (let token = 0; token < this.native.description.vocabularySize; token++) if (this.native.isEndOfGeneration(token)) found.push(token);
    return found;
  }

  private async grammarOf(grammar: NonNullable<GenerateRequest["grammar"]>): Promise<{ text: string; root: string }> {
    const compiled = await compileGrammar(this.llama, grammar);
    return { text: compiled.grammar, root: compiled.rootRuleName };
  }

  private penaltiesOf(request: GenerateRequest, prompt: Int32Array) {
    const penalties = request.penalties!;
    const window = penalties.lastTokens ?? DEFAULT_PENALTY_WINDOW;
    return {
      // llama.cpp's window of 0 turns penalties off, as ours does; -1 (everything) is the whole sequence.
      lastTokens: window < 0 ? this.contextSize : window,
      repeat: penalties.repeat ?? 1,
      frequency: penalties.frequency ?? 0,
      presence: penalties.presence ?? 0,
      history: prompt,
    };
  }

  /** A drawn token's log probability and the `top` most likely tokens at its position. */
  private tokenLogprob(
    token: Token,
    logits: Float32Array,
    sampling: typeof DEFAULT_SAMPLING,
    bias: ReadonlyMap<number, number> | undefined,
    top: number,
    before: readonly Token[],
  ): TokenLogprob {
    const distribution = tokenDistribution(logits, sampling, bias);
    const alternative = (candidate: number, logprob: number): TokenAlternative => ({
      token: candidate as Token,
      text: this.vocabulary.detokenize([candidate as Token], false, before),
      logprob,
    });
    const alternatives = distribution.top(top).map(({ token: candidate, probability }) => alternative(candidate, probability > 0 ? Math.log(probability) : -Infinity));
    return { ...alternative(token, distribution.logprobOf(token)), top: alternatives };
  }
}

/** The last few tokens of prompt + output: enough context to read the next token as text. */
export function lastTokens(prompt: readonly Token[], generated: readonly Token[], count = 8): Token[] {
  const fromGenerated = generated.slice(-count);
  return fromGenerated.length >= count ? fromGenerated : [...prompt.slice(-(count - fromGenerated.length)), ...fromGenerated];
}

/** Whether llama.cpp's C API can be loaded here (node-llama-cpp's prebuilt CPU library and koffi). */
export function nativeRuntimeAvailable(): boolean {
  try {
    llamaLibrary();
    return true;
  } catch {
    return false;
  }
}
