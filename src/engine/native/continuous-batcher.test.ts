import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { synthesizeModel } from "../../synth/index.js";
import { ContinuousBatcher } from "./continuous-batcher.js";
import { NativeModel } from "./native-model.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-batcher-"));
const path = join(directory, "tiny.gguf");
const GREEDY = { temperature: 0, topK: 0, topP: 1, minP: 0, seed: 1 };
const TEXTS = [
  "Once upon a time",
  "The little dog ran to the park and played with a red ball until the sun went down.",
  "Hi",
  "Tom and Sue went to the market. They bought bread, milk and apples, and then they walked home together, talking about the big tree.",
  "A bird sang.",
  "Mom said: be kind to your friends.",
];

before(async () => {
  await synthesizeModel({ architecture: "llama", type: "F32", seed: 21, output: path });
});
after(() => rmSync(directory, { recursive: true, force: true }));

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let index = 1; index < logits.length; index++) if (logits[index]! > logits[best]!) best = index;
  return best;
}

/** Greedy generation the plain way: one sequence, one token per decode, argmax in JS. */
function reference(model: NativeModel, prompt: Int32Array, maxTokens: number): number[] {
  model.clear();
  model.decodeRun(prompt, 0, 0, prompt.length - 1);
  const tokens: number[] = [];
  let next = argmax(model.logitsOf(0));
  while (!model.isEndOfGeneration(next) && tokens.length < maxTokens) {
    tokens.push(next);
    model.decodeRun(Int32Array.of(next), prompt.length + tokens.length - 1, 0, 0);
    next = argmax(model.logitsOf(0));
  }
  return tokens;
}

test("six requests through four slots give each the tokens it gets alone, in fewer decodes", async () => {
  const solo = NativeModel.open(path, { contextSize: 256, threads: 1 });
  const prompts = TEXTS.map((text) => solo.tokenize(text));
  const expected = prompts.map((prompt) => reference(solo, prompt, 12));
  solo.close();

  // A batch of 16 rows: the longer prompts go in over several steps, beside others' generation.
  const model = NativeModel.open(path, { contextSize: 4 * 128, sequences: 4, batchSize: 16, threads: 1, unifiedCache: true });
  const batcher = new ContinuousBatcher(model, 4);
  try {
    const streamed = prompts.map(() => [] as number[]);
    const results = await Promise.all(prompts.map((prompt, index) => batcher.generate({ prompt, maxTokens: 12, sampling: GREEDY, onToken: (token) => streamed[index]!.push(token) })));
    results.forEach((result, index) => {
      assert.deepEqual(result.tokens, expected[index], `request ${index}`);
      assert.deepEqual(streamed[index], expected[index]);
      assert.equal(result.finishReason, expected[index]!.length === 12 ? "length" : "stop");
      assert.equal(result.promptTokens, prompts[index]!.length);
    });
    const generated = expected.reduce((sum, tokens) => sum + tokens.length, 0);
    assert.ok(batcher.stats.largestStep > 4, `largest step ${batcher.stats.largestStep}`);
    assert.ok(batcher.stats.steps < generated, `${batcher.stats.steps} decodes for ${generated} tokens`);
  } finally {
    batcher.close();
    model.close();
  }
});

test("an aborted request frees its sequence for the next; a seeded sampler repeats itself", async () => {
  const model = NativeModel.open(path, { contextSize: 2 * 128, sequences: 2, threads: 1, unifiedCache: true });
  const batcher = new ContinuousBatcher(model, 2);
  try {
    const prompt = model.tokenize(TEXTS[0]!);
    const controller = new AbortController();
    let seen = 0;
    const aborted = batcher.generate({ prompt, maxTokens: 50, sampling: GREEDY, signal: controller.signal, onToken: () => ++seen === 3 && controller.abort() });
    const others = [1, 2, 3].map((seed) => batcher.generate({ prompt, maxTokens: 20, sampling: { temperature: 0.9, topK: 40, topP: 0.95, minP: 0.05, seed } }));
    const stopped = await aborted;
    assert.equal(stopped.finishReason, "aborted");
    assert.equal(stopped.tokens.length, 3);
    const results = await Promise.all(others);
    assert.ok(results.every((result) => result.finishReason !== "aborted"));
    const again = await batcher.generate({ prompt, maxTokens: 20, sampling: { temperature: 0.9, topK: 40, topP: 0.95, minP: 0.05, seed: 2 } });
    assert.deepEqual(again.tokens, results[1]!.tokens, "the same seed draws the same tokens");
  } finally {
    batcher.close();
    model.close();
  }
});

test("a request longer than a slot is refused with the sizes", async () => {
  const model = NativeModel.open(path, { contextSize: 2 * 128, sequences: 2, threads: 1 });
  const batcher = new ContinuousBatcher(model, 2);
  try {
    // llama.cpp rounds each sequence's cells up to 256.
    assert.equal(model.contextSize, 512);
    await assert.rejects(batcher.generate({ prompt: new Int32Array(200).fill(5), maxTokens: 100, sampling: GREEDY }), /do not fit a slot of 256 cells/);
  } finally {
    batcher.close();
    model.close();
  }
});
