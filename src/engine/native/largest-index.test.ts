import assert from "node:assert/strict";
import { test } from "node:test";
import { largestIndex } from "./native-model.js";

/** The plain way: one running maximum, the first of equals. */
function firstLargest(values: Float32Array): number {
  let best = 0;
  for (let index = 1; index < values.length; index++) if (values[index]! > values[best]!) best = index;
  return best;
}

test("largestIndex finds the first largest value at every length and lane", () => {
  let seed = 7;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 20 - 10;
  for (let length = 1; length <= 40; length++) {
    for (let at = 0; at < length; at++) {
      const values = Float32Array.from({ length }, random);
      values[at] = 100;
      assert.equal(largestIndex(values), at, `length ${length}, largest at ${at}`);
      // An equal value later (in another lane, or in the tail) does not win.
      for (let later = at + 1; later < length; later++) {
        const tied = values.slice();
        tied[later] = 100;
        assert.equal(largestIndex(tied), at, `length ${length}, ties at ${at} and ${later}`);
      }
    }
  }
  for (const length of [32000, 151936]) {
    const values = Float32Array.from({ length }, random);
    assert.equal(largestIndex(values), firstLargest(values));
    assert.equal(largestIndex(new Float32Array(length).fill(-1)), 0, "all equal: the first");
  }
});
