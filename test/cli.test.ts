/** The `slmkit` command as a user runs it: a separate process, its output and its exit code. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { rawGguf } from "../src/gguf/raw-gguf.testkit.js";
import { CLI, makeModel, runCli, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("cli");
after(() => directory.remove());

interface Shape {
  arch: "llama" | "qwen3";
  layers: number;
  width: number;
  ff: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  tied: boolean;
}

/** Parameters of a model of this shape, from the architecture's formula (not from the file). */
function expectedParameters(shape: Shape, vocabulary: number): number {
  const q = shape.heads * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  const attention = shape.width * q * 2 + shape.width * kv * 2;
  const feedForward = shape.width * shape.ff * 3;
  const norms = shape.width * 2 + (shape.arch === "qwen3" ? shape.headDim * 2 : 0);
  const embeddings = vocabulary * shape.width * (shape.tied ? 1 : 2);
  return embeddings + shape.layers * (attention + feedForward + norms) + shape.width;
}

describe("slmkit CLI", () => {
  it("explains itself: --help lists the commands, each command has --help", async () => {
    const overview = await runCli(["--help"]);
    assert.equal(overview.code, 0);
    for (const command of ["inspect", "quantize", "run", "serve", "synth", "pull", "add", "list", "show", "rm", "cp", "gc", "check", "create", "catalog", "fit"]) {
      assert.match(overview.stdout, new RegExp(`\\n  ${command} `));
      const help = await runCli([command, "--help"]);
      assert.equal(help.code, 0, `${command} --help`);
      assert.match(help.stdout, new RegExp(`^Usage: slmkit ${command}`));
    }
    const help = await runCli(["run", "--help"]);
    assert.match(help.stdout, /Usage: slmkit run <model.gguf or store name> \[prompt\]/);
    assert.match(help.stdout, /--temperature N/);
    const unknown = await runCli(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badFlag = await runCli(["inspect", "--nope"]);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /Run 'slmkit inspect --help'/);
  });

  it("inspect reports parameter counts equal to the sum of tensor elements, for three shapes", async () => {
    const shapes: Shape[] = [
      { arch: "llama", layers: 2, width: 64, ff: 192, heads: 4, kvHeads: 2, headDim: 16, tied: false },
      { arch: "qwen3", layers: 3, width: 96, ff: 256, heads: 6, kvHeads: 2, headDim: 32, tied: true },
      { arch: "llama", layers: 1, width: 128, ff: 344, heads: 8, kvHeads: 8, headDim: 16, tied: true },
    ];
    for (const [index, shape] of shapes.entries()) {
      const path = join(directory.path, `shape-${index}.gguf`);
      const synth = await runCli([
        "synth", "--arch", shape.arch, "-o", path, "--layers", `${shape.layers}`, "--width", `${shape.width}`, "--ff", `${shape.ff}`,
        "--heads", `${shape.heads}`, "--kv-heads", `${shape.kvHeads}`, "--head-dim", `${shape.headDim}`, shape.tied ? "--tied" : "--untied",
      ]);
      assert.equal(synth.code, 0, synth.stderr);
      const inspected = await runCli(["inspect", path, "--json", "--tensors"]);
      assert.equal(inspected.code, 0, inspected.stderr);
      const report = JSON.parse(inspected.stdout) as { parameters: number; architecture: string; vocabularySize: number; layers: number; class: string; tensors: Array<{ shape: number[] }> };
      const sumOfElements = report.tensors.reduce((sum, tensor) => sum + tensor.shape.reduce((a, b) => a * b, 1), 0);
      assert.equal(report.parameters, sumOfElements);
      assert.equal(report.parameters, expectedParameters(shape, report.vocabularySize));
      assert.equal(report.architecture, shape.arch);
      assert.equal(report.layers, shape.layers);
      assert.equal(report.class, "tiny");
    }
  });

  it("inspect prints a readable summary that says the weights are random", async () => {
    const path = await makeModel(directory.path, "summary", { architecture: "qwen3" });
    const result = await runCli(["inspect", path]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /architecture\s+qwen3/);
    assert.match(result.stdout, /chat template\s+yes/);
    assert.match(result.stdout, /weights\s+RANDOM/);
  });

  it("gives a one-line error and exit code 1 for GGUF v1, truncated, missing and non-GGUF files", async () => {
    const v1 = join(directory.path, "v1.gguf");
    writeFileSync(v1, rawGguf({ version: 1 }));
    const model = await makeModel(directory.path, "to-cut", { architecture: "llama" });
    const truncated = join(directory.path, "truncated.gguf");
    writeFileSync(truncated, readFileSync(model).subarray(0, 3000));
    const text = join(directory.path, "notes.txt");
    writeFileSync(text, "just some text\n");
    const cases: Array<[string, RegExp]> = [
      [v1, /GGUF error at byte 4: GGUF version 1 is no longer supported/],
      [truncated, /GGUF error at byte \d+: .*truncated/],
      [join(directory.path, "missing.gguf"), /no such file/],
      [text, /not a GGUF file/],
    ];
    for (const [path, message] of cases) {
      for (const command of ["inspect", "run"]) {
        const result = await runCli([command, path]);
        assert.equal(result.code, 1, `${command} ${path}: ${result.stderr}`);
        assert.equal(result.stderr.trimEnd().split("\n").length, 1, `one line: ${result.stderr}`);
        assert.match(result.stderr, message);
        assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
      }
    }
  });

  it("gives one-line errors for directories and files in the way, never a stack trace", async () => {
    const model = await makeModel(directory.path, "fs-errors", { architecture: "llama" });
    const cases: Array<[string[], RegExp, number]> = [
      [["inspect", directory.path], /is a directory/, 1],
      [["run", directory.path, "hi"], /is a directory/, 1],
      [["synth", "-o", directory.path], /is a directory/, 1],
      [["quantize", model, directory.path, "Q8_0"], /is a directory/, 2],
      [["run", model, "hi", "--stop", ""], /--stop needs some text/, 2],
      [["serve", model, model, "--port", "0"], /would both be served as 'fs-errors'/, 2],
    ];
    for (const [args, message, code] of cases) {
      const result = await runCli(args);
      assert.equal(result.code, code, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
    }
    const badBackend = await runCli(["run", model, "hi"], { env: { SLMKIT_BACKEND: "cpux" } });
    assert.equal(badBackend.code, 1);
    assert.match(badBackend.stderr, /SLMKIT_BACKEND is 'cpux'/);
  });

  it("run streams a deterministic continuation of the prompt", async () => {
    const path = await makeModel(directory.path, "runner", { architecture: "llama", seed: 5 });
    const args = ["run", path, "Once upon a time", "--max-tokens", "12", "--seed", "3", "--temperature", "1"];
    const first = await runCli(args);
    const second = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(first.stdout.startsWith("Once upon a time"));
    assert.ok(first.stdout.length > "Once upon a time".length + 5);
    assert.equal(first.stdout, second.stdout);
    const quiet = await runCli([...args, "--no-echo"]);
    assert.equal(quiet.stdout, first.stdout.slice("Once upon a time".length));
    const piped = await runCli(["run", path, "--max-tokens", "12", "--seed", "3", "--temperature", "1"], { input: "Once upon a time" });
    assert.equal(piped.stdout, first.stdout, "a prompt on stdin is the same as one on the command line");
    const badValue = await runCli(["run", path, "hi", "--temperature", "hot"]);
    assert.equal(badValue.code, 2);
    assert.match(badValue.stderr, /--temperature needs a number/);
  });

  it("serve with no model starts the random-weight demo and answers /health within 10 s", async () => {
    const home = join(directory.path, "home");
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, "serve", "--port", "0"], { env: { ...process.env, SLMKIT_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner in 10 s: ${stderr}`)), 10_000);
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
          const found = /listening on (http:\/\/\S+)/.exec(stderr);
          if (found) {
            clearTimeout(timer);
            resolve(found[1]!);
          }
        });
      });
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.ok(performance.now() - started < 10_000, `answered /health after ${(performance.now() - started).toFixed(0)} ms`);
      assert.match(stderr, /RANDOM WEIGHTS/);
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string; slmkit: { random_weights: boolean; note: string } }> };
      assert.equal(models.data[0]!.id, "slmkit-demo-random-weights");
      assert.equal(models.data[0]!.slmkit.random_weights, true);
      assert.match(models.data[0]!.slmkit.note, /gibberish/);
      const reply = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "slmkit-demo-random-weights", messages: [{ role: "user", content: "Hello" }], max_tokens: 5 }),
      });
      assert.equal(reply.status, 200);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      child.kill("SIGTERM");
      assert.equal(await exited, 0, "a clean exit on SIGTERM");
    }
  });
});

