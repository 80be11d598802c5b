/**
 * llama.cpp's C API, called through an FFI (koffi) on the libllama that node-llama-cpp ships.
 *
 * Why: node-llama-cpp gives next-token distributions only as a JS Map per position (~160 ms per position
 * on a 152k vocabulary) and always samples after a decode. Perplexity, KL-divergence and llama-bench-style
 * speed runs need the raw logits of every position and decodes without sampling, as llama.cpp's own tools
 * do. The struct layouts below follow llama.h of the llama.cpp release node-llama-cpp 3.21.1 bundles;
 * a different release may reorder them, which is why the package pins node-llama-cpp exactly.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, sep } from "node:path";
import type koffiModule from "koffi";
import { EngineError } from "../errors.js";

/** An opaque pointer handed back by the C API (model, context, vocabulary, memory). */
export type NativePointer = object;

/** A llama_batch as koffi decodes it: pointer fields stay native, n_tokens is set before each decode. */
export interface NativeBatch {
  n_tokens: number;
  readonly token: NativePointer;
  readonly embd: NativePointer | null;
  readonly pos: NativePointer;
  readonly n_seq_id: NativePointer;
  readonly seq_id: NativePointer;
  readonly logits: NativePointer;
}

export interface SamplerSettings {
  readonly temperature: number;
  /** 0: off. */
  readonly topK: number;
  /** 1: off. */
  readonly topP: number;
  /** 0: off. */
  readonly minP: number;
  readonly seed: number;
  /** Added to token logits before anything else (-Infinity bans a token). */
  readonly bias?: ReadonlyMap<number, number>;
  /** Penalties on recently seen tokens; `history` (the prompt's end) counts as seen from the start. */
  readonly penalties?: SamplerPenalties;
  /** A GBNF grammar the output must follow (llama.cpp's grammar sampler; applied to every candidate). */
  readonly grammar?: { readonly text: string; readonly root: string };
}

export interface SamplerPenalties {
  /** Latest tokens that count (llama.cpp's penalty_last_n; 0 turns penalties off, so pass the context size for "all"). */
  readonly lastTokens: number;
  /** Divides the logits of seen tokens (1: off). */
  readonly repeat: number;
  /** Subtracted per occurrence (0: off). */
  readonly frequency: number;
  /** Subtracted once from every seen token (0: off). */
  readonly presence: number;
  readonly history: ArrayLike<number>;
}

export type ModelParams = Record<string, unknown> & { n_gpu_layers: number; use_extra_bufts: boolean };
export type ContextParams = Record<string, unknown> & {
  n_ctx: number;
  n_batch: number;
  n_ubatch: number;
  n_seq_max: number;
  n_threads: number;
  n_threads_batch: number;
  no_perf: boolean;
  kv_unified: boolean;
};

/** The functions of llama.h slmkit calls, typed. */
export interface LlamaLibrary {
  /** The directory the libraries were loaded from (node-llama-cpp's prebuilt binaries). */
  readonly directory: string;
  /** The llama.cpp release node-llama-cpp built these libraries from (its build metadata), or "unknown". */
  readonly release: string;
  modelDefaultParams(): ModelParams;
  contextDefaultParams(): ContextParams;
  loadModel(path: string, params: ModelParams): NativePointer | null;
  freeModel(model: NativePointer): void;
  initContext(model: NativePointer, params: ContextParams): NativePointer | null;
  freeContext(context: NativePointer): void;
  modelVocab(model: NativePointer): NativePointer;
  modelParameterCount(model: NativePointer): bigint | number;
  modelSize(model: NativePointer): bigint | number;
  modelDescription(model: NativePointer, buffer: Buffer, size: number): number;
  modelTrainingContext(model: NativePointer): number;
  vocabTokenCount(vocab: NativePointer): number;
  vocabBos(vocab: NativePointer): number;
  vocabAddsBos(vocab: NativePointer): boolean;
  vocabAddsEos(vocab: NativePointer): boolean;
  tokenize(vocab: NativePointer, text: Buffer, textLength: number, tokens: Int32Array | null, maxTokens: number, addSpecial: boolean, parseSpecial: boolean): number;
  detokenize(vocab: NativePointer, tokens: Int32Array, count: number, text: Buffer | null, maxBytes: number, removeSpecial: boolean, unparseSpecial: boolean): number;
  batchInit(tokens: number, embeddings: number, maxSequences: number): NativeBatch;
  batchFree(batch: NativeBatch): void;
  decode(context: NativePointer, batch: NativeBatch): number;
  /** llama_decode on a libuv worker thread: the JS thread stays free meanwhile. Touch nothing of the context until it settles. */
  decodeAsync(context: NativePointer, batch: NativeBatch): Promise<number>;
  synchronize(context: NativePointer): void;
  logits(context: NativePointer): NativePointer | null;
  /** The logits of batch row `row` of the last decode (the row must have asked for them). */
  logitsOfRow(context: NativePointer, row: number): NativePointer | null;
  memory(context: NativePointer): NativePointer;
  memoryClear(memory: NativePointer, data: boolean): void;
  /** Drops positions [from, to) of a sequence from the KV cache (-1, -1: the whole sequence). */
  memorySequenceRemove(memory: NativePointer, sequence: number, from: number, to: number): boolean;
  vocabIsEndOfGeneration(vocab: NativePointer, token: number): boolean;
  /**
   * A sampler chain in llama.cpp's common order: logit biases, grammar, penalties, top-k, top-p, min-p
   * (each only when set), temperature, then a seeded draw; temperature 0: the most likely token.
   * Throws BAD_OPTION when the grammar does not parse.
   */
  samplerChain(settings: SamplerSettings, vocab: NativePointer): NativePointer;
  /** Samples from the logits of batch row `row` of the last decode, and records the choice in the chain. */
  samplerSample(sampler: NativePointer, context: NativePointer, row: number): number;
  samplerFree(sampler: NativePointer): void;
  setThreads(context: NativePointer, threads: number, batchThreads: number): void;
  contextSize(context: NativePointer): number;
  systemInfo(): string;
  /** `bytes` of native memory at `pointer`, as an ArrayBuffer that aliases it (no copy). */
  view(pointer: NativePointer, bytes: number): ArrayBuffer;
  /** The address a pointer holds (to recognise the same buffer again). */
  address(pointer: NativePointer): bigint;
  /** The `count` pointers stored at `pointer` (a C array of pointers). */
  pointers(pointer: NativePointer, count: number): NativePointer[];
  /**
   * A CPU thread pool that lives as long as the context it is attached to. Without one, ggml starts
   * and joins its threads on every decode: ~80 µs per generated token on a tiny model, measured.
   * `poll` (0–100) is how long idle threads spin before sleeping; llama-bench uses 50.
   */
  threadpoolNew(threads: number, poll: number): NativePointer | null;
  threadpoolFree(threadpool: NativePointer): void;
  attachThreadpool(context: NativePointer, threadpool: NativePointer, batchThreadpool: NativePointer): void;
}

const LIBRARY_PATTERN = /^(lib)?llama(\.v[\d.]+)?\.(so|dylib|dll)$/;
const GGML_PATTERN = /^(lib)?ggml(\.v[\d.]+)?\.(so|dylib|dll)$/;

/**
 * The directory of node-llama-cpp's plain CPU build for this platform. GPU builds are left to
 * node-llama-cpp itself (serving); measurements through this library run on the CPU.
 */
export function findPrebuiltDirectory(): string | undefined {
  const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
  const scope = join(entry.slice(0, entry.lastIndexOf(`${sep}node-llama-cpp${sep}`)), "@node-llama-cpp");
  if (!existsSync(scope)) return undefined;
  const platform = `${process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : process.platform}-${process.arch}`;
  const packages = readdirSync(scope)
    .filter((name) => name.startsWith(platform))
    .sort((a, b) => a.length - b.length);
  for (const name of packages) {
    const bins = join(scope, name, "bins");
    if (!existsSync(bins)) continue;
    for (const build of readdirSync(bins).filter((entryName) => entryName.startsWith(platform))) {
      const directory = join(bins, build);
      if (readdirSync(directory).some((file) => LIBRARY_PATTERN.test(file))) return directory;
    }
  }
  return undefined;
}

let library: LlamaLibrary | undefined;

/** Loads libllama once per process (thread); throws an EngineError saying what to do when it is missing. */
export function llamaLibrary(): LlamaLibrary {
  library ??= loadLibrary();
  return library;
}

function loadLibrary(): LlamaLibrary {
  const directory = findPrebuiltDirectory();
  if (directory === undefined) {
    throw new EngineError(
      "RUNTIME_UNAVAILABLE",
      `node-llama-cpp has no prebuilt CPU binaries for ${process.platform}-${process.arch}; reinstall with \`npm ci\``,
    );
  }
  const files = readdirSync(directory);
  const llamaFile = files.find((name) => LIBRARY_PATTERN.test(name));
  const ggmlFile = files.find((name) => GGML_PATTERN.test(name));
  if (llamaFile === undefined || ggmlFile === undefined) {
    throw new EngineError("RUNTIME_UNAVAILABLE", `libllama or libggml is missing from ${directory}; reinstall with \`npm ci\``);
  }
  // Loaded here, not at the top: every command imports the engine, and only those that decode (run,
  // serve, bench, eval, optimize) need the FFI (~30 ms to load, measured).
  const koffi = createRequire(import.meta.url)("koffi") as typeof koffiModule;
  const ggml = koffi.load(join(directory, ggmlFile));
  const lib = koffi.load(join(directory, llamaFile));

  const ModelParamsType = koffi.struct("slmkit_llama_model_params", {
    devices: "void *",
    tensor_buft_overrides: "void *",
    n_gpu_layers: "int32_t",
    split_mode: "int32_t",
    load_mode: "int32_t",
    lazy_mode: "int32_t",
    main_gpu: "int32_t",
    tensor_split: "void *",
    progress_callback: "void *",
    progress_callback_user_data: "void *",
    kv_overrides: "void *",
    vocab_only: "bool",
    check_tensors: "bool",
    use_extra_bufts: "bool",
    no_host: "bool",
    no_alloc: "bool",
    load_mtp: "bool",
  });
  const ContextParamsType = koffi.struct("slmkit_llama_context_params", {
    n_ctx: "uint32_t",
    n_batch: "uint32_t",
    n_ubatch: "uint32_t",
    n_seq_max: "uint32_t",
    n_rs_seq: "uint32_t",
    n_outputs_max: "uint32_t",
    n_outputs_max_per_seq: "uint32_t",
    n_threads: "int32_t",
    n_threads_batch: "int32_t",
    ctx_type: "int32_t",
    rope_scaling_type: "int32_t",
    pooling_type: "int32_t",
    attention_type: "int32_t",
    flash_attn_type: "int32_t",
    rope_freq_base: "float",
    rope_freq_scale: "float",
    yarn_ext_factor: "float",
    yarn_attn_factor: "float",
    yarn_beta_fast: "float",
    yarn_beta_slow: "float",
    yarn_orig_ctx: "uint32_t",
    defrag_thold: "float",
    cb_eval: "void *",
    cb_eval_user_data: "void *",
    type_k: "int32_t",
    type_v: "int32_t",
    abort_callback: "void *",
    abort_callback_data: "void *",
    embeddings: "bool",
    offload_kqv: "bool",
    no_perf: "bool",
    op_offload: "bool",
    swa_full: "bool",
    kv_unified: "bool",
    samplers: "void *",
    n_samplers: "size_t",
    ctx_other: "void *",
  });
  const BatchType = koffi.struct("slmkit_llama_batch", {
    n_tokens: "int32_t",
    token: "void *",
    embd: "void *",
    pos: "void *",
    n_seq_id: "void *",
    seq_id: "void *",
    logits: "void *",
  });

  // llama.cpp logs every load to stderr; slmkit reports what matters itself.
  const LogCallback = koffi.proto("void slmkit_llama_log_callback(int level, const char *text, void *user_data)");
  const silence = koffi.register(() => undefined, koffi.pointer(LogCallback));
  lib.func("llama_log_set", "void", [koffi.pointer(LogCallback), "void *"])(silence, null);
  // node-llama-cpp's builds load their CPU kernels (one per instruction set) as backends at run time.
  ggml.func("void ggml_backend_load_all_from_path(const char *dir)")(directory);
  lib.func("void llama_backend_init(void)")();

  const ThreadpoolParams = koffi.struct("slmkit_ggml_threadpool_params", {
    cpumask: koffi.array("bool", 512),
    n_threads: "int32_t",
    prio: "int32_t",
    poll: "uint32_t",
    strict_cpu: "bool",
    paused: "bool",
  });
  const threadpoolParamsDefault = ggml.func("ggml_threadpool_params_default", ThreadpoolParams, ["int32_t"]);
  // The thread pool functions live in whichever CPU kernel library was loaded; ask its registry.
  const cpuDevice = ggml.func("void *ggml_backend_dev_by_type(int type)")(0) as NativePointer | null;
  const cpuRegistry = cpuDevice === null ? null : (ggml.func("void *ggml_backend_dev_backend_reg(void *device)")(cpuDevice) as NativePointer);
  const procAddress = ggml.func("void *ggml_backend_reg_get_proc_address(void *reg, const char *name)");
  const ThreadpoolNew = koffi.proto("void *slmkit_ggml_threadpool_new(slmkit_ggml_threadpool_params *params)");
  const ThreadpoolFree = koffi.proto("void slmkit_ggml_threadpool_free(void *threadpool)");
  const threadpoolNewAddress = cpuRegistry === null ? null : (procAddress(cpuRegistry, "ggml_threadpool_new") as NativePointer | null);
  const threadpoolFreeAddress = cpuRegistry === null ? null : (procAddress(cpuRegistry, "ggml_threadpool_free") as NativePointer | null);

  const ChainParams = koffi.struct("slmkit_llama_sampler_chain_params", { no_perf: "bool" });
  const chainInit = lib.func("llama_sampler_chain_init", "void *", [ChainParams]);
  const chainAdd = lib.func("void llama_sampler_chain_add(void *chain, void *smpl)");
  const initGreedy = lib.func("void *llama_sampler_init_greedy(void)");
  const initTopK = lib.func("void *llama_sampler_init_top_k(int32_t k)");
  const initTopP = lib.func("void *llama_sampler_init_top_p(float p, size_t min_keep)");
  const initMinP = lib.func("void *llama_sampler_init_min_p(float p, size_t min_keep)");
  const initTemp = lib.func("void *llama_sampler_init_temp(float t)");
  const initDist = lib.func("void *llama_sampler_init_dist(uint32_t seed)");
  const initLogitBias = lib.func("void *llama_sampler_init_logit_bias(int32_t n_vocab, int32_t n_logit_bias, const void *logit_bias)");
  const initPenalties = lib.func("void *llama_sampler_init_penalties(int32_t n_vocab, int32_t last_n, float repeat, float freq, float present)");
  const initGrammar = lib.func("void *llama_sampler_init_grammar(void *vocab, const char *grammar, const char *root)");
  const samplerAccept = lib.func("void llama_sampler_accept(void *smpl, int32_t token)");
  const samplerFree = lib.func("void llama_sampler_free(void *smpl)");
  const vocabTokenCount = lib.func("int32_t llama_vocab_n_tokens(void *vocab)");

  const fn = (name: string, result: unknown, parameters: unknown[]) => lib.func(name, result as string, parameters as string[]);
  const modelDefaultParams = fn("llama_model_default_params", ModelParamsType, []);
  const contextDefaultParams = fn("llama_context_default_params", ContextParamsType, []);
  const loadModel = fn("llama_model_load_from_file", "void *", ["const char *", ModelParamsType]);
  const initContext = fn("llama_init_from_model", "void *", ["void *", ContextParamsType]);
  const batchInit = fn("llama_batch_init", BatchType, ["int32_t", "int32_t", "int32_t"]);
  const batchFree = fn("llama_batch_free", "void", [BatchType]);
  const decode = fn("llama_decode", "int32_t", ["void *", BatchType]);
  const tokenize = lib.func("int32_t llama_tokenize(void *vocab, const char *text, int32_t text_len, _Out_ int32_t *tokens, int32_t n_tokens_max, bool add_special, bool parse_special)");

  return {
    directory,
    release: buildRelease(directory),
    modelDefaultParams: () => modelDefaultParams() as ModelParams,
    contextDefaultParams: () => contextDefaultParams() as ContextParams,
    loadModel: (path, params) => loadModel(path, params) as NativePointer | null,
    freeModel: lib.func("void llama_model_free(void *model)") as (model: NativePointer) => void,
    initContext: (model, params) => initContext(model, params) as NativePointer | null,
    freeContext: lib.func("void llama_free(void *ctx)") as (context: NativePointer) => void,
    modelVocab: lib.func("void *llama_model_get_vocab(void *model)") as (model: NativePointer) => NativePointer,
    modelParameterCount: lib.func("uint64_t llama_model_n_params(void *model)") as (model: NativePointer) => bigint | number,
    modelSize: lib.func("uint64_t llama_model_size(void *model)") as (model: NativePointer) => bigint | number,
    modelDescription: lib.func("int32_t llama_model_desc(void *model, _Out_ uint8_t *buf, size_t buf_size)") as LlamaLibrary["modelDescription"],
    modelTrainingContext: lib.func("int32_t llama_model_n_ctx_train(void *model)") as (model: NativePointer) => number,
    vocabTokenCount: vocabTokenCount as (vocab: NativePointer) => number,
    vocabBos: lib.func("int32_t llama_vocab_bos(void *vocab)") as (vocab: NativePointer) => number,
    vocabAddsBos: lib.func("bool llama_vocab_get_add_bos(void *vocab)") as (vocab: NativePointer) => boolean,
    vocabAddsEos: lib.func("bool llama_vocab_get_add_eos(void *vocab)") as (vocab: NativePointer) => boolean,
    tokenize: tokenize as LlamaLibrary["tokenize"],
    detokenize: lib.func(
      "int32_t llama_detokenize(void *vocab, const int32_t *tokens, int32_t n_tokens, _Out_ uint8_t *text, int32_t text_len_max, bool remove_special, bool unparse_special)",
    ) as LlamaLibrary["detokenize"],
    batchInit: (tokens, embeddings, maxSequences) => batchInit(tokens, embeddings, maxSequences) as NativeBatch,
    batchFree: (batch) => void batchFree(batch),
    decode: (context, batch) => decode(context, batch) as number,
    decodeAsync: (context, batch) =>
      new Promise((resolve, reject) => {
        (decode as { async: (...args: unknown[]) => void }).async(context, batch, (error: unknown, status: number) => (error ? reject(error as Error) : resolve(status)));
      }),
    synchronize: lib.func("void llama_synchronize(void *ctx)") as (context: NativePointer) => void,
    logits: lib.func("float *llama_get_logits(void *ctx)") as (context: NativePointer) => NativePointer | null,
    logitsOfRow: lib.func("float *llama_get_logits_ith(void *ctx, int32_t i)") as LlamaLibrary["logitsOfRow"],
    memory: lib.func("void *llama_get_memory(void *ctx)") as (context: NativePointer) => NativePointer,
    memoryClear: lib.func("void llama_memory_clear(void *mem, bool data)") as (memory: NativePointer, data: boolean) => void,
    memorySequenceRemove: lib.func("bool llama_memory_seq_rm(void *mem, int32_t seq_id, int32_t p0, int32_t p1)") as LlamaLibrary["memorySequenceRemove"],
    vocabIsEndOfGeneration: lib.func("bool llama_vocab_is_eog(void *vocab, int32_t token)") as LlamaLibrary["vocabIsEndOfGeneration"],
    samplerChain: (settings, vocab) => {
      const chain = chainInit({ no_perf: true }) as NativePointer;
      const vocabularySize = vocabTokenCount(vocab) as number;
      if (settings.bias !== undefined && settings.bias.size > 0) {
        // An array of llama_logit_bias { int32 token; float bias; }.
        const entries = Buffer.alloc(settings.bias.size * 8);
        let offset = 0;
        for (const [token, bias] of settings.bias) {
          entries.writeInt32LE(token, offset);
          entries.writeFloatLE(bias, offset + 4);
          offset += 8;
        }
        chainAdd(chain, initLogitBias(vocabularySize, settings.bias.size, entries));
      }
      if (settings.grammar !== undefined) {
        const grammar = initGrammar(vocab, settings.grammar.text, settings.grammar.root) as NativePointer | null;
        if (grammar === null) {
          samplerFree(chain);
          throw new EngineError("BAD_OPTION", "llama.cpp could not parse the output grammar");
        }
        chainAdd(chain, grammar);
      }
      const penalties = settings.penalties;
      if (penalties !== undefined && (penalties.repeat !== 1 || penalties.frequency !== 0 || penalties.presence !== 0)) {
        const sampler = initPenalties(vocabularySize, penalties.lastTokens, penalties.repeat, penalties.frequency, penalties.presence) as NativePointer;
        const history = penalties.history;
        const from = Math.max(0, history.length - penalties.lastTokens);
        for (let index = from; index < history.length; index++) samplerAccept(sampler, history[index]!);
        chainAdd(chain, sampler);
      }
      if (settings.temperature <= 0) {
        chainAdd(chain, initGreedy());
        return chain;
      }
      if (settings.topK > 0) chainAdd(chain, initTopK(settings.topK));
      if (settings.topP < 1) chainAdd(chain, initTopP(settings.topP, 1));
      if (settings.minP > 0) chainAdd(chain, initMinP(settings.minP, 1));
      chainAdd(chain, initTemp(settings.temperature));
      chainAdd(chain, initDist(settings.seed >>> 0));
      return chain;
    },
    samplerSample: lib.func("int32_t llama_sampler_sample(void *smpl, void *ctx, int32_t idx)") as LlamaLibrary["samplerSample"],
    samplerFree: samplerFree as (sampler: NativePointer) => void,
    setThreads: lib.func("void llama_set_n_threads(void *ctx, int32_t n_threads, int32_t n_threads_batch)") as LlamaLibrary["setThreads"],
    contextSize: lib.func("uint32_t llama_n_ctx(void *ctx)") as (context: NativePointer) => number,
    systemInfo: lib.func("const char *llama_print_system_info(void)") as () => string,
    view: (pointer, bytes) => koffi.view(pointer, bytes),
    address: (pointer) => BigInt(koffi.address(pointer)),
    pointers: (pointer, count) => koffi.decode(pointer, "void *", count) as NativePointer[],
    threadpoolNew: (threads, poll) => {
      if (threadpoolNewAddress === null) return null;
      const params = threadpoolParamsDefault(threads) as Record<string, unknown>;
      params.poll = poll;
      return koffi.call(threadpoolNewAddress, ThreadpoolNew, params) as NativePointer | null;
    },
    threadpoolFree: (threadpool) => {
      if (threadpoolFreeAddress !== null) koffi.call(threadpoolFreeAddress, ThreadpoolFree, threadpool);
    },
    attachThreadpool: lib.func("void llama_attach_threadpool(void *ctx, void *threadpool, void *threadpool_batch)") as LlamaLibrary["attachThreadpool"],
  };
}

function buildRelease(directory: string): string {
  try {
    const metadata = JSON.parse(readFileSync(join(directory, "_nlcBuildMetadata.json"), "utf8")) as { buildOptions?: { llamaCpp?: { release?: string } } };
    return metadata.buildOptions?.llamaCpp?.release ?? "unknown";
  } catch {
    return "unknown";
  }
}
