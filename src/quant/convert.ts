/**
 * Converting one chunk of whole rows from a tensor's stored type to another: decode to floats (unless
 * already F32), then encode. Used in worker threads and, with one thread, inline.
 */
import { quantTypeById } from "./types.js";
import { wasmConverter } from "./wasm-kernels.js";

export interface ConversionJob {
  readonly sourceTypeId: number;
  readonly targetTypeId: number;
  /** Source bytes: whole blocks of whole rows. */
  readonly bytes: Uint8Array;
  /** Elements in the chunk. */
  readonly count: number;
}

let scratch = new Float32Array(0);
const converters = new Map<string, ((bytes: Uint8Array, count: number) => Uint8Array) | undefined>();

export function convertChunk(job: ConversionJob): Uint8Array {
  const source = quantTypeById(job.sourceTypeId);
  const target = quantTypeById(job.targetTypeId);
  if (source === undefined || target === undefined) throw new Error(`no kernels for type ${job.sourceTypeId} → ${job.targetTypeId}`);
  const key = `${source.name}>${target.name}`;
  if (!converters.has(key)) converters.set(key, wasmConverter(source, target));
  const inWasm = converters.get(key);
  if (inWasm) return inWasm(job.bytes, job.count);
  let floats: Float32Array;
  if (source.name === "F32" && job.bytes.byteOffset % 4 === 0) {
    floats = new Float32Array(job.bytes.buffer, job.bytes.byteOffset, job.count);
  } else {
    if (scratch.length < job.count) scratch = new Float32Array(job.count);
    floats = scratch.subarray(0, job.count);
    source.dequantize(job.bytes, floats, job.count);
  }
  const out = new Uint8Array((job.count / target.blockSize) * target.bytesPerBlock);
  target.quantize(floats, out, job.count);
  return out;
}
