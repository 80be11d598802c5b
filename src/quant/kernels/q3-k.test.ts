import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantTypeByName } from "../types.js";
import { assertMatchesGgml, relativeRoundTripError } from "./kernel-check.testkit.js";

/** About 1.5× the measured relative RMS round-trip error (0.122): a broken kernel lands far above. */
const ERROR_BOUND = 0.18;

describe("Q3_K kernel", () => {
  const type = quantTypeByName("Q3_K")!;
  it("writes and reads exactly what ggml does", () => {
    assert.ok(assertMatchesGgml(type) > 0);
  });
  it(`round-trips within ${ERROR_BOUND} relative error`, () => {
    const error = relativeRoundTripError(type);
    assert.ok(error <= ERROR_BOUND, `Q3_K: ${error}`);
    assert.ok(error > 0, "a lossy type loses something: the test data is not trivial");
  });
});
