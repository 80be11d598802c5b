import type { Llama } from "node-llama-cpp";
import { EngineError } from "./errors.js";

/** Which compute backend to use: "auto" picks a GPU when node-llama-cpp finds a usable one. */
export type Backend = "auto" | "cpu" | "cuda" | "vulkan" | "metal";

export interface RuntimeOptions {
  readonly backend?: Backend;
  /** Show llama.cpp's own log lines (warnings and up) on stderr. */
  readonly verbose?: boolean;
}

let runtime: Promise<Llama> | undefined;
let runtimeBackend: Backend | undefined;

/**
 * The process-wide llama.cpp runtime. Loading it takes ~0.7 s, so it is made once and shared.
 * It never builds llama.cpp from source: slmkit runs on node-llama-cpp's prebuilt binaries.
 */
export function getRuntime(options: RuntimeOptions = {}): Promise<Llama> {
  const backend = options.backend ?? backendFromEnvironment();
  if (runtime !== undefined) {
    if (runtimeBackend !== backend) {
      return Promise.reject(new EngineError("BAD_OPTION", `the runtime is already loaded with backend '${runtimeBackend}'`));
    }
    return runtime;
  }
  runtimeBackend = backend;
  runtime = loadRuntime(backend, options.verbose === true);
  return runtime;
}

async function loadRuntime(backend: Backend, verbose: boolean): Promise<Llama> {
  // Imported here, not at the top: node-llama-cpp takes ~0.5 s to import, which commands that never
  // generate (inspect, synth) should not pay.
  const { LlamaLogLevel, getLlama } = await import("node-llama-cpp");
  return getLlama({
    build: "never",
    gpu: backend === "cpu" ? false : backend,
    logLevel: verbose ? LlamaLogLevel.warn : LlamaLogLevel.error,
    logger: (level, message) => {
      if (verbose || level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) process.stderr.write(`[llama.cpp] ${message.trimEnd()}\n`);
    },
  }).catch((error: unknown) => {
    runtime = undefined;
    const reason = error instanceof Error ? error.message : String(error);
    throw new EngineError(
      "RUNTIME_UNAVAILABLE",
      `llama.cpp could not be loaded for backend '${backend}' (${reason.split("\n")[0]}); ` +
        "reinstall with `npm ci` so node-llama-cpp's prebuilt binaries are present, or try --backend cpu",
    );
  });
}

const BACKENDS: readonly Backend[] = ["auto", "cpu", "cuda", "vulkan", "metal"];

function backendFromEnvironment(): Backend {
  const value = process.env.SLMKIT_BACKEND;
  if (value === undefined || value === "") return "auto";
  if (!BACKENDS.includes(value as Backend)) {
    throw new EngineError("BAD_OPTION", `SLMKIT_BACKEND is '${value}'; use one of ${BACKENDS.join(", ")}`);
  }
  return value as Backend;
}

export interface GpuState {
  /** The GPU backend node-llama-cpp loaded (cuda, vulkan, metal), or false for CPU only. */
  readonly backend: string | false;
  readonly devices: readonly string[];
  readonly vramTotalBytes: number;
  readonly vramFreeBytes: number;
  /** Memory shared by CPU and GPU (Apple Silicon): VRAM and RAM are one. */
  readonly unifiedBytes: number;
}

/** The GPUs the runtime found (none on a CPU-only machine). Loads the runtime. */
export async function gpuState(options: RuntimeOptions = {}): Promise<GpuState> {
  const llama = await getRuntime(options);
  if (llama.gpu === false) return { backend: false, devices: [], vramTotalBytes: 0, vramFreeBytes: 0, unifiedBytes: 0 };
  const vram = await llama.getVramState();
  return { backend: llama.gpu, devices: await llama.getGpuDeviceNames(), vramTotalBytes: vram.total, vramFreeBytes: vram.free, unifiedBytes: vram.unifiedSize };
}
