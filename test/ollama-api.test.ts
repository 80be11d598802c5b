/**
 * `slmkit serve` driven by the official `ollama` npm client, and by raw HTTP for the requests a
 * well-behaved client would never send. Real server, real engine, synthesized models.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type ChatResponse, type GenerateResponse, Ollama } from "ollama";
import { ModelPool, type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { countTokens, makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("ollama");
let server: RunningServer;
let client: Ollama;
let llamaPath: string;
let qwenPath: string;
const CONTEXT = 512;

before(async () => {
  llamaPath = await makeModel(directory.path, "tiny-llama", { architecture: "llama", seed: 1 });
  qwenPath = await makeModel(directory.path, "tiny-qwen3", { architecture: "qwen3", type: "F16", seed: 2 });
  server = await startServer({ port: 0, models: [describeModelFile(llamaPath), describeModelFile(qwenPath)], load: { contextSize: CONTEXT, parallel: 2 }, createDirectory: directory.path });
  client = new Ollama({ host: server.url });
});

after(async () => {
  await server?.close();
  directory.remove();
});

/** The statistics of a final answer are whole nanoseconds that fit in the request's wall-clock time. */
function assertStatistics(final: GenerateResponse | ChatResponse, wallMs: number, evalCount: number): void {
  assert.equal(final.done, true);
  assert.equal(final.eval_count, evalCount);
  for (const field of ["total_duration", "load_duration", "prompt_eval_duration", "eval_duration"] as const) {
    assert.ok(Number.isInteger(final[field]) && final[field] >= 0, `${field} is a whole number: ${final[field]}`);
  }
  assert.ok(final.total_duration <= wallMs * 1e6, `total_duration ${final.total_duration} ns fits in ${wallMs} ms`);
  assert.ok(final.total_duration >= final.prompt_eval_duration + final.eval_duration - 1e6, "total covers prompt evaluation and generation");
  // Generating tokens takes microseconds at least: in milliseconds or seconds these would be tiny numbers.
  assert.ok(final.eval_duration > 10_000, `eval_duration ${final.eval_duration} is in nanoseconds`);
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; wallMs: number }> {
  const started = performance.now();
  const value = await work();
  return { value, wallMs: performance.now() - started };
}

const statusOf = (error: unknown): number => (error as { status_code: number }).status_code;

describe("Ollama API through the official client", () => {
  it("answers GET / and HEAD / as Ollama does, and tells its API version", async () => {
    const get = await fetch(`${server.url}/`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), "Ollama is running");
    const head = await fetch(`${server.url}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const { version } = await client.version();
    assert.match(version, /^\d+\.\d+\.\d+$/);
  });

  it("lists the served models with Ollama's default tag and their GGUF details", async () => {
    const { models } = await client.list();
    assert.deepEqual(models.map((model) => model.name).sort(), ["tiny-llama:latest", "tiny-qwen3:latest"]);
    const qwen = models.find((model) => model.name === "tiny-qwen3:latest")!;
    assert.equal(qwen.model, "tiny-qwen3:latest");
    assert.equal(qwen.size, describeModelFile(qwenPath).fileSize);
    assert.match(qwen.digest, /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(new Date(qwen.modified_at).getTime()));
    assert.deepEqual(qwen.details, { parent_model: "", format: "gguf", family: "qwen3", families: ["qwen3"], parameter_size: "130K", quantization_level: "F16" });
    assert.equal(models.find((model) => model.name === "tiny-llama:latest")!.details.quantization_level, "F32");
  });

  it("shows a model: details, model_info without the token tables, template, capabilities", async () => {
    const shown = await client.show({ model: "tiny-qwen3:latest" });
    assert.equal(shown.details.family, "qwen3");
    const info = shown.model_info as unknown as Record<string, unknown>;
    assert.equal(info["general.architecture"], "qwen3");
    assert.equal(info["qwen3.context_length"], 4096);
    assert.equal(info["tokenizer.ggml.tokens"], 495, "arrays are given as their lengths");
    assert.ok("slmkit.synthetic.seed" in info, "the random-weights marker is visible");
    assert.equal(info["tokenizer.chat_template"], undefined, "the template has its own field");
    assert.match(shown.template, /<\|im_start\|>/);
    assert.deepEqual(shown.capabilities, ["completion", "tools", "thinking"]);
    assert.ok(!Number.isNaN(new Date(shown.modified_at).getTime()));
    const verbose = (await (await fetch(`${server.url}/api/show`, { method: "POST", body: JSON.stringify({ name: "tiny-qwen3", verbose: true }) })).json()) as {
      model_info: Record<string, unknown>;
    };
    assert.equal((verbose.model_info["tokenizer.ggml.tokens"] as string[]).length, 495, "verbose gives the arrays in full");
  });

  it("generates text, streamed pieces adding up to the non-streamed answer, with exact counts", async () => {
    const request = { model: "tiny-llama", prompt: "Once upon a time", raw: true, options: { num_predict: 12, temperature: 0 } };
    const { value: whole, wallMs } = await timed(() => client.generate({ ...request, stream: false }));
    assert.equal(whole.model, "tiny-llama");
    assert.equal(whole.done_reason, "length");
    assertStatistics(whole, wallMs, 12);
    assert.equal(whole.prompt_eval_count, await countTokens(llamaPath, "Once upon a time", { special: false, bos: true }));
    assert.equal(whole.context, undefined, "raw mode returns no context");

    const streamed = await timed(async () => {
      const pieces: GenerateResponse[] = [];
      for await (const piece of await client.generate({ ...request, stream: true })) pieces.push(piece);
      return pieces;
    });
    const pieces = streamed.value;
    assert.ok(pieces.length > 2);
    assert.ok(pieces.slice(0, -1).every((piece) => !piece.done));
    assert.equal(pieces.map((piece) => piece.response).join(""), whole.response);
    const final = pieces.at(-1)!;
    assert.equal(final.response, "");
    assert.equal(final.done_reason, "length");
    assertStatistics(final, streamed.wallMs, 12);
    assert.equal(final.prompt_eval_count, whole.prompt_eval_count);
  });

  it("streams NDJSON by default, and applies the chat template unless raw", async () => {
    const response = await fetch(`${server.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "tiny-qwen3:latest", prompt: "Hi", options: { num_predict: 3, seed: 4 } }) });
    assert.equal(response.headers.get("content-type"), "application/x-ndjson");
    const lines = (await response.text()).trim().split("\n").map((line) => JSON.parse(line) as GenerateResponse);
    assert.equal(lines.at(-1)!.done, true);
    assert.equal(lines[0]!.model, "tiny-qwen3:latest", "answers carry the name the client sent");
    const rendered = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    assert.equal(lines.at(-1)!.prompt_eval_count, await countTokens(qwenPath, rendered, { special: true, bos: false }));
  });

  it("returns a context that a next generate continues", async () => {
    const first = await client.generate({ model: "tiny-llama", prompt: "Hello", options: { num_predict: 4, temperature: 0 } });
    assert.ok(first.context.length >= first.prompt_eval_count, "the context holds the prompt and the answer");
    const second = await client.generate({ model: "tiny-llama", prompt: "Hello", context: first.context, options: { num_predict: 2, temperature: 0 } });
    // The same prompt again, after the old tokens, without a second beginning-of-sequence token.
    assert.equal(second.prompt_eval_count, first.context.length + first.prompt_eval_count - 1);
  });

  it("chats, streamed and not, with the same reply for the same seed and an exact prompt count", async () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hello! How are you today?" },
    ];
    const request = { model: "tiny-qwen3", messages, options: { num_predict: 8, seed: 5, temperature: 1.1 } };
    const { value: whole, wallMs } = await timed(() => client.chat({ ...request, stream: false }));
    assert.equal(whole.message.role, "assistant");
    assert.equal(whole.done_reason, "length");
    assertStatistics(whole, wallMs, 8);
    const rendered = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello! How are you today?<|im_end|>\n<|im_start|>assistant\n";
    assert.equal(whole.prompt_eval_count, await countTokens(qwenPath, rendered, { special: true, bos: false }));

    const pieces: ChatResponse[] = [];
    for await (const piece of await client.chat({ ...request, stream: true })) pieces.push(piece);
    assert.ok(pieces.every((piece) => piece.message.role === "assistant"));
    assert.equal(pieces.map((piece) => piece.message.content).join(""), whole.message.content);
    assert.equal(pieces.at(-1)!.eval_count, 8);
  });

  it("respects stop strings", async () => {
    const base = { model: "tiny-llama", prompt: "Good morning", raw: true, options: { num_predict: 20, temperature: 0 } };
    const text = (await client.generate(base)).response ?? "";
    const stop = text.slice(4, 7);
    const stopped = await client.generate({ ...base, options: { ...base.options, stop: [stop] } });
    assert.equal(stopped.response, text.slice(0, text.indexOf(stop)));
    assert.equal(stopped.done_reason, "stop");
  });

  it("loads and unloads with an empty prompt, and lists loaded models in ps", async () => {
    const unloaded = await client.generate({ model: "tiny-qwen3", prompt: "", keep_alive: 0 });
    assert.equal(unloaded.done_reason, "unload");
    assert.ok(!(await client.ps()).models.some((model) => model.name === "tiny-qwen3:latest"));

    const loaded = await client.generate({ model: "tiny-qwen3:latest", prompt: "", keep_alive: "10m" });
    assert.deepEqual([loaded.done, loaded.done_reason, loaded.response], [true, "load", ""]);
    const running = (await client.ps()).models.find((model) => model.name === "tiny-qwen3:latest");
    assert.ok(running, "listed once loaded");
    assert.ok(running.size > 0 && running.size_vram >= 0 && running.size_vram <= running.size);
    const expiresInMs = new Date(running.expires_at).getTime() - Date.now();
    assert.ok(expiresInMs > 9 * 60_000 && expiresInMs <= 10 * 60_000, `expires in 10 minutes (${expiresInMs} ms)`);

    await client.chat({ model: "tiny-qwen3", messages: [{ role: "user", content: "Hi" }], options: { num_predict: 2 }, keep_alive: -1 });
    const forever = (await client.ps()).models.find((model) => model.name === "tiny-qwen3:latest")!;
    assert.ok(new Date(forever.expires_at).getFullYear() > 2200, "keep_alive -1 keeps it for ever");

    const chatUnload = await client.chat({ model: "tiny-qwen3", messages: [], keep_alive: 0 });
    assert.deepEqual([chatUnload.done_reason, chatUnload.message.role], ["unload", "assistant"]);
    assert.ok(!(await client.ps()).models.some((model) => model.name === "tiny-qwen3:latest"), "gone after keep_alive 0");
  });

  it("copies a model under a new name that generates the same, and deletes names (never files)", async () => {
    await client.copy({ source: "tiny-llama:latest", destination: "backup" });
    assert.ok((await client.list()).models.some((model) => model.name === "backup:latest"));
    const request = { prompt: "Once", raw: true, options: { num_predict: 6, temperature: 0 } };
    const original = await client.generate({ model: "tiny-llama", ...request });
    const copy = await client.generate({ model: "backup:latest", ...request });
    assert.equal(copy.model, "backup:latest");
    assert.equal(copy.response, original.response);

    await client.delete({ model: "backup" });
    assert.ok(!(await client.list()).models.some((model) => model.name === "backup:latest"));
    await assert.rejects(client.generate({ model: "backup", ...request }), (error) => statusOf(error) === 404);
    await assert.rejects(client.delete({ model: "backup" }), (error) => statusOf(error) === 404);
    assert.ok(existsSync(llamaPath), "the model file is still there");
    assert.ok((await client.list()).models.some((model) => model.name === "tiny-llama:latest"));
  });

  it("reports errors in Ollama's shape, which the client turns into errors with the status", async () => {
    await assert.rejects(client.generate({ model: "no-such-model", prompt: "x" }), (error: Error) => {
      assert.equal(statusOf(error), 404);
      assert.match(error.message, /model 'no-such-model' not found/);
      return true;
    });
    await assert.rejects(client.pull({ model: "llama3" }), (error: Error) => {
      assert.equal(statusOf(error), 501);
      assert.match(error.message, /needs the model store; this server was started without one/);
      return true;
    });
    await assert.rejects(client.chat({ model: "tiny-llama", messages: [{ role: "user", content: "x" }], think: true }), (error: Error) => statusOf(error) === 400 && /does not support thinking/.test(error.message));
  });

  it("constrains output to JSON with format \"json\" and to a schema with a schema object", async () => {
    const json = await client.generate({ model: "tiny-llama", prompt: "Once", format: "json", options: { num_predict: 40, temperature: 0 } });
    const text = json.response ?? "";
    if (json.done_reason === "stop") assert.equal(typeof JSON.parse(text), "object", text);
    else assert.match(text, /^\s*\{/, "an object is begun even when cut short");
    const schema = { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] };
    const chat = await client.chat({ model: "tiny-llama", messages: [{ role: "user", content: "Answer" }], format: schema, options: { num_predict: 60, temperature: 0 } });
    const answer = JSON.parse(chat.message.content) as { ok: unknown };
    assert.equal(typeof answer.ok, "boolean", chat.message.content);
  });

  it("applies repeat, presence and frequency penalties: the same request with and without them differs", async () => {
    const request = { model: "tiny-llama", prompt: "the the the", raw: true };
    const plain = await client.generate({ ...request, options: { num_predict: 24, temperature: 0 } });
    const penalized = await client.generate({ ...request, options: { num_predict: 24, temperature: 0, repeat_penalty: 2, frequency_penalty: 2, repeat_last_n: -1 } });
    assert.notEqual(penalized.response, plain.response);
  });

  it("embeds through /api/embed: one unit vector per input, counted tokens", async () => {
    const answer = await client.embed({ model: "tiny-llama", input: ["the cat", "a dog sat"] });
    assert.equal(answer.embeddings.length, 2);
    for (const vector of answer.embeddings) {
      assert.ok(vector.length > 0);
      assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-4, "normalized");
    }
    assert.notDeepEqual(answer.embeddings[0], answer.embeddings[1]);
    assert.equal(answer.prompt_eval_count, (await countTokens(llamaPath, "the cat", { special: false, bos: true })) + (await countTokens(llamaPath, "a dog sat", { special: false, bos: true })));
    const again = await client.embed({ model: "tiny-llama", input: "the cat" });
    assert.deepEqual(again.embeddings[0], answer.embeddings[0], "the same text embeds the same");
  });

  it("truncates embed inputs longer than the context unless truncate is false", async () => {
    const long = "the cat ".repeat(600);
    const cut = await client.embed({ model: "tiny-llama", input: long });
    assert.equal(cut.prompt_eval_count, CONTEXT - 1, "the embedding context keeps one place free");
    await assert.rejects(client.embed({ model: "tiny-llama", input: long, truncate: false }), (error) => statusOf(error) === 400);
  });

  it("answers the older /api/embeddings with the raw vector of one prompt", async () => {
    const { embedding } = await client.embeddings({ model: "tiny-llama", prompt: "the cat" });
    const [unit] = (await client.embed({ model: "tiny-llama", input: "the cat" })).embeddings;
    const length = Math.hypot(...embedding);
    assert.ok(embedding.every((value, index) => Math.abs(value / length - unit![index]!) < 1e-5), "the same direction as /api/embed");
    assert.deepEqual((await client.embeddings({ model: "tiny-llama", prompt: "" })).embedding, []);
  });
});

interface Hostile {
  name: string;
  method?: string;
  path?: string;
  body?: string | Buffer;
  status: number;
  /** A part of the message: the field it names, say. */
  says?: RegExp;
}

const generate = (fields: object): string => JSON.stringify({ model: "tiny-llama", prompt: "hi", stream: false, options: { num_predict: 2 }, ...fields });
const chat = (fields: object): string => JSON.stringify({ model: "tiny-llama", messages: [{ role: "user", content: "hi" }], stream: false, ...fields });
const withOptions = (options: object): string => generate({ options: { num_predict: 2, ...options } });

const HOSTILE: Hostile[] = [
  { name: "bad JSON", body: '{"model": "tiny-llama", "prompt": ', status: 400, says: /not valid JSON/ },
  { name: "an empty body", body: "", status: 400 },
  { name: "a JSON array", body: "[1,2,3]", status: 400 },
  { name: "a JSON string", body: '"hello"', status: 400 },
  { name: "no model", body: JSON.stringify({ prompt: "hi" }), status: 400, says: /model is required/ },
  { name: "a model of the wrong type", body: generate({ model: 42 }), status: 400, says: /'model'/ },
  { name: "a prompt of the wrong type", body: generate({ prompt: ["hi"] }), status: 400, says: /'prompt'/ },
  { name: "an unknown model", body: generate({ model: "llama3:8b" }), status: 404, says: /model 'llama3:8b' not found/ },
  { name: "a path-like model name", body: generate({ model: "../../../etc/passwd" }), status: 404 },
  { name: "an absolute-path model name", body: generate({ model: "/etc/passwd" }), status: 404 },
  { name: "a file name as model", body: generate({ model: "tiny-llama.gguf" }), status: 404 },
  { name: "negative num_predict", body: withOptions({ num_predict: -5 }), status: 400, says: /options\.num_predict/ },
  { name: "zero num_predict", body: withOptions({ num_predict: 0 }), status: 400, says: /options\.num_predict/ },
  { name: "fractional num_predict", body: withOptions({ num_predict: 2.5 }), status: 400 },
  { name: "negative temperature", body: withOptions({ temperature: -1 }), status: 400, says: /options\.temperature/ },
  { name: "top_p as a string", body: withOptions({ top_p: "high" }), status: 400, says: /options\.top_p/ },
  { name: "negative top_k", body: withOptions({ top_k: -1 }), status: 400 },
  { name: "an empty stop string", body: withOptions({ stop: [""] }), status: 400, says: /options\.stop/ },
  { name: "stop as a string", body: withOptions({ stop: "\n" }), status: 400, says: /options\.stop/ },
  { name: "options as an array", body: generate({ options: [1, 2] }), status: 400, says: /options/ },
  { name: "a negative repeat penalty", body: withOptions({ repeat_penalty: -1 }), status: 400, says: /'options\.repeat_penalty'/ },
  { name: "mirostat sampling (not yet supported)", body: withOptions({ mirostat: 2 }), status: 400, says: /options\.mirostat/ },
  { name: "a format other than json", body: generate({ format: "xml" }), status: 400, says: /'format'/ },
  { name: "a schema with a keyword the grammar cannot enforce", path: "/api/chat", body: chat({ format: { type: "string", pattern: "^a+$" } }), status: 400, says: /pattern/ },
  { name: "a schema that is not a schema", path: "/api/chat", body: chat({ format: { type: "banana" } }), status: 400 },
  { name: "images", body: generate({ images: ["iVBORw0KGgo="] }), status: 400, says: /'images'/ },
  { name: "a per-request template", body: generate({ template: "{{ .Prompt }}" }), status: 400, says: /'template'/ },
  { name: "a bad keep_alive", body: generate({ keep_alive: "forever" }), status: 400, says: /'keep_alive'/ },
  { name: "keep_alive of the wrong type", body: generate({ keep_alive: { minutes: 5 } }), status: 400, says: /'keep_alive'/ },
  { name: "raw with a system prompt", body: generate({ raw: true, system: "Be nice" }), status: 400, says: /raw/ },
  { name: "a context token outside the vocabulary", body: generate({ context: [1, 2, 99999999] }), status: 400, says: /'context'/ },
  { name: "a negative context token", body: generate({ context: [-1] }), status: 400, says: /context/ },
  { name: "a prompt longer than the context", body: generate({ prompt: "the cat ".repeat(600) }), status: 400, says: /context holds 512/ },
  { name: "a too-long prompt, streamed", body: generate({ prompt: "the cat ".repeat(600), stream: true }), status: 400 },
  { name: "a tool whose name is not a name", path: "/api/chat", body: chat({ tools: [{ type: "function", function: { name: "../etc" } }] }), status: 400, says: /tools\.0\.function\.name/ },
  { name: "a required call to a tool not given", path: "/api/chat", body: chat({ tools: [{ type: "function", function: { name: "f" } }], tool_choice: { type: "function", function: { name: "g" } } }), status: 400, says: /tool_choice/ },
  { name: "think on a model whose template knows no thinking", body: generate({ think: true }), status: 400, says: /does not support thinking/ },
  { name: "messages of the wrong type", path: "/api/chat", body: chat({ messages: "hi" }), status: 400, says: /'messages'/ },
  { name: "an unknown role", path: "/api/chat", body: chat({ messages: [{ role: "wizard", content: "hi" }] }), status: 400, says: /messages\.0\.role/ },
  { name: "content of the wrong type", path: "/api/chat", body: chat({ messages: [{ role: "user", content: 42 }] }), status: 400 },
  { name: "images in a message", path: "/api/chat", body: chat({ messages: [{ role: "user", content: "x", images: ["AAAA"] }] }), status: 400, says: /messages\.0\.images/ },
  { name: "an unknown model to chat with", path: "/api/chat", body: chat({ model: "gpt-4o" }), status: 404 },
  { name: "show without a model", path: "/api/show", body: "{}", status: 400, says: /model is required/ },
  { name: "show of an unknown model", path: "/api/show", body: JSON.stringify({ model: "nope" }), status: 404 },
  { name: "copy from an unknown model", path: "/api/copy", body: JSON.stringify({ source: "nope", destination: "other" }), status: 404 },
  { name: "copy to a path-like name", path: "/api/copy", body: JSON.stringify({ source: "tiny-llama", destination: "../../evil" }), status: 400, says: /'destination'/ },
  { name: "copy without a destination", path: "/api/copy", body: JSON.stringify({ source: "tiny-llama" }), status: 400 },
  { name: "delete of an unknown model", method: "DELETE", path: "/api/delete", body: JSON.stringify({ model: "nope" }), status: 404 },
  { name: "a 10 MB body", body: Buffer.alloc(10 * 1024 * 1024, 0x20), status: 413 },
  { name: "GET on generate", method: "GET", path: "/api/generate", status: 405 },
  { name: "POST on tags", method: "POST", path: "/api/tags", body: "{}", status: 405 },
  { name: "GET on delete", method: "GET", path: "/api/delete", status: 405 },
  { name: "PUT on chat", method: "PUT", path: "/api/chat", body: "{}", status: 405 },
  { name: "an unknown route under /api", method: "GET", path: "/api/nothing-here", status: 404 },
  { name: "embed without input", path: "/api/embed", body: JSON.stringify({ model: "tiny-llama" }), status: 400, says: /'input'/ },
  { name: "embed of an empty list", path: "/api/embed", body: JSON.stringify({ model: "tiny-llama", input: [] }), status: 400, says: /'input'/ },
  { name: "embed of a number", path: "/api/embed", body: JSON.stringify({ model: "tiny-llama", input: 42 }), status: 400, says: /'input'/ },
  { name: "embed of an empty string", path: "/api/embed", body: JSON.stringify({ model: "tiny-llama", input: "" }), status: 400, says: /empty/ },
  { name: "embed with an unknown model", path: "/api/embed", body: JSON.stringify({ model: "nope", input: "x" }), status: 404 },
  { name: "embeddings without a prompt", path: "/api/embeddings", body: JSON.stringify({ model: "tiny-llama" }), status: 400, says: /'prompt'/ },
  { name: "pull on a server without a store", path: "/api/pull", body: JSON.stringify({ model: "llama3" }), status: 501, says: /needs the model store/ },
  { name: "create with a Modelfile template (needs the registry)", path: "/api/create", body: JSON.stringify({ model: "x", from: "tiny-llama", template: "{{ .Prompt }}" }), status: 501, says: /'template' in \/api\/create needs the model store/ },
  { name: "create with an unknown quantization", path: "/api/create", body: JSON.stringify({ model: "x", from: "tiny-llama", quantize: "q3_banana" }), status: 400, says: /invalid 'quantize'/ },
  { name: "create from a model not served", path: "/api/create", body: JSON.stringify({ model: "x", from: "../../etc/passwd" }), status: 404, says: /not found/ },
  { name: "create under a path-like name", path: "/api/create", body: JSON.stringify({ model: "../x", from: "tiny-llama" }), status: 400, says: /model/ },
];

describe("hostile and malformed requests to the Ollama API", () => {
  for (const hostile of HOSTILE) {
    it(`answers ${hostile.name} with ${hostile.status} and an Ollama error body`, async () => {
      const response = await fetch(`${server.url}${hostile.path ?? "/api/generate"}`, {
        method: hostile.method ?? "POST",
        headers: { "Content-Type": "application/json" },
        body: hostile.body,
      });
      const text = await response.text();
      assert.equal(response.status, hostile.status, text);
      const body = JSON.parse(text) as { error: unknown };
      assert.equal(typeof body.error, "string", text);
      assert.ok((body.error as string).length > 0);
      if (hostile.says) assert.match(body.error as string, hostile.says);
      const alive = await fetch(`${server.url}/api/version`);
      assert.equal(alive.status, 200, "the server keeps serving");
    });
  }

  it("accepts options that change nothing here: defaults of unsupported ones, load-time and unknown ones", async () => {
    const answer = await client.generate({
      model: "tiny-llama",
      prompt: "hi",
      options: { num_predict: 2, repeat_penalty: 1.1, presence_penalty: 0, mirostat: 0, num_ctx: 8192, num_gpu: 0, num_thread: 2, ...({ not_an_option: 1 } as object) },
    });
    assert.equal(answer.done, true);
    assert.equal(answer.eval_count, 2);
  });

  it("frees the sequence at once when a streaming client disconnects", async () => {
    const abort = new AbortController();
    const response = await fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({ model: "tiny-llama", prompt: "Go", raw: true, options: { num_predict: 400, temperature: 0 } }),
      signal: abort.signal,
    });
    await response.body!.getReader().read();
    abort.abort();
    let busy = -1;
    for (let attempt = 0; attempt < 50 && busy !== 0; attempt++) {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { models: Array<{ name: string; busy_sequences?: number }> };
      busy = health.models.find((model) => model.name === "tiny-llama")!.busy_sequences!;
      if (busy !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(busy, 0, "the generation stopped long before 400 tokens");
  });

  it("unloads a model asked to unload while in use as soon as its request ends", async () => {
    const pool = new ModelPool([describeModelFile(qwenPath)], { contextSize: 256 });
    let finish: () => void = () => undefined;
    const busy = pool.use("tiny-qwen3", () => new Promise<void>((resolve) => (finish = resolve)));
    await pool.get("tiny-qwen3");
    await pool.unload("tiny-qwen3");
    assert.ok(pool.loadedModel("tiny-qwen3"), "still loaded while in use");
    finish();
    await busy;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(pool.loadedModel("tiny-qwen3"), undefined);
    await pool.close();
  });
});

describe("think", () => {
  it("turns a thinking template's switch: think false closes the think block in the prompt; capabilities say so", async () => {
    const client = new Ollama({ host: server.url });
    const shown = await client.show({ model: "tiny-qwen3" });
    assert.deepEqual(shown.capabilities, ["completion", "tools", "thinking"]);
    assert.deepEqual((await client.show({ model: "tiny-llama" })).capabilities, ["completion"]);
    const turn = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    const off = await client.chat({ model: "tiny-qwen3", messages: [{ role: "user", content: "Hi" }], think: false, options: { num_predict: 2 } });
    assert.equal(off.prompt_eval_count, await countTokens(qwenPath, `${turn}<think>\n\n</think>\n\n`, { special: true, bos: false }));
    const on = await client.chat({ model: "tiny-qwen3", messages: [{ role: "user", content: "Hi" }], think: true, options: { num_predict: 2 } });
    assert.equal(on.prompt_eval_count, await countTokens(qwenPath, turn, { special: true, bos: false }));
  });
});

describe("think with a template that opens the think block", () => {
  it("reads the whole reply as thinking until the model closes the block", async () => {
    // A Jinja template (as a Modelfile's TEMPLATE) that starts the assistant's thinking in the prompt, as DeepSeek-R1's does.
    const template = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n<think>\n";
    const opened = await startServer({ port: 0, models: [describeModelFile(qwenPath, "opened", { template })], load: { contextSize: CONTEXT } });
    try {
      const client = new Ollama({ host: opened.url });
      const reply = await client.chat({ model: "opened", messages: [{ role: "user", content: "Hi" }], think: true, options: { num_predict: 6, temperature: 0 } });
      // A random-weight model never writes </think>: everything it wrote is thinking.
      assert.equal(reply.message.content, "");
      assert.ok((reply.message.thinking ?? "").length > 0, JSON.stringify(reply.message));
      const raw = await client.chat({ model: "opened", messages: [{ role: "user", content: "Hi" }], options: { num_predict: 6, temperature: 0 } });
      assert.equal(raw.message.thinking, undefined, "without think the reply is left as written");
      assert.equal(raw.message.content.trim(), reply.message.thinking!.trim());
    } finally {
      await opened.close();
    }
  });
});
