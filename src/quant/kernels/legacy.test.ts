import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantTypeByName } from "../types.js";
import { assertMatchesGgml, referenceOnly, relativeRoundTripError } from "./kernel-check.testkit.js";

/** Upper bounds on relative RMS round-trip error: a broken kernel blows far past these. */
const ERROR_BOUNDS: Record<string, number> = { F32: 0, F16: 1e-3, BF16: 8e-3, Q8_0: 0.01, Q5_1: 0.04, Q5_0: 0.05, Q4_1: 0.08, Q4_0: 0.1 };

describe("32-element and float kernels", () => {
  for (const name of Object.keys(ERROR_BOUNDS)) {
    const type = quantTypeByName(name)!;
    it(`${name} writes and reads exactly what ggml does (${type.fast ? "WebAssembly" : "TypeScript"} kernel)`, () => {
      assert.ok(assertMatchesGgml(type) > 0);
    });
    if (type.fast) {
      it(`${name}'s TypeScript reference kernel does too`, () => {
        assert.ok(assertMatchesGgml(referenceOnly(type)) > 0);
      });
    }
    it(`${name} round-trips within ${ERROR_BOUNDS[name]} relative error`, () => {
      const error = relativeRoundTripError(type);
      assert.ok(error <= ERROR_BOUNDS[name]!, `${name}: ${error}`);
      if (name !== "F32") assert.ok(error > 0, "a lossy type loses something: the test data is not trivial");
    });
  }
});

describe("WebAssembly kernels", () => {
  it("are built and used for the 32-element and ternary types", () => {
    for (const name of ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "TQ1_0", "TQ2_0"]) assert.ok(quantTypeByName(name)!.fast, `${name} runs in WebAssembly`);
  });
});
