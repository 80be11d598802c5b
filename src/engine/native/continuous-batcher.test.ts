import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { synthesizeModel } from "../../synth/index.js";
import { ContinuousBatcher } from "./continuous-batcher.js";
import { NativeModel, type NativeModelOptions } from "./native-model.js";

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

/** Runs `body` with a batcher of `slots` sequences on a model opened with `options`; closes both after. */
async function withBatcher(options: NativeModelOptions, slots: number, body: (model: NativeModel, batcher: ContinuousBatcher) => Promise<void>): Promise<void> {
  const model = NativeModel.open(path, options);
  const batcher = new ContinuousBatcher(model, slots);
  try {
    await body(model, batcher);
  } finally {
    await batcher.close();
    model.close();
  }
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
  await withBatcher({ contextSize: 4 * 128, sequences: 4, batchSize: 16, threads: 1, unifiedCache: true }, 4, async (model, batcher) => {
    const streamed = prompts.map(() => [] as number[]);
    const results = await Promise.all(prompts.map((prompt, index) => batcher.generate({ prompt, maxTokens: 12, sampling: GREEDY, onToken: (token) => void streamed[index]!.push(token) })));
    results.forEach((result, index) => {
      assert.deepEqual(result.tokens, expected[index], `request ${index}`);
      assert.deepEqual(streamed[index], expected[index]);
      assert.equal(result.finishReason, expected[index]!.length === 12 ? "length" : "stop");
      assert.equal(result.promptTokens, prompts[index]!.length);
    });
    const generated = expected.reduce((sum, tokens) => sum + tokens.length, 0);
    assert.ok(batcher.stats.largestStep > 4, `largest step ${batcher.stats.largestStep}`);
    assert.ok(batcher.stats.steps < generated, `${batcher.stats.steps} decodes for ${generated} tokens`);
  });
});

test("one request alone decodes on the JS thread; one that joins it mid-way moves the steps back to the worker", async () => {
  await withBatcher({ contextSize: 2 * 128, sequences: 2, threads: 1, unifiedCache: true }, 2, async (model, batcher) => {
    const prompts = [model.tokenize(TEXTS[1]!), model.tokenize(TEXTS[4]!)];
    const expected = prompts.map((prompt) => reference(model, prompt, 24));
    model.clear();
    const alone = await batcher.generate({ prompt: prompts[0]!, maxTokens: 24, sampling: GREEDY });
    assert.deepEqual(alone.tokens, expected[0]);
    // The prompt step and the first one-row step (which measures how long one takes) use the worker thread.
    assert.ok(batcher.stats.stepsOnThisThread >= alone.tokens.length - 3, `${batcher.stats.stepsOnThisThread} of ${batcher.stats.steps} steps on the JS thread`);

    const before = { ...batcher.stats };
    let second: Promise<{ tokens: readonly number[] }> | undefined;
    let firstDone = false;
    let overlapped = 0;
    const first = batcher.generate({
      prompt: prompts[1]!,
      maxTokens: 24,
      sampling: GREEDY,
      onToken: (_token) => {
        // Timers and new requests still get their turn between steps on the JS thread.
        if (second === undefined) {
          second = new Promise((resolve, reject) => setTimeout(() => batcher.generate({ prompt: prompts[0]!, maxTokens: 24, sampling: GREEDY, onToken: () => void (firstDone || overlapped++) }).then(resolve, reject), 0));
        }
      },
    });
    const firstResult = await first;
    firstDone = true;
    assert.deepEqual(firstResult.tokens, expected[1]);
    assert.deepEqual((await second!).tokens, expected[0]);
    assert.ok(overlapped > 0, "the second request generated while the first did");
    const onWorker = batcher.stats.steps - before.steps - (batcher.stats.stepsOnThisThread - before.stepsOnThisThread);
    assert.ok(onWorker >= overlapped, `${onWorker} steps on the worker thread; ${overlapped} tokens of the second request came while the first ran`);
  });
});

test("an aborted request frees its sequence for the next; a seeded sampler repeats itself", async () => {
  await withBatcher({ contextSize: 2 * 128, sequences: 2, threads: 1, unifiedCache: true }, 2, async (model, batcher) => {
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
    // Aborted between drawing its last token (which frees its sequence) and being told it.
    const late = new AbortController();
    const lateResult = await batcher.generate({ prompt, maxTokens: 3, sampling: GREEDY, signal: late.signal, onToken: () => void (++seen === 5 && late.abort()) });
    assert.deepEqual([lateResult.finishReason, lateResult.tokens.length], ["aborted", 2]);
  });
});

test("a request that reaches its token limit hands its sequence to the next one in the very next step", async () => {
  await withBatcher({ contextSize: 2 * 128, sequences: 2, threads: 1, unifiedCache: true }, 2, async (model, batcher) => {
    const prompt = model.tokenize(TEXTS[1]!);
    assert.ok(reference(model, prompt, 6).length === 6, "the premise: no end of generation in the first 6 tokens");
    model.clear();
    // Which step's tokens each delivery belongs to: deliveries of one step come together.
    const steps = { short: [] as number[], long: [] as number[], next: [] as number[] };
    const request = (name: keyof typeof steps, maxTokens: number) => batcher.generate({ prompt, maxTokens, sampling: GREEDY, onToken: () => void steps[name].push(batcher.stats.steps) });
    const results = await Promise.all([request("short", 2), request("long", 6), request("next", 3)]);
    assert.deepEqual(results.map((result) => result.finishReason), ["length", "length", "length"]);
    // "short" draws its last token from step 2; "next" is decoded in step 3 and draws its first token
    // from it, beside the third of "long" (a step later when the sequence was freed after the delivery).
    assert.equal(steps.next[0], steps.long[2], `long ${steps.long.join()}, next ${steps.next.join()}`);
  });
});

test("a decode that fails fails every running request, one whose last token was drawn but not told too", { timeout: 30_000 }, async () => {
  await withBatcher({ contextSize: 2 * 128, sequences: 2, threads: 1, unifiedCache: true }, 2, async (model, batcher) => {
    const prompt = model.tokenize(TEXTS[1]!);
    assert.ok(reference(model, prompt, 3).length === 3, "the premise: no end of generation in the first 3 tokens");
    model.clear();
    // The third step fails before it starts, as llama.cpp refusing the batch would: the first request's
    // last token (drawn after step 2) is not told.
    let calls = 0;
    const failThird = () => {
      if (++calls === 3) throw new Error("injected decode failure");
    };
    const [decode, decodeAsync] = [model.decode.bind(model), model.decodeAsync.bind(model)];
    model.decode = (rows) => (failThird(), decode(rows));
    model.decodeAsync = (rows) => (failThird(), decodeAsync(rows));
    const results = await Promise.allSettled([batcher.generate({ prompt, maxTokens: 2, sampling: GREEDY }), batcher.generate({ prompt, maxTokens: 10, sampling: GREEDY })]);
    assert.deepEqual(results.map((result) => result.status), ["rejected", "rejected"]);
  });
});

test("a request longer than a slot is refused with the sizes", async () => {
  await withBatcher({ contextSize: 2 * 128, sequences: 2, threads: 1 }, 2, async (model, batcher) => {
    // llama.cpp rounds each sequence's cells up to 256.
    assert.equal(model.contextSize, 512);
    await assert.rejects(batcher.generate({ prompt: new Int32Array(200).fill(5), maxTokens: 100, sampling: GREEDY }), /do not fit a sequence of 256 cells/);
  });
});

test("a request that extends an earlier one reuses its cache and gets the same tokens as from scratch", async () => {
  const solo = NativeModel.open(path, { contextSize: 256, threads: 1 });
  const first = solo.tokenize(TEXTS[1]!);
  const firstTokens = reference(solo, first, 8);
  const second = Int32Array.from([...first, ...firstTokens, ...solo.tokenize(" Then", false)]);
  const expected = reference(solo, second, 8);
  solo.close();
  await withBatcher({ contextSize: 2 * 128, sequences: 2, threads: 1, unifiedCache: true }, 2, async (model, batcher) => {
    const one = await batcher.generate({ prompt: first, maxTokens: 8, sampling: GREEDY });
    assert.deepEqual(one.tokens, firstTokens);
    assert.equal(one.reusedPromptTokens, 0);
    const two = await batcher.generate({ prompt: second, maxTokens: 8, sampling: GREEDY });
    assert.deepEqual(two.tokens, expected);
    // The cache holds the first prompt and every output token but the last (drawn, never decoded).
    assert.equal(two.reusedPromptTokens, first.length + firstTokens.length - (one.finishReason === "length" ? 1 : 0));
    // A different prompt on the same sequence keeps only the shared beginning.
    const three = await batcher.generate({ prompt: first.subarray(0, 3), maxTokens: 4, sampling: GREEDY });
    assert.equal(three.reusedPromptTokens, 2);
  });
});

test("onToken can stop a request; logits come with each token when asked", async () => {
  await withBatcher({ contextSize: 128, threads: 1 }, 1, async (model, batcher) => {
    const prompt = model.tokenize(TEXTS[0]!);
    const seen: number[] = [];
    const result = await batcher.generate({
      prompt,
      maxTokens: 20,
      sampling: GREEDY,
      wantLogits: true,
      onToken: (token, logits) => {
        assert.ok(logits !== undefined && logits.length === model.description.vocabularySize);
        assert.equal(argmax(logits), token, "greedy draws the most likely token");
        seen.push(token);
        return seen.length === 2;
      },
    });
    assert.equal(result.finishReason, "stop");
    assert.deepEqual(result.tokens, seen);
    assert.equal(seen.length, 2);
  });
});

test("logit biases, penalties and a grammar shape what is drawn; a bad grammar fails only its request", async () => {
  await withBatcher({ contextSize: 2 * 128, sequences: 2, threads: 1, unifiedCache: true }, 2, async (model, batcher) => {
    const prompt = model.tokenize(TEXTS[0]!);
    const plain = await batcher.generate({ prompt, maxTokens: 6, sampling: GREEDY });
    const banned = plain.tokens[0]!;
    const biased = await batcher.generate({ prompt, maxTokens: 6, sampling: { ...GREEDY, bias: new Map([[banned, -Infinity]]) } });
    assert.notEqual(biased.tokens[0], banned);
    const forced = await batcher.generate({ prompt, maxTokens: 3, sampling: { ...GREEDY, bias: new Map([[banned, 100]]) } });
    assert.deepEqual(forced.tokens, [banned, banned, banned]);
    // A presence penalty far beyond any logit: a token once seen (or in the history) is never drawn again.
    const penalized = await batcher.generate({
      prompt,
      maxTokens: 8,
      sampling: { ...GREEDY, penalties: { lastTokens: 64, repeat: 1, frequency: 0, presence: 1000, history: [banned] } },
    });
    assert.ok(!penalized.tokens.includes(banned));
    assert.equal(new Set(penalized.tokens).size, penalized.tokens.length, `repeats in ${penalized.tokens.join(" ")}`);
    const grammar = { text: 'root ::= "Once more, " [a-z] [a-z]? "."', root: "root" };
    const [shaped, broken] = await Promise.allSettled([
      batcher.generate({ prompt, maxTokens: 40, sampling: { ...GREEDY, grammar } }),
      batcher.generate({ prompt, maxTokens: 4, sampling: { ...GREEDY, grammar: { text: "root ::= (", root: "root" } } }),
    ]);
    assert.equal(shaped.status, "fulfilled");
    const text = model.detokenize(Int32Array.from(shaped.value.tokens));
    assert.match(text, /^Once more, [a-z]{1,2}\.$/);
    assert.equal(shaped.value.finishReason, "stop", "the grammar ends, so only end of generation is left");
    assert.equal(broken.status, "rejected");
    assert.match(String(broken.reason), /could not parse the output grammar/);
  });
});

test("greedy drawing in JS (with biases) picks what llama.cpp's greedy sampler chain picks", async () => {
  await withBatcher({ contextSize: 2 * 128, sequences: 2, threads: 1, unifiedCache: true }, 2, async (model, batcher) => {
    const prompt = model.tokenize(TEXTS[3]!);
    const first = (await batcher.generate({ prompt, maxTokens: 1, sampling: GREEDY })).tokens[0]!;
    const bias = new Map([[first, -Infinity], [7, 3], [11, -2]]);
    // Penalties that change nothing still take llama.cpp's sampler chain.
    const neutral = { lastTokens: 64, repeat: 1, frequency: 0, presence: 0, history: [] };
    const [inJs, inChain] = await Promise.all([
      batcher.generate({ prompt, maxTokens: 10, sampling: { ...GREEDY, bias } }),
      batcher.generate({ prompt, maxTokens: 10, sampling: { ...GREEDY, bias, penalties: neutral } }),
    ]);
    assert.deepEqual(inJs.tokens, inChain.tokens);
    assert.notEqual(inJs.tokens[0], first);
  });
});
