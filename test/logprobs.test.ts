/**
 * Log probabilities through the official clients and the real engine: one entry per generated
 * token, the chosen token among its alternatives (first, under greedy decoding), alternatives most
 * likely first, the same numbers streamed and not, in OpenAI's chat and legacy shapes and Ollama's.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("logprobs");
let server: RunningServer;
let openai: OpenAI;
let ollama: Ollama;

before(async () => {
  const path = await makeModel(directory.path, "tiny-llama", { architecture: "llama", seed: 21 });
  server = await startServer({ port: 0, models: [describeModelFile(path)], load: { contextSize: 512 } });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  ollama = new Ollama({ host: server.url });
});

after(async () => {
  await server?.close();
  directory.remove();
});

interface Entry {
  token: string;
  logprob: number;
  bytes?: number[] | null;
  top_logprobs: Array<{ token: string; logprob: number }>;
}

/** Checks what holds for any token's entry under greedy decoding with `top` alternatives. */
function checkGreedyEntry(entry: Entry, top: number): void {
  assert.ok(entry.logprob <= 0 && entry.logprob > -50, `logprob ${entry.logprob}`);
  assert.equal(entry.top_logprobs.length, top);
  const values = entry.top_logprobs.map((alternative) => alternative.logprob);
  assert.deepEqual(values, [...values].sort((a, b) => b - a), "most likely first");
  assert.ok(values.reduce((sum, value) => sum + Math.exp(value), 0) <= 1 + 1e-5, "probabilities sum to at most 1");
  assert.equal(entry.top_logprobs[0]!.token, entry.token, "greedy decoding draws the most likely token");
  assert.equal(entry.top_logprobs[0]!.logprob, entry.logprob);
  if (entry.bytes) assert.deepEqual(entry.bytes, [...Buffer.from(entry.token, "utf8")]);
}

/**
 * The same tokens and alternatives with the same log probabilities to float precision: a repeated
 * request reuses the cached prompt and evaluates only its last token again, in a batch of another
 * size, and llama.cpp's sums then round differently in the last bits.
 */
function assertSameEntries(actual: readonly Entry[], expected: readonly Entry[]): void {
  const rounded = (entries: readonly Entry[]) =>
    entries.map((entry) => ({ ...entry, logprob: entry.logprob.toFixed(4), top_logprobs: entry.top_logprobs.map((top) => ({ ...top, logprob: top.logprob.toFixed(4) })) }));
  assert.deepEqual(rounded(actual), rounded(expected));
}

const chatRequest = { model: "tiny-llama", messages: [{ role: "user" as const, content: "Tell me a story" }], temperature: 0, max_tokens: 12, logprobs: true, top_logprobs: 3 };

describe("logprobs", () => {
  it("OpenAI chat: one entry per token, the same streamed and not", async () => {
    const reply = await openai.chat.completions.create({ ...chatRequest, stream: false });
    const content = reply.choices[0]!.logprobs!.content!;
    assert.equal(content.length, reply.usage!.completion_tokens);
    for (const entry of content) checkGreedyEntry(entry, 3);
    assert.equal(content.map((entry) => entry.token).join(""), reply.choices[0]!.message.content);
    // Not all certain: a random model's distribution is spread.
    assert.ok(content.some((entry) => entry.logprob < -0.01));

    const stream = await openai.chat.completions.create({ ...chatRequest, stream: true });
    const streamed: Entry[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    assertSameEntries(streamed, content);
  });

  it("OpenAI completions: tokens, token_logprobs, top_logprobs and text offsets", async () => {
    const reply = await openai.completions.create({ model: "tiny-llama", prompt: "Once upon a time", temperature: 0, max_tokens: 10, logprobs: 2, ignore_eos: true } as never);
    const choice = (reply as unknown as { choices: Array<{ text: string; logprobs: { tokens: string[]; token_logprobs: number[]; top_logprobs: Array<Record<string, number>>; text_offset: number[] } }> })
      .choices[0]!;
    const { tokens, token_logprobs: values, top_logprobs: tops, text_offset: offsets } = choice.logprobs;
    assert.equal(tokens.length, 10);
    assert.equal(tokens.join(""), choice.text);
    assert.deepEqual(offsets, tokens.map((_, index) => tokens.slice(0, index).join("").length));
    tokens.forEach((token, index) => {
      const alternatives = tops[index]!;
      // Two alternatives may read the same (bytes of one character): then they share a key.
      assert.ok(Object.keys(alternatives).length >= 1 && Object.keys(alternatives).length <= 2);
      if (Object.keys(alternatives).length === 2) assert.equal(alternatives[token], values[index], "the greedy token is among the top alternatives");
      assert.ok(Math.max(...Object.values(alternatives)) <= values[index]! + 1e-9, "and none is more likely");
    });
  });

  it("Ollama: logprobs beside the reply, per streamed piece and in a single answer", async () => {
    const request = { model: "tiny-llama", prompt: "Hello", options: { temperature: 0, num_predict: 8 }, logprobs: true, top_logprobs: 2 };
    const reply = (await ollama.generate({ ...request, stream: false } as never)) as unknown as { response: string; eval_count: number; logprobs: Entry[] };
    assert.equal(reply.logprobs.length, reply.eval_count);
    for (const entry of reply.logprobs) checkGreedyEntry(entry, 2);
    assert.equal(reply.logprobs.map((entry) => entry.token).join(""), reply.response);
    const stream = (await ollama.generate({ ...request, stream: true } as never)) as unknown as AsyncIterable<{ logprobs?: Entry[] }>;
    const streamed: Entry[] = [];
    for await (const part of stream) streamed.push(...(part.logprobs ?? []));
    assertSameEntries(streamed, reply.logprobs);
  });

  it("refuses bad logprobs settings with a 400", async () => {
    const cases: Array<[string, object]> = [
      ["/v1/chat/completions", { ...chatRequest, logprobs: false }],
      ["/v1/chat/completions", { ...chatRequest, top_logprobs: 21 }],
      ["/v1/completions", { model: "tiny-llama", prompt: "x", logprobs: 6 }],
      ["/api/generate", { model: "tiny-llama", prompt: "x", logprobs: true, top_logprobs: -1 }],
    ];
    for (const [path, body] of cases) {
      const response = await fetch(`${server.url}${path}`, { method: "POST", body: JSON.stringify(body) });
      assert.equal(response.status, 400, `${path} ${JSON.stringify(body)}`);
    }
  });
});
