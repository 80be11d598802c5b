/**
 * bench/perplexity: `slmkit eval` against llama-perplexity on the same model, text and context.
 *
 * 1. Perplexity of the source model (llama-perplexity's "Final estimate" vs `slmkit eval --json`).
 * 2. Its Q8_0 and Q4_0 variants (made by `slmkit quantize`): llama-perplexity --kl-divergence against
 *    its own --kl-divergence-base file, `slmkit eval --baseline-logits` against slmkit's saved baseline,
 *    and slmkit again reading llama-perplexity's file (the two tools share the file format).
 *
 * llama-perplexity is not part of slmkit: build it from the llama.cpp source node-llama-cpp bundles
 * (`cmake --build <dir> --target llama-perplexity`) and point --llama-perplexity or LLAMA_PERPLEXITY at it.
 *
 *   npm run build && node dist/bench/perplexity.js [--model ../shared/models/stories260K.gguf] [--ctx 128]
 *       [--text FILE] [--threads 2] [--llama-perplexity PATH]
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EVALUATION_TEXT } from "../src/bench/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { values: flags } = parseArgs({
  options: {
    model: { type: "string", default: join(root, "../shared/models/stories260K.gguf") },
    ctx: { type: "string", default: "128" },
    text: { type: "string" },
    threads: { type: "string", default: "2" },
    "llama-perplexity": { type: "string" },
  },
});
const llamaPerplexity = flags["llama-perplexity"] ?? process.env.LLAMA_PERPLEXITY ?? "/tmp/llama.cpp/build-host/bin/llama-perplexity";
if (!existsSync(llamaPerplexity)) throw new Error(`llama-perplexity not found at ${llamaPerplexity}; build it from the bundled llama.cpp source or pass --llama-perplexity`);
if (!existsSync(flags.model)) throw new Error(`${flags.model}: no such model`);
const out = join(root, "bench/out/perplexity");
mkdirSync(out, { recursive: true });
const cli = join(root, "dist/src/cli/main.js");
const text = flags.text ?? join(out, "eval-text.txt");
if (flags.text === undefined) writeFileSync(text, EVALUATION_TEXT);
const common = ["-c", flags.ctx, "-t", flags.threads];

/**
 * Output goes to files, not pipes: llama-perplexity logs from a background thread, and its last lines
 * (the KL-divergence statistics) were lost at exit when they went to a pipe.
 */
function run(command: string, args: string[]): string {
  const [stdoutPath, stderrPath] = [join(out, "last.stdout"), join(out, "last.stderr")];
  const [stdout, stderr] = [openSync(stdoutPath, "w"), openSync(stderrPath, "w")];
  const result = spawnSync(command, args, { stdio: ["ignore", stdout, stderr] });
  closeSync(stdout);
  closeSync(stderr);
  const [printed, logged] = [readFileSync(stdoutPath, "utf8"), readFileSync(stderrPath, "utf8")];
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${logged.slice(-2000)}`);
  return `${printed}\n\n${logged}`;
}

function number(pattern: RegExp, output: string): number {
  const match = pattern.exec(output);
  if (match === null) throw new Error(`no ${pattern} in llama-perplexity's output:\n${output.slice(-3000)}`);
  return Number(match[1]);
}

interface Quality {
  perplexity: number;
  kld?: number;
  kldP99?: number;
  sameTopP?: number;
  rmsDeltaP?: number;
}

function slmkitEval(model: string, extra: string[]): Quality {
  const report = JSON.parse(run(process.execPath, [cli, "eval", model, ...common, "--json", ...extra]).split("\n\n")[0]!) as {
    perplexity: number;
    kld?: { mean: number; p99: number };
    sameTopP?: number;
    rmsDeltaP?: number;
  };
  return {
    perplexity: report.perplexity,
    ...(report.kld && { kld: report.kld.mean, kldP99: report.kld.p99, sameTopP: report.sameTopP!, rmsDeltaP: report.rmsDeltaP! }),
  };
}

function llamaEval(model: string, extra: string[]): Quality {
  const output = run(llamaPerplexity, ["-m", model, ...common, ...extra]);
  if (!extra.includes("--kl-divergence")) {
    // With --kl-divergence-base it prints only the running estimate per chunk: "[103]8.5741,".
    const running = [...output.matchAll(/\[\d+\]([\d.]+)/g)].at(-1);
    if (running === undefined) throw new Error(`no perplexity in llama-perplexity's output:\n${output.slice(-3000)}`);
    return { perplexity: Number(running[1]) };
  }
  return {
    perplexity: number(/Mean PPL\(Q\)\s*:\s*([\d.]+)/, output),
    kld: number(/Mean\s+KLD:\s*([\d.]+)/, output),
    kldP99: number(/99\.0%\s+KLD:\s*([\d.]+)/, output),
    sameTopP: number(/Same top p:\s*([\d.]+)/, output) / 100,
    rmsDeltaP: number(/RMS Δp\s*:\s*([\d.]+)/, output) / 100,
  };
}

const slmkitBase = join(out, "base.slmkit.logits");
const llamaBase = join(out, "base.llama.logits");
const rows: Array<{ model: string; tool: string; quality: Quality }> = [];
rows.push({ model: "source", tool: "llama-perplexity", quality: llamaEval(flags.model, ["-f", text, "--kl-divergence-base", llamaBase]) });
rows.push({ model: "source", tool: "slmkit eval", quality: slmkitEval(flags.model, ["--text", text, "--save-baseline", slmkitBase]) });
for (const type of ["Q8_0", "Q4_0"]) {
  const variant = join(out, `variant.${type}.gguf`);
  run(process.execPath, [cli, "quantize", flags.model, variant, type]);
  rows.push({ model: type, tool: "llama-perplexity", quality: llamaEval(variant, ["--kl-divergence-base", llamaBase, "--kl-divergence"]) });
  rows.push({ model: type, tool: "slmkit eval", quality: slmkitEval(variant, ["--baseline-logits", slmkitBase]) });
  rows.push({ model: type, tool: "slmkit eval, llama's base file", quality: slmkitEval(variant, ["--baseline-logits", llamaBase]) });
}

const ratio = (model: string, field: keyof Quality): string => {
  const ours = rows.find((row) => row.model === model && row.tool === "slmkit eval")!.quality[field];
  const theirs = rows.find((row) => row.model === model && row.tool === "llama-perplexity")!.quality[field];
  return ours === undefined || theirs === undefined ? "" : (ours / theirs).toFixed(4);
};
const cell = (value: number | undefined, digits: number) => (value === undefined ? "" : value.toFixed(digits));
const lines = [
  `model ${flags.model}, text ${flags.text ?? "slmkit's evaluation text"}, -c ${flags.ctx}, ${flags.threads} threads`,
  "",
  "| variant | tool | PPL | mean KLD | KLD p99 | same top p | RMS Δp |",
  "|---|---|---:|---:|---:|---:|---:|",
  ...rows.map(({ model, tool, quality }) => `| ${model} | ${tool} | ${cell(quality.perplexity, 4)} | ${cell(quality.kld, 6)} | ${cell(quality.kldP99, 6)} | ${quality.sameTopP === undefined ? "" : `${(100 * quality.sameTopP).toFixed(2)} %`} | ${quality.rmsDeltaP === undefined ? "" : `${(100 * quality.rmsDeltaP).toFixed(3)} %`} |`),
  "",
  "slmkit / llama-perplexity:",
  ...["source", "Q8_0", "Q4_0"].map((model) => `- ${model}: PPL ${ratio(model, "perplexity")}${model === "source" ? "" : `, mean KLD ${ratio(model, "kld")}, KLD p99 ${ratio(model, "kldP99")}`}`),
];
console.log(lines.join("\n"));
writeFileSync(join(out, "perplexity.md"), lines.join("\n") + "\n");
writeFileSync(join(out, "perplexity.json"), JSON.stringify({ model: flags.model, ctx: Number(flags.ctx), rows }, null, 2) + "\n");
