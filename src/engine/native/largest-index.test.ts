import assert from "node:assert/strict";
import { test } from "node:test";
import { largestIndex, largestIndexScalar, largestIndexSimd } from "./largest-index.js";

/** The plain way: one running maximum, the first of equals. */
function firstLargest(values: Float32Array): number {
  let best = 0;
  for (let index = 1; index < values.length; index++) if (values[index]! > values[best]!) best = index;
  return best;
}

const implementations = { largestIndex, largestIndexScalar };

function randomValues(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 20 - 10;
}

const kernelOff = process.env["SLMKIT_NO_WASM"] === "1";

test("the WebAssembly kernel alone finds the first largest value at every position of whole steps", { skip: kernelOff && "SLMKIT_NO_WASM=1" }, () => {
  const random = randomValues(11);
  for (const length of [16, 32, 48, 64, 80]) {
    for (let at = 0; at < length; at++) {
      const values = Float32Array.from({ length }, random);
      values[at] = 100;
      assert.equal(largestIndexSimd(values), at, `length ${length}, largest at ${at}`);
      for (const later of [at + 1, at + 4, at + 15, length - 1]) {
        if (later <= at || later >= length) continue;
        const tied = values.slice();
        tied[later] = 100;
        assert.equal(largestIndexSimd(tied), at, `length ${length}, ties at ${at} and ${later}`);
      }
    }
  }
  for (const length of [151936, 262144, 16]) {
    const values = Float32Array.from({ length }, random);
    assert.equal(largestIndexSimd(values), firstLargest(values), `length ${length} (after a longer one, the old values past it do not count)`);
  }
  // The kernel takes the row in chunks of 4096 values: across them, too, the first of equals wins and a number beats NaN.
  const chunks = new Float32Array(3 * 4096 + 32).fill(-1);
  chunks[5000] = 3;
  chunks[9000] = 3;
  chunks[12300] = 3;
  assert.equal(largestIndexSimd(chunks), 5000, "equals in later chunks do not win");
  chunks[12300] = 4;
  assert.equal(largestIndexSimd(chunks), 12300, "a larger value in the last, short chunk wins");
  const nanFirst = new Float32Array(2 * 4096).fill(NaN);
  nanFirst[4096 + 7] = -1e30;
  assert.equal(largestIndexSimd(nanFirst), 4103, "a chunk of NaNs, then a number");
  assert.equal(largestIndexSimd(new Float32Array(32).fill(NaN)), -1, "all NaN: none");
  assert.equal(largestIndexSimd(new Float32Array(32).fill(-Infinity)), 0, "all -Infinity: the first");
  assert.throws(() => largestIndexSimd(new Float32Array(20)), RangeError);
});

for (const [name, largest] of Object.entries(implementations)) {
  test(`${name} finds the first largest value at every length and lane`, () => {
    const random = randomValues(7);
    for (let length = 1; length <= 40; length++) {
      for (let at = 0; at < length; at++) {
        const values = Float32Array.from({ length }, random);
        values[at] = 100;
        assert.equal(largest(values), at, `length ${length}, largest at ${at}`);
        // An equal value later (in another lane, or in the tail) does not win.
        for (let later = at + 1; later < length; later++) {
          const tied = values.slice();
          tied[later] = 100;
          assert.equal(largest(tied), at, `length ${length}, ties at ${at} and ${later}`);
        }
      }
    }
    for (const length of [32000, 151936, 262144, 32001]) {
      const values = Float32Array.from({ length }, random);
      assert.equal(largest(values), firstLargest(values), `length ${length}`);
      assert.equal(largest(new Float32Array(length).fill(-1)), 0, "all equal: the first");
      values[length - 1] = 50;
      assert.equal(largest(values), length - 1, "the very last");
    }
  });
}

test("largestIndex: a shorter array after a longer one is not answered from the longer one's tail", () => {
  const long = new Float32Array(200000).fill(-5);
  long[150000] = 9;
  assert.equal(largestIndex(long), 150000);
  const short = new Float32Array(100003).fill(-7);
  short[100001] = -6;
  assert.equal(largestIndex(short), 100001);
});

test("largestIndex skips NaNs, takes -Infinity and negative values, and answers 0 for all NaN", () => {
  const values = new Float32Array(1000).fill(-Infinity);
  values[3] = NaN;
  values[700] = -1e30;
  values[900] = NaN;
  assert.equal(largestIndex(values), 700);
  assert.equal(largestIndex(new Float32Array(1000).fill(-Infinity)), 0);
  assert.equal(largestIndex(new Float32Array(1000).fill(NaN)), 0);
  const numberInTail = new Float32Array(1000).fill(NaN);
  numberInTail[995] = -3;
  assert.equal(largestIndex(numberInTail), 995, "NaN in every whole step, a number after them");
  const zeros = new Float32Array(64).fill(-1);
  zeros[10] = -0;
  zeros[20] = 0;
  assert.equal(largestIndex(zeros), 10, "-0 and +0 are equal: the first");
});
