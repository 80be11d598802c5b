/**
 * bench/speculation: generation time with and without speculative decoding, in one run on one
 * model: plain, a draft model, prompt lookup. Greedy, so all three must give the same tokens.
 *
 *   npm run build && node dist/bench/speculation.js [--model FILE] [--draft FILE] [--tokens 48] [--reps 5]
 *
 * Without --model, a synthesized llama-shaped test model serves as target and as its own draft.
 */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type GenerateRequest, LoadedModel, type Speculation } from "../src/engine/index.js";
import { synthesizeModel } from "../src/synth/index.js";
import { median } from "./statistics.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { values } = parseArgs({ options: { model: { type: "string" }, draft: { type: "string" }, tokens: { type: "string", default: "48" }, reps: { type: "string", default: "5" } } });
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const model = values.model ?? join(out, "speculation-llama.gguf");
if (values.model === undefined) await synthesizeModel({ architecture: "llama", seed: 51, output: model });
const draft = values.draft ?? model;
const tokens = Number(values.tokens);
const reps = Number(values.reps);

const variants: Array<[string, Speculation | undefined]> = [
  ["plain", undefined],
  ["draft model", { kind: "draft", draftModelPath: draft }],
  ["prompt lookup", { kind: "lookup" }],
];
const rows: string[] = [];
let reference: string | undefined;
for (const [name, speculation] of variants) {
  const loaded = await LoadedModel.load(model, { contextSize: 1024, ...(speculation && { speculation }) });
  try {
    const first = loaded.promptFromText("Once upon a time there was a little dog. Once upon a time there was a little cat.");
    // The second prompt holds the model's own continuation: text for prompt lookup to find.
    const seed = await loaded.generate({ prompt: first, maxTokens: tokens, sampling: { temperature: 0 } });
    const prompt = [...first, ...seed.outputTokens] as GenerateRequest["prompt"];
    const times: number[] = [];
    let accepted = 0;
    let rejected = 0;
    let output = "";
    for (let rep = 0; rep < reps; rep++) {
      const result = await loaded.generate({ prompt: [...prompt], maxTokens: tokens, sampling: { temperature: 0 } });
      times.push(result.generationMs);
      accepted += result.speculation?.accepted ?? 0;
      rejected += result.speculation?.rejected ?? 0;
      output = result.outputTokens.join(",");
    }
    reference ??= output;
    const middle = median(times);
    rows.push(`| ${name} | ${middle.toFixed(1)} ms | ${speculation ? `${accepted} / ${accepted + rejected}` : "–"} | ${output === reference ? "yes" : "NO"} |`);
    console.error(`${name}: median ${middle.toFixed(1)} ms`);
  } finally {
    await loaded.dispose();
  }
}
console.log(`Model ${model}, draft ${draft}; ${tokens} greedy tokens, median of ${reps}.\n`);
console.log("| variant | generation time | proposals accepted / made | same tokens as plain |\n| --- | ---: | ---: | --- |");
for (const row of rows) console.log(row);
