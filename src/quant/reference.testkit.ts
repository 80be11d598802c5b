/**
 * ggml's own quantizer, called through an FFI (koffi) on the libggml-base that node-llama-cpp ships,
 * so that tests and benchmarks can hold slmkit's TypeScript kernels to llama.cpp byte for byte on any
 * data and shape. Test and benchmark support only: the product's quantizer is the TypeScript one.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import koffi from "koffi";

export interface GgmlReference {
  /** The library file the reference was loaded from. */
  readonly library: string;
  /** ggml_quantize_chunk: `rows` rows of `rowLength` floats into `typeId` blocks. */
  quantize(typeId: number, src: Float32Array, rows: number, rowLength: number): Uint8Array;
  /** The type's to_float: `count` elements back to floats. */
  dequantize(typeId: number, src: Uint8Array, count: number): Float32Array;
  /** Bytes of one row of `rowLength` elements (ggml_row_size). */
  rowSize(typeId: number, rowLength: number): number;
}

const LIBRARY_NAMES = ["libggml-base.so", "libggml-base.dylib", "ggml-base.dll"];

/** Finds libggml-base in node-llama-cpp's prebuilt packages, preferring the plain CPU build. */
export function findGgmlBaseLibrary(): string | undefined {
  const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
  const scope = join(entry.slice(0, entry.lastIndexOf(`${sep}node-llama-cpp${sep}`)), "@node-llama-cpp");
  if (!existsSync(scope)) return undefined;
  const packages = readdirSync(scope).sort((a, b) => Number(/cuda|vulkan/.test(a)) - Number(/cuda|vulkan/.test(b)));
  for (const name of packages) {
    const bins = join(scope, name, "bins");
    if (!existsSync(bins)) continue;
    for (const platform of readdirSync(bins)) {
      for (const library of LIBRARY_NAMES) {
        const path = join(bins, platform, library);
        if (existsSync(path) && platform.startsWith(`${process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : "linux"}-${process.arch}`)) {
          return path;
        }
      }
    }
  }
  return undefined;
}

let loaded: GgmlReference | undefined;

export interface LlamaQuantizeOptions {
  readonly threads?: number;
  readonly pure?: boolean;
  readonly leaveOutputTensor?: boolean;
  readonly allowRequantize?: boolean;
  /** ggml type ids, as llama-quantize's --output-tensor-type / --token-embedding-type. */
  readonly outputTensorType?: number;
  readonly tokenEmbeddingType?: number;
  /** llama-quantize's --tensor-type PATTERN=TYPE overrides (type as a ggml type id). */
  readonly tensorTypes?: ReadonlyArray<{ readonly pattern: string; readonly typeId: number }>;
}

type LlamaQuantize = (input: string, output: string, fileType: number, options?: LlamaQuantizeOptions) => number;
let llamaQuantize: LlamaQuantize | undefined;

/**
 * llama.cpp's own llama_model_quantize (what llama-quantize runs), from the libllama node-llama-cpp
 * ships. Returns 0 on success. Undefined when the library is not installed for this platform.
 */
export function llamaModelQuantize(): LlamaQuantize | undefined {
  if (llamaQuantize) return llamaQuantize;
  const base = findGgmlBaseLibrary();
  if (base === undefined) return undefined;
  const directory = dirname(base);
  const libraryName = readdirSync(directory).find((name) => /^(lib)?llama(\.v[\d.]+)?\.(so|dylib|dll)$/.test(name));
  const ggmlName = readdirSync(directory).find((name) => /^(lib)?ggml(\.v[\d.]+)?\.(so|dylib|dll)$/.test(name));
  if (libraryName === undefined || ggmlName === undefined) return undefined;
  const ggml = koffi.load(join(directory, ggmlName));
  const lib = koffi.load(join(directory, libraryName));
  // Declares the struct to koffi by name; the function prototypes below refer to it.
  koffi.struct("llama_model_quantize_params", {
    nthread: "int32_t",
    ftype: "int32_t",
    output_tensor_type: "int32_t",
    token_embedding_type: "int32_t",
    allow_requantize: "bool",
    quantize_output_tensor: "bool",
    only_copy: "bool",
    pure: "bool",
    keep_split: "bool",
    dry_run: "bool",
    imatrix: "void *",
    kv_overrides: "void *",
    tt_overrides: "void *",
    prune_layers: "void *",
    max_buf_size: "size_t",
  });
  const TensorOverride = koffi.struct("llama_model_tensor_override", { pattern: "const char *", type: "int32_t" });
  const LogCallback = koffi.proto("void llama_log_callback(int level, const char *text, void *user_data)");
  const silence = koffi.register(() => undefined, koffi.pointer(LogCallback));
  lib.func("void llama_log_set(llama_log_callback *callback, void *user_data)")(silence, null);
  ggml.func("void ggml_backend_load_all_from_path(const char *dir)")(directory);
  lib.func("void llama_backend_init(void)")();
  const defaults = lib.func("llama_model_quantize_params llama_model_quantize_default_params(void)");
  const quantize = lib.func("uint32_t llama_model_quantize(const char *fname_inp, const char *fname_out, const llama_model_quantize_params *params)");
  const GGML_TYPE_COUNT = 43;
  llamaQuantize = (input, output, fileType, options = {}) => {
    const params = defaults() as Record<string, unknown>;
    params.ftype = fileType;
    params.nthread = options.threads ?? 1;
    params.pure = options.pure ?? false;
    params.quantize_output_tensor = !(options.leaveOutputTensor ?? false);
    params.allow_requantize = options.allowRequantize ?? false;
    params.output_tensor_type = options.outputTensorType ?? GGML_TYPE_COUNT;
    params.token_embedding_type = options.tokenEmbeddingType ?? GGML_TYPE_COUNT;
    if (options.tensorTypes?.length) {
      // A C array of {pattern, type}, ended by a null pattern, as llama-quantize builds it.
      const entries = [...options.tensorTypes.map(({ pattern, typeId }) => ({ pattern, type: typeId })), { pattern: null, type: 0 }];
      params.tt_overrides = koffi.as(entries, koffi.pointer(TensorOverride));
    }
    return Number(quantize(input, output, params));
  };
  return llamaQuantize;
}

/** The reference, or undefined when this machine has no prebuilt libggml-base for its platform. */
export function ggmlReference(): GgmlReference | undefined {
  if (loaded) return loaded;
  const library = findGgmlBaseLibrary();
  if (library === undefined) return undefined;
  const lib = koffi.load(library);
  const quantizeChunk = lib.func("size_t ggml_quantize_chunk(int type, const float *src, _Out_ void *dst, int64_t start, int64_t nrows, int64_t n_per_row, const float *imatrix)");
  const quantizeInit = lib.func("void ggml_quantize_init(int type)");
  const rowSize = lib.func("size_t ggml_row_size(int type, int64_t ne)");
  const ToFloat = koffi.proto("void ggml_to_float_t(const void *x, _Out_ float *y, int64_t k)");
  const Traits = koffi.struct("ggml_type_traits", {
    type_name: "const char *",
    blck_size: "int64_t",
    blck_size_interleave: "int64_t",
    type_size: "size_t",
    is_quantized: "bool",
    to_float: "void *",
    from_float_ref: "void *",
  });
  const getTraits = lib.func("const ggml_type_traits *ggml_get_type_traits(int type)");
  const initialized = new Set<number>();
  loaded = {
    library,
    quantize(typeId, src, rows, rowLength) {
      if (!initialized.has(typeId)) {
        quantizeInit(typeId);
        initialized.add(typeId);
      }
      const dst = new Uint8Array(Number(rowSize(typeId, rowLength)) * rows);
      quantizeChunk(typeId, src, dst, 0, rows, rowLength, null);
      return dst;
    },
    dequantize(typeId, src, count) {
      const dst = new Float32Array(count);
      if (typeId === 0) {
        // F32 has no to_float in ggml (a null pointer): its "dequantization" is a copy.
        new Uint8Array(dst.buffer).set(src.subarray(0, count * 4));
        return dst;
      }
      const traits = koffi.decode(getTraits(typeId), Traits) as { to_float: unknown };
      if (traits.to_float === null) throw new Error(`ggml has no to_float for type ${typeId}`);
      koffi.call(traits.to_float, ToFloat, src, dst, count);
      return dst;
    },
    rowSize(typeId, rowLength) {
      return Number(rowSize(typeId, rowLength));
    },
  };
  return loaded;
}
