/**
 * Measures this device's rates for speed estimates by running the real engine on synthetic models:
 * the fixed cost of a decode step and of a layer (tiny models of 2 and 32 layers), and for each
 * weight type and kernel path the bytes per second a decode step streams (from a probe about a small
 * model's size and from one beyond the CPU cache) and the multiply-adds per second of a prompt batch. A type is measured the first time a model needs it; rates are kept
 * in a JSON file beside the device's identity and measured again when that changes.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LoadedModel } from "../engine/index.js";
import { readGgufHeader } from "../gguf/index.js";
import { QUANT_TYPES, quantTypeByName } from "../quant/index.js";
import { synthesizeModel } from "../synth/index.js";
import { type DeviceProfile, deviceProfile, procKilobytes } from "./device.js";
import type { DeviceRates, KernelPath } from "./speed.js";
import { tokenWork } from "./speed.js";

export interface ProbeOptions {
  /** Scratch space for the probe models (about twice the CPU cache each, removed after). */
  readonly scratch: string;
  /** Probe models this fraction of the full size (tests: a quick run; the rates are less faithful). */
  readonly scale?: number;
  readonly threads?: number;
  readonly onProgress?: (message: string) => void;
}

/** A type can be probed when slmkit has a quantizer for it (the probes are written in it). */
export function probeableTypes(): string[] {
  return QUANT_TYPES.map((type) => type.name);
}

const PROMPT_TOKENS = 128;
const GENERATED_TOKENS = 32;
/**
 * Runs per measurement. Two compute threads on two shared cores are noisy (a tiny model's step time
 * varies 2× run to run), so the fastest and slowest runs are dropped and the rest averaged: the
 * typical speed a run sees, noise included, as `slmkit run` reports it.
 */
const REPEATS = 7;

interface Timing {
  /** Seconds per generated token after a short prompt: the trimmed mean of REPEATS runs. */
  readonly stepSeconds: number;
  /** Seconds to evaluate a PROMPT_TOKENS prompt: the median of three runs. */
  readonly promptSeconds: number;
}

async function time(path: string, threads: number | undefined, contextSize = 512): Promise<Timing> {
  const model = await LoadedModel.load(path, { contextSize, threads });
  try {
    const words = "once upon a time there was a little cat who lived in a small house by the sea and every day she went out to look at the boats ".repeat(12);
    // Each run starts from a different text, so no prompt is reused from the run before.
    const run = async (offset: number, promptTokens: number, maxTokens: number) =>
      model.generate({ prompt: model.promptFromText(words.slice(offset)).slice(0, promptTokens), maxTokens, ignoreEos: true, sampling: { temperature: 0 } });
    await run(20, 8, 8); // warm-up: pages mapped, threads started, caches filled
    const prompts: number[] = [];
    for (let repeat = 0; repeat < 3; repeat++) prompts.push((await run(repeat, PROMPT_TOKENS, 1)).promptMs / 1000);
    const steps: number[] = [];
    for (let repeat = 3; repeat < 3 + REPEATS; repeat++) {
      const result = await run(repeat, 8, GENERATED_TOKENS);
      steps.push(result.generationMs / 1000 / (result.completionTokens - 1));
    }
    return { stepSeconds: trimmedMean(steps), promptSeconds: median(prompts) };
  } finally {
    await model.dispose();
  }
}

function trimmedMean(values: number[]): number {
  const kept = [...values].sort((a, b) => a - b).slice(1, -1);
  return kept.reduce((sum, value) => sum + value, 0) / kept.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * `fit --measure`: the model itself, timed as the probes are (short prompt, trimmed mean of the
 * generation runs; a 128-token prompt), with the peak resident memory of this process after.
 */
export async function measureModel(path: string, options: { readonly contextSize: number; readonly threads?: number }): Promise<{ generationTokensPerSecond: number; promptTokensPerSecond: number; peakResidentBytes: number | undefined }> {
  const timing = await time(path, options.threads, options.contextSize);
  return { generationTokensPerSecond: 1 / timing.stepSeconds, promptTokensPerSecond: PROMPT_TOKENS / timing.promptSeconds, peakResidentBytes: peakResident() };
}

/** VmHWM: the most this process has held resident (Linux). */
function peakResident(): number | undefined {
  return procKilobytes("/proc/self/status", "VmHWM");
}

/**
 * Fills in what `rates` lacks among `keys` (`${type}/${path}`), measuring the fixed costs first if
 * they are missing. Returns the completed rates.
 */
export async function measureRates(keys: readonly string[], rates: DeviceRates | undefined, options: ProbeOptions): Promise<DeviceRates> {
  const directory = mkdtempSync(join(options.scratch, "probe-"));
  const progress = options.onProgress ?? (() => {});
  try {
    let current: DeviceRates = rates ?? (await measureFixedCosts(directory, options, progress));
    for (const key of keys) {
      if (!needsMeasuring(current, key)) continue;
      const [type = "", path = ""] = key.split("/");
      progress(`measuring ${type} (${path === "tied-output" ? "output projection" : "layer matrices"}) on this device`);
      if (current.generationBytesPerSecond[key] === undefined) current = await measureStream(type, path as KernelPath, "cache", current, directory, options);
      if (current.memoryBytesPerSecond?.[key] === undefined) current = await measureStream(type, path as KernelPath, "memory", current, directory, options);
    }
    return current;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const TINY = { width: 64, feedForward: 128, heads: 2, kvHeads: 2, headDim: 32, tiedEmbeddings: true } as const;

async function measureFixedCosts(directory: string, options: ProbeOptions, progress: (message: string) => void): Promise<DeviceRates> {
  progress("measuring this device's cost per decode step");
  const step = async (layers: number): Promise<number> => {
    const path = join(directory, `fixed-${layers}.gguf`);
    await synthesizeModel({ architecture: "llama", type: "F32", seed: 7, output: path, vocabularySize: 1024, shape: { ...TINY, layers } });
    return (await time(path, options.threads)).stepSeconds;
  };
  // A long lever (2 against 32 layers) keeps the per-layer cost out of the noise of either.
  const few = await step(2);
  const many = await step(32);
  const layerSeconds = Math.max(0, (many - few) / 30);
  return { stepSeconds: Math.max(0, few - 2 * layerSeconds), layerSeconds, generationBytesPerSecond: {}, promptMultiplyAddsPerSecond: {} };
}

/**
 * Two probes per type and path, written by repeating one quantized tile (quick at any size). The
 * first is about the size of a small model (layer matrices: 8 layers 1024 wide with a feed-forward
 * of 4096, 134M weights; output projection: a 32,768-token vocabulary 2048 wide tied to the output,
 * 67M weights); on a CPU with a large cache it may run from the cache, as small models do. The second
 * streams twice the last-level cache (at most a quarter of the available memory), as large models
 * do from memory: on this machine's 300 MiB cache a 70 MB probe ran 2–3× faster than the models
 * beyond the cache it was to predict. What the other parts of a probe cost is taken off where known.
 */
async function measureStream(type: string, path: KernelPath, size: "cache" | "memory", rates: DeviceRates, directory: string, options: ProbeOptions): Promise<DeviceRates> {
  const layout = quantTypeByName(type);
  if (!layout) throw new Error(`no quantizer for ${type}`);
  const bytesPerElement = layout.bytesPerBlock / layout.blockSize;
  const scale = options.scale ?? 1;
  const device = deviceProfile();
  const smallElements = (path === "matrix" ? 134e6 : 67e6) * scale;
  const memoryTarget = Math.min(Math.max(2 * (device.lastLevelCacheBytes ?? 0) * scale, 2 * smallElements * bytesPerElement), device.availableMemoryBytes / 4);
  const elements = size === "cache" ? smallElements : Math.max(smallElements, memoryTarget / bytesPerElement);
  const quantized = join(directory, `${path}-${type}-${size}.gguf`);
  if (path === "matrix") {
    const layers = Math.max(1, Math.round(elements / (4 * 1024 ** 2 + 3 * 1024 * 4096)));
    await synthesizeModel({ architecture: "llama", tiledMatrixType: type, seed: 11, output: quantized, vocabularySize: 1024, shape: { layers, width: 1024, feedForward: 4096, heads: 8, kvHeads: 8, headDim: 128, tiedEmbeddings: true } });
  } else {
    const vocabularySize = Math.max(1024, Math.round(32768 * Math.min(1, scale)));
    const width = Math.max(256, Math.round(elements / vocabularySize / 256) * 256);
    await synthesizeModel({ architecture: "qwen3", tiledMatrixType: type, seed: 11, output: quantized, vocabularySize, shape: { layers: 1, width, feedForward: 256, heads: 4, kvHeads: 1, headDim: 64, tiedEmbeddings: true } });
  }
  const work = tokenWork(readGgufHeader(quantized));
  const timing = await time(quantized, options.threads);
  rmSync(quantized);
  let seconds = timing.stepSeconds - rates.stepSeconds - work.layers * rates.layerSeconds;
  let promptSeconds = timing.promptSeconds;
  let measured = { bytes: 0, promptElements: 0 };
  for (const stream of work.streams) {
    if (stream.type === type && stream.path === path) measured = stream;
    else {
      // Other streams of the probe (the small tied embedding, or the narrow layer): take off what they cost.
      const key = `${stream.type}/${stream.path}`;
      const known = rates.generationBytesPerSecond[key];
      if (known !== undefined) seconds -= stream.bytes / known;
      const knownPrompt = rates.promptMultiplyAddsPerSecond[key];
      if (knownPrompt !== undefined) promptSeconds -= (stream.promptElements * PROMPT_TOKENS) / knownPrompt;
    }
  }
  const key = `${type}/${path}`;
  const rate = measured.bytes / Math.max(seconds, 1e-6);
  if (size === "memory") return { ...rates, memoryBytesPerSecond: { ...rates.memoryBytesPerSecond, [key]: rate }, ...(device.lastLevelCacheBytes === undefined ? {} : { cacheBytes: device.lastLevelCacheBytes }) };
  const prompt = measured.promptElements > 0 ? { ...rates.promptMultiplyAddsPerSecond, [key]: (measured.promptElements * PROMPT_TOKENS) / Math.max(promptSeconds, 1e-6) } : rates.promptMultiplyAddsPerSecond;
  return { ...rates, generationBytesPerSecond: { ...rates.generationBytesPerSecond, [key]: rate }, promptMultiplyAddsPerSecond: prompt };
}

/** The engine the rates are measured with: rates measured with another are measured again. */
const ENGINE = "node-llama-cpp 3.21.1";

/** What rates depend on: the CPU, its cores and features, and the engine. */
export function deviceIdentity(device: Pick<DeviceProfile, "cpuModel" | "cores" | "cpuFeatures">): string {
  return [device.cpuModel, `${device.cores} cores`, device.cpuFeatures.join(" "), ENGINE].join(" | ");
}

/** A probeable type and path without both of its rates. */
function needsMeasuring(rates: DeviceRates, key: string): boolean {
  if (!probeableTypes().includes(key.split("/")[0] ?? "")) return false; // left to the estimate's fallback
  return rates.generationBytesPerSecond[key] === undefined || rates.memoryBytesPerSecond?.[key] === undefined;
}

/** Reads rates kept by an earlier run, when they were measured on this device. */
export function readRates(file: string, identity: string): DeviceRates | undefined {
  try {
    const kept = JSON.parse(readFileSync(file, "utf8")) as { identity?: string; rates?: DeviceRates };
    return kept.identity === identity ? kept.rates : undefined;
  } catch {
    return undefined;
  }
}

export function writeRates(file: string, identity: string, rates: DeviceRates): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ identity, measuredAt: new Date().toISOString(), rates }, null, 2)}\n`);
  renameSync(temporary, file);
}

export interface KeptRatesOptions extends ProbeOptions {
  /** The JSON file rates are kept in. */
  readonly file: string;
  /** What the rates depend on (CPU, cores, threads, engine version): other values measure again. */
  readonly identity: string;
  /** Measure everything again. */
  readonly refresh?: boolean;
}

/** Rates for `keys`: kept ones, the missing ones measured now and kept. */
export async function keptRates(keys: readonly string[], options: KeptRatesOptions): Promise<DeviceRates> {
  const kept = options.refresh === true ? undefined : readRates(options.file, options.identity);
  const missing = kept === undefined || keys.some((key) => needsMeasuring(kept, key));
  if (!missing) return kept;
  const rates = await measureRates(keys, kept, options);
  writeRates(options.file, options.identity, rates);
  return rates;
}
