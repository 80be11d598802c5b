/**
 * How fast a model will generate and read prompts on this device, from what one token costs: the
 * weight bytes each decode step streams through each kernel, divided by the rate this device's
 * kernels were measured to stream them at (probe.ts: from the cache for models that fit in it, from
 * memory for those that do not), plus a fixed cost per step and per layer; prompts by the
 * multiply-adds per token over the measured rate of batched matrix products.
 */
import { type GgufHeader, type GgufTensorInfo, tensorByteSize } from "../gguf/index.js";
import { planQuantization } from "../quant/index.js";

/**
 * The ways a weight reaches a kernel, which run at different rates: a layer's matrix (llama.cpp may
 * repack it for AMX or other CPU kernels), and the token embedding doubling as the output
 * projection (tied), which stays in the mapped file because it is also looked up row by row.
 */
export type KernelPath = "matrix" | "tied-output";

/** One weight type on one path: bytes streamed per generated token, multiply-adds per prompt token. */
export interface WeightStream {
  readonly type: string;
  readonly path: KernelPath;
  readonly bytes: number;
  /** Weights multiplied per prompt token (the output projection runs for the last token only). */
  readonly promptElements: number;
}

export interface TokenWork {
  readonly layers: number;
  readonly streams: readonly WeightStream[];
}

/** This device's measured rates (probe.ts). */
export interface DeviceRates {
  /** Fixed cost of a decode step (graph, sampling, the engine's round trip), seconds. */
  readonly stepSeconds: number;
  /** Added per transformer layer, seconds. */
  readonly layerSeconds: number;
  /** Bytes per second one decode step streams, by `${type}/${path}`, from a probe about the CPU cache's size. */
  readonly generationBytesPerSecond: Readonly<Record<string, number>>;
  /** The same from a probe of twice the CPU's last-level cache: weights streamed from memory. */
  readonly memoryBytesPerSecond?: Readonly<Record<string, number>>;
  /** The last-level cache the rates were measured with (undefined: not known; the memory rates then serve alone). */
  readonly cacheBytes?: number;
  /** Multiply-adds per second of a prompt batch, by `${type}/${path}`. */
  readonly promptMultiplyAddsPerSecond: Readonly<Record<string, number>>;
}

export interface SpeedEstimate {
  readonly generationTokensPerSecond: number;
  readonly promptTokensPerSecond: number;
  /** Weight bytes one generated token streams. */
  readonly bytesPerToken: number;
  /** Streams with no measured rate of their own (types slmkit cannot make), given the slowest measured rate of their path. */
  readonly approximated: readonly string[];
}

export const streamKey = (stream: Pick<WeightStream, "type" | "path">): string => `${stream.type}/${stream.path}`;

/**
 * What one token costs a model stored as `header` (or quantized to `type`): every matrix is
 * streamed once, except the token embedding, of which one row is looked up, unless it is also the
 * output projection (no output.weight), when all of it is streamed.
 */
export function tokenWork(header: GgufHeader, type?: string): TokenWork {
  const tensors: Array<{ source: GgufTensorInfo; typeName: string; bytes: number }> =
    type === undefined
      ? header.tensors.map((tensor) => ({ source: tensor, typeName: tensor.type.name, bytes: tensor.byteSize }))
      : planQuantization(header, { preset: type, allowRequantize: true }).tensors.map((tensor) => ({ source: tensor.source, typeName: tensor.target.name, bytes: tensorByteSize(tensor.target, tensor.source.shape) }));
  const tied = !header.tensors.some((tensor) => tensor.name === "output.weight");
  const streams = new Map<string, { type: string; path: KernelPath; bytes: number; promptElements: number }>();
  for (const { source, typeName, bytes } of tensors) {
    if (source.shape.length < 2) continue; // norms and biases: negligible
    const isEmbedding = source.name === "token_embd.weight";
    if (isEmbedding && !tied) continue;
    const path: KernelPath = isEmbedding ? "tied-output" : "matrix";
    const key = streamKey({ type: typeName, path });
    const stream = streams.get(key) ?? { type: typeName, path, bytes: 0, promptElements: 0 };
    stream.bytes += bytes;
    const isOutput = isEmbedding || source.name === "output.weight";
    if (!isOutput) stream.promptElements += source.shape.reduce((product, size) => product * size, 1);
    streams.set(key, stream);
  }
  const arch = header.metadata.string("general.architecture") ?? "";
  return { layers: header.metadata.number(`${arch}.block_count`) ?? 0, streams: [...streams.values()] };
}

/** The rate keys a model's estimate needs: what probe.ts must have measured. */
export function neededRates(work: TokenWork): string[] {
  return work.streams.map(streamKey);
}

/**
 * How much of a model's weights stream from memory rather than the CPU cache: none when all a token
 * reads fits in half the last-level cache, all beyond twice it, in between in proportion.
 */
export function memoryShare(bytesPerToken: number, cacheBytes: number | undefined): number {
  if (cacheBytes === undefined || cacheBytes <= 0) return 1;
  return Math.min(1, Math.max(0, (bytesPerToken - cacheBytes / 2) / (1.5 * cacheBytes)));
}

export function estimateSpeed(work: TokenWork, rates: DeviceRates): SpeedEstimate {
  let stepSeconds = rates.stepSeconds + work.layers * rates.layerSeconds;
  let promptSeconds = 0;
  const approximated: string[] = [];
  const bytesPerToken = work.streams.reduce((sum, stream) => sum + stream.bytes, 0);
  const fromMemory = memoryShare(bytesPerToken, rates.cacheBytes);
  for (const stream of work.streams) {
    const key = streamKey(stream);
    let cacheRate = rates.generationBytesPerSecond[key];
    let memoryRate = rates.memoryBytesPerSecond?.[key];
    let multiplyRate = rates.promptMultiplyAddsPerSecond[key];
    if (cacheRate === undefined) {
      approximated.push(key);
      cacheRate = slowest(rates.generationBytesPerSecond, stream.path);
      memoryRate = rates.memoryBytesPerSecond ? slowest(rates.memoryBytesPerSecond, stream.path) : undefined;
      multiplyRate = undefined;
    }
    stepSeconds += stream.bytes * ((1 - fromMemory) / cacheRate + fromMemory / (memoryRate ?? cacheRate));
    if (stream.promptElements > 0) promptSeconds += stream.promptElements / (multiplyRate ?? slowest(rates.promptMultiplyAddsPerSecond, "matrix"));
  }
  return {
    generationTokensPerSecond: 1 / stepSeconds,
    promptTokensPerSecond: promptSeconds > 0 ? 1 / promptSeconds : Infinity,
    bytesPerToken,
    approximated,
  };
}

function slowest(rates: Readonly<Record<string, number>>, path: KernelPath): number {
  const measured = Object.entries(rates).filter(([key]) => key.endsWith(`/${path}`)).map(([, rate]) => rate);
  if (measured.length === 0) throw new Error(`no rate measured for any ${path} stream`);
  return Math.min(...measured);
}
