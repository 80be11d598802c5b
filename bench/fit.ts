/**
 * bench/fit: `slmkit fit`'s predictions against measurements, side by side in one run.
 *
 * 1. Runtime: peak RSS of `slmkit run` on six one-layer models with 512 to 256,000 tokens, minus
 *    weights and KV cache, beside runtimeBytes (whose table is the average of two earlier runs of this).
 * 2. Memory: `slmkit fit --json` against the peak RSS of `slmkit run <model> <prompt> --ctx 2048
 *    --max-tokens 16`, for stories260K (when ../shared is there), a 100M-parameter synthetic llama at
 *    F16 and Q4_0, a qwen3-0.6b-shaped twin at Q4_0 and Q8_0, and a gemma3-1b twin at Q4_0 (sliding-window cache).
 * 3. Speed: for the same models, `slmkit fit --refresh --json` (this device's rates measured again
 *    right before) against the median tokens/s of three `slmkit run ... --max-tokens 64` right after,
 *    --repeats times; the machine is shared and noisy, so each estimate is compared with the runs that
 *    follow it, and the medians of both are compared.
 *
 *   npm run build && node dist/bench/fit.js [--skip-runtime] [--repeats N]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { attentionShapeOf, kvCacheBytes, runtimeBytes, weightsBytes } from "../src/fit/index.js";
import { readGgufHeader } from "../src/gguf/index.js";
import { quantizeFile } from "../src/quant/index.js";
import { synthesizeModel } from "../src/synth/index.js";

const { values: flags } = parseArgs({ options: { "skip-runtime": { type: "boolean" }, repeats: { type: "string", default: "3" } } });
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const home = mkdtempSync(join(tmpdir(), "slmkit-bench-fit-"));
const CONTEXT = 2048;
const PROMPT = "Once upon a time";
const cli = join(root, "dist/src/cli/main.js");
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

async function ensure(path: string, make: () => Promise<unknown>): Promise<string> {
  if (!existsSync(path)) await make();
  return path;
}

function slmkit(args: string[], timed = false): { stdout: string; stderr: string; peakBytes?: number } {
  const command = timed ? "/usr/bin/time" : process.execPath;
  const argv = timed ? ["-f", "peak-kib %M", process.execPath, cli, ...args] : [cli, ...args];
  const run = spawnSync(command, argv, { encoding: "utf8", env: { ...process.env, SLMKIT_HOME: home }, maxBuffer: 1 << 26 });
  if (run.status !== 0 && !(args[0] === "fit" && run.status === 1)) throw new Error(`slmkit ${args.join(" ")} failed: ${run.stderr}`);
  const peak = /peak-kib (\d+)/.exec(run.stderr)?.[1];
  return { stdout: run.stdout, stderr: run.stderr, ...(peak === undefined ? {} : { peakBytes: Number(peak) * 1024 }) };
}

interface FitJson {
  memory: { weightsBytes: number; acceleratorCopyBytes: number; kvCacheBytes: number; computeBytes: number; runtimeBytes: number; totalBytes: number };
  estimate: { generationTokensPerSecond: number };
}
const fit = (model: string, extra: string[]): FitJson => JSON.parse(slmkit(["fit", model, "--ctx", String(CONTEXT), "--json", ...extra]).stdout) as FitJson;

/** A `slmkit run`, with its prompt tokens and generation speed from --verbose. */
function run(model: string, maxTokens: number): { peakBytes: number; promptTokens: number; tokensPerSecond: number } {
  const result = slmkit(["run", model, PROMPT, "--ctx", String(CONTEXT), "--max-tokens", String(maxTokens), "--temperature", "0", "--verbose"], true);
  const stats = /\[(\d+) prompt tokens .*?generated at ([\d.]+) tokens\/s/.exec(result.stderr);
  if (!stats || result.peakBytes === undefined) throw new Error(`no statistics from slmkit run ${model}: ${result.stderr.slice(-500)}`);
  return { peakBytes: result.peakBytes, promptTokens: Number(stats[1]), tokensPerSecond: Number(stats[2]) };
}

try {
  if (!flags["skip-runtime"]) {
    console.log(`## Runtime: peak RSS of \`slmkit run <model> "${PROMPT}" --ctx ${CONTEXT} --max-tokens 16\` minus weights and KV cache\n`);
    console.log("One-layer qwen3 models (width 64), F32, differing only in vocabulary size. MiB. `runtimeBytes` is src/fit/footprint.ts's table.\n\n| vocabulary | peak RSS | weights | KV cache | rest | runtimeBytes | rest / runtimeBytes |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    const points: Array<{ vocabulary: number; rest: number; peak: number; weights: number; kv: number; modelled: number }> = [];
    for (const vocabulary of [512, 32000, 64000, 128000, 151936, 256000]) {
      const path = join(home, `vocab-${vocabulary}.gguf`);
      await synthesizeModel({ architecture: "qwen3", output: path, type: "F32", seed: 1, vocabularySize: vocabulary, shape: { layers: 1, width: 64, feedForward: 128, heads: 2, kvHeads: 1, headDim: 32, tiedEmbeddings: true } });
      const header = readGgufHeader(path);
      const peak = run(path, 16).peakBytes;
      const weights = weightsBytes(header);
      const kv = kvCacheBytes(attentionShapeOf(header), CONTEXT);
      points.push({ vocabulary, rest: peak - weights - kv, peak, weights, kv, modelled: runtimeBytes(attentionShapeOf(header)) });
      rmSync(path);
    }
    for (const point of points) console.log(`| ${point.vocabulary} | ${mib(point.peak)} | ${mib(point.weights)} | ${mib(point.kv)} | ${mib(point.rest)} | ${mib(point.modelled)} | ${(point.rest / point.modelled).toFixed(2)} |`);
    console.log("");
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
  const gemmaQ4 = join(out, "twin-gemma3-1b-q4_0.gguf");
  if (!existsSync(gemmaQ4)) slmkit(["synth", "--like", "gemma3:1b", "--type", "Q4_0", "-o", gemmaQ4]);
  const stories = resolve(root, "../shared/models/stories260K.gguf");
  const models = [...(existsSync(stories) ? [stories] : []), llamaF16, llamaQ4, qwenQ4, qwenQ8, gemmaQ4];

  console.log(`## Memory: \`slmkit fit <model> --ctx ${CONTEXT} --batch <prompt tokens> --json\` against the peak RSS of \`slmkit run <model> "${PROMPT}" --ctx ${CONTEXT} --max-tokens 16\`\n`);
  console.log("Peak RSS from /usr/bin/time -f %M. MiB.\n\n| model | weights | AMX copy | KV cache | compute | runtime | predicted | peak RSS | predicted / measured |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const model of models) {
    const measured = run(model, 16);
    const { memory } = fit(model, ["--batch", String(measured.promptTokens), "--no-speed"]);
    console.log(`| ${model.split("/").pop()} | ${mib(memory.weightsBytes)} | ${mib(memory.acceleratorCopyBytes)} | ${mib(memory.kvCacheBytes)} | ${mib(memory.computeBytes)} | ${mib(memory.runtimeBytes)} | ${mib(memory.totalBytes)} | ${mib(measured.peakBytes)} | ${(memory.totalBytes / measured.peakBytes).toFixed(2)} |`);
  }

  const repeats = Number(flags.repeats);
  console.log(`\n## Speed: \`slmkit fit <model> --refresh --json\` against \`slmkit run <model> "${PROMPT}" --max-tokens 64\` right after, ${repeats} times\n`);
  console.log("Tokens/s generating. Each estimate measures this device's rates again (small synthetic models) just before its run.\n\n| model | estimated | measured (median of 3 runs) | estimated / measured | median / median |\n| --- | --- | --- | --- | ---: |");
  for (const model of models) {
    const estimated: number[] = [];
    const measured: number[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      estimated.push(fit(model, ["--refresh"]).estimate.generationTokensPerSecond);
      const runs = [run(model, 64), run(model, 64), run(model, 64)].map((result) => result.tokensPerSecond).sort((a, b) => a - b);
      measured.push(runs[1]!);
    }
    const ratios = estimated.map((value, index) => (value / measured[index]!).toFixed(2));
    const middle = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(`| ${model.split("/").pop()} | ${estimated.map((value) => value.toFixed(1)).join(", ")} | ${measured.map((value) => value.toFixed(1)).join(", ")} | ${ratios.join(", ")} | **${(middle(estimated) / middle(measured)).toFixed(2)}** |`);
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
