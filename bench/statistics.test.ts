import assert from "node:assert/strict";
import { test } from "node:test";
import { bootstrapInterval, median } from "./statistics.js";

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

test("bootstrapInterval: equal values give a point; the interval holds the median and lies within the values", () => {
  assert.deepEqual(bootstrapInterval([1.02, 1.02, 1.02]), { low: 1.02, high: 1.02 });
  const ratios = [1.0, 0.99, 0.98, 0.96, 1.08, 0.98, 1.1, 1.0, 0.94, 0.89];
  const { low, high } = bootstrapInterval(ratios);
  assert.ok(low <= median(ratios) && median(ratios) <= high, `${low}..${high}`);
  assert.ok(low >= Math.min(...ratios) && high <= Math.max(...ratios));
  assert.ok(low < 1 && high > 1, "rounds on both sides of 1 cannot exclude 1");
  const empty = bootstrapInterval([]);
  assert.ok(Number.isNaN(empty.low) && Number.isNaN(empty.high));
});

test("bootstrapInterval: repeatable by seed, wider at higher confidence, excludes 1 when every round is ahead", () => {
  const ratios = [1.03, 1.05, 1.01, 1.07, 1.04, 1.02, 1.06, 1.03];
  assert.deepEqual(bootstrapInterval(ratios, median, { seed: 7 }), bootstrapInterval(ratios, median, { seed: 7 }));
  const narrow = bootstrapInterval(ratios, median, { confidence: 0.5 });
  const wide = bootstrapInterval(ratios, median, { confidence: 0.99 });
  assert.ok(wide.low <= narrow.low && wide.high >= narrow.high && wide.high - wide.low > narrow.high - narrow.low);
  assert.ok(bootstrapInterval(ratios).low > 1);
  const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const ofMean = bootstrapInterval([1, 2, 3, 4], mean);
  assert.ok(ofMean.low >= 1 && ofMean.high <= 4 && ofMean.low < 2.5 && ofMean.high > 2.5);
});
