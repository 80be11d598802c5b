/**
 * /api/create through the official ollama client: a served F16 model quantized by slmkit's own
 * quantizer, progress streamed as Ollama's status lines, the new model listed, described and
 * served at once, its file byte for byte what `quantizeFile` makes of the same source.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Ollama } from "ollama";
import { quantizeFile } from "../src/quant/index.js";
import { type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("create");
const created = join(directory.path, "created");
let server: RunningServer;
let ollama: Ollama;
let sourcePath: string;

before(async () => {
  sourcePath = await makeModel(directory.path, "tiny-qwen3", { architecture: "qwen3", type: "F16", seed: 31 });
  server = await startServer({ port: 0, models: [describeModelFile(sourcePath)], load: { contextSize: 256 }, createDirectory: created });
  ollama = new Ollama({ host: server.url });
});

after(async () => {
  await server?.close();
  directory.remove();
});

describe("POST /api/create", () => {
  it("quantizes a served model with progress, then lists, shows and serves it", async () => {
    const events = [];
    for await (const event of await ollama.create({ model: "tiny-q8", from: "tiny-qwen3", quantize: "q8_0", stream: true })) events.push(event);
    assert.equal(events.at(-1)!.status, "success");
    const progress = events.filter((event) => event.total !== undefined);
    assert.ok(progress.length >= 2, `${progress.length} progress lines`);
    const completed = progress.map((event) => event.completed!);
    assert.deepEqual(completed, [...completed].sort((a, b) => a - b), "completed only grows");
    assert.equal(completed.at(-1), progress[0]!.total, "and ends at the total");

    const listed = await ollama.list();
    assert.ok(listed.models.some((model) => model.name === "tiny-q8:latest"));
    const shown = await ollama.show({ model: "tiny-q8" });
    assert.equal(shown.details.quantization_level, "Q8_0");
    const reply = await ollama.generate({ model: "tiny-q8", prompt: "Hi", options: { num_predict: 4 } });
    assert.equal(reply.done, true);
    assert.equal(reply.eval_count, 4);

    const reference = join(directory.path, "reference-q8_0.gguf");
    await quantizeFile(sourcePath, reference, { preset: "Q8_0" });
    const [file] = readdirSync(created).filter((name) => name.endsWith(".gguf"));
    assert.ok(readFileSync(join(created, file!)).equals(readFileSync(reference)), "the same bytes as slmkit's quantizer makes");
  });

  it("answers a single status without streaming; without quantize it is a copy", async () => {
    const single = await ollama.create({ model: "tiny-q4:k", from: "tiny-qwen3", quantize: "Q4_K_M", stream: false });
    assert.equal(single.status, "success");
    assert.equal((await ollama.show({ model: "tiny-q4:k" })).details.quantization_level, "Q4_K_M");
    const copy = await ollama.create({ model: "same", from: "tiny-qwen3", stream: false });
    assert.equal(copy.status, "success");
    assert.equal((await ollama.show({ model: "same" })).details.quantization_level, "F16");
  });
});
