/**
 * Quantizes a GGUF file into another, streaming: tensors are read in chunks of whole rows, converted
 * on worker threads, and written in order, so memory stays at a few chunks per thread whatever the
 * model's size. The output appears under its name only when complete (the writer renames a
 * temporary file at the end).
 */
import { availableParallelism } from "node:os";
import { open } from "node:fs/promises";
import { type GgufHeader, GgufError, type TensorToWrite, readGgufHeader, streamTensorData, tensorDataStart, writeGgufFile } from "../gguf/index.js";
import { ConversionPool } from "./conversion-pool.js";
import { type PlannedTensor, type QuantizationPlan, type QuantizeOptions, planQuantization } from "./plan.js";

/** Elements converted per job: big enough to amortize messaging, small enough to spread over threads. */
const CHUNK_ELEMENTS = 1 << 20;

export interface QuantizeProgress {
  readonly tensorIndex: number;
  readonly tensorCount: number;
  readonly tensor: string;
  readonly from: string;
  readonly to: string;
  /** Input bytes processed, over the whole file. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface TensorReport {
  readonly name: string;
  readonly typeIn: string;
  readonly typeOut: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly milliseconds: number;
  readonly fallbackFrom?: string;
}

export interface QuantizeReport {
  readonly input: string;
  readonly output: string;
  readonly preset: string;
  readonly threads: number;
  readonly tensors: readonly TensorReport[];
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly milliseconds: number;
  readonly fallbacks: number;
}

export interface QuantizeFileOptions extends QuantizeOptions {
  /** Worker threads; default: one per core. */
  readonly threads?: number;
  readonly onProgress?: (progress: QuantizeProgress) => void;
}

export async function quantizeFile(input: string, output: string, options: QuantizeFileOptions): Promise<QuantizeReport> {
  const started = performance.now();
  const header = readGgufHeader(input);
  const plan = planQuantization(header, options);
  const threads = Math.max(1, options.threads ?? availableParallelism());
  const pool = new ConversionPool(threads);
  const source = await open(input, "r");
  const reports: TensorReport[] = [];
  const bytesTotal = plan.tensors.reduce((sum, tensor) => sum + tensor.source.byteSize, 0);
  let bytesDone = 0;
  try {
    const tensors: TensorToWrite[] = plan.tensors.map((tensor, index) => ({
      name: tensor.source.name,
      type: tensor.target,
      shape: tensor.source.shape,
      data: () =>
        timed(tensor, reports, tensorChunks(tensor, header, input, source, pool), (bytes) => {
          bytesDone += bytes;
          options.onProgress?.({
            tensorIndex: index,
            tensorCount: plan.tensors.length,
            tensor: tensor.source.name,
            from: tensor.source.type.name,
            to: tensor.target.name,
            bytesDone,
            bytesTotal,
          });
        }),
    }));
    await writeGgufFile(output, { version: header.version, metadata: plan.metadata, tensors });
  } catch (error) {
    throw error instanceof GgufError ? error.inFile(input) : error;
  } finally {
    await source.close();
    await pool.close();
  }
  return summarize(input, output, plan, threads, reports, roundTenth(performance.now() - started));
}

/** Wraps a tensor's chunk stream to time it and report progress in input bytes. */
async function* timed(
  tensor: PlannedTensor,
  reports: TensorReport[],
  chunks: AsyncGenerator<{ bytes: Uint8Array; inputBytes: number }>,
  onInput: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  const started = performance.now();
  let bytesOut = 0;
  for await (const chunk of chunks) {
    bytesOut += chunk.bytes.length;
    onInput(chunk.inputBytes);
    yield chunk.bytes;
  }
  reports.push({
    name: tensor.source.name,
    typeIn: tensor.source.type.name,
    typeOut: tensor.target.name,
    bytesIn: tensor.source.byteSize,
    bytesOut,
    milliseconds: roundTenth(performance.now() - started),
    ...(tensor.fallbackFrom === undefined ? {} : { fallbackFrom: tensor.fallbackFrom }),
  });
}

/** The output bytes of one tensor, chunk by chunk: copied as they are, or converted on the pool. */
async function* tensorChunks(
  tensor: PlannedTensor,
  header: GgufHeader,
  path: string,
  file: Awaited<ReturnType<typeof open>>,
  pool: ConversionPool,
): AsyncGenerator<{ bytes: Uint8Array; inputBytes: number }> {
  const { source, target } = tensor;
  if (source.type.id === target.id) {
    for await (const bytes of streamTensorData(path, header, source)) yield { bytes, inputBytes: bytes.length };
    return;
  }
  const rowLength = source.shape[0]!;
  const rows = source.elements / rowLength;
  const rowBytes = (rowLength / source.type.blockSize) * source.type.bytesPerBlock;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / rowLength));
  const start = tensorDataStart(header, source);
  // Keep every thread busy, with one chunk more each in reserve while results are written.
  const inFlight: Array<{ result: Promise<Uint8Array>; inputBytes: number }> = [];
  const limit = pool.threads * 2;
  for (let row = 0; row < rows; row += rowsPerChunk) {
    const chunkRows = Math.min(rowsPerChunk, rows - row);
    const bytes = new Uint8Array(chunkRows * rowBytes);
    const { bytesRead } = await file.read(bytes, 0, bytes.length, start + row * rowBytes);
    if (bytesRead !== bytes.length) {
      throw new GgufError("TRUNCATED", `tensor '${source.name}' data ends early`, start + row * rowBytes + bytesRead, path);
    }
    const inputBytes = bytes.length; // read before the pool transfers the buffer to a worker
    const result = pool.convert({ sourceTypeId: source.type.id, targetTypeId: target.id, bytes, count: chunkRows * rowLength });
    // Awaited below, in order; until then a failure must not count as an unhandled rejection.
    result.catch(() => undefined);
    inFlight.push({ result, inputBytes });
    if (inFlight.length >= limit) {
      const next = inFlight.shift()!;
      yield { bytes: await next.result, inputBytes: next.inputBytes };
    }
  }
  while (inFlight.length > 0) {
    const next = inFlight.shift()!;
    yield { bytes: await next.result, inputBytes: next.inputBytes };
  }
}

function summarize(input: string, output: string, plan: QuantizationPlan, threads: number, reports: TensorReport[], milliseconds: number): QuantizeReport {
  return {
    input,
    output,
    preset: plan.preset.name,
    threads,
    tensors: reports,
    bytesIn: reports.reduce((sum, report) => sum + report.bytesIn, 0),
    bytesOut: reports.reduce((sum, report) => sum + report.bytesOut, 0),
    milliseconds,
    fallbacks: reports.filter((report) => report.fallbackFrom !== undefined).length,
  };
}

const roundTenth = (milliseconds: number): number => Math.round(milliseconds * 10) / 10;
