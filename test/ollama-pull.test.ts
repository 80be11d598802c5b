/**
 * /api/pull through the official ollama client: a Hugging Face model named as Ollama names them
 * (hf.co/<owner>/<repo>:<QUANT>) pulled from the local Hub stand-in into the store, with Ollama's
 * status lines, then listed and served at once; pulling it again downloads nothing.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Ollama } from "ollama";
import { ModelStore } from "../src/registry/index.js";
import { type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { HubStandIn } from "./hub-standin.js";
import { makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("ollama-pull");
let hub: HubStandIn;
let server: RunningServer;
let ollama: Ollama;
let store: ModelStore;

before(async () => {
  hub = await HubStandIn.start();
  const bytes = readFileSync(await makeModel(directory.path, "remote", { architecture: "qwen3", seed: 71 }));
  hub.addFile({ repo: "owner/tiny-GGUF", path: "tiny-Q8_0.gguf", content: bytes });
  store = new ModelStore(join(directory.path, "models"));
  const local = await makeModel(directory.path, "local", { architecture: "llama", seed: 72 });
  server = await startServer({ port: 0, models: [describeModelFile(local)], load: { contextSize: 256 }, registry: { store, endpoint: hub.url } });
  ollama = new Ollama({ host: server.url });
});

after(async () => {
  await server?.close();
  await hub?.close();
  directory.remove();
});

describe("POST /api/pull", () => {
  it("pulls hf.co/<owner>/<repo>:<QUANT> into the store with Ollama's status lines, then serves it", async () => {
    const statuses: Array<{ status: string; total?: number; completed?: number }> = [];
    for await (const part of await ollama.pull({ model: "hf.co/owner/tiny-GGUF:Q8_0", stream: true })) statuses.push(part);
    const names = statuses.map((part) => part.status);
    assert.equal(names[0], "pulling manifest");
    assert.ok(names.includes("verifying sha256 digest"));
    assert.equal(names.at(-1), "success");
    const progress = statuses.filter((part) => part.completed !== undefined);
    assert.ok(progress.length > 0);
    assert.equal(progress.at(-1)!.completed, progress.at(-1)!.total);

    assert.deepEqual(store.list().map((model) => model.name), ["hf.co/owner/tiny-GGUF:Q8_0"]);
    const listed = await ollama.list();
    assert.ok(listed.models.some((model) => model.name === "hf.co/owner/tiny-GGUF:Q8_0"), JSON.stringify(listed.models.map((model) => model.name)));
    const reply = await ollama.generate({ model: "hf.co/owner/tiny-GGUF:Q8_0", prompt: "Hi", options: { num_predict: 3 } });
    assert.equal(reply.eval_count, 3);

    hub.clearLog();
    const again = await ollama.pull({ model: "hf.co/owner/tiny-GGUF:Q8_0", stream: false });
    assert.equal(again.status, "success");
    assert.deepEqual(hub.requests, [], "already in the store: no request");
  });

  it("answers errors in Ollama's shape: an unknown repo 404, a name that is not a Hugging Face one 400", async () => {
    const statusOf = (error: unknown): number | undefined => (error as { status_code?: number }).status_code;
    await assert.rejects(ollama.pull({ model: "hf.co/owner/missing-GGUF:Q8_0", stream: false }), (error) => statusOf(error) === 404);
    await assert.rejects(ollama.pull({ model: "llama3.2", stream: false }), (error: Error) => statusOf(error) === 400 && /hf\.co\/<owner>\/<repo>:<QUANT>/.test(error.message));
  });
});
