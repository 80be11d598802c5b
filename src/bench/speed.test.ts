import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { synthesizeModel } from "../synth/index.js";
import { llamaBenchRecords, toCsv, toMarkdown } from "./llama-bench-format.js";
import { meanAndDeviation, measureSpeed } from "./speed.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-speed-"));
const model = join(directory, "tiny.gguf");

before(async () => {
  await synthesizeModel({ architecture: "qwen3", type: "F16", seed: 3, output: model });
});
after(() => rmSync(directory, { recursive: true, force: true }));

test("pp and tg tests, each repetition timed, reported with llama-bench's fields", async () => {
  const progress: string[] = [];
  const result = await measureSpeed(model, { prompt: 48, generate: 6, repetitions: 3, threads: 1, onProgress: (message) => progress.push(message) });
  assert.deepEqual(result.tests.map((entry) => [entry.kind, entry.prompt, entry.generate, entry.samplesNs.length]), [["pp", 48, 0, 3], ["tg", 0, 6, 3]]);
  assert.ok(result.tests.every((entry) => entry.samplesNs.every((nanoseconds) => nanoseconds > 0)));
  assert.deepEqual(progress, ["pp48: warm-up", "pp48: run 1/3", "pp48: run 2/3", "pp48: run 3/3", "tg6: warm-up", "tg6: run 1/3", "tg6: run 2/3", "tg6: run 3/3"]);
  assert.ok(result.model.parameterCount > 0 && result.model.sizeBytes > 0);
  assert.ok(result.peakRssBytes > result.model.sizeBytes);

  const records = llamaBenchRecords(result, { commit: "test", number: 0 });
  assert.equal(records.length, 2);
  const [pp, tg] = records;
  assert.equal(pp!.n_prompt, 48);
  assert.equal(pp!.n_gen, 0);
  assert.equal(tg!.n_gen, 6);
  assert.equal(tg!.n_threads, 1);
  assert.equal(pp!.n_batch, 2048);
  assert.equal(pp!.model_type, result.model.type);
  assert.match(pp!.model_type, /qwen3/);
  assert.equal(pp!.samples_ts.length, 3);
  const expected = meanAndDeviation(result.tests[1]!.samplesNs.map((nanoseconds) => 6e9 / nanoseconds));
  assert.ok(Math.abs(tg!.avg_ts - expected.mean) < 1e-9);
  assert.ok(Math.abs(tg!.avg_ns - meanAndDeviation(result.tests[1]!.samplesNs).mean) <= 0.5);

  const csv = toCsv(records).trimEnd().split("\n");
  assert.equal(csv.length, 3);
  assert.ok(csv[0]!.startsWith("build_commit,build_number,cpu_info"));
  const markdown = toMarkdown(records);
  assert.match(markdown, /\| pp48 \|/);
  assert.match(markdown, /\|\s+tg6 \|/);
});

test("only tg when -p 0; a run with nothing to measure is refused", async () => {
  const result = await measureSpeed(model, { prompt: 0, generate: 4, repetitions: 1, warmup: false, threads: 1 });
  assert.deepEqual(result.tests.map((entry) => entry.kind), ["tg"]);
  await assert.rejects(measureSpeed(model, { prompt: 0, generate: 0 }), /above 0/);
});
