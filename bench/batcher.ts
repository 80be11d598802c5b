/**
 * bench/batcher: aggregate generation speed with 1, 4 and 16 concurrent requests through slmkit's two
 * engines: the node-llama-cpp one that `slmkit serve` uses today (LoadedModel, `parallel` = requests)
 * and the ContinuousBatcher on llama.cpp's C API (src/engine/native). Same model, prompts, sampling
 * (temperature 0.8, seeded) and token counts (end-of-generation ignored by both: 64 tokens each); each
 * engine in its own process, alternating, medians of --rounds.
 *
 *   npm run build && node dist/bench/batcher.js [--models a.gguf,b.gguf] [--clients 1,4,16] [--rounds 3] [--tokens 64]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ContinuousBatcher, LoadedModel, NativeModel } from "../src/engine/index.js";
import { median } from "./statistics.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { values: flags } = parseArgs({
  options: {
    models: { type: "string", default: [join(root, "bench/out/bench-llama-100m-q4_0.gguf"), join(root, "bench/out/twin-qwen3-0.6b-q4_0.gguf")].join(",") },
    clients: { type: "string", default: "1,4,16" },
    rounds: { type: "string", default: "3" },
    tokens: { type: "string", default: "64" },
    engine: { type: "string" },
    model: { type: "string" },
  },
});
const TOKENS = Number(flags.tokens);
const THREADS = 2;
const PROMPTS = ["Once upon a time, there was a little dog", "The sun came up over the hill and the birds", "Tom had a red ball. He liked to", "In the garden, Mom found a small green"];

/** Tokens per second of `clients` concurrent requests in one engine (this process). */
async function measure(engine: string, path: string, clients: number): Promise<number> {
  const sampling = (index: number) => ({ temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 100 + index });
  if (engine === "native") {
    const model = NativeModel.open(path, { contextSize: clients * 256, sequences: clients, batchSize: 512, threads: THREADS, unifiedCache: true });
    const batcher = new ContinuousBatcher(model, clients);
    const prompts = Array.from({ length: clients }, (_, index) => model.tokenize(PROMPTS[index % PROMPTS.length]!));
    // End-of-generation is not ignored by the batcher; a random model rarely draws it in 64 tokens.
    await batcher.generate({ prompt: prompts[0]!, maxTokens: 4, sampling: sampling(0) });
    const started = performance.now();
    const results = await Promise.all(prompts.map((prompt, index) => batcher.generate({ prompt, maxTokens: TOKENS, sampling: sampling(index) })));
    const seconds = (performance.now() - started) / 1000;
    await batcher.close();
    model.close();
    return results.reduce((sum, result) => sum + result.tokens.length, 0) / seconds;
  }
  const model = await LoadedModel.load(path, { contextSize: clients * 256, parallel: clients, threads: THREADS });
  const prompts = Array.from({ length: clients }, (_, index) => model.tokenize(PROMPTS[index % PROMPTS.length]!, { special: true }));
  await model.generate({ prompt: prompts[0]!, maxTokens: 4, sampling: sampling(0) });
  const started = performance.now();
  const results = await Promise.all(prompts.map((prompt, index) => model.generate({ prompt, maxTokens: TOKENS, sampling: sampling(index), ignoreEos: true })));
  const seconds = (performance.now() - started) / 1000;
  await model.dispose();
  return results.reduce((sum, result) => sum + result.completionTokens, 0) / seconds;
}

if (flags.engine !== undefined) {
  const rates: number[] = [];
  for (const clients of flags.clients.split(",").map(Number)) rates.push(await measure(flags.engine, flags.model!, clients));
  console.log(JSON.stringify(rates));
} else {
  const clients = flags.clients.split(",").map(Number);
  const lines = [`${flags.rounds} rounds alternating, ${TOKENS} tokens per request, ${THREADS} threads; medians of aggregate generated tokens/s`, "", `| model | engine | ${clients.map((count) => `${count} client${count === 1 ? "" : "s"}`).join(" | ")} | ${clients[1] ?? ""} / 1 |`, `|---|---|${clients.map(() => "---:").join("|")}|---:|`];
  for (const model of flags.models.split(",").filter((path) => existsSync(path))) {
    const samples: Record<string, number[][]> = { "node-llama-cpp": [], native: [] };
    for (let round = 0; round < Number(flags.rounds); round++) {
      for (const engine of round % 2 === 0 ? ["node-llama-cpp", "native"] : ["native", "node-llama-cpp"]) {
        const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--engine", engine === "native" ? "native" : "node", "--model", model, "--clients", flags.clients, "--tokens", flags.tokens], { encoding: "utf8" });
        if (child.status !== 0) throw new Error(`${engine} on ${model} failed: ${child.stderr}`);
        samples[engine]!.push(JSON.parse(child.stdout.trim().split("\n").at(-1)!) as number[]);
      }
      process.stderr.write(`${basename(model)}: round ${round + 1}/${flags.rounds}\n`);
    }
    for (const [engine, runs] of Object.entries(samples)) {
      const medians = clients.map((_, index) => median(runs.map((run) => run[index]!)));
      lines.push(`| ${basename(model)} | ${engine} | ${medians.map((value) => value.toFixed(1)).join(" | ")} | ${(medians[1]! / medians[0]!).toFixed(2)} |`);
    }
  }
  console.log(lines.join("\n"));
  mkdirSync(join(root, "bench/out"), { recursive: true });
  writeFileSync(join(root, "bench/out/batcher.md"), lines.join("\n") + "\n");
}
