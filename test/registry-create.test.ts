/**
 * Custom models Ollama-style: `slmkit create` from a Modelfile over a stored model (quantized by
 * slmkit's quantizer, or sharing its file), the settings applied by the server (system prompt,
 * default parameters) through both APIs, /api/create with Modelfile fields through the official
 * ollama client, and catalog aliases pulled from the Hub stand-in.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { type Manifest, ModelStore, pull } from "../src/registry/index.js";
import { type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { HubStandIn } from "./hub-standin.js";
import { countTokens, makeModel, runCli, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("create-store");
const home = join(directory.path, "home");
const env = { SLMKIT_HOME: home };
let basePath: string;

before(async () => {
  basePath = await makeModel(directory.path, "base", { architecture: "qwen3", type: "F16", seed: 81 });
});

after(() => directory.remove());

const chatml = (system: string, user: string): string => `<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

describe("slmkit create and store models with settings", () => {
  let terse: Manifest;

  it("creates a quantized model from a Modelfile over a stored one; without --quantize it shares the file", async () => {
    assert.equal((await runCli(["add", basePath, "--name", "base"], { env })).code, 0);
    const modelfile = join(directory.path, "Modelfile");
    writeFileSync(modelfile, 'FROM base\nSYSTEM """You are terse."""\nPARAMETER num_predict 5\nPARAMETER temperature 0\n');
    const created = await runCli(["create", "terse", "-f", modelfile, "--quantize", "Q8_0", "--json"], { env });
    assert.equal(created.code, 0, created.stderr);
    terse = JSON.parse(created.stdout) as Manifest;
    assert.deepEqual(terse.config, { system: "You are terse.", parameters: { num_predict: 5, temperature: 0 } });
    const base = JSON.parse((await runCli(["show", "base", "--json"], { env })).stdout) as Manifest;
    assert.notEqual(terse.digest, base.digest);
    assert.ok(terse.size < base.size, "Q8_0 is smaller than F16");

    writeFileSync(modelfile, "FROM terse\nSYSTEM Shorter still.\n");
    const shared = JSON.parse((await runCli(["create", "shorter", "-f", modelfile, "--json"], { env })).stdout) as Manifest;
    assert.equal(shared.digest, terse.digest, "no copy of the weights");
    assert.deepEqual(shared.config, { system: "Shorter still.", parameters: { num_predict: 5, temperature: 0 } }, "settings inherited, then overridden");
    const gc = JSON.parse((await runCli(["gc", "--json"], { env })).stdout) as { removedBlobs: string[] };
    assert.deepEqual(gc.removedBlobs, []);

    // `run` takes the store name and its settings: num_predict 5 stands in for --max-tokens.
    const ran = await runCli(["run", "terse", "Once", "--verbose"], { env });
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stderr, /prompt tokens .* (5 generated|[0-4] generated .* finish: stop)/);
  });

  it("serves store models with their settings, and /api/create adds settings through the ollama client", async () => {
    const store = new ModelStore(join(home, "models"));
    const { path, manifest } = store.resolve("terse");
    const server: RunningServer = await startServer({ port: 0, models: [describeModelFile(path, "terse", manifest.config)], load: { contextSize: 256 }, registry: { store } });
    try {
      const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const reply = await openai.chat.completions.create({ model: "terse", messages: [{ role: "user", content: "Hi" }], ignore_eos: true } as never);
      const usage = (reply as unknown as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
      assert.equal(usage.completion_tokens, 5, "num_predict 5 from the Modelfile");
      assert.equal(usage.prompt_tokens, await countTokens(path, chatml("You are terse.", "Hi"), { special: true, bos: false }), "the Modelfile's system prompt");

      const ollama = new Ollama({ host: server.url });
      const own = await ollama.chat({ model: "terse", messages: [{ role: "system", content: "Be verbose." }, { role: "user", content: "Hi" }] });
      assert.equal(own.prompt_eval_count, await countTokens(path, chatml("Be verbose.", "Hi"), { special: true, bos: false }), "a request's own system prompt wins");

      const created = await ollama.create({ model: "pirate", from: "terse", system: "Talk like a pirate.", parameters: { num_predict: 3 }, stream: false });
      assert.equal(created.status, "success");
      const pirate = await openai.chat.completions.create({ model: "pirate", messages: [{ role: "user", content: "Hi" }], ignore_eos: true } as never);
      const pirateUsage = (pirate as unknown as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
      assert.equal(pirateUsage.completion_tokens, 3);
      assert.equal(pirateUsage.prompt_tokens, await countTokens(path, chatml("Talk like a pirate.", "Hi"), { special: true, bos: false }));
      assert.deepEqual(store.read("pirate")?.config, { system: "Talk like a pirate.", parameters: { num_predict: 3, temperature: 0 } });
      await assert.rejects(ollama.create({ model: "bad", from: "terse", template: "{{ .Prompt }}", stream: false }), (error: Error) => /Go template/.test(error.message));
    } finally {
      await server.close();
    }
  });
});

describe("catalog aliases", () => {
  it("pull qwen3:0.6b --quant Q8_0 fetches the catalog's file and names it after the alias", async () => {
    const hub = await HubStandIn.start();
    try {
      const content = readFileSync(basePath);
      const { sha256 } = hub.addFile({ repo: "Qwen/Qwen3-0.6B-GGUF", path: "Qwen3-0.6B-Q8_0.gguf", content });
      const store = new ModelStore(join(directory.path, "alias-store"));
      const events: string[] = [];
      const { manifest } = await pull(store, "qwen3:0.6b", { quant: "q8_0", endpoint: hub.url, onEvent: (event) => event.type === "chosen" && events.push(event.reason) });
      assert.equal(manifest.name, "hf.co/Qwen/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q8_0", "the file's stem is in the name");
      assert.equal(store.resolve("qwen3:0.6b-q8_0").manifest.digest, manifest.digest, "and the short name finds it too");
      assert.equal(manifest.digest, `sha256:${sha256}`);
      assert.equal(manifest.file, "Qwen3-0.6B-Q8_0.gguf");
      assert.match(events[0]!, /Q8_0 as asked/);
    } finally {
      await hub.close();
    }
  });
});
