/** `slmkit quantize` as a user runs it: output, summaries, errors, and what is left on disk. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CLI, makeModel, runCli, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("quantize-cli");
let model: string;

before(async () => {
  model = await makeModel(directory.path, "model", { architecture: "qwen3", type: "F16", shape: { layers: 2, width: 256, feedForward: 512, heads: 4, kvHeads: 2, headDim: 64 } });
});
after(() => directory.remove());

/** Files in the folder that look like leftovers of an unfinished write. */
function leftovers(): string[] {
  return readdirSync(directory.path).filter((name) => name.includes(".partial"));
}

describe("slmkit quantize", () => {
  it("writes the file and a JSON summary with per-tensor types, bytes and times", async () => {
    const output = join(directory.path, "out-q4km.gguf");
    const result = await runCli(["quantize", model, output, "q4_k_m", "--json", "--threads", "2"]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { preset: string; threads: number; bytesIn: number; bytesOut: number; tensors: Array<{ name: string; typeIn: string; typeOut: string; bytesIn: number; bytesOut: number; milliseconds: number }> };
    assert.equal(report.preset, "Q4_K_M");
    assert.equal(report.threads, 2);
    assert.ok(report.tensors.some((t) => t.typeIn === "F16" && t.typeOut === "Q4_K"));
    assert.ok(report.tensors.every((t) => t.milliseconds >= 0 && t.bytesOut > 0));
    assert.equal(report.bytesOut, report.tensors.reduce((sum, t) => sum + t.bytesOut, 0));
    assert.ok(report.bytesOut < report.bytesIn / 2.5);
    assert.doesNotMatch(result.stderr, /\r/, "no progress line on a pipe");
    const inspected = JSON.parse((await runCli(["inspect", output, "--json"])).stdout) as { fileType: string };
    assert.equal(inspected.fileType, "MOSTLY_Q4_K_M");
  });

  it("accepts llama-quantize's forms: a threads argument, and no output name", async () => {
    const result = await runCli(["quantize", model, "Q8_0", "1"]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(existsSync(join(directory.path, "model-Q8_0.gguf")));
    assert.match(result.stdout, /wrote .*model-Q8_0\.gguf: Q8_0, \d+ tensors, .* with 1 thread/);
  });

  it("lists the valid types for an unknown one", async () => {
    const result = await runCli(["quantize", model, join(directory.path, "x.gguf"), "Q7_K"]);
    assert.equal(result.code, 2, "a usage error");
    assert.match(result.stderr, /unknown quantization type 'Q7_K'; valid types: F32, F16, BF16, Q8_0, Q4_0/);
    assert.equal(existsSync(join(directory.path, "x.gguf")), false);
  });

  it("refuses quantized input unless --allow-requantize", async () => {
    const q8 = join(directory.path, "model-Q8_0.gguf");
    const refused = await runCli(["quantize", q8, join(directory.path, "re.gguf"), "Q4_0"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already quantized \(Q8_0\).*--allow-requantize/);
    assert.equal(existsSync(join(directory.path, "re.gguf")), false);
    const allowed = await runCli(["quantize", q8, join(directory.path, "re.gguf"), "Q4_0", "--allow-requantize"]);
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  it("leaves nothing behind when the input is truncated", async () => {
    const truncated = join(directory.path, "truncated.gguf");
    const bytes = readFileSync(model);
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 1000));
    const result = await runCli(["quantize", truncated, join(directory.path, "never.gguf"), "Q4_0"]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1);
    assert.match(result.stderr, /truncated/);
    assert.equal(existsSync(join(directory.path, "never.gguf")), false);
    assert.deepEqual(leftovers(), []);
  });

  it("leaves no half-written file when interrupted with Ctrl-C", async () => {
    const big = await makeModel(directory.path, "big", { architecture: "llama", type: "F32", vocabularySize: 16000, shape: { layers: 4, width: 512, feedForward: 1536, heads: 8, kvHeads: 2, headDim: 64 } });
    const output = join(directory.path, "interrupted.gguf");
    const child = spawn(process.execPath, [CLI, "quantize", big, output, "Q4_K_M", "--threads", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    let sawPartial = false;
    const watcher = setInterval(() => (sawPartial ||= leftovers().length > 0), 20);
    await new Promise((resolve) => setTimeout(resolve, 700));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearInterval(watcher);
    assert.ok(sawPartial, "the quantization was under way when interrupted");
    assert.equal(code, 130);
    assert.equal(existsSync(output), false);
    assert.deepEqual(leftovers(), []);
  });
});
