/**
 * Holds a kernel to ggml's reference (through the FFI in ../reference.testkit.ts): the same bytes
 * when quantizing, the same floats when dequantizing, over every data pattern and several shapes.
 */
import assert from "node:assert/strict";
import { ggmlReference } from "../reference.testkit.js";
import { testMatrix } from "../test-data.testkit.js";
import type { QuantType } from "../types.js";

/** Row lengths and row counts that cover one block, many blocks and odd counts of blocks. */
export function shapesFor(blockSize: number): Array<[rows: number, rowLength: number]> {
  const unit = Math.max(blockSize, 32);
  return [
    [1, unit],
    [3, unit * 2],
    [7, unit * 5],
    [16, 4096],
    [2, unit * 17],
  ].filter(([, rowLength]) => rowLength! % blockSize === 0) as Array<[number, number]>;
}

/** Asserts `type` quantizes and dequantizes exactly as ggml does; returns the blocks compared. */
export function assertMatchesGgml(type: QuantType, seeds: readonly number[] = [1, 2, 3]): number {
  const reference = ggmlReference();
  assert.ok(reference, "node-llama-cpp's prebuilt libggml-base is installed");
  let blocks = 0;
  for (const seed of seeds) {
    for (const [rows, rowLength] of shapesFor(type.blockSize)) {
      const source = testMatrix(rows, rowLength, seed);
      const expected: Uint8Array = reference.quantize(type.id, source, rows, rowLength);
      const actual: Uint8Array = new Uint8Array(expected.length);
      type.quantize(source, actual, source.length);
      const at = firstDifference(expected, actual);
      if (at !== -1) {
        const block = Math.floor(at / type.bytesPerBlock);
        assert.fail(`${type.name} ${rows}×${rowLength} seed ${seed}: byte ${at} (block ${block}, byte ${at % type.bytesPerBlock} of it) is ${actual[at]}, ggml wrote ${expected[at]}`);
      }
      const decodedExpected = reference.dequantize(type.id, expected, source.length);
      const decoded = new Float32Array(source.length);
      type.dequantize(expected, decoded, source.length);
      const differentFloat = firstDifference(new Uint8Array(decodedExpected.buffer), new Uint8Array(decoded.buffer));
      if (differentFloat !== -1) {
        const index = Math.floor(differentFloat / 4);
        assert.fail(`${type.name} dequantize ${rows}×${rowLength}: element ${index} is ${decoded[index]}, ggml gives ${decodedExpected[index]}`);
      }
      blocks += expected.length / type.bytesPerBlock;
    }
  }
  return blocks;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

/** Round-trip error of a type on normal data, relative to the data's RMS: for per-type bounds. */
export function relativeRoundTripError(type: QuantType, seed = 5): number {
  const rows = 8;
  const rowLength = 4096;
  const source = testMatrix(rows, rowLength, seed).map((_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011));
  const blocks = new Uint8Array((source.length / type.blockSize) * type.bytesPerBlock);
  type.quantize(source, blocks, source.length);
  const decoded = new Float32Array(source.length);
  type.dequantize(blocks, decoded, source.length);
  let error = 0;
  let energy = 0;
  for (let i = 0; i < source.length; i++) {
    error += (source[i]! - decoded[i]!) ** 2;
    energy += source[i]! ** 2;
  }
  return Math.sqrt(error / energy);
}

/** The same type with its TypeScript reference kernel in place of the WebAssembly one. */
export function referenceOnly(type: QuantType): QuantType {
  return { ...type, quantize: type.reference.quantize, dequantize: type.reference.dequantize, fast: false };
}
