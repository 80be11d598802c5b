/**
 * A model and one context driven directly through llama.cpp's C API: decodes with chosen output rows
 * (on the JS thread, or on a worker with decodeAsync), logits read in place, llama.cpp sampler chains.
 * Used by bench and eval, and by the continuous batcher that serves.
 */
import { availableParallelism } from "node:os";
import { EngineError } from "../errors.js";
import { largestIndex } from "./largest-index.js";
import { type NativeBatch, type NativePointer, type SamplerSettings, llamaLibrary } from "./llama-library.js";

/** A llama.cpp sampler chain bound to one model's context; free it when its sequence ends. */
export interface NativeSampler {
  /** Draws the token for batch row `row` of the last decode (that row must have asked for logits). */
  sample(row: number): number;
  free(): void;
}

export interface NativeModelOptions {
  /** Context cells in total (all sequences together). */
  readonly contextSize: number;
  /** Largest batch one decode call takes (llama.cpp's n_batch). */
  readonly batchSize?: number;
  /** Physical micro-batch (n_ubatch). Default 512, as llama.cpp's. */
  readonly microBatchSize?: number;
  /** Independent sequences the context holds (n_seq_max). Default 1. */
  readonly sequences?: number;
  /**
   * Most rows one decode may return logits for (llama.cpp's n_outputs_max; at least `sequences`).
   * llama.cpp reserves its compute buffer for a micro-batch's worth of logits rows by default: 512 ×
   * vocabulary × 4 bytes, 297 MiB of the 309 MiB it reserves for a qwen3-0.6b-shaped model. A decoder
   * that asks for one row per sequence (continuous batching) needs only `sequences` rows. A decode
   * asking for more is refused (llama.cpp would abort the process). Default: the batch size.
   */
  readonly outputRows?: number;
  /** CPU threads; default: every core this process may use. */
  readonly threads?: number;
  /** One KV cache shared by all sequences (llama.cpp's kv_unified) instead of one stream each. Default: llama.cpp's (separate). */
  readonly unifiedCache?: boolean;
  /** How long idle CPU threads spin waiting for work, 0–100 (ggml's poll). Default 50, as llama-bench. */
  readonly poll?: number;
  /** Layers to offload; the prebuilt library used here is CPU-only, so 0 unless that changes. */
  readonly gpuLayers?: number;
}

export interface ModelDescription {
  /** llama.cpp's llama_model_desc, e.g. "llama 7B Q4_0" (llama-bench's model_type). */
  readonly type: string;
  /** Bytes of all weight tensors (llama-bench's model_size). */
  readonly sizeBytes: number;
  readonly parameterCount: number;
  readonly vocabularySize: number;
  readonly trainingContext: number;
  readonly addsBos: boolean;
  readonly bosToken: number;
}

/** One row of a batch: a token at a position in a sequence, with or without its logits. */
export interface BatchRow {
  readonly token: number;
  readonly position: number;
  readonly sequence?: number;
  readonly output?: boolean;
}

export class NativeModel {
  readonly description: ModelDescription;
  readonly contextSize: number;
  readonly batchSize: number;
  /** Most rows of logits one decode may ask for (see NativeModelOptions.outputRows). */
  readonly outputRows: number;
  readonly threads: number;
  private readonly library = llamaLibrary();
  private model: NativePointer | undefined;
  private context: NativePointer | undefined;
  private threadpool: NativePointer | undefined;
  /** Views of logits rows by their address (see logitsOfRow). */
  private readonly rowViews = new Map<bigint, Float32Array>();
  private readonly vocab: NativePointer;
  /** Per token: 0 not asked yet, 1 not an end of generation, 2 an end of generation (one FFI call per token otherwise). */
  private readonly endOfGeneration: Uint8Array;
  private readonly batch: NativeBatch;
  private readonly batchTokens: Int32Array;
  private readonly batchPositions: Int32Array;
  private readonly batchOutputs: Int8Array;
  private readonly batchSequences: Int32Array[];
  private outputCount = 0;

  private constructor(path: string, options: NativeModelOptions) {
    const lib = this.library;
    const modelParams = lib.modelDefaultParams();
    modelParams.n_gpu_layers = options.gpuLayers ?? 0;
    const model = lib.loadModel(path, modelParams);
    if (model === null) throw new EngineError("LOAD_FAILED", `llama.cpp could not load ${path}; check it with \`slmkit inspect ${path}\``);
    this.model = model;
    const contextParams = lib.contextDefaultParams();
    const sequences = options.sequences ?? 1;
    this.batchSize = Math.min(options.batchSize ?? 2048, options.contextSize);
    contextParams.n_ctx = options.contextSize;
    contextParams.n_batch = this.batchSize;
    contextParams.n_ubatch = Math.min(options.microBatchSize ?? 512, this.batchSize);
    contextParams.n_seq_max = sequences;
    this.outputRows = Math.min(Math.max(options.outputRows ?? this.batchSize, sequences), this.batchSize);
    contextParams.n_outputs_max = this.outputRows;
    contextParams.no_perf = true;
    if (options.unifiedCache !== undefined) contextParams.kv_unified = options.unifiedCache;
    // llama.cpp's own default (4) oversubscribes small machines, where its spinning threads cost 10×.
    const threads = options.threads ?? availableParallelism();
    this.threads = threads;
    contextParams.n_threads = threads;
    contextParams.n_threads_batch = threads;
    const context = lib.initContext(model, contextParams);
    if (context === null) {
      lib.freeModel(model);
      throw new EngineError("LOAD_FAILED", `llama.cpp could not make a ${options.contextSize}-cell context for ${path}; try a smaller --ctx`);
    }
    this.context = context;
    this.threadpool = lib.threadpoolNew(threads, options.poll ?? 50) ?? undefined;
    if (this.threadpool !== undefined) lib.attachThreadpool(context, this.threadpool, this.threadpool);
    this.contextSize = lib.contextSize(context);
    this.vocab = lib.modelVocab(model);
    const buffer = Buffer.alloc(256);
    const length = lib.modelDescription(model, buffer, buffer.length);
    this.description = {
      type: buffer.subarray(0, Math.max(0, length)).toString("utf8"),
      sizeBytes: Number(lib.modelSize(model)),
      parameterCount: Number(lib.modelParameterCount(model)),
      vocabularySize: lib.vocabTokenCount(this.vocab),
      trainingContext: lib.modelTrainingContext(model),
      addsBos: lib.vocabAddsBos(this.vocab),
      bosToken: lib.vocabBos(this.vocab),
    };
    this.endOfGeneration = new Uint8Array(this.description.vocabularySize);
    this.batch = lib.batchInit(this.batchSize, 0, 1);
    const rows = this.batchSize;
    this.batchTokens = new Int32Array(this.library.view(this.batch.token, rows * 4));
    this.batchPositions = new Int32Array(this.library.view(this.batch.pos, rows * 4));
    this.batchOutputs = new Int8Array(this.library.view(this.batch.logits, rows));
    new Int32Array(this.library.view(this.batch.n_seq_id, rows * 4)).fill(1);
    const sequencePointers = this.library.pointers(this.batch.seq_id, rows);
    this.batchSequences = sequencePointers.map((pointer) => new Int32Array(this.library.view(pointer, 4)));
  }

  /** Loads a GGUF file (llama.cpp maps it; nothing is read into JS memory). */
  static open(path: string, options: NativeModelOptions): NativeModel {
    return new NativeModel(path, options);
  }

  /** Tokens of `text`, with BOS when the model adds one and `addSpecial` is set (llama.cpp's common_tokenize). */
  tokenize(text: string, addSpecial = true): Int32Array {
    const bytes = Buffer.from(text, "utf8");
    // A first call with no room returns minus the number of tokens needed.
    const needed = -this.library.tokenize(this.vocab, bytes, bytes.length, null, 0, addSpecial, false);
    if (needed <= 0) return new Int32Array(0);
    const tokens = new Int32Array(needed);
    const written = this.library.tokenize(this.vocab, bytes, bytes.length, tokens, needed, addSpecial, false);
    if (written < 0) throw new EngineError("TOKENIZE_FAILED", `tokenizing ${bytes.length} bytes failed (${written})`);
    return tokens.subarray(0, written);
  }

  /** Tokens as text (llama_detokenize); with `special`, control tokens are written out too. */
  detokenize(tokens: Int32Array, special = false): string {
    // A first call with no room returns minus the bytes needed.
    const needed = -this.library.detokenize(this.vocab, tokens, tokens.length, null, 0, false, special);
    if (needed <= 0) return "";
    const text = Buffer.alloc(needed);
    const written = this.library.detokenize(this.vocab, tokens, tokens.length, text, needed, false, special);
    return text.subarray(0, Math.max(0, written)).toString("utf8");
  }

  /**
   * Decodes up to batchSize rows in one llama_decode. Rows marked `output` get logits, in row order,
   * readable through logitsOf until the next decode.
   */
  decode(rows: readonly BatchRow[]): void {
    this.run(rows.length, this.fill(rows));
  }

  /**
   * decode() on a worker thread, leaving the JS thread free (to answer HTTP) while llama.cpp computes.
   * Until it settles, call nothing else on this model.
   */
  async decodeAsync(rows: readonly BatchRow[]): Promise<void> {
    const outputs = this.fill(rows);
    this.checkOutputs(outputs);
    this.batch.n_tokens = rows.length;
    this.check(await this.library.decodeAsync(this.liveContext(), this.batch), rows.length, outputs);
  }

  /** Writes rows into the batch; returns how many ask for logits. */
  private fill(rows: readonly BatchRow[]): number {
    if (rows.length > this.batchSize) throw new EngineError("BAD_OPTION", `a batch of ${rows.length} rows exceeds the batch size ${this.batchSize}`);
    let outputs = 0;
    for (let index = 0; index < rows.length; index++) {
      const row = rows[index]!;
      this.batchTokens[index] = row.token;
      this.batchPositions[index] = row.position;
      this.batchSequences[index]![0] = row.sequence ?? 0;
      this.batchOutputs[index] = row.output === true ? 1 : 0;
      if (row.output === true) outputs++;
    }
    return outputs;
  }

  /**
   * Decodes `count` tokens of one sequence at consecutive positions from `firstPosition`, with logits
   * for those at or after `firstOutputPosition` (Infinity: none). The fast path for chunks and benchmarks.
   */
  decodeRun(tokens: Int32Array, firstPosition: number, sequence = 0, firstOutputPosition = Infinity): void {
    const count = tokens.length;
    if (count > this.batchSize) throw new EngineError("BAD_OPTION", `a batch of ${count} rows exceeds the batch size ${this.batchSize}`);
    this.batchTokens.set(tokens);
    let outputs = 0;
    for (let index = 0; index < count; index++) {
      const position = firstPosition + index;
      this.batchPositions[index] = position;
      this.batchSequences[index]![0] = sequence;
      const output = position >= firstOutputPosition;
      this.batchOutputs[index] = output ? 1 : 0;
      if (output) outputs++;
    }
    this.run(count, outputs);
  }

  /** Logits of the i-th output row of the last decode: a view into llama.cpp's buffer, valid until the next decode. */
  logitsOf(outputIndex: number): Float32Array {
    if (outputIndex < 0 || outputIndex >= this.outputCount) throw new EngineError("BAD_OPTION", `output ${outputIndex} of ${this.outputCount}`);
    const pointer = this.library.logits(this.liveContext());
    if (pointer === null) throw new EngineError("DECODE_FAILED", "llama.cpp returned no logits");
    const vocabulary = this.description.vocabularySize;
    const all = new Float32Array(this.library.view(pointer, this.outputCount * vocabulary * 4));
    return all.subarray(outputIndex * vocabulary, (outputIndex + 1) * vocabulary);
  }

  /** Forgets every sequence in the KV cache (llama_memory_clear). */
  clear(): void {
    this.library.memoryClear(this.library.memory(this.liveContext()), true);
  }

  /** Drops a sequence's cells from position `from` on (all of them by default), freeing them for others. */
  removeSequence(sequence: number, from = -1): void {
    this.library.memorySequenceRemove(this.library.memory(this.liveContext()), sequence, from, -1);
  }

  /** Whether `token` ends generation (end of sequence, end of turn ...). */
  isEndOfGeneration(token: number): boolean {
    let known = this.endOfGeneration[token];
    if (known === undefined) return this.library.vocabIsEndOfGeneration(this.vocab, token);
    if (known === 0) {
      known = this.library.vocabIsEndOfGeneration(this.vocab, token) ? 2 : 1;
      this.endOfGeneration[token] = known;
    }
    return known === 2;
  }

  /** Logits of batch row `row` of the last decode (a row that asked for them): a view valid until the next decode. */
  logitsOfRow(row: number): Float32Array {
    const pointer = this.library.logitsOfRow(this.liveContext(), row);
    if (pointer === null) throw new EngineError("DECODE_FAILED", `llama.cpp has no logits for batch row ${row}`);
    // llama.cpp keeps its logits buffer from decode to decode: the views of its rows are made once (a
    // fresh external buffer per token cost more than the greedy scan over it, and fed the GC).
    const address = this.library.address(pointer);
    let view = this.rowViews.get(address);
    if (view === undefined) {
      if (this.rowViews.size >= 256) this.rowViews.clear();
      view = new Float32Array(this.library.view(pointer, this.description.vocabularySize * 4));
      this.rowViews.set(address, view);
    }
    return view;
  }

  sampler(settings: SamplerSettings): NativeSampler {
    if (settings.temperature <= 0 && settings.grammar === undefined && settings.penalties === undefined) {
      // Greedy: an argmax over the logits in place (with the biases added). llama.cpp's sampler first
      // copies the whole vocabulary into a candidate array.
      const bias = settings.bias ?? new Map<number, number>();
      return { sample: (row) => argmax(this.logitsOfRow(row), bias), free: () => undefined };
    }
    const chain = this.library.samplerChain(settings, this.vocab);
    let freed = false;
    return {
      sample: (row) => this.library.samplerSample(chain, this.liveContext(), row),
      free: () => {
        if (freed) return;
        freed = true;
        this.library.samplerFree(chain);
      },
    };
  }

  /** Waits for queued work (GPU backends); on the CPU decode is already synchronous. */
  synchronize(): void {
    this.library.synchronize(this.liveContext());
  }

  close(): void {
    this.rowViews.clear();
    if (this.context !== undefined) {
      this.library.batchFree(this.batch);
      this.library.freeContext(this.context);
      this.context = undefined;
    }
    if (this.threadpool !== undefined) {
      this.library.threadpoolFree(this.threadpool);
      this.threadpool = undefined;
    }
    if (this.model !== undefined) {
      this.library.freeModel(this.model);
      this.model = undefined;
    }
  }

  private run(count: number, outputs: number): void {
    this.checkOutputs(outputs);
    this.batch.n_tokens = count;
    this.check(this.library.decode(this.liveContext(), this.batch), count, outputs);
  }

  private checkOutputs(outputs: number): void {
    if (outputs > this.outputRows) throw new EngineError("BAD_OPTION", `a decode asking for ${outputs} rows of logits; this context was opened for ${this.outputRows} (outputRows)`);
  }

  private check(status: number, count: number, outputs: number): void {
    if (status !== 0) {
      throw new EngineError("DECODE_FAILED", `llama_decode returned ${status} for ${count} rows${status === 1 ? " (no room in the KV cache: clear it or use a larger context)" : ""}`);
    }
    this.outputCount = outputs;
  }

  private liveContext(): NativePointer {
    if (this.context === undefined) throw new EngineError("BAD_OPTION", "the model is closed");
    return this.context;
  }
}

/** The token with the largest logit once `bias` is added (the first of equals, as llama.cpp's greedy sampler). */
function argmax(logits: Float32Array, bias: ReadonlyMap<number, number>): number {
  // A scan of the raw logits (no bias lookups in the hot loop), then the biased tokens compared with their bias added.
  let best = largestIndex(logits);
  let bestValue = logits[best]!;
  if (bias.size === 0) return best;
  if (bias.has(best)) {
    // The winner is biased (banned, say): find the best of the others the slow way.
    best = -1;
    bestValue = -Infinity;
    for (let token = 0; token < logits.length; token++) {
      const value = logits[token]!;
      if (value > bestValue && !bias.has(token)) {
        bestValue = value;
        best = token;
      }
    }
  }
  for (const [token, add] of bias) {
    const value = logits[token]! + add;
    if (value > bestValue || (value === bestValue && token < best)) {
      bestValue = value;
      best = token;
    }
  }
  return best === -1 ? 0 : best;
}
