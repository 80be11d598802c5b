/**
 * Checks against the real models in ../shared (a trained stories260K and llama-quantize outputs).
 * They are not part of the repo: on a fresh clone elsewhere these tests are reported as skipped.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readGgufHeader, streamTensorData, writeGgufFile } from "../src/gguf/index.js";
import { SHARED, runCli, temporaryDirectory } from "./helpers.js";

const MODELS = join(SHARED, "models");
const GOLDEN = join(SHARED, "golden");
const skip = existsSync(MODELS) ? false : `no ${MODELS} on this machine`;
const STORIES = join(MODELS, "stories260K.gguf");

const directory = temporaryDirectory("shared");
after(() => directory.remove());

/** The greedy story PROVENANCE.md quotes, as one line of text. */
function provenanceStory(): string {
  const text = readFileSync(join(MODELS, "PROVENANCE.md"), "utf8");
  const quoted = text.split("\n").filter((line) => line.startsWith("> ")).map((line) => line.slice(2));
  return quoted.join(" ");
}

describe("real models from ../shared", { skip }, () => {
  it("inspect: stories260K is a 292,800-parameter llama", async () => {
    const result = await runCli(["inspect", STORIES, "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { parameters: number; architecture: string; class: string; layers: number; vocabularySize: number };
    assert.equal(report.parameters, 292800);
    assert.equal(report.architecture, "llama");
    assert.equal(report.class, "tiny");
    assert.equal(report.layers, 5);
    assert.equal(report.vocabularySize, 512);
  });

  it("run: greedy stories260K tells llama.cpp's story", async () => {
    const result = await runCli(["run", STORIES, "Once upon a time", "--temperature", "0", "--max-tokens", "40"]);
    assert.equal(result.code, 0, result.stderr);
    const printed = result.stdout.trimEnd();
    assert.ok(printed.length > 100, printed);
    assert.ok(provenanceStory().startsWith(printed), `printed:\n${printed}\nexpected a prefix of:\n${provenanceStory()}`);
  });

  it("the GGUF v1 fixture and a truncated stories260K give one-line errors, exit code 1", async () => {
    const v1 = await runCli(["inspect", join(MODELS, "tinyllamas-stories-260k-f32.gguf")]);
    assert.equal(v1.code, 1);
    assert.match(v1.stderr, /^slmkit inspect: GGUF error at byte 4: GGUF version 1 is no longer supported.*\n$/);
    const cut = join(directory.path, "cut.gguf");
    writeFileSync(cut, readFileSync(STORIES).subarray(0, 600_000));
    const truncated = await runCli(["run", cut, "hi"]);
    assert.equal(truncated.code, 1);
    assert.match(truncated.stderr, /^slmkit run: GGUF error at byte \d+: .*truncated.*\n$/);
  });

  it("stories260K quantized by slmkit to Q8_0 and Q4_0 equals llama-quantize's files and still tells a story", async () => {
    for (const type of ["Q8_0", "Q4_0"]) {
      const output = join(directory.path, `stories260K-${type}.gguf`);
      const quantized = await runCli(["quantize", STORIES, output, type]);
      assert.equal(quantized.code, 0, quantized.stderr);
      assert.ok(readFileSync(output).equals(readFileSync(join(MODELS, "derived", `stories260K-${type}.gguf`))), `${type}: same bytes as llama-quantize`);
      const story = await runCli(["run", output, "Once upon a time", "--temperature", "0", "--max-tokens", "30"]);
      assert.equal(story.code, 0, story.stderr);
      assert.match(story.stdout, /^Once upon a time, there was a little girl named Lily\. She loved to play outside/, `${type}: ${story.stdout}`);
    }
  });

  it("read → write is byte-identical for every GGUF in ../shared", async () => {
    const files = [
      ...readdirSync(MODELS).map((name) => join(MODELS, name)),
      ...readdirSync(join(MODELS, "derived")).map((name) => join(MODELS, "derived", name)),
      ...(existsSync(GOLDEN) ? readdirSync(GOLDEN).map((name) => join(GOLDEN, name)) : []),
    ].filter((path) => path.endsWith(".gguf") && !path.includes("tinyllamas-stories-260k-f32"));
    assert.ok(files.length >= 3);
    for (const path of files) {
      const header = readGgufHeader(path);
      const copy = join(directory.path, "copy.gguf");
      await writeGgufFile(copy, {
        version: header.version,
        metadata: header.metadata,
        tensors: header.tensors.map((tensor) => ({ ...tensor, data: () => streamTensorData(path, header, tensor) })),
      });
      assert.ok(readFileSync(path).equals(readFileSync(copy)), `${path} round-trips`);
    }
  });
});
