import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantTypeByName } from "../types.js";
import { assertMatchesGgml, referenceOnly, relativeRoundTripError } from "./kernel-check.testkit.js";

describe("ternary kernels (TQ1_0, TQ2_0)", () => {
  for (const name of ["TQ1_0", "TQ2_0"]) {
    const type = quantTypeByName(name)!;
    it(`${name} writes and reads exactly what ggml does (${type.fast ? "WebAssembly" : "TypeScript"} kernel)`, () => {
      assert.ok(assertMatchesGgml(type) > 0);
    });
    if (type.fast) {
      it(`${name}'s TypeScript reference kernel does too`, () => {
        assert.ok(assertMatchesGgml(referenceOnly(type)) > 0);
      });
    }
    it(`${name} keeps ternary weights exactly and loses much on smooth data`, () => {
      const ternary = Float32Array.from({ length: 512 }, (_, i) => [-0.05, 0, 0.05][i % 3]!);
      const blocks = new Uint8Array((512 / 256) * type.bytesPerBlock);
      type.quantize(ternary, blocks, 512);
      const back = new Float32Array(512);
      type.dequantize(blocks, back, 512);
      for (let i = 0; i < 512; i++) assert.ok(Math.abs(back[i]! - ternary[i]!) < 1e-4, `element ${i}: ${back[i]} vs ${ternary[i]}`);
      const error = relativeRoundTripError(type);
      assert.ok(error > 0.3 && error < 0.9, `${name}: ${error}`);
    });
  }
});
