/**
 * Graceful shutdown against the real engine: running requests finish within the deadline, those
 * still running at it end cleanly with what they have, waiting ones are told to retry, new
 * connections are refused, and the models are unloaded. Then the same through `slmkit serve` and
 * SIGTERM, with the JSON log.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { CLI, makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("shutdown");
let modelPath: string;

before(async () => {
  modelPath = await makeModel(directory.path, "tiny-llama", { architecture: "llama", seed: 5 });
});

after(() => directory.remove());

async function serve(): Promise<RunningServer> {
  return startServer({ port: 0, models: [describeModelFile(modelPath)], load: { contextSize: 8192, parallel: 1 } });
}

/** Starts a streamed completion; resolves once its first token arrived, with the rest of the stream to come. */
async function startStream(server: RunningServer, maxTokens: number): Promise<{ rest: Promise<string> }> {
  const response = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ model: "tiny-llama", prompt: "Once", max_tokens: maxTokens, stream: true, stream_options: { include_usage: true }, ignore_eos: true, temperature: 0 }),
  });
  assert.equal(response.status, 200);
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes('"text":"') || text.includes('"text":""')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  })();
  return { rest };
}

function events(stream: string): Array<{ choices: Array<{ finish_reason: string | null }>; usage?: { completion_tokens: number } | null }> {
  return stream
    .split("\n\n")
    .filter((block) => block.startsWith("data: {"))
    .map((block) => JSON.parse(block.slice("data: ".length)) as never);
}

describe("graceful shutdown", () => {
  it("lets a running stream finish when it ends before the deadline, and unloads the model", async () => {
    const server = await serve();
    const { rest } = await startStream(server, 40);
    const report = await server.shutdown(30_000);
    const stream = await rest;
    assert.match(stream, /data: \[DONE\]\n\n$/);
    const usage = events(stream).find((event) => event.usage)!.usage!;
    assert.equal(usage.completion_tokens, 40, "the stream was not cut short");
    assert.deepEqual({ inFlight: report.inFlight, stopped: report.stopped }, { inFlight: 1, stopped: 0 });
    assert.equal(server.pool.running().length, 0, "models unloaded");
    assert.match(server.metrics.render(), /slmkit_model_unloads_total\{model="tiny-llama",reason="shutdown"\} 1/);
  });

  it("at the deadline ends running streams cleanly, tells waiting requests to retry, and refuses new connections", async () => {
    const server = await serve();
    // One sequence: the long stream runs, the Ollama request waits behind it.
    const { rest } = await startStream(server, 8000);
    const waiting = fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({ model: "tiny-llama", prompt: "Hi", stream: false, options: { num_predict: 5 } }),
    });
    await until(async () => /slmkit_queue_depth\{model="tiny-llama"\} 1/.test(server.metrics.render()));
    const started = performance.now();
    const shutdown = server.shutdown(500);
    await assert.rejects(fetch(`${server.url}/health`), "a new connection during the drain is refused");
    const report = await shutdown;
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds >= 0.5 && seconds < 5, `shut down in ${seconds.toFixed(2)} s`);
    assert.deepEqual({ inFlight: report.inFlight, stopped: report.stopped }, { inFlight: 2, stopped: 2 });

    const stream = await rest;
    assert.match(stream, /data: \[DONE\]\n\n$/, "the stream ends as a stream, not a cut connection");
    const parsed = events(stream);
    assert.equal(parsed.filter((event) => event.choices[0]?.finish_reason).at(-1)!.choices[0]!.finish_reason, "length");
    assert.ok(parsed.find((event) => event.usage)!.usage!.completion_tokens < 8000);

    const answer = await waiting;
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.get("retry-after"), "5");
    assert.match(((await answer.json()) as { error: string }).error, /shutting down/);
    assert.equal(server.pool.running().length, 0);
  });
});

describe("slmkit serve and SIGTERM", () => {
  it("drains, unloads, exits 0, and with --log-format json writes nothing but JSON records with request ids", async () => {
    const child = spawn(process.execPath, [CLI, "serve", modelPath, "--port", "0", "--log-format", "json", "--shutdown-timeout", "2s"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening after 20 s: ${stderr}`)), 20_000);
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
          const found = /"msg":"listening","url":"(http:\/\/[^"]+)"/.exec(stderr);
          if (found) {
            clearTimeout(timer);
            resolve(found[1]!);
          }
        });
      });
      const answer = await fetch(`${url}/api/generate`, {
        method: "POST",
        headers: { "X-Request-Id": "test-request-1" },
        body: JSON.stringify({ model: "tiny-llama", prompt: "Hi", stream: false, options: { num_predict: 3 } }),
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("x-request-id"), "test-request-1");
      const generated = await fetch(`${url}/health`);
      assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, "an id is made when none is sent");
      child.kill("SIGTERM");
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill("SIGKILL");
    }
    const records = stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const record of records) {
      assert.match(String(record.time), /^\d{4}-\d\d-\d\dT/);
      assert.ok(["debug", "info", "warn", "error"].includes(String(record.level)));
    }
    const request = records.find((record) => record.request_id === "test-request-1")!;
    assert.equal(request.msg, "POST /api/generate");
    assert.equal(request.status, 200);
    assert.equal(request.model, "tiny-llama");
    assert.equal(request.completion_tokens, 3);
    assert.ok(records.some((record) => record.msg === "model unloaded" && record.reason === "shutdown"));
    assert.ok(records.some((record) => record.msg === "shut down"));
  });
});

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
