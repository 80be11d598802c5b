/**
 * GET /metrics against a live server and the real engine: the counters add up to what the clients
 * were told, and a client that goes away frees its sequence for the requests waiting behind it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("metrics");
let server: RunningServer;
let openai: OpenAI;
let ollama: Ollama;
const PARALLEL = 4;

before(async () => {
  const path = await makeModel(directory.path, "tiny-llama", { architecture: "llama", seed: 3 });
  server = await startServer({ port: 0, models: [describeModelFile(path)], load: { contextSize: 2048, parallel: PARALLEL } });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  ollama = new Ollama({ host: server.url });
});

after(async () => {
  await server?.close();
  directory.remove();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${server.url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of one series in Prometheus text, 0 when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const present = (match[2] ?? "").split(",");
    if (wanted.every((pair) => present.includes(pair))) return Number(match[3]);
  }
  return 0;
}

const completion = { model: "tiny-llama", prompt: "Once upon a time", temperature: 0, ignore_eos: true };

describe("GET /metrics", () => {
  it("is valid Prometheus text: every series has HELP and TYPE, names are slmkit_*", async () => {
    const text = await scrape();
    const declared = new Set([...text.matchAll(/^# TYPE (\S+) (counter|gauge|histogram)$/gm)].map((match) => match[1]));
    assert.ok(declared.size >= 10, `${declared.size} metrics declared`);
    for (const line of text.split("\n").filter((line) => line && !line.startsWith("#"))) {
      assert.match(line, /^slmkit_[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+$|^slmkit_[a-z_]+(\{[^}]*\})? \+Inf$/, line);
      const base = line.split(/[{ ]/)[0]!.replace(/_(bucket|sum|count)$/, "");
      assert.ok(declared.has(base) || declared.has(line.split(/[{ ]/)[0]!), `${line} has a TYPE line`);
    }
  });

  it("counts tokens, generations, requests and token timings as the clients saw them", async () => {
    const before = await scrape();
    const answers = await Promise.all([12, 7, 20].map((max_tokens) => openai.completions.create({ ...completion, max_tokens } as OpenAI.CompletionCreateParamsNonStreaming)));
    const streamed = await ollama.generate({ model: "tiny-llama", prompt: "The dog", stream: true, options: { num_predict: 9, temperature: 0 } });
    let streamedTokens = 0;
    for await (const part of streamed) if (part.done) streamedTokens = part.eval_count;
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}): number => sample(after, name, labels) - sample(before, name, labels);
    const model = { model: "tiny-llama" };

    const generated = answers.reduce((sum, answer) => sum + answer.usage!.completion_tokens, 0) + streamedTokens;
    assert.equal(delta("slmkit_generated_tokens_total", model), generated);
    assert.equal(delta("slmkit_generated_tokens_total", model), 12 + 7 + 20 + 9);
    const prompt = answers.reduce((sum, answer) => sum + answer.usage!.prompt_tokens, 0);
    assert.ok(delta("slmkit_prompt_tokens_total", model) > prompt, "the Ollama request's prompt tokens are counted too");
    assert.equal(delta("slmkit_generations_total", { ...model, finish_reason: "length" }), 4);
    assert.equal(delta("slmkit_time_to_first_token_seconds_count", model), 4);
    assert.equal(delta("slmkit_inter_token_seconds_count", model), generated - 4, "one interval between each two tokens of a request");
    assert.ok(delta("slmkit_inter_token_seconds_sum", model) > 0);
    assert.equal(delta("slmkit_http_requests_total", { route: "/v1/completions", method: "POST", status: "200" }), 3);
    assert.equal(delta("slmkit_http_requests_total", { route: "/api/generate", method: "POST", status: "200" }), 1);
    assert.equal(sample(after, "slmkit_loaded_models"), 1);
    assert.equal(sample(after, "slmkit_sequences", model), PARALLEL);
    assert.equal(sample(after, "slmkit_model_engine_info", { ...model, engine: "native" }), 1, "on the CPU slmkit's own batcher decodes");
    assert.ok(sample(after, "slmkit_model_memory_bytes", { ...model, kind: "ram" }) > 0);
    assert.equal(sample(after, "slmkit_model_loads_total", { ...model, outcome: "loaded" }), 1);
    assert.equal(sample(after, "slmkit_busy_sequences", model), 0);
    // Every generated token but each request's first comes from a one-row-per-sequence step; the first
    // from its prompt's last row. Four requests, of which three ran together: fewer steps than rows.
    const steps = delta("slmkit_decode_steps_total", model);
    const rows = delta("slmkit_decode_rows_total", model);
    assert.ok(steps >= Math.max(12, 7, 20) && steps < rows, `${steps} steps, ${rows} rows`);
    assert.ok(rows >= generated, `${rows} rows for ${generated} generated tokens`);
    assert.match(after, /^# TYPE slmkit_decode_steps_total counter$/m);
  });

  it("labels requests by route pattern, never by raw path, with 4xx statuses", async () => {
    const before = await scrape();
    await fetch(`${server.url}/v1/models/no-such-model`);
    await fetch(`${server.url}/no/such/path/${Math.random()}`);
    const after = await scrape();
    assert.equal(sample(after, "slmkit_http_requests_total", { route: "/v1/models/:id", status: "404" }) - sample(before, "slmkit_http_requests_total", { route: "/v1/models/:id", status: "404" }), 1);
    assert.equal(sample(after, "slmkit_http_requests_total", { route: "unmatched", status: "404" }) - sample(before, "slmkit_http_requests_total", { route: "unmatched", status: "404" }), 1);
    assert.doesNotMatch(after, /no\/such\/path/);
  });

  it("frees the sequences of clients that go away: 8 streams, 4 dropped, the 4 waiting behind them finish", async () => {
    const before = await scrape();
    // The first four fill every sequence and would run ~2000 tokens; the last four wait in the queue.
    const long = await Promise.all(
      Array.from({ length: PARALLEL }, () => openai.completions.create({ ...completion, max_tokens: 2000, stream: true } as OpenAI.CompletionCreateParamsStreaming)),
    );
    const short = Array.from({ length: 4 }, () => openai.completions.create({ ...completion, max_tokens: 16, stream: true, stream_options: { include_usage: true } } as OpenAI.CompletionCreateParamsStreaming));
    // Each long stream delivers a token, then its client drops the connection.
    await Promise.all(
      long.map(async (stream) => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.text) break; // leaving the loop aborts the request
        }
      }),
    );
    const finished = await Promise.all(
      short.map(async (pending) => {
        let tokens = 0;
        for await (const chunk of await pending) if (chunk.usage) tokens = chunk.usage.completion_tokens;
        return tokens;
      }),
    );
    assert.deepEqual(finished, [16, 16, 16, 16]);
    let after = await scrape();
    for (let tries = 0; tries < 50 && sample(after, "slmkit_busy_sequences", { model: "tiny-llama" }) > 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await scrape();
    }
    const delta = (name: string, labels: Record<string, string>): number => sample(after, name, labels) - sample(before, name, labels);
    assert.equal(delta("slmkit_generations_total", { model: "tiny-llama", finish_reason: "aborted" }), 4);
    assert.equal(delta("slmkit_generations_total", { model: "tiny-llama", finish_reason: "length" }), 4);
    assert.equal(delta("slmkit_http_requests_total", { route: "/v1/completions", status: "499" }), 4);
    // Had the dropped requests run on, they would have generated 8000 tokens.
    const generated = delta("slmkit_generated_tokens_total", { model: "tiny-llama" });
    assert.ok(generated < 64 + 4 * 200, `${generated} tokens generated in all`);
    assert.equal(sample(after, "slmkit_busy_sequences", { model: "tiny-llama" }), 0);
    assert.equal(sample(after, "slmkit_queue_depth", { model: "tiny-llama" }), 0);
  });

  it("counts an unload a client asks for, and shows the model gone", async () => {
    await ollama.generate({ model: "tiny-llama", prompt: "", keep_alive: 0 });
    let after = await scrape();
    for (let tries = 0; tries < 50 && sample(after, "slmkit_loaded_models") > 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await scrape();
    }
    assert.equal(sample(after, "slmkit_loaded_models"), 0);
    assert.equal(sample(after, "slmkit_model_unloads_total", { model: "tiny-llama", reason: "requested" }), 1);
    assert.equal(sample(after, "slmkit_busy_sequences", { model: "tiny-llama" }), 0, "no series for a model that is not loaded");
  });
});
