import assert from "node:assert/strict";
import { test } from "node:test";
import { compressRow, rowWords } from "./log-probs.js";
import { DivergenceAccumulator, PerplexityAccumulator, percentile } from "./quality-stats.js";

test("perplexity of uniform predictions is the vocabulary size", () => {
  const accumulator = new PerplexityAccumulator();
  for (let position = 0; position < 50; position++) accumulator.add(new Float32Array(64).fill(1.5), position % 64);
  const result = accumulator.result();
  assert.ok(Math.abs(result.perplexity - 64) < 1e-9);
  assert.equal(result.tokens, 50);
  assert.equal(result.perplexityUncertainty, 0);
});

test("percentiles interpolate between order statistics", () => {
  const sorted = Float64Array.from([0, 10, 20, 30, 40]);
  assert.equal(percentile(sorted, 0.5), 20);
  assert.equal(percentile(sorted, 0.9), 36);
  assert.equal(percentile(sorted, 0), 0);
  assert.equal(percentile(sorted, 1), 40);
});

function row(logits: number[]): Uint16Array {
  const stored = new Uint16Array(rowWords(logits.length));
  compressRow(Float32Array.from(logits), stored);
  return stored;
}

test("a model compared with itself: KLD ~0, same top token everywhere, PPL ratio 1", () => {
  const accumulator = new DivergenceAccumulator();
  for (let position = 0; position < 40; position++) {
    const logits = Array.from({ length: 32 }, (_, index) => Math.sin(index * 0.7 + position) * 4);
    accumulator.add(Float32Array.from(logits), row(logits), position % 32);
  }
  const result = accumulator.result();
  // The baseline is stored in 16-bit steps (~1e-4 nats), which bounds how close to 0 KLD gets.
  assert.ok(Math.abs(result.kld.mean) < 1e-5, `KLD ${result.kld.mean}`);
  assert.equal(result.sameTopP, 1);
  assert.ok(Math.abs(result.pplRatio - 1) < 1e-4);
  assert.ok(result.rmsDeltaP < 1e-4);
});

test("KLD of two known distributions matches the closed form", () => {
  // Baseline p = (0.5, 0.5); model q = (0.9, 0.1): KL(p‖q) = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1).
  const accumulator = new DivergenceAccumulator();
  const model = Float32Array.from([Math.log(0.9), Math.log(0.1)]);
  accumulator.add(model, row([0, 0]), 1);
  const expected = 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1);
  const result = accumulator.result();
  assert.ok(Math.abs(result.kld.mean - expected) < 1e-4, `${result.kld.mean} vs ${expected}`);
  assert.ok(Math.abs(result.perplexity - 10) < 1e-4);
  assert.ok(Math.abs(result.baselinePerplexity - 2) < 1e-3);
  assert.ok(Math.abs(result.deltaP.mean - (0.1 - 0.5)) < 1e-4);
  assert.equal(result.sameTopP, 1, "ties rank the first token first, and the model's top is token 0");
});

test("a disagreeing top token lowers same-top-p", () => {
  const accumulator = new DivergenceAccumulator();
  accumulator.add(Float32Array.from([0, 3]), row([3, 0]), 0);
  accumulator.add(Float32Array.from([3, 0]), row([3, 0]), 0);
  assert.equal(accumulator.result().sameTopP, 0.5);
});
