/**
 * The table of tensor types slmkit can write: one row per type, joining the storage layout (from the
 * GGUF stage's own table of layouts) with the kernels that encode and decode it. The quantizer and
 * the stages above it (the footprint estimator to come) read this one table.
 */
import { type TensorTypeLayout, tensorTypeByName } from "../gguf/index.js";
import { bf16Kernel, f16Kernel, f32Kernel } from "./kernels/float.js";
import type { QuantKernel } from "./kernels/kernel.js";
import { wasmKernel } from "./wasm-kernels.js";
import { q4_0, q4_1, q5_0, q5_1, q8_0 } from "./kernels/legacy.js";
import { q2_K } from "./kernels/q2-k.js";
import { q3_K } from "./kernels/q3-k.js";
import { q4_K, q5_K } from "./kernels/q4-q5-k.js";
import { q6_K } from "./kernels/q6-k.js";
import { tq1_0, tq2_0 } from "./kernels/ternary.js";

export interface QuantType extends TensorTypeLayout, QuantKernel {
  /** The TypeScript kernel: the readable reference. `quantize`/`dequantize` are the WebAssembly ones when built. */
  readonly reference: QuantKernel;
  /** True when quantize/dequantize run in WebAssembly. */
  readonly fast: boolean;
}

function row(name: string, reference: QuantKernel): QuantType {
  const layout = tensorTypeByName(name);
  if (layout === undefined) throw new Error(`no layout for ${name}`);
  const fast = wasmKernel(name, layout.blockSize, layout.bytesPerBlock);
  return { ...layout, quantize: (fast ?? reference).quantize, dequantize: (fast ?? reference).dequantize, reference, fast: fast !== undefined };
}

export const QUANT_TYPES: readonly QuantType[] = [
  row("F32", f32Kernel),
  row("F16", f16Kernel),
  row("BF16", bf16Kernel),
  row("Q8_0", q8_0),
  row("Q4_0", q4_0),
  row("Q4_1", q4_1),
  row("Q5_0", q5_0),
  row("Q5_1", q5_1),
  row("Q2_K", q2_K),
  row("Q3_K", q3_K),
  row("Q4_K", q4_K),
  row("Q5_K", q5_K),
  row("Q6_K", q6_K),
  row("TQ1_0", tq1_0),
  row("TQ2_0", tq2_0),
];

const byId = new Map(QUANT_TYPES.map((type) => [type.id, type]));
const byName = new Map(QUANT_TYPES.map((type) => [type.name, type]));

/** The kernels of a type id, or undefined when slmkit cannot encode/decode that type. */
export function quantTypeById(id: number): QuantType | undefined {
  return byId.get(id);
}

/** The kernels of a type by name (case-insensitive), or undefined. */
export function quantTypeByName(name: string): QuantType | undefined {
  return byName.get(name.toUpperCase());
}

/** Encodes `rows × rowLength` floats into a new buffer of the type's blocks. */
export function quantizeRows(type: QuantType, src: Float32Array, rows: number, rowLength: number): Uint8Array {
  if (rowLength % type.blockSize !== 0) throw new RangeError(`rows of ${rowLength} are not a multiple of the ${type.name} block size ${type.blockSize}`);
  const dst = new Uint8Array((rows * rowLength * type.bytesPerBlock) / type.blockSize);
  type.quantize(src, dst, rows * rowLength);
  return dst;
}

/** Decodes `count` elements of a type's blocks into a new Float32Array. */
export function dequantizeElements(type: QuantType, src: Uint8Array, count: number): Float32Array {
  const dst = new Float32Array(count);
  type.dequantize(src, dst, count);
  return dst;
}
