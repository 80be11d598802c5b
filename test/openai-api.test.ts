/**
 * `slmkit serve` driven by the official `openai` npm client, and by raw HTTP for the requests a
 * well-behaved client would never send. Real server, real engine, synthesized models.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { createLogger, ModelPool, type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { countTokens, makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("openai");
let server: RunningServer;
type LogRecord = Record<string, string | number | boolean>;
const serverLog: LogRecord[] = [];
let client: OpenAI;
let llamaPath: string;
let qwenPath: string;
const CONTEXT = 512;

before(async () => {
  llamaPath = await makeModel(directory.path, "tiny-llama", { architecture: "llama", seed: 1 });
  qwenPath = await makeModel(directory.path, "tiny-qwen3", { architecture: "qwen3", type: "F16", seed: 2 });
  server = await startServer({
    port: 0,
    models: [describeModelFile(llamaPath), describeModelFile(qwenPath)],
    load: { contextSize: CONTEXT, parallel: 2 },
    logger: createLogger({ format: "json", level: "debug", write: (line) => serverLog.push(JSON.parse(line) as LogRecord) }),
  });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "not-checked-yet", maxRetries: 0 });
});

after(async () => {
  await server?.close();
  directory.remove();
});

describe("OpenAI API through the official client", () => {
  it("lists and retrieves the served models, named after their files", async () => {
    const page = await client.models.list();
    const ids = page.data.map((model) => model.id).sort();
    assert.deepEqual(ids, ["tiny-llama", "tiny-qwen3"]);
    const model = await client.models.retrieve("tiny-qwen3");
    assert.equal(model.id, "tiny-qwen3");
    assert.equal(model.object, "model");
    assert.equal((model as unknown as { slmkit: { random_weights: boolean } }).slmkit.random_weights, true, "says the weights are random");
  });

  it("completes text with exact usage counts", async () => {
    const prompt = "Once upon a time";
    const completion = await client.completions.create({ model: "tiny-llama", prompt, max_tokens: 12, temperature: 0, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
    assert.equal(completion.object, "text_completion");
    assert.equal(completion.choices[0]!.finish_reason, "length");
    assert.equal(completion.usage!.completion_tokens, 12);
    assert.equal(completion.usage!.prompt_tokens, await countTokens(llamaPath, prompt, { special: false, bos: true }));
    assert.equal(completion.usage!.total_tokens, completion.usage!.prompt_tokens + 12);
    assert.ok(completion.choices[0]!.text.length > 0);
  });

  it("streams text completions that add up to the non-streamed text", async () => {
    const request = { model: "tiny-llama", prompt: "The cat", max_tokens: 10, temperature: 0, ignore_eos: true };
    const whole = await client.completions.create(request as OpenAI.CompletionCreateParamsNonStreaming);
    const stream = await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } } as OpenAI.CompletionCreateParamsStreaming);
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        text += choice.text;
        finish = choice.finish_reason ?? finish;
      }
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, whole.choices[0]!.text);
    assert.equal(finish, "length");
    assert.deepEqual(usage, whole.usage);
  });

  it("chats through the model's template, with exact usage counts", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hello! How are you today?" },
    ];
    const reply = await client.chat.completions.create({ model: "tiny-qwen3", messages, max_tokens: 8, seed: 5, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(reply.object, "chat.completion");
    assert.equal(reply.choices[0]!.message.role, "assistant");
    assert.equal(typeof reply.choices[0]!.message.content, "string");
    assert.equal(reply.usage!.completion_tokens, 8);
    const rendered = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello! How are you today?<|im_end|>\n<|im_start|>assistant\n";
    assert.equal(reply.usage!.prompt_tokens, await countTokens(qwenPath, rendered, { special: true, bos: false }));
  });

  it("streams chat completions: a role delta first, content deltas, a finish reason, usage, [DONE]", async () => {
    const request = { model: "tiny-qwen3", messages: [{ role: "user" as const, content: "Hi" }], max_completion_tokens: 6, seed: 9, ignore_eos: true };
    const whole = await client.chat.completions.create(request as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } } as OpenAI.ChatCompletionCreateParamsStreaming);
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks[0]!.choices[0]!.delta.role, "assistant");
    const content = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? "")).join("");
    assert.equal(content, whole.choices[0]!.message.content);
    assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, "length");
    assert.deepEqual(chunks.at(-1)!.usage, whole.usage);
    assert.equal(chunks.at(-1)!.choices.length, 0);
  });

  it("gives the same reply for the same seed and respects stop strings", async () => {
    const base = { model: "tiny-llama", prompt: "Good morning", max_tokens: 20, temperature: 1.2, seed: 77, ignore_eos: true };
    const a = await client.completions.create(base as OpenAI.CompletionCreateParamsNonStreaming);
    const b = await client.completions.create(base as OpenAI.CompletionCreateParamsNonStreaming);
    assert.equal(a.choices[0]!.text, b.choices[0]!.text);
    const text = a.choices[0]!.text;
    const stop = text.slice(4, 7);
    const stopped = await client.completions.create({ ...base, stop } as OpenAI.CompletionCreateParamsNonStreaming);
    assert.equal(stopped.choices[0]!.text, text.slice(0, text.indexOf(stop)));
    assert.equal(stopped.choices[0]!.finish_reason, "stop");
  });

  it("embeds text through /v1/embeddings: unit vectors, exact usage, base64 on request", async () => {
    const single = await client.embeddings.create({ model: "tiny-qwen3", input: "Hello world" });
    assert.equal(single.data.length, 1);
    const vector = single.data[0]!.embedding;
    assert.equal(vector.length, 64);
    assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-5);
    assert.equal(single.usage.prompt_tokens, await countTokens(qwenPath, "Hello world", { special: false, bos: false }));
    const batch = await client.embeddings.create({ model: "tiny-qwen3", input: ["Hello world", "Good night"] });
    assert.deepEqual(batch.data.map((item) => item.index), [0, 1]);
    assert.deepEqual(batch.data[0]!.embedding, vector);
    // The official client asks for base64 by default when none is given and decodes it itself.
    const raw = await fetch(`${server.url}/v1/embeddings`, { method: "POST", body: JSON.stringify({ model: "tiny-qwen3", input: "Hello world", encoding_format: "base64" }) });
    const encoded = ((await raw.json()) as { data: Array<{ embedding: string }> }).data[0]!.embedding;
    const decoded = Array.from(new Float32Array(Uint8Array.from(Buffer.from(encoded, "base64")).buffer));
    decoded.forEach((value, index) => assert.ok(Math.abs(value - vector[index]!) < 1e-6));
  });

  it("enforces response_format: json_object and json_schema", async () => {
    const schema = { type: "object", properties: { ok: { type: "boolean" }, level: { enum: ["low", "high"] } }, required: ["ok", "level"], additionalProperties: false };
    const reply = await client.chat.completions.create({
      model: "tiny-qwen3",
      messages: [{ role: "user", content: "Status?" }],
      max_tokens: 100,
      seed: 2,
      response_format: { type: "json_schema", json_schema: { name: "status", schema, strict: true } },
    });
    const parsed = JSON.parse(reply.choices[0]!.message.content!) as { ok: unknown; level: unknown };
    assert.equal(typeof parsed.ok, "boolean");
    assert.ok(["low", "high"].includes(parsed.level as string));
    const object = await client.chat.completions.create({ model: "tiny-qwen3", messages: [{ role: "user", content: "Data?" }], max_tokens: 20, seed: 1, response_format: { type: "json_object" } });
    assert.match(object.choices[0]!.message.content!, /^\s*\{/);
    await assert.rejects(
      client.chat.completions.create({ model: "tiny-qwen3", messages: [{ role: "user", content: "x" }], response_format: { type: "json_schema", json_schema: { name: "s", schema: { type: "string", pattern: "^a+$" } } } }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /pattern cannot be enforced/.test(error.message),
    );
  });

  it("applies logit_bias and the presence/frequency penalties", async () => {
    const forced = 300; // a token id of the synthetic vocabulary
    const biased = await client.completions.create({ model: "tiny-llama", prompt: "The cat", max_tokens: 4, temperature: 0, ignore_eos: true, logit_bias: { [forced]: 100 } } as OpenAI.CompletionCreateParamsNonStreaming);
    const plain = await client.completions.create({ model: "tiny-llama", prompt: "The cat", max_tokens: 4, temperature: 0, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
    assert.notEqual(biased.choices[0]!.text, plain.choices[0]!.text);
    const penalized = await client.completions.create({ model: "tiny-llama", prompt: "the the the the", max_tokens: 30, temperature: 0, ignore_eos: true, presence_penalty: 1.5, frequency_penalty: 1.5 } as OpenAI.CompletionCreateParamsNonStreaming);
    const unpenalized = await client.completions.create({ model: "tiny-llama", prompt: "the the the the", max_tokens: 30, temperature: 0, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
    assert.notEqual(penalized.choices[0]!.text, unpenalized.choices[0]!.text);
  });

  it("reports errors in OpenAI's shape, which the client turns into typed errors", async () => {
    await assert.rejects(client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.NotFoundError);
      assert.equal(error.code, "model_not_found");
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: "tiny-qwen3", messages: [], max_tokens: 1 }), OpenAI.BadRequestError);
  });
});

interface Hostile {
  name: string;
  method?: string;
  path?: string;
  body?: string | Buffer;
  status: number;
  code?: string;
}

const chat = (fields: object): string => JSON.stringify({ model: "tiny-llama", messages: [{ role: "user", content: "hi" }], max_tokens: 2, ...fields });

const HOSTILE: Hostile[] = [
  { name: "bad JSON", body: '{"model": "tiny-llama", "messages": [', status: 400, code: "invalid_json" },
  { name: "empty body", body: "", status: 400 },
  { name: "a JSON array", body: "[1,2,3]", status: 400 },
  { name: "a JSON string", body: '"hello"', status: 400 },
  { name: "messages of the wrong type", body: chat({ messages: "hi" }), status: 400 },
  { name: "a message without a role", body: chat({ messages: [{ content: "hi" }] }), status: 400 },
  { name: "an unknown role", body: chat({ messages: [{ role: "wizard", content: "hi" }] }), status: 400 },
  { name: "content of the wrong type", body: chat({ messages: [{ role: "user", content: 42 }] }), status: 400 },
  { name: "no model", body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }), status: 400 },
  { name: "an unknown model", body: chat({ model: "gpt-4o" }), status: 404, code: "model_not_found" },
  { name: "a path-like model name", body: chat({ model: "../../../etc/passwd" }), status: 404, code: "model_not_found" },
  { name: "an absolute-path model name", body: chat({ model: "/etc/passwd" }), status: 404 },
  { name: "negative max_tokens", body: chat({ max_tokens: -5 }), status: 400 },
  { name: "zero max_tokens", body: chat({ max_tokens: 0 }), status: 400 },
  { name: "absurd max_tokens", body: chat({ max_tokens: 1e15 }), status: 400 },
  { name: "fractional max_tokens", body: chat({ max_tokens: 2.5 }), status: 400 },
  { name: "temperature out of range", body: chat({ temperature: 7 }), status: 400 },
  { name: "top_p as a string", body: chat({ top_p: "high" }), status: 400 },
  { name: "negative top_k", body: chat({ top_k: -1 }), status: 400 },
  { name: "too many stop strings", body: chat({ stop: Array.from({ length: 100 }, (_, i) => `s${i}`) }), status: 400 },
  { name: "an empty stop string", body: chat({ stop: "" }), status: 400 },
  { name: "n = 2", body: chat({ n: 2 }), status: 400, code: "unsupported_parameter" },
  { name: "a tool of an unknown type", body: chat({ tools: [{ type: "web_search" }] }), status: 400 },
  { name: "a tool call with arguments that are not a string", body: chat({ messages: [{ role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: { a: 1 } } }] }] }), status: 400 },
  { name: "a presence penalty out of range", body: chat({ presence_penalty: 5 }), status: 400 },
  { name: "a logit_bias key that is not a token id", body: chat({ logit_bias: { hello: 5 } }), status: 400 },
  { name: "a logit_bias token outside the vocabulary", body: chat({ logit_bias: { "99999999": 5 } }), status: 400 },
  { name: "a response_format of an unknown type", body: chat({ response_format: { type: "xml" } }), status: 400 },
  { name: "a json_schema that cannot be enforced", body: chat({ response_format: { type: "json_schema", json_schema: { name: "n", schema: { type: "integer", minimum: 3 } } } }), status: 400 },
  { name: "embeddings without input", path: "/v1/embeddings", body: JSON.stringify({ model: "tiny-llama" }), status: 400 },
  { name: "embeddings of an empty string", path: "/v1/embeddings", body: JSON.stringify({ model: "tiny-llama", input: "" }), status: 400 },
  { name: "a prompt longer than the context", body: chat({ messages: [{ role: "user", content: "the cat ".repeat(600) }] }), status: 400, code: "context_length_exceeded" },
  { name: "a 10 MB body", body: Buffer.alloc(10 * 1024 * 1024, 0x20), status: 413, code: "request_too_large" },
  { name: "completions without a prompt", path: "/v1/completions", body: JSON.stringify({ model: "tiny-llama" }), status: 400 },
  { name: "a completion prompt of the wrong type", path: "/v1/completions", body: JSON.stringify({ model: "tiny-llama", prompt: { text: "x" } }), status: 400 },
  { name: "GET on a POST route", method: "GET", path: "/v1/chat/completions", status: 405, code: "method_not_allowed" },
  { name: "DELETE on the models list", method: "DELETE", path: "/v1/models", status: 405 },
  { name: "PUT on a POST route", method: "PUT", path: "/v1/completions", body: "{}", status: 405 },
  { name: "an unknown route", method: "GET", path: "/v1/nothing-here", status: 404 },
  { name: "an unknown model by id", method: "GET", path: "/v1/models/%2e%2e%2fsecret", status: 404 },
  { name: "broken percent-encoding", method: "GET", path: "/v1/models/%E0%A4%A", status: 400 },
];

describe("hostile and malformed requests", () => {
  for (const hostile of HOSTILE) {
    it(`answers ${hostile.name} with ${hostile.status} and an OpenAI error body`, async () => {
      const response = await fetch(`${server.url}${hostile.path ?? "/v1/chat/completions"}`, {
        method: hostile.method ?? "POST",
        headers: { "Content-Type": "application/json" },
        body: hostile.body,
      });
      assert.equal(response.status, hostile.status, await response.clone().text());
      const body = (await response.json()) as { error: { message: string; type: string; code: string | null } };
      assert.equal(typeof body.error.message, "string");
      assert.ok(body.error.message.length > 0);
      assert.equal(body.error.type, "invalid_request_error");
      if (hostile.code) assert.equal(body.error.code, hostile.code);
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200, "the server keeps serving");
    });
  }

  it("answers a bad streamed request with its 4xx status, not a 200 stream holding an error", async () => {
    const tooLong = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "tiny-llama", stream: true, messages: [{ role: "user", content: "the cat ".repeat(600) }] }),
    });
    assert.equal(tooLong.status, 400);
    assert.equal(((await tooLong.json()) as { error: { code: string } }).error.code, "context_length_exceeded");
    const empty = await fetch(`${server.url}/v1/completions`, { method: "POST", body: JSON.stringify({ model: "tiny-qwen3", stream: true, prompt: "" }) });
    assert.equal(empty.status, 400);
  });

  it("reports a model as loading in /health without waiting for the load", async () => {
    const pool = new ModelPool([describeModelFile(qwenPath)], { contextSize: 256 });
    const loading = pool.get("tiny-qwen3");
    assert.equal(pool.isLoading("tiny-qwen3"), true);
    assert.equal(pool.loadedModel("tiny-qwen3"), undefined);
    await loading;
    assert.equal(pool.isLoading("tiny-qwen3"), false);
    assert.ok(pool.loadedModel("tiny-qwen3"));
    await pool.close();
  });

  it("frees a sequence at once when a streaming client disconnects", async () => {
    const before = serverLog.length;
    await Promise.all(
      [1, 2].map(async () => {
        const abort = new AbortController();
        const response = await fetch(`${server.url}/v1/completions`, {
          method: "POST",
          body: JSON.stringify({ model: "tiny-llama", prompt: "Go", max_tokens: 400, stream: true, ignore_eos: true, temperature: 0 }),
          signal: abort.signal,
        });
        const reader = response.body!.getReader();
        await reader.read();
        abort.abort();
      }),
    );
    // Both sequences come free long before 400 tokens could have been generated.
    let busy = -1;
    for (let attempt = 0; attempt < 50 && busy !== 0; attempt++) {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { models: Array<{ name: string; busy_sequences?: number }> };
      busy = health.models.find((model) => model.name === "tiny-llama")!.busy_sequences!;
      if (busy !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(busy, 0);
    const closed = serverLog.slice(before).filter((record) => record.client_closed === true);
    assert.equal(closed.length, 2, JSON.stringify(serverLog.slice(before)));
    for (const record of closed) {
      assert.equal(record.status, 499);
      assert.equal(record.route, "/v1/completions");
      assert.ok(typeof record.completion_tokens === "number" && record.completion_tokens < 400, `generation stopped early: ${JSON.stringify(record)}`);
    }
  });
});
