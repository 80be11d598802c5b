import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantTypeByName } from "../types.js";
import { assertMatchesGgml, relativeRoundTripError } from "./kernel-check.testkit.js";

/** About 1.5× the measured relative RMS round-trip error (0.0118): a broken kernel lands far above. */
const ERROR_BOUND = 0.018;

describe("Q6_K kernel", () => {
  const type = quantTypeByName("Q6_K")!;
  it("writes and reads exactly what ggml does", () => {
    assert.ok(assertMatchesGgml(type) > 0);
  });
  it(`round-trips within ${ERROR_BOUND} relative error`, () => {
    const error = relativeRoundTripError(type);
    assert.ok(error <= ERROR_BOUND, `Q6_K: ${error}`);
    assert.ok(error > 0, "a lossy type loses something: the test data is not trivial");
  });
});
