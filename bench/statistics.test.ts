import assert from "node:assert/strict";
import { test } from "node:test";
import { median } from "./statistics.js";

test("median: the middle value of an odd count, the mean of the two middle ones of an even count", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([0.97, 1.01, 0.9, 1.05]), (0.97 + 1.01) / 2);
  assert.equal(median([4]), 4);
  assert.ok(Number.isNaN(median([])));
});

test("median leaves its input in order", () => {
  const values = [3, 1, 2, 0];
  median(values);
  assert.deepEqual(values, [3, 1, 2, 0]);
});
