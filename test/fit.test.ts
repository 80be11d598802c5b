/**
 * `slmkit fit` as a process: JSON for a GGUF file (weights from the quantizer's plan) and for a
 * catalog name; speed from kept device rates. `slmkit synth --like`: a catalog model's twin.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deviceIdentity, deviceProfile, type DeviceRates, estimateSpeed, tokenWork, weightsBytes, writeRates } from "../src/fit/index.js";
import { readGgufHeader, summarizeModel } from "../src/gguf/index.js";
import { findCatalogModel } from "../src/registry/index.js";
import { makeModel, runCli, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("fit");
let model: string;
before(async () => {
  model = await makeModel(directory.path, "tiny", { architecture: "llama", type: "F16", seed: 93 });
});
after(() => directory.remove());

interface FitJson {
  fits: boolean;
  estimate: { generationTokensPerSecond: number | null; promptTokensPerSecond: number | null; approximated?: string[] };
  memory: { weightsBytes: number; kvCacheBytes: number; computeBytes: number; runtimeBytes: number; totalBytes: number };
  exact: { weights: boolean };
  device: { totalMemoryBytes: number; availableMemoryBytes: number; cores: number };
}

describe("slmkit fit", () => {
  it("plans a GGUF file's weights at a type and its KV cache at a context, and says it fits", async () => {
    const result = await runCli(["fit", model, "--type", "Q4_0", "--ctx", "1024", "--json", "--no-speed"]);
    assert.equal(result.code, 0, result.stderr);
    const fit = JSON.parse(result.stdout) as FitJson;
    assert.equal(fit.fits, true);
    assert.equal(fit.exact.weights, true);
    assert.equal(fit.memory.weightsBytes, weightsBytes(readGgufHeader(model), "Q4_0"));
    assert.equal(fit.memory.kvCacheBytes, 2 * 2 * (16 + 16) * 1024 * 2, "2 layers, 2 KV heads of 16, K and V, f16");
    assert.ok(fit.device.cores >= 1 && fit.device.availableMemoryBytes <= fit.device.totalMemoryBytes);
  });

  it("estimates a catalog model without its file, and exits 1 when it does not fit", async () => {
    const result = await runCli(["fit", "gemma3:27b", "--type", "F16", "--ctx", "131072", "--json", "--no-speed"]);
    const fit = JSON.parse(result.stdout) as FitJson;
    assert.equal(fit.exact.weights, false);
    assert.equal(fit.fits, fit.memory.totalBytes <= fit.device.availableMemoryBytes);
    assert.equal(result.code, fit.fits ? 0 : 1);
  });

  it("estimates speed from this device's kept rates without measuring again", async () => {
    const home = join(directory.path, "home");
    mkdirSync(home, { recursive: true });
    const rates: DeviceRates = {
      stepSeconds: 0.0002,
      layerSeconds: 0.0001,
      generationBytesPerSecond: { "Q4_0/matrix": 2e10, "Q6_K/matrix": 1e10, "Q8_0/matrix": 1.5e10, "Q6_K/tied-output": 8e9, "Q8_0/tied-output": 9e9, "Q4_0/tied-output": 1e10 },
      memoryBytesPerSecond: { "Q4_0/matrix": 1e10, "Q6_K/matrix": 6e9, "Q8_0/matrix": 9e9, "Q6_K/tied-output": 5e9, "Q8_0/tied-output": 6e9, "Q4_0/tied-output": 7e9 },
      cacheBytes: 1 << 20,
      promptMultiplyAddsPerSecond: { "Q4_0/matrix": 1e11, "Q6_K/matrix": 5e10, "Q8_0/matrix": 9e10 },
    };
    writeRates(join(home, "device-rates.json"), deviceIdentity(deviceProfile()), rates);
    const result = await runCli(["fit", model, "--type", "Q4_0", "--json"], { env: { SLMKIT_HOME: home } });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /measuring/);
    const fit = JSON.parse(result.stdout) as FitJson;
    const expected = estimateSpeed(tokenWork(readGgufHeader(model), "Q4_0"), rates);
    assert.equal(fit.estimate.generationTokensPerSecond, expected.generationTokensPerSecond);
    assert.equal(fit.estimate.promptTokensPerSecond, expected.promptTokensPerSecond);
    const text = await runCli(["fit", model, "--type", "Q4_0"], { env: { SLMKIT_HOME: home } });
    assert.match(text.stdout, new RegExp(`~${expected.generationTokensPerSecond.toFixed(1)} tokens/s generating`));
  });
});

describe("slmkit synth --like", () => {
  it("writes a twin of a catalog model: its shapes, vocabulary and parameter count, quantized", { timeout: 120_000 }, async () => {
    const output = join(directory.path, "twin-smollm2-135m-q8_0.gguf");
    const result = await runCli(["synth", "--like", "smollm2:135m", "--type", "Q8_0", "-o", output, "--json"], { timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr);
    const catalog = findCatalogModel("smollm2:135m")!;
    const header = readGgufHeader(output);
    const summary = summarizeModel(header);
    assert.equal(summary.parameters, catalog.parameters, "the catalog's count was recomputed from the same shapes");
    assert.equal(summary.vocabularySize, catalog.architecture.vocabularySize);
    assert.equal(header.metadata.number("llama.block_count"), catalog.architecture.layers);
    assert.equal(header.metadata.number("llama.embedding_length"), catalog.architecture.embeddingWidth);
    assert.equal(header.metadata.number("llama.context_length"), catalog.contextLength);
    assert.equal(header.tensors.some((tensor) => tensor.name === "output.weight"), !catalog.architecture.tiedEmbeddings);
    assert.equal(header.tensors.find((tensor) => tensor.name === "blk.0.ffn_up.weight")?.type.name, "Q8_0");
    // fit agrees with the twin's file to the byte, as it does for any model.
    const fileBytes = header.tensors.reduce((sum, tensor) => sum + tensor.byteSize, 0);
    const fit = JSON.parse((await runCli(["fit", output, "--json", "--no-speed"])).stdout) as FitJson;
    assert.equal(fit.memory.weightsBytes, fileBytes);
    // And the catalog name, with no file, computes the same bytes from the shapes.
    const catalogFit = JSON.parse((await runCli(["fit", "smollm2:135m", "--type", "Q8_0", "--json", "--no-speed"])).stdout) as FitJson & { exact: { weightsFromShapes: boolean } };
    assert.equal(catalogFit.memory.weightsBytes, fileBytes);
    assert.equal(catalogFit.exact.weightsFromShapes, true);
  });

  it("refuses shape flags beside --like, and architectures it cannot write yet", async () => {
    const mixed = await runCli(["synth", "--like", "smollm2:135m", "--layers", "3", "-o", join(directory.path, "x.gguf")]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /--like takes the architecture/);
    const phi = await runCli(["synth", "--like", "phi4-mini:3.8b", "-o", join(directory.path, "y.gguf")]);
    assert.notEqual(phi.code, 0);
    assert.match(phi.stderr, /phi3 model; slmkit synthesizes llama, qwen3, gemma3 so far/);
  });
});

describe("slmkit footprint and compare", () => {
  it("tabulates models × types as fit computes them, and draws them as SVG", async () => {
    const svg = join(directory.path, "footprint.svg");
    const result = await runCli(["footprint", "--models", `${model},qwen3:0.6b`, "--types", "F16,Q8_0,Q4_0", "--ctx", "2048", "--svg", svg, "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const table = JSON.parse(result.stdout) as { rows: Array<{ model: string; type: string; weightsFrom: string; memory: { weightsBytes: number; totalBytes: number } }> };
    assert.deepEqual(table.rows.map((row) => `${row.model === model ? "file" : row.model} ${row.type} ${row.weightsFrom}`), ["file F16 file", "file Q8_0 file", "file Q4_0 file", "qwen3:0.6b F16 shapes", "qwen3:0.6b Q8_0 shapes", "qwen3:0.6b Q4_0 shapes"]);
    for (const row of table.rows.filter((candidate) => candidate.model === model)) assert.equal(row.memory.weightsBytes, weightsBytes(readGgufHeader(model), row.type));
    const single = JSON.parse((await runCli(["fit", "qwen3:0.6b", "--type", "Q8_0", "--ctx", "2048", "--json", "--no-speed"])).stdout) as FitJson;
    assert.equal(table.rows[4]!.memory.totalBytes, single.memory.totalBytes, "the same numbers as slmkit fit");
    const drawing = readFileSync(svg, "utf8");
    assert.match(drawing, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((drawing.match(/<rect x="[\d.]+" y="[\d.]+" width="34"/g) ?? []).length >= 6 * 3, true, "a stacked bar per model and type");
    assert.match(drawing, />qwen3:0.6b</);
  });

  it("compares models side by side, from files and from the catalog", async () => {
    const result = await runCli(["compare", model, "smollm2:135m", "--no-speed", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const columns = JSON.parse(result.stdout) as Array<{ model: string; parameters: number; modelClass: string; license: string | null; weightsBytesByType: Record<string, number>; generationTokensPerSecond: number | null }>;
    assert.equal(columns.length, 2);
    assert.equal(columns[0]!.weightsBytesByType.Q4_0, weightsBytes(readGgufHeader(model), "Q4_0"));
    assert.deepEqual([columns[1]!.parameters, columns[1]!.modelClass, columns[1]!.license], [134515008, "micro", "apache-2.0"]);
    assert.equal(columns[1]!.generationTokensPerSecond, null);
    const text = await runCli(["compare", model, "smollm2:135m", "--no-speed"]);
    assert.match(text.stdout, /size Q8_0 .*MiB/);
    assert.equal((await runCli(["compare", model])).code, 2, "one model is not a comparison");
  });
});

describe("slmkit fit --measure and recommend", () => {
  it("runs the model and shows measured speed and peak memory beside the estimate", { timeout: 120_000 }, async () => {
    const result = await runCli(["fit", model, "--ctx", "512", "--measure", "--no-speed", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const fit = JSON.parse(result.stdout) as FitJson & { measured: { generationTokensPerSecond: number; promptTokensPerSecond: number; peakResidentBytes: number } };
    assert.ok(fit.measured.generationTokensPerSecond > 1 && Number.isFinite(fit.measured.generationTokensPerSecond));
    assert.ok(fit.measured.promptTokensPerSecond > 1 && Number.isFinite(fit.measured.promptTokensPerSecond));
    // The peak is the whole process (Node and the engine included), as the prediction's total is.
    assert.ok(fit.measured.peakResidentBytes > 0.5 * fit.memory.totalBytes && fit.measured.peakResidentBytes < 2 * fit.memory.totalBytes, `${fit.measured.peakResidentBytes} vs ${fit.memory.totalBytes}`);
    const catalog = await runCli(["fit", "qwen3:0.6b", "--measure", "--no-speed"]);
    assert.equal(catalog.code, 2);
    assert.match(catalog.stderr, /synth --like/);
  });

  it("recommends by the use case's guideline, checked against the memory given", async () => {
    const home = join(directory.path, "empty-home");
    const roomy = await runCli(["recommend", "--use-case", "mobile-chat", "--memory", "8GB", "--no-speed", "--json"], { env: { SLMKIT_HOME: home } });
    assert.equal(roomy.code, 0, roomy.stderr);
    const ranking = JSON.parse(roomy.stdout) as { quality: string; recommendations: Array<{ model: string; type: string; memoryBytes: number; reasons: string[] }> };
    assert.equal(ranking.quality, "max-compression");
    assert.deepEqual(ranking.recommendations.map((entry) => `${entry.model} ${entry.type}`), ["qwen3:0.6b Q4_0", "gemma3:1b Q4_0", "llama3.2:1b Q4_0"]);
    const single = JSON.parse((await runCli(["fit", "qwen3:0.6b", "--type", "Q4_0", "--ctx", "2048", "--json", "--no-speed"])).stdout) as FitJson;
    assert.equal(ranking.recommendations[0]!.memoryBytes, single.memory.totalBytes, "the memory slmkit fit computes");
    // With less memory than the first choice needs, it drops out and the ranking says what fits instead.
    const tight = JSON.parse((await runCli(["recommend", "--use-case", "mobile-chat", "--memory", `${Math.floor(single.memory.totalBytes / 2 ** 20) - 1}MiB`, "--no-speed", "--json"], { env: { SLMKIT_HOME: home } })).stdout) as typeof ranking;
    assert.ok(!tight.recommendations.some((entry) => entry.model === "qwen3:0.6b" && entry.type === "Q4_0"));
    assert.ok(tight.recommendations.every((entry) => entry.memoryBytes < single.memory.totalBytes));
    const offline = await runCli(["recommend", "--use-case", "code", "--offline", "--no-speed"], { env: { SLMKIT_HOME: home } });
    assert.equal(offline.code, 1);
    assert.match(offline.stdout, /Nothing fits among the models in the store/);
  });
});
