/**
 * bench/fit: predicted memory (`slmkit fit`'s footprint) against the measured peak RSS of
 * `slmkit run <model> <prompt> --ctx 2048 --max-tokens 16`, for stories260K (when ../shared is there),
 * a 100M-parameter synthetic llama at F16 and Q4_0, and a qwen3-0.6b-shaped twin at Q4_0 and Q8_0.
 *
 *   npm run build && node dist/bench/fit.js
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { acceleratorCopyBytes, attentionShapeOf, deviceProfile, footprint, weightsBytes } from "../src/fit/index.js";
import { readGgufHeader } from "../src/gguf/index.js";
import { quantizeFile } from "../src/quant/index.js";
import { synthesizeModel } from "../src/synth/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const CONTEXT = 2048;

async function ensure(path: string, make: () => Promise<unknown>): Promise<string> {
  if (!existsSync(path)) await make();
  return path;
}

const llamaF16 = await ensure(join(out, "bench-llama-100m-f16.gguf"), () =>
  synthesizeModel({ architecture: "llama", output: join(out, "bench-llama-100m-f16.gguf"), type: "F16", seed: 100, vocabularySize: 32000, shape: { layers: 12, width: 768, feedForward: 2048, heads: 12, kvHeads: 4, headDim: 64, tiedEmbeddings: true } }),
);
const llamaQ4 = await ensure(join(out, "bench-llama-100m-q4_0.gguf"), () => quantizeFile(llamaF16, join(out, "bench-llama-100m-q4_0.gguf"), { preset: "Q4_0" }));
// Qwen3-0.6B's shape (catalog): 28 layers, 1024 wide, 3072 feed-forward, 16 heads, 8 KV heads of 128, 151936 tokens.
const qwenF16 = await ensure(join(out, "twin-qwen3-0.6b-f16.gguf"), () =>
  synthesizeModel({ architecture: "qwen3", output: join(out, "twin-qwen3-0.6b-f16.gguf"), type: "F16", seed: 600, vocabularySize: 151936, shape: { layers: 28, width: 1024, feedForward: 3072, heads: 16, kvHeads: 8, headDim: 128, tiedEmbeddings: true } }),
);
const qwenQ4 = await ensure(join(out, "twin-qwen3-0.6b-q4_0.gguf"), () => quantizeFile(qwenF16, join(out, "twin-qwen3-0.6b-q4_0.gguf"), { preset: "Q4_0" }));
const qwenQ8 = await ensure(join(out, "twin-qwen3-0.6b-q8_0.gguf"), () => quantizeFile(qwenF16, join(out, "twin-qwen3-0.6b-q8_0.gguf"), { preset: "Q8_0" }));
const stories = resolve(root, "../shared/models/stories260K.gguf");

const models = [...(existsSync(stories) ? [stories] : []), llamaF16, llamaQ4, qwenQ4, qwenQ8];
const rows: string[] = [];
for (const model of models) {
  const header = readGgufHeader(model);
  const predicted = footprint(attentionShapeOf(header), weightsBytes(header), CONTEXT, "f16", acceleratorCopyBytes(header, deviceProfile().cpuFeatures));
  const run = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, join(root, "dist/src/cli/main.js"), "run", model, "Once upon a time", "--ctx", String(CONTEXT), "--max-tokens", "16", "--temperature", "0"], { encoding: "utf8" });
  const peakKib = Number(run.stderr.trim().split("\n").at(-1));
  const measured = peakKib * 1024;
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  rows.push(`| ${model.split("/").pop()} | ${mib(predicted.weightsBytes)} | ${mib(predicted.acceleratorCopyBytes)} | ${mib(predicted.kvCacheBytes)} | ${mib(predicted.computeBytes)} | ${mib(predicted.runtimeBytes)} | ${mib(predicted.totalBytes)} | ${mib(measured)} | ${(predicted.totalBytes / measured).toFixed(2)} |`);
  console.error(`${model.split("/").pop()}: predicted ${mib(predicted.totalBytes)} MiB, peak RSS ${mib(measured)} MiB`);
}
console.log(`Context ${CONTEXT}, \`slmkit run <model> "Once upon a time" --ctx ${CONTEXT} --max-tokens 16\`, peak RSS from /usr/bin/time -f %M. MiB.\n`);
console.log("| model | weights | AMX copy | KV cache | compute | runtime | predicted | peak RSS | predicted / measured |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of rows) console.log(row);
