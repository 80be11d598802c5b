/**
 * bench/quantize: slmkit's quantizer against llama-quantize on the same ~100M-parameter F16 model,
 * same thread count, runs interleaved (slmkit, llama, slmkit, llama, ...) so that machine noise hits
 * both alike. Prints the median time of each and their ratio per type, checks the outputs are
 * byte-identical, and writes bench/out/quantize.json and .md.
 *
 *   npm run build && node dist/bench/quantize.js [--llama-quantize PATH] [--threads 2] [--reps 3] [--types Q4_0,Q8_0]
 *
 * llama-quantize is not part of slmkit: build it yourself from the llama.cpp source node-llama-cpp
 * bundles (see BENCHMARKS.md), or point LLAMA_QUANTIZE at one. Without it, only slmkit is timed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { synthesizeModel } from "../src/synth/index.js";
import { median } from "./statistics.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "bench/out");
const { values } = parseArgs({
  options: {
    "llama-quantize": { type: "string" },
    threads: { type: "string", default: "2" },
    reps: { type: "string", default: "3" },
    types: { type: "string", default: "Q4_0,Q5_1,Q8_0,TQ2_0,Q4_K_M,Q6_K" },
  },
});
const threads = Number(values.threads);
const reps = Number(values.reps);
const types = values.types!.split(",");
const llamaQuantize = values["llama-quantize"] ?? process.env.LLAMA_QUANTIZE ?? "/tmp/llama.cpp/build/bin/llama-quantize";
const haveLlama = existsSync(llamaQuantize);

mkdirSync(out, { recursive: true });
const model = join(out, "bench-llama-100m-f16.gguf");
if (!existsSync(model)) {
  console.error("synthesizing the benchmark model (llama shape, 12 layers, width 768, 32000 tokens, F16)...");
  await synthesizeModel({
    architecture: "llama",
    output: model,
    type: "F16",
    seed: 100,
    vocabularySize: 32000,
    shape: { layers: 12, width: 768, feedForward: 2048, heads: 12, kvHeads: 4, headDim: 64, tiedEmbeddings: true },
  });
}

function time(command: string, args: string[]): number {
  const started = performance.now();
  const result = spawnSync(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr.toString().slice(-2000)}`);
  return elapsed;
}


interface Row {
  type: string;
  slmkitMs: number;
  llamaMs: number | null;
  ratio: number | null;
  identical: boolean | null;
  outputBytes: number;
}
const rows: Row[] = [];
const cli = join(root, "dist/src/cli/main.js");
for (const type of types) {
  const ours = join(out, `q-slmkit-${type}.gguf`);
  const theirs = join(out, `q-llama-${type}.gguf`);
  const slmkitTimes: number[] = [];
  const llamaTimes: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    slmkitTimes.push(time(process.execPath, [cli, "quantize", model, ours, type, "--threads", String(threads)]));
    if (haveLlama) llamaTimes.push(time(llamaQuantize, [model, theirs, type, String(threads)]));
  }
  const identical = haveLlama ? readFileSync(ours).equals(readFileSync(theirs)) : null;
  const slmkitMs = median(slmkitTimes);
  const llamaMs = haveLlama ? median(llamaTimes) : null;
  const row: Row = { type, slmkitMs, llamaMs, ratio: llamaMs === null ? null : slmkitMs / llamaMs, identical, outputBytes: statSync(ours).size };
  rows.push(row);
  console.error(`${type}: slmkit ${slmkitMs.toFixed(0)} ms${llamaMs === null ? "" : `, llama-quantize ${llamaMs.toFixed(0)} ms, ratio ${row.ratio!.toFixed(2)}, identical ${identical}`}`);
  rmSync(ours, { force: true });
  rmSync(theirs, { force: true });
}

const parameters = 100_000_000;
const table = [
  `Model: ${model.split("/").at(-1)} (${(statSync(model).size / 1e6).toFixed(0)} MB F16, about ${parameters / 1e6}M parameters), ${threads} threads, median of ${reps} interleaved runs, whole process wall time.`,
  "",
  "| type | slmkit | llama-quantize | ratio (slmkit / llama) | bytes identical |",
  "| --- | ---: | ---: | ---: | --- |",
  ...rows.map((row) => `| ${row.type} | ${(row.slmkitMs / 1000).toFixed(2)} s | ${row.llamaMs === null ? "—" : `${(row.llamaMs / 1000).toFixed(2)} s`} | ${row.ratio === null ? "—" : `${row.ratio.toFixed(2)}×`} | ${row.identical === null ? "—" : row.identical ? "yes" : "NO"} |`),
].join("\n");
console.log(table);
writeFileSync(join(out, "quantize.json"), JSON.stringify({ model, threads, reps, rows, date: new Date().toISOString() }, null, 2));
writeFileSync(join(out, "quantize.md"), `${table}\n`);
