/**
 * Holds a kernel to ggml's reference (through the FFI in ../reference.testkit.ts): the same bytes
 * when quantizing, the same floats when dequantizing, over every data pattern and several shapes,
 * and over data sets built to reach the corners of particular kernels.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ggmlReference, type GgmlReference } from "../reference.testkit.js";
import { normal, seededRandom, testMatrix } from "../test-data.testkit.js";
import { quantTypeByName, type QuantType } from "../types.js";

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
      blocks += compareWithGgml(reference, type, testMatrix(rows, rowLength, seed), rows, `${rows}×${rowLength} seed ${seed}`);
    }
  }
  return blocks;
}

/** Asserts `type` quantizes `data` (one row) to ggml's bytes and dequantizes ggml's blocks to ggml's floats. */
export function assertBlocksMatchGgml(type: QuantType, data: Float32Array): void {
  const reference = ggmlReference();
  assert.ok(reference, "node-llama-cpp's prebuilt libggml-base is installed");
  compareWithGgml(reference, type, data, 1, `${data.length / type.blockSize} blocks`);
}

/** Quantizes `source` with `type` and with ggml, then dequantizes ggml's blocks with both: all bit-identical. Returns the blocks compared. */
function compareWithGgml(reference: GgmlReference, type: QuantType, source: Float32Array, rows: number, label: string): number {
  const expected = reference.quantize(type.id, source, rows, source.length / rows);
  const actual = new Uint8Array(expected.length);
  type.quantize(source, actual, source.length);
  const at = firstDifference(expected, actual);
  if (at !== -1) {
    const block = Math.floor(at / type.bytesPerBlock);
    assert.fail(`${type.name} ${label}: byte ${at} (block ${block}, byte ${at % type.bytesPerBlock} of it) is ${actual[at]}, ggml wrote ${expected[at]}`);
  }
  const decodedExpected = reference.dequantize(type.id, expected, source.length);
  const decoded = new Float32Array(source.length);
  type.dequantize(expected, decoded, source.length);
  const differentFloat = firstDifference(new Uint8Array(decodedExpected.buffer), new Uint8Array(decoded.buffer));
  if (differentFloat !== -1) {
    const index = Math.floor(differentFloat / 4);
    assert.fail(`${type.name} dequantize ${label}: element ${index} is ${decoded[index]}, ggml gives ${decodedExpected[index]}`);
  }
  return expected.length / type.bytesPerBlock;
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

/**
 * Twenty-eight super-blocks (seven recipes, four times over) that send ggml down its rarely taken
 * paths: a NaN (nearest_int of NaN is 0), +∞ and −∞, magnitudes far above the kernels' fast paths
 * (up to 10⁹) and far below them (up to 5·10⁻⁸), multiples of ⅛ that tie on level boundaries, and
 * a block of ±½ whose elements all have the same magnitude.
 */
export function nonFiniteAndExtremeBlocks(): Float32Array {
  const next = seededRandom(11);
  const recipes: Array<(i: number) => number> = [
    (i) => (i === 37 ? NaN : next() - 0.5),
    (i) => (i === 200 ? Infinity : next() - 0.5),
    (i) => (i === 5 ? -Infinity : (next() - 0.5) * 1e-3),
    () => (next() - 0.5) * 2e9,
    () => (next() - 0.5) * 1e-7,
    () => Math.round((next() - 0.5) * 16) / 8,
    (i) => (i % 3 === 0 ? 0.5 : -0.5),
  ];
  const data = new Float32Array(recipes.length * 256 * 4);
  for (let i = 0; i < data.length; i++) data[i] = recipes[Math.floor(i / 256) % recipes.length]!(i % 256);
  return data;
}

/**
 * `blocks` super-blocks of normal values rounded to multiples of 1/32, each block then scaled by its
 * own factor between 10⁻³ and 10³: many values fall exactly on level boundaries.
 */
export function blocksOnLevelBoundaries(blocks: number): Float32Array {
  const next = seededRandom(1);
  const data = new Float32Array(blocks * 256);
  for (let block = 0; block < blocks; block++) {
    const scale = 10 ** (next() * 6 - 3);
    for (let i = block * 256; i < (block + 1) * 256; i++) data[i] = (Math.round(normal(next) * 16) / 32) * scale;
  }
  return data;
}

/**
 * Fifteen super-blocks that reach the corners of ggml's affine (scale and minimum) search that the
 * shared test patterns miss:
 *  0. A final rounding pass beyond nearest_int's exact range (±2²²): a −60000 sub-block makes the
 *     minimum's unit coarse, so the residual of a sub-block at `offset` dwarfs its tiny scale and the
 *     bit trick wraps. The tests use −1500 for Q2_K, and −600 for Q4_K and Q5_K.
 *  1–2. Magnitudes whose d and dmin overflow F16: d·0 is then NaN, which C's `!d` does not skip.
 *  3–10. Signed powers of two from 2⁻³⁰ to 2²⁹, which reach both of the above at random.
 *  11–14. Values on exact grids, so that many products land on rounding ties.
 */
export function affineSearchEdgeBlocks(offset: number): Float32Array {
  const data = new Float32Array(15 * 256);
  const next = seededRandom(5);
  for (let i = 0; i < 256; i++) {
    const ramp = ((i * 37) % 101) / 101;
    data[i] = i < 32 ? -60000 : i < 64 ? ramp * 1e-3 : i < 96 ? offset + ramp * 1e-3 : 0;
    data[256 + i] = (ramp * 2 - 1) * 1e6;
    data[512 + i] = (ramp * 2 - 1) * 1e8;
  }
  for (let i = 3 * 256; i < 11 * 256; i++) data[i] = (next() < 0.5 ? 1 : -1) * 2 ** (Math.floor(next() * 60) - 30);
  for (let i = 11 * 256; i < 15 * 256; i++) data[i] = (Math.floor(next() * 31) - 15) / (i < 13 * 256 ? 15 : 6);
  return data;
}

/** A data set a kernel must quantize and dequantize exactly as ggml does: `values` is what the test is named for. */
export interface EdgeCases {
  readonly values: string;
  readonly data: () => Float32Array;
}

/**
 * Declares the tests of a type with a WebAssembly kernel: that the kernel is built, then, for it and
 * for the TypeScript reference kernel alike, ggml's bytes and floats on the shared test matrices and on
 * each of `edgeCases`, and a relative round-trip error above 0 and at most `errorBound`.
 */
export function describeKernelChecks(name: string, errorBound: number, edgeCases: readonly EdgeCases[]): void {
  describe(`${name} kernels`, () => {
    const type = quantTypeByName(name)!;
    it("has a WebAssembly kernel", () => {
      assert.ok(type.fast, `kernels.wasm is built and exports quantize${name} and dequantize${name}`);
    });
    // The WebAssembly kernel (what slmkit runs) and the TypeScript one (the readable reference), held to the same tests.
    for (const [kernel, checked] of [
      ["WebAssembly", type],
      ["TypeScript", referenceOnly(type)],
    ] as const) {
      describe(`${kernel} kernel`, () => {
        it("writes and reads exactly what ggml does", () => {
          assert.ok(assertMatchesGgml(checked) > 0);
        });
        for (const { values, data } of edgeCases) {
          it(`matches ggml on ${values}`, () => {
            assertBlocksMatchGgml(checked, data());
          });
        }
        it(`round-trips within ${errorBound} relative error`, () => {
          const error = relativeRoundTripError(checked);
          assert.ok(error <= errorBound, `${name}: ${error}`);
          assert.ok(error > 0, "a lossy type loses something: the test data is not trivial");
        });
      });
    }
  });
}
