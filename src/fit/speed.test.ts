import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readGgufHeader, tensorByteSize, tensorTypeByName } from "../gguf/index.js";
import { synthesizeModel } from "../synth/index.js";
import { type DeviceRates, estimateSpeed, memoryShare, neededRates, tokenWork } from "./speed.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-speed-"));
let tied: string;
let untied: string;
const shape = { layers: 2, width: 256, feedForward: 512, heads: 4, kvHeads: 2, headDim: 64 };

before(async () => {
  tied = join(directory, "tied.gguf");
  untied = join(directory, "untied.gguf");
  await synthesizeModel({ architecture: "qwen3", type: "F16", seed: 5, output: tied, shape: { ...shape, tiedEmbeddings: true } });
  await synthesizeModel({ architecture: "llama", type: "F16", seed: 6, output: untied, shape: { ...shape, tiedEmbeddings: false } });
});

after(() => rmSync(directory, { recursive: true, force: true }));

const matrixElements = shape.layers * (shape.width * 256 + 2 * shape.width * 128 + 256 * shape.width + 3 * shape.width * shape.feedForward);

describe("tokenWork", () => {
  it("streams every layer matrix, and a tied embedding as the output projection", () => {
    const header = readGgufHeader(tied);
    const vocabulary = header.tensors.find((tensor) => tensor.name === "token_embd.weight")!.shape[1]!;
    const work = tokenWork(header);
    assert.equal(work.layers, 2);
    const matrix = work.streams.find((stream) => stream.path === "matrix")!;
    const output = work.streams.find((stream) => stream.path === "tied-output")!;
    assert.deepEqual({ type: matrix.type, bytes: matrix.bytes, promptElements: matrix.promptElements }, { type: "F16", bytes: matrixElements * 2, promptElements: matrixElements });
    assert.deepEqual({ type: output.type, bytes: output.bytes, promptElements: output.promptElements }, { type: "F16", bytes: vocabulary * shape.width * 2, promptElements: 0 });
    assert.deepEqual(neededRates(work).sort(), ["F16/matrix", "F16/tied-output"]);
  });

  it("reads one embedding row when the model has its own output projection, which prompts do not multiply", () => {
    const header = readGgufHeader(untied);
    const vocabulary = header.tensors.find((tensor) => tensor.name === "output.weight")!.shape[1]!;
    const work = tokenWork(header);
    assert.deepEqual(
      work.streams.map((stream) => [stream.path, stream.bytes, stream.promptElements]),
      [["matrix", (matrixElements + vocabulary * shape.width) * 2, matrixElements]],
    );
  });

  it("plans the weights at a target type through the quantizer", () => {
    const header = readGgufHeader(untied);
    const work = tokenWork(header, "Q8_0");
    const q8 = work.streams.find((stream) => stream.type === "Q8_0")!;
    // Every matrix of this shape takes Q8_0 (rows of 256); the output projection too.
    const layout = tensorTypeByName("Q8_0")!;
    const expected = header.tensors.filter((tensor) => tensor.shape.length >= 2 && tensor.name !== "token_embd.weight").reduce((sum, tensor) => sum + tensorByteSize(layout, tensor.shape), 0);
    assert.equal(q8.bytes, expected);
  });
});

describe("estimateSpeed", () => {
  const rates: DeviceRates = {
    stepSeconds: 0.001,
    layerSeconds: 0.0005,
    generationBytesPerSecond: { "F16/matrix": 1e9, "F16/tied-output": 5e8 },
    promptMultiplyAddsPerSecond: { "F16/matrix": 1e10 },
  };

  it("adds the fixed costs and each stream's bytes over its rate; prompts by multiply-adds", () => {
    const work = tokenWork(readGgufHeader(tied));
    const [matrix, output] = [work.streams.find((s) => s.path === "matrix")!, work.streams.find((s) => s.path === "tied-output")!];
    const estimate = estimateSpeed(work, rates);
    const seconds = 0.001 + 2 * 0.0005 + matrix.bytes / 1e9 + output.bytes / 5e8;
    assert.ok(Math.abs(estimate.generationTokensPerSecond - 1 / seconds) < 1e-9);
    assert.ok(Math.abs(estimate.promptTokensPerSecond - 1e10 / matrixElements) < 1e-6);
    assert.deepEqual(estimate.approximated, []);
  });

  it("gives a type with no measured rate the slowest rate measured on its path, and says so", () => {
    const work = tokenWork(readGgufHeader(tied));
    const partial: DeviceRates = { ...rates, generationBytesPerSecond: { "F16/matrix": 1e9, "Q8_0/tied-output": 4e8, "Q4_0/tied-output": 8e8 } };
    const estimate = estimateSpeed(work, partial);
    assert.deepEqual(estimate.approximated, ["F16/tied-output"]);
    const output = work.streams.find((s) => s.path === "tied-output")!;
    const matrix = work.streams.find((s) => s.path === "matrix")!;
    assert.ok(Math.abs(1 / estimate.generationTokensPerSecond - (0.002 + matrix.bytes / 1e9 + output.bytes / 4e8)) < 1e-12);
  });

  it("takes the cache-size rate for a model within the cache, the memory rate beyond twice it, and a blend between", () => {
    const work = tokenWork(readGgufHeader(tied));
    const bytes = work.streams.reduce((sum, stream) => sum + stream.bytes, 0);
    const generation = Object.fromEntries(work.streams.map((stream) => [`${stream.type}/${stream.path}`, 1e10]));
    const memory = Object.fromEntries(work.streams.map((stream) => [`${stream.type}/${stream.path}`, 1e9]));
    const at = (cacheBytes: number) => 1 / estimateSpeed(work, { stepSeconds: 0, layerSeconds: 0, generationBytesPerSecond: generation, memoryBytesPerSecond: memory, promptMultiplyAddsPerSecond: generation, cacheBytes }).generationTokensPerSecond;
    assert.ok(Math.abs(at(4 * bytes) - bytes / 1e10) < 1e-12, "fits in half the cache: cache rate");
    assert.ok(Math.abs(at(bytes / 4) - bytes / 1e9) < 1e-12, "twice the cache or more: memory rate");
    assert.equal(memoryShare(bytes, bytes), 1 / 3);
    assert.ok(Math.abs(at(bytes) - bytes * ((2 / 3) / 1e10 + (1 / 3) / 1e9)) < 1e-12);
    assert.equal(memoryShare(bytes, undefined), 1, "no cache size known: memory rates");
  });
});
