/**
 * The WebAssembly kernels (built from ./assembly by AssemblyScript into kernels.wasm beside this
 * file). JavaScript's doubles make float32 code 3–5× slower than C even with Math.fround everywhere;
 * WebAssembly has native float32 arithmetic, so the same operations run at C speed and give the same
 * bits. The TypeScript kernels in ./kernels stay as the readable reference the tests hold these to.
 *
 * Each thread (main or worker) instantiates its own module. Memory layout per call: input at the
 * heap base, then output (and for conversions, the floats in between), all 16-byte aligned.
 */
import { existsSync, readFileSync } from "node:fs";
import type { QuantKernel } from "./kernels/kernel.js";

type Kernel = (src: number, dst: number, count: number) => void;

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  [name: string]: unknown;
}

const WASM_FILE = new URL("./kernels.wasm", import.meta.url);
let exports: KernelExports | null | undefined;

/** The module's exports, or null when kernels.wasm was not built (the TypeScript kernels then serve). */
function module(): KernelExports | null {
  if (exports !== undefined) return exports;
  if (process.env.SLMKIT_NO_WASM === "1" || !existsSync(WASM_FILE)) return (exports = null);
  const compiled = new WebAssembly.Module(readFileSync(WASM_FILE));
  exports = new WebAssembly.Instance(compiled, { env: { abort: wasmAbort } }).exports as unknown as KernelExports;
  return exports;
}

function wasmAbort(): never {
  throw new Error("a WebAssembly quantization kernel aborted");
}

const align = (offset: number): number => (offset + 15) & ~15;

/** Grows the module's memory to hold `bytes` past the heap base; returns the heap base. */
function reserve(module: KernelExports, bytes: number): number {
  const base = align(module.heapBase());
  const needed = base + bytes - module.memory.buffer.byteLength;
  if (needed > 0) module.memory.grow(Math.ceil(needed / 65536));
  return base;
}

function kernel(name: string): Kernel | undefined {
  const found = module()?.[name];
  return typeof found === "function" ? (found as Kernel) : undefined;
}

/**
 * The WebAssembly kernel of a type (exports `quantize<Name>` / `dequantize<Name>`), or undefined
 * when there is none. `blockSize` and `bytesPerBlock` size the buffers.
 */
export function wasmKernel(name: string, blockSize: number, bytesPerBlock: number): QuantKernel | undefined {
  const quantize = kernel(`quantize${name}`);
  const dequantize = kernel(`dequantize${name}`);
  if (quantize === undefined || dequantize === undefined) return undefined;
  const encodedBytes = (count: number): number => (count / blockSize) * bytesPerBlock;
  return {
    quantize(x, y, count) {
      const wasm = module()!;
      const base = reserve(wasm, align(count * 4) + encodedBytes(count));
      const output = base + align(count * 4);
      new Float32Array(wasm.memory.buffer, base, count).set(x.subarray(0, count));
      quantize(base, output, count);
      y.set(new Uint8Array(wasm.memory.buffer, output, encodedBytes(count)));
    },
    dequantize(q, y, count) {
      const wasm = module()!;
      const bytes = encodedBytes(count);
      const base = reserve(wasm, align(bytes) + count * 4);
      const output = base + align(bytes);
      new Uint8Array(wasm.memory.buffer, base, bytes).set(q.subarray(0, bytes));
      dequantize(base, output, count);
      y.set(new Float32Array(wasm.memory.buffer, output, count));
    },
  };
}

/** Decoders from a stored type to float32 inside the module, by type name. */
const DECODERS: Record<string, string> = { F16: "decodeF16", BF16: "decodeBF16" };

/** Fills `into` with a chunk's source bytes (e.g. a positional read from the model file). */
export type SourceReader = (into: Uint8Array) => void;

/**
 * A whole conversion (decode the source rows, encode the target blocks) inside the module: the source
 * bytes are read straight into module memory and floats never cross into JavaScript. Undefined when
 * either side has no WebAssembly kernel.
 */
export function wasmConverter(
  source: { name: string; blockSize: number; bytesPerBlock: number },
  target: { name: string; blockSize: number; bytesPerBlock: number },
): ((read: SourceReader, count: number) => Uint8Array) | undefined {
  const decode = source.name === "F32" ? undefined : kernel(DECODERS[source.name] ?? `dequantize${source.name}`);
  const encode = kernel(target.name === "F16" ? "encodeF16" : `quantize${target.name}`);
  if (encode === undefined || (source.name !== "F32" && decode === undefined)) return undefined;
  return (read, count) => {
    const wasm = module()!;
    const inputBytes = (count / source.blockSize) * source.bytesPerBlock;
    const outputBytes = (count / target.blockSize) * target.bytesPerBlock;
    const base = reserve(wasm, align(inputBytes) + align(count * 4) + outputBytes);
    const floats = decode === undefined ? base : base + align(inputBytes);
    const output = floats + align(count * 4);
    read(new Uint8Array(wasm.memory.buffer, base, inputBytes));
    decode?.(base, floats, count);
    encode(floats, output, count);
    return new Uint8Array(wasm.memory.buffer, output, outputBytes).slice();
  };
}
