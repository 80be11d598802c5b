import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ggmlReference } from "../reference.testkit.js";
import { seededRandom } from "../test-data.testkit.js";
import { type QuantType, quantTypeByName } from "../types.js";
import { assertMatchesGgml, referenceOnly, relativeRoundTripError } from "./kernel-check.testkit.js";

/** Upper bounds on relative RMS round-trip error, about 1.5× the measured 0.0512 and 0.0255. */
const ERROR_BOUNDS: Record<string, number> = { Q4_K: 0.077, Q5_K: 0.038 };

/**
 * Super-blocks that reach the corners of ggml's arithmetic the shared test patterns do not:
 *  0. A final rounding pass beyond nearest_int's exact range (±2²²): a −60000 sub-block makes the
 *     minimum's unit coarse, so a −600 sub-block's residual dwarfs its tiny scale; the bit trick wraps.
 *  1–2. Magnitudes whose d and dmin overflow F16: d·0 is then NaN, which C's `!d` does not skip.
 *  3–10. Signed powers of two from 2⁻³⁰ to 2²⁹ (both of the above, at random).
 *  11–14. Values on exact grids, so that many products land on rounding ties.
 */
function hardBlocks(): Float32Array {
  const data = new Float32Array(15 * 256);
  const next = seededRandom(5);
  for (let i = 0; i < 256; i++) {
    const ramp = ((i * 37) % 101) / 101;
    data[i] = i < 32 ? -60000 : i < 64 ? ramp * 1e-3 : i < 96 ? -600 + ramp * 1e-3 : 0;
    data[256 + i] = (ramp * 2 - 1) * 1e6;
    data[512 + i] = (ramp * 2 - 1) * 1e8;
  }
  for (let i = 3 * 256; i < 11 * 256; i++) data[i] = (next() < 0.5 ? 1 : -1) * 2 ** (Math.floor(next() * 60) - 30);
  for (let i = 11 * 256; i < 15 * 256; i++) data[i] = (Math.floor(next() * 31) - 15) / (i < 13 * 256 ? 15 : 6);
  return data;
}

/** Quantizes `data` with `type` and with ggml, and dequantizes ggml's blocks with both: all bit-identical. */
function assertHardBlocksMatch(type: QuantType, data: Float32Array): void {
  const expected = ggmlReference()!.quantize(type.id, data, 1, data.length);
  const actual = new Uint8Array(expected.length);
  type.quantize(data, actual, data.length);
  assert.deepEqual(actual, expected);
  const decoded = new Float32Array(data.length);
  type.dequantize(expected, decoded, data.length);
  const decodedExpected = ggmlReference()!.dequantize(type.id, expected, data.length);
  assert.deepEqual(new Uint8Array(decoded.buffer), new Uint8Array(decodedExpected.buffer));
}

describe("Q4_K and Q5_K kernels", () => {
  for (const name of Object.keys(ERROR_BOUNDS)) {
    const type = quantTypeByName(name)!;
    it(`${name} runs in WebAssembly`, () => {
      assert.ok(type.fast, `kernels.wasm is built and exports quantize${name} and dequantize${name}`);
    });
    // The WebAssembly kernel (what slmkit uses) and the TypeScript one (the readable reference).
    for (const [kernel, checked] of [["WebAssembly", type], ["TypeScript", referenceOnly(type)]] as const) {
      it(`${name} (${kernel}) writes and reads exactly what ggml does`, () => {
        assert.ok(assertMatchesGgml(checked) > 0);
      });
      it(`${name} (${kernel}) matches ggml on overflowing, wide-ranging and tied values`, () => {
        assertHardBlocksMatch(checked, hardBlocks());
      });
      it(`${name} (${kernel}) round-trips within ${ERROR_BOUNDS[name]} relative error`, () => {
        const error = relativeRoundTripError(checked);
        assert.ok(error <= ERROR_BOUNDS[name]!, `${name}: ${error}`);
        assert.ok(error > 0, "a lossy type loses something: the test data is not trivial");
      });
    }
  }
});
