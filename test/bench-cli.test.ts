import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { quantizeFile } from "../src/quant/index.js";
import { CLI, makeModel, runCli, temporaryDirectory } from "./helpers.js";

describe("slmkit bench, eval and optimize", () => {
  const directory = temporaryDirectory("bench-cli");
  let source = "";
  let q4 = "";

  before(async () => {
    source = await makeModel(directory.path, "tiny-F32", { architecture: "llama", type: "F32", seed: 11 });
    q4 = join(directory.path, "tiny-Q4_0.gguf");
    await quantizeFile(source, q4, { preset: "Q4_0", threads: 1 });
  });
  after(() => directory.remove());

  it("bench --json prints llama-bench records that a llama-bench reader can use", async () => {
    const result = await runCli(["bench", q4, "-p", "32", "-n", "4", "-r", "2", "-t", "1", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const records = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    assert.equal(records.length, 2);
    for (const field of ["build_commit", "model_type", "model_size", "model_n_params", "n_threads", "n_prompt", "n_gen", "avg_ts", "stddev_ts", "samples_ts", "samples_ns", "avg_ns"]) {
      assert.ok(field in records[0]!, `field ${field}`);
    }
    assert.deepEqual(records.map((record) => [record.n_prompt, record.n_gen, record.n_threads]), [[32, 0, 1], [0, 4, 1]]);
    assert.match(String(records[0]!.model_type), /Q4_0/);
    assert.ok((records[1]!.avg_ts as number) > 0);
  });

  it("bench refuses two formats and a run with nothing to measure", async () => {
    const formats = await runCli(["bench", q4, "--json", "--csv"]);
    assert.equal(formats.code, 2);
    assert.match(formats.stderr, /one output format/);
    const nothing = await runCli(["bench", q4, "-p", "0", "-n", "0"]);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /above 0/);
  });

  it("eval --baseline and eval --baseline-logits of a saved baseline give the same numbers", async () => {
    const direct = await runCli(["eval", q4, "--baseline", source, "--ctx", "64", "--chunks", "4", "-t", "1", "--json"]);
    assert.equal(direct.code, 0, direct.stderr);
    const report = JSON.parse(direct.stdout) as { perplexity: number; kld: { mean: number; p99: number }; sameTopP: number; pplRatio: number; chunks: number };
    assert.equal(report.chunks, 4);
    assert.ok(report.kld.mean > 0 && report.kld.p99 >= report.kld.mean);
    assert.ok(report.sameTopP > 0 && report.sameTopP <= 1);

    const saved = join(directory.path, "base.logits");
    const save = await runCli(["eval", source, "--save-baseline", saved, "--ctx", "64", "--chunks", "4", "-t", "1"]);
    assert.equal(save.code, 0, save.stderr);
    assert.match(save.stdout, /PPL/);
    const reused = await runCli(["eval", q4, "--baseline-logits", saved, "--ctx", "64", "-t", "1", "--json"]);
    assert.equal(reused.code, 0, reused.stderr);
    const again = JSON.parse(reused.stdout) as typeof report;
    assert.equal(again.kld.mean, report.kld.mean);
    assert.equal(again.perplexity, report.perplexity);

    const wrongContext = await runCli(["eval", q4, "--baseline-logits", saved, "--ctx", "32"]);
    assert.equal(wrongContext.code, 1);
    assert.match(wrongContext.stderr, /--ctx 64/);
  });

  it("optimize: interrupted, it keeps finished variants and a partial report; run again, it resumes and chooses", async () => {
    const out = join(directory.path, "optimized");
    const args = ["optimize", source, "--types", "Q8_0,Q6_K,Q5_1,Q5_K_M,Q4_K_M,Q4_0,Q3_K_M", "--ctx", "64", "--chunks", "4", "-p", "32", "-n", "8", "-r", "2", "-t", "1", "--max-kld", "0.0001", "--out", out];
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let interrupted = false;
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!interrupted && /^Q8_0: /m.test(stderr)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /Run the same command again to resume/);
    const partial = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as { complete: boolean; variants: Array<{ name: string }> };
    assert.equal(partial.complete, false);
    assert.ok(partial.variants.length >= 2 && partial.variants.length < 8, `${partial.variants.length} variants`);
    assert.ok(existsSync(join(out, "report.md")));
    assert.match(readFileSync(join(out, "report.md"), "utf8"), /Partial report/);

    const resumed = await runCli([...args, "--json"], { timeoutMs: 120_000 });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /source: measured before, reused/);
    assert.match(resumed.stderr, /Q8_0: measured before, reused/);
    const report = JSON.parse(resumed.stdout) as {
      complete: boolean;
      chosen: string;
      front: string[];
      variants: Array<{ name: string; sizeBytes: number; kld: number; generationTokensPerSecond: number; path: string }>;
      constraintFailures: Record<string, string[]>;
    };
    assert.equal(report.complete, true);
    assert.equal(report.variants.length, 8);
    const chosen = report.variants.find((variant) => variant.name === report.chosen)!;
    assert.ok(chosen.kld <= 0.0001, "the choice meets the constraint");
    for (const variant of report.variants) {
      assert.ok(existsSync(variant.path));
      if (variant.kld <= 0.0001) assert.ok(variant.sizeBytes >= chosen.sizeBytes, `${variant.name} meets the constraint and is smaller than the choice`);
      else assert.ok(report.constraintFailures[variant.name]!.some((failure) => failure.startsWith("KLD")));
    }
    assert.ok(report.front.includes(report.chosen) || report.front.length > 0);
    const markdown = readFileSync(join(out, "report.md"), "utf8");
    assert.match(markdown, new RegExp(`\\*\\*Chosen: ${report.chosen}\\*\\*`));
    for (const chart of ["size-vs-kld.svg", "speed-vs-kld.svg"]) assert.match(readFileSync(join(out, chart), "utf8"), /^<svg[\s\S]*<\/svg>\s*$/);
  });

  it("optimize reads a recipe file, and says which field of a bad one is wrong", async () => {
    const recipe = join(directory.path, "optimize.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(recipe, JSON.stringify({ source, types: ["Q8_0"], constraints: { maxKld: "small" } }));
    const bad = await runCli(["optimize", "--recipe", recipe]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /constraints\.maxKld/);

    const out = join(directory.path, "from-recipe");
    writeFileSync(recipe, JSON.stringify({ source, types: ["Q8_0", "Q4_0"], constraints: { maxSizeBytes: 1 }, eval: { context: 64, chunks: 2 }, bench: { prompt: 16, generate: 4, repetitions: 1, threads: 1 }, out }));
    const none = await runCli(["optimize", "--recipe", recipe, "--json"], { timeoutMs: 120_000 });
    assert.equal(none.code, 1, "no variant is 1 byte or smaller");
    const report = JSON.parse(none.stdout) as { chosen: string | null; recipe: { eval: { context: number } }; variants: unknown[]; constraintFailures: Record<string, string[]> };
    assert.equal(report.chosen, null);
    assert.equal(report.recipe.eval.context, 64, "the recipe's settings were used");
    assert.equal(report.variants.length, 3);
    assert.match(report.constraintFailures.Q4_0![0]!, /^size \d+ B > 1 B$/);
    assert.match(readFileSync(join(out, "report.md"), "utf8"), /No variant meets the constraints/);

    const relaxed = await runCli(["optimize", "--recipe", recipe, "--max-size", "1GB", "--json"], { timeoutMs: 120_000 });
    assert.equal(relaxed.code, 0, relaxed.stderr);
    assert.equal((JSON.parse(relaxed.stdout) as { chosen: string }).chosen, "Q4_0", "flags override the recipe; the smallest variant wins");
    assert.match(relaxed.stderr, /Q8_0: measured before, reused/);
  });
});
