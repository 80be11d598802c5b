/**
 * Converting one chunk of whole rows from a tensor's stored type to another: read the rows from the
 * model file, decode to floats (unless already F32), encode. Used in worker threads and, with one
 * thread, inline. Reading here rather than in the main thread keeps the main thread free to write, and
 * lets the WebAssembly path read straight into module memory.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { tensorTypeById } from "../gguf/index.js";
import { type SourceReader, wasmConverter } from "./wasm-kernels.js";

export interface ConversionJob {
  readonly sourceTypeId: number;
  readonly targetTypeId: number;
  /** The model file, and where in it the chunk's rows (whole blocks) are. */
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  /** Elements in the chunk. */
  readonly count: number;
}

let scratch = new Float32Array(0);
const converters = new Map<string, ((read: SourceReader, count: number) => Uint8Array) | undefined>();
const files = new Map<string, number>();

/** Positional reads through a descriptor kept open per file for the life of the thread. */
function reader(job: ConversionJob): SourceReader {
  let fd = files.get(job.path);
  if (fd === undefined) {
    fd = openSync(job.path, "r");
    files.set(job.path, fd);
  }
  const descriptor = fd;
  return (into) => {
    let filled = 0;
    while (filled < job.length) {
      const got = readSync(descriptor, into, filled, job.length - filled, job.offset + filled);
      if (got === 0) throw new Error(`${job.path} ends at byte ${job.offset + filled}, inside tensor data: the file is truncated`);
      filled += got;
    }
  };
}

/** Closes the files this thread opened (call when the thread's work is done). */
export function closeFiles(): void {
  for (const fd of files.values()) closeSync(fd);
  files.clear();
}

export async function convertChunk(job: ConversionJob): Promise<Uint8Array> {
  const source = tensorTypeById(job.sourceTypeId);
  const target = tensorTypeById(job.targetTypeId);
  if (source === undefined || target === undefined) throw new Error(`unknown tensor type ${job.sourceTypeId} → ${job.targetTypeId}`);
  const key = `${source.name}>${target.name}`;
  if (!converters.has(key)) converters.set(key, wasmConverter(source, target));
  const read = reader(job);
  const inWasm = converters.get(key);
  if (inWasm) return inWasm(read, job.count);
  // No WebAssembly for this pair: the TypeScript kernels, loaded only now (worker start-up stays light).
  const { quantTypeById } = await import("./types.js");
  const decoder = quantTypeById(job.sourceTypeId);
  const encoder = quantTypeById(job.targetTypeId);
  if (decoder === undefined || encoder === undefined) throw new Error(`no kernels for ${source.name} → ${target.name}`);
  const bytes = new Uint8Array(job.length);
  read(bytes);
  let floats: Float32Array;
  if (source.name === "F32") {
    floats = new Float32Array(bytes.buffer, 0, job.count);
  } else {
    if (scratch.length < job.count) scratch = new Float32Array(job.count);
    floats = scratch.subarray(0, job.count);
    decoder.dequantize(bytes, floats, job.count);
  }
  const out = new Uint8Array((job.count / target.blockSize) * target.bytesPerBlock);
  encoder.quantize(floats, out, job.count);
  return out;
}
