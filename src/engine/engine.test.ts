import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { synthesizeModel } from "../synth/index.js";
import { EngineError } from "./errors.js";
import { LoadedModel } from "./model.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-engine-"));
let llama: LoadedModel;
let qwen: LoadedModel;

before(async () => {
  await synthesizeModel({ architecture: "llama", output: join(directory, "llama.gguf"), seed: 3 });
  await synthesizeModel({ architecture: "qwen3", output: join(directory, "qwen3.gguf"), type: "F16", seed: 4 });
  llama = await LoadedModel.load(join(directory, "llama.gguf"), { contextSize: 256, parallel: 2 });
  qwen = await LoadedModel.load(join(directory, "qwen3.gguf"), { contextSize: 256 });
});

after(async () => {
  await llama?.dispose();
  await qwen?.dispose();
  rmSync(directory, { recursive: true, force: true });
});

const hot = { temperature: 1.5, topK: 0, topP: 1, minP: 0 };

describe("engine", () => {
  it("tokenizes with BOS for llama and without for qwen3, and detokenizes back", () => {
    const text = "The cat sat on the mat.";
    const llamaPrompt = llama.promptFromText(text);
    assert.equal(llamaPrompt[0], 1, "llama prompts start with <s>");
    assert.equal(llama.detokenize(llamaPrompt.slice(1)).trim(), text);
    const qwenPrompt = qwen.promptFromText(text);
    assert.equal(qwen.detokenize(qwenPrompt), text);
    assert.ok(qwenPrompt.length < text.length, "the learned merges shorten the text");
  });

  it("generates the same text for the same seed, and different text for another seed", async () => {
    const prompt = qwen.promptFromText("Once upon a time");
    const run = (seed: number) => qwen.generate({ prompt, maxTokens: 24, ignoreEos: true, sampling: { ...hot, seed } });
    const [a, b, c] = [await run(7), await run(7), await run(8)];
    assert.equal(a.text, b.text);
    assert.notEqual(a.text, c.text);
    assert.equal(a.completionTokens, 24);
    assert.equal(a.finishReason, "length");
  });

  it("is deterministic at temperature 0", async () => {
    const prompt = llama.promptFromText("Hello");
    const a = await llama.generate({ prompt, maxTokens: 16, sampling: { temperature: 0 } });
    const b = await llama.generate({ prompt, maxTokens: 16, sampling: { temperature: 0, seed: 99 } });
    assert.equal(a.text, b.text);
  });

  it("streams exactly the final text and stops before a stop string", async () => {
    const prompt = qwen.promptFromText("Numbers like");
    const full = await qwen.generate({ prompt, maxTokens: 40, ignoreEos: true, sampling: { ...hot, seed: 11 } });
    assert.ok(full.text.length > 12, `enough text to cut: ${JSON.stringify(full.text)}`);
    const stop = full.text.slice(6, 10);
    const expected = full.text.slice(0, full.text.indexOf(stop));
    let streamed = "";
    const cut = await qwen.generate({ prompt, maxTokens: 40, ignoreEos: true, stop: [stop], sampling: { ...hot, seed: 11 }, onText: (t) => (streamed += t) });
    assert.equal(cut.text, expected);
    assert.equal(streamed, expected, "no part of the stop string was streamed");
    assert.equal(cut.finishReason, "stop");
  });

  it("renders each model's chat template, with its special tokens", () => {
    const messages = [
      { role: "system" as const, content: "Be brief." },
      { role: "user" as const, content: "Hi" },
    ];
    const chatml = qwen.promptFromChat(messages);
    const imStart = qwen.tokenize("<|im_start|>", { special: true });
    assert.equal(imStart.length, 1, "<|im_start|> is one special token");
    assert.equal(chatml.tokens.filter((t) => t === imStart[0]).length, 3, "system, user and the assistant's turn");
    assert.equal(qwen.chatTemplate.isFallback, false);
    const tagged = llama.promptFromChat(messages);
    assert.equal(tagged.tokens[0], 1, "the template's bos_token becomes one BOS token");
    assert.equal(tagged.tokens.filter((t) => t === 1).length, 1, "no second BOS");
    assert.match(llama.detokenize(tagged.tokens), /<\|user\|>\nHi/);
  });

  it("refuses a prompt longer than the context, and bad sampling values", async () => {
    const long = llama.promptFromText("the cat ".repeat(400));
    await assert.rejects(llama.generate({ prompt: long }), (error: unknown) => error instanceof EngineError && error.code === "PROMPT_TOO_LONG");
    await assert.rejects(llama.generate({ prompt: llama.promptFromText("x"), sampling: { topP: 2 } }), /topP must be between 0 and 1/);
    await assert.rejects(llama.generate({ prompt: [] }), /empty/);
  });

  it("stops at the end of the context with finish reason length", async () => {
    const prompt = llama.promptFromText("the cat ".repeat(40));
    const result = await llama.generate({ prompt, ignoreEos: true, sampling: { temperature: 0 } });
    assert.equal(result.promptTokens + result.completionTokens, llama.contextSize);
    assert.equal(result.finishReason, "length");
  });

  it("reuses the evaluated prefix of a growing conversation", async () => {
    const first = llama.promptFromText("A story about a boat and the sea.");
    const answer = await llama.generate({ prompt: first, maxTokens: 8, sampling: { temperature: 0 } });
    const second = [...first, ...llama.tokenize(" And then the wind came.")];
    const result = await llama.generate({ prompt: second, maxTokens: 4, sampling: { temperature: 0 } });
    assert.ok(answer.completionTokens > 0);
    assert.ok(result.reusedPromptTokens >= first.length - 1, `reused ${result.reusedPromptTokens} of ${first.length}`);
  });

  it("serves parallel requests on separate sequences and queues the rest", async () => {
    const prompts = ["one", "two", "three", "four"].map((word) => llama.promptFromText(word));
    const running = prompts.map((prompt) => llama.generate({ prompt, maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } }));
    assert.equal(llama.busySequences, 2, "two requests decode side by side");
    assert.equal(llama.waitingRequests, 2, "the other two wait for a sequence");
    const results = await Promise.all(running);
    assert.equal(llama.busySequences, 0);
    for (const [index, result] of results.entries()) {
      const alone = await llama.generate({ prompt: prompts[index]!, maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } });
      assert.equal(result.text, alone.text, "batched decoding gives the same greedy text as decoding alone");
    }
  });

  it("drops a waiting request whose client gives up, without touching a sequence", async () => {
    const busy = [1, 2].map(() => llama.generate({ prompt: llama.promptFromText("busy"), maxTokens: 30, ignoreEos: true, sampling: { temperature: 0 } }));
    const abort = new AbortController();
    const queued = llama.generate({ prompt: llama.promptFromText("queued"), maxTokens: 5, signal: abort.signal });
    assert.equal(llama.waitingRequests, 1);
    abort.abort();
    await assert.rejects(queued, (error: unknown) => error instanceof EngineError && error.code === "ABORTED");
    assert.equal(llama.waitingRequests, 0);
    await Promise.all(busy);
  });

  it("stops when the abort signal fires", async () => {
    const abort = new AbortController();
    let pieces = 0;
    const result = await llama.generate({
      prompt: llama.promptFromText("Go on"),
      ignoreEos: true,
      sampling: { temperature: 0 },
      signal: abort.signal,
      onText: () => {
        if (++pieces === 3) abort.abort();
      },
    });
    assert.equal(result.finishReason, "aborted");
    assert.ok(result.completionTokens < 20, `stopped early: ${result.completionTokens} tokens`);
  });
});

describe("engine queue limit", () => {
  it("refuses a request at once with BUSY when the queue is full", async () => {
    const model = await LoadedModel.load(join(directory, "llama.gguf"), { contextSize: 256, parallel: 1, maxQueue: 1 });
    try {
      const prompt = model.promptFromText("busy");
      const running = model.generate({ prompt, maxTokens: 20, ignoreEos: true });
      const queued = model.generate({ prompt, maxTokens: 2, ignoreEos: true });
      await assert.rejects(model.generate({ prompt, maxTokens: 2 }), (error: unknown) => error instanceof EngineError && error.code === "BUSY");
      await Promise.all([running, queued]);
    } finally {
      await model.dispose();
    }
  });
});

describe("engine constraints and embeddings", () => {
  it("enforces JSON output with a grammar, and a JSON schema", async () => {
    const json = await qwen.generate({ prompt: qwen.promptFromText("Data:"), maxTokens: 40, grammar: { kind: "json" }, sampling: { temperature: 0.8, seed: 3 } });
    assert.match(json.text, /^\s*\{/, "a JSON object begins");
    if (json.finishReason === "stop") assert.equal(typeof JSON.parse(json.text), "object");
    const schema = { type: "object", properties: { ok: { type: "boolean" }, level: { enum: ["low", "high"] } }, required: ["ok", "level"] } as const;
    for (const seed of [1, 2, 3]) {
      const shaped = await qwen.generate({ prompt: qwen.promptFromText("Person:"), maxTokens: 100, grammar: { kind: "json_schema", schema }, sampling: { temperature: 1, seed } });
      assert.equal(shaped.finishReason, "stop", `seed ${seed}: ${shaped.text}`);
      const parsed = JSON.parse(shaped.text) as { ok: unknown; level: unknown };
      assert.equal(typeof parsed.ok, "boolean");
      assert.ok(parsed.level === "low" || parsed.level === "high");
    }
    await assert.rejects(qwen.prepare({ prompt: qwen.promptFromText("x"), grammar: { kind: "json_schema", schema: { type: "no-such-type" } } }), EngineError);
  });

  it("applies logit biases: a banned token never appears, a forced one always", async () => {
    const prompt = llama.promptFromText("The cat");
    const free = await llama.generate({ prompt, maxTokens: 20, ignoreEos: true, sampling: { temperature: 0 } });
    const favourite = free.outputTokens[0]!;
    const banned = await llama.generate({ prompt, maxTokens: 20, ignoreEos: true, sampling: { temperature: 0 }, tokenBias: new Map([[favourite, -100]]) });
    assert.ok(!banned.outputTokens.includes(favourite), "the banned token is never generated");
    const forcedToken = llama.tokenize(" mat")[0]!;
    const forced = await llama.generate({ prompt, maxTokens: 5, ignoreEos: true, sampling: { temperature: 0.8, seed: 1 }, tokenBias: new Map([[forcedToken, 100]]) });
    assert.deepEqual(forced.outputTokens, new Array(5).fill(forcedToken));
    await assert.rejects(llama.generate({ prompt, tokenBias: new Map([[10_000_000, 1]]) }), /not in the model's vocabulary/);
  });

  it("penalizes repetition when asked, and not otherwise", async () => {
    const prompt = llama.promptFromText("the the the the");
    const plain = await llama.generate({ prompt, maxTokens: 30, ignoreEos: true, sampling: { temperature: 0 } });
    const penalized = await llama.generate({ prompt, maxTokens: 30, ignoreEos: true, sampling: { temperature: 0 }, penalties: { repeat: 1.5, frequency: 1, presence: 1 } });
    const unchanged = await llama.generate({ prompt, maxTokens: 30, ignoreEos: true, sampling: { temperature: 0 }, penalties: { repeat: 1, frequency: 0, presence: 0 } });
    assert.notEqual(penalized.text, plain.text);
    assert.equal(unchanged.text, plain.text);
    await assert.rejects(llama.generate({ prompt, penalties: { presence: 5 } }), /presence penalty/);
  });

  it("embeds texts: one vector per text, deterministic, unit length when normalized", async () => {
    const { vectors, promptTokens } = await qwen.embed(["Hello world", "Something else entirely", "Hello world"], { normalize: true });
    assert.equal(vectors.length, 3);
    assert.equal(vectors[0]!.length, 64, "the model's width");
    assert.deepEqual(vectors[0], vectors[2]);
    assert.notDeepEqual(vectors[0], vectors[1]);
    assert.ok(Math.abs(Math.hypot(...vectors[1]!) - 1) < 1e-6);
    assert.equal(promptTokens, ["Hello world", "Something else entirely", "Hello world"].reduce((sum, text) => sum + qwen.tokenize(text).length, 0));
    await assert.rejects(qwen.embed([""]), /empty/);
  });
});
