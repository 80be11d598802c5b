import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseKeepAlive } from "./duration.js";

describe("keep_alive durations", () => {
  it("reads Ollama's forms: seconds, Go durations, negative for ever, 0 for now", () => {
    const cases: Array<[string | number, number | undefined]> = [
      [300, 300_000],
      ["300", 300_000],
      ["5m", 300_000],
      ["1h30m", 5_400_000],
      ["250ms", 250],
      ["1.5s", 1500],
      [0, 0],
      ["0", 0],
      [-1, Infinity],
      ["-1", Infinity],
      ["-5m", Infinity],
      ["soon", undefined],
      ["5 minutes", undefined],
      ["", undefined],
    ];
    for (const [input, expected] of cases) assert.equal(parseKeepAlive(input), expected, JSON.stringify(input));
  });
});
