import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ggmlReference } from "../reference.testkit.js";
import { seededRandom } from "../test-data.testkit.js";
import { quantTypeByName, type QuantType } from "../types.js";
import { assertMatchesGgml, referenceOnly, relativeRoundTripError } from "./kernel-check.testkit.js";

/** About 1.5× the measured relative RMS round-trip error (0.0118): a broken kernel lands far above. */
const ERROR_BOUND = 0.018;

/**
 * Blocks that send ggml down its rarely taken paths: NaN and infinities (nearest_int of NaN is 0),
 * magnitudes beyond the kernel's fast paths, ties on exact level boundaries, equal magnitudes.
 */
function unusualBlocks(): Float32Array {
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

/** Values on a coarse grid (multiples of 1/32, scaled per block): many fall exactly on level boundaries. */
function gridValuedBlocks(blocks: number): Float32Array {
  const next = seededRandom(1);
  const data = new Float32Array(blocks * 256);
  for (let block = 0; block < blocks; block++) {
    const scale = 10 ** (next() * 6 - 3);
    for (let i = block * 256; i < (block + 1) * 256; i++) {
      const normal = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
      data[i] = (Math.round(normal * 16) / 32) * scale;
    }
  }
  return data;
}

function assertSameBytesAsGgml(type: QuantType, source: Float32Array): void {
  const expected = ggmlReference()!.quantize(type.id, source, 1, source.length);
  const actual = new Uint8Array(expected.length);
  type.quantize(source, actual, source.length);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.equal(at, -1, `block ${Math.floor(at / type.bytesPerBlock)} differs from ggml's`);
}

describe("Q6_K kernels", () => {
  const type = quantTypeByName("Q6_K")!;
  it("has a WebAssembly kernel", () => {
    assert.ok(type.fast, "kernels.wasm exports quantizeQ6_K and dequantizeQ6_K");
  });
  // The WebAssembly kernel (what the quantizer runs) and the TypeScript reference, held to the same tests.
  for (const [kernel, checked] of [
    ["WebAssembly", type],
    ["TypeScript", referenceOnly(type)],
  ] as const) {
    describe(`${kernel} kernel`, () => {
      it("writes and reads exactly what ggml does", () => {
        assert.ok(assertMatchesGgml(checked) > 0);
      });
      it("matches ggml on non-finite, huge, tiny and tied values", () => {
        assertSameBytesAsGgml(checked, unusualBlocks());
      });
      it("matches ggml where values fall exactly on level boundaries", () => {
        assertSameBytesAsGgml(checked, gridValuedBlocks(8192));
      });
      it(`round-trips within ${ERROR_BOUND} relative error`, () => {
        const error = relativeRoundTripError(checked);
        assert.ok(error <= ERROR_BOUND, `Q6_K: ${error}`);
        assert.ok(error > 0, "a lossy type loses something: the test data is not trivial");
      });
    });
  }
});
