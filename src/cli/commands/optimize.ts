import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_TYPES, REPORT_FILES, REPORT_JSON, type RecipeInput, RecipeError, completeRecipe, optimize, parseRecipe } from "../../bench/index.js";
import { CliError, type Command, UsageError } from "../args.js";
import { parseByteSize } from "../format.js";
import { interruptible } from "../interrupt.js";

export const optimizeCommand: Command = {
  name: "optimize",
  summary: "Quantize a model to several types, measure size, speed and quality of each, and choose the best variant.",
  positionals: "<source.gguf>",
  details:
    "Each variant is made with slmkit's quantizer, benchmarked (pp/tg, as `slmkit bench`) and scored against the\n" +
    "source (perplexity and KL-divergence, as `slmkit eval --baseline`). The report keeps the Pareto front of\n" +
    "size × generation speed × KLD and chooses the smallest variant meeting --max-size, --min-speed and\n" +
    "--max-kld. It writes report.md, report.json and two SVG charts into --out, beside the variants.\n" +
    "--recipe reads the same settings from a JSON file (optimize.json: source, types, constraints {maxSizeBytes,\n" +
    "minTokensPerSecond, maxKld}, eval {context, text, chunks}, bench {prompt, generate, repetitions, threads},\n" +
    "out); flags override it. The report is rewritten after each variant: interrupt with Ctrl-C and run the same\n" +
    `command again to resume. Default types: ${DEFAULT_TYPES.join(",")}.`,
  options: [
    { name: "types", kind: "string", valueName: "T1,T2,...", description: "quantization types to try" },
    { name: "max-size", kind: "string", valueName: "SIZE", description: "largest acceptable file, e.g. 1GB or 700MiB" },
    { name: "min-speed", kind: "number", description: "slowest acceptable generation, tokens/s on this machine", min: 0 },
    { name: "max-kld", kind: "number", description: "largest acceptable mean KL-divergence from the source (e.g. 0.05)", min: 0 },
    { name: "text", kind: "string", valueName: "FILE", description: "evaluation text (default: slmkit's)" },
    { name: "ctx", kind: "integer", description: "tokens per perplexity chunk (default 512)", min: 8, max: 1 << 20 },
    { name: "chunks", kind: "integer", description: "score at most N chunks per variant", min: 1 },
    { name: "prompt", short: "p", kind: "integer", description: "prompt tokens of the speed test (default 512)", min: 0 },
    { name: "gen", short: "n", kind: "integer", description: "generated tokens of the speed test (default 128)", min: 0 },
    { name: "reps", short: "r", kind: "integer", description: "speed repetitions (default 3)", min: 1 },
    { name: "threads", short: "t", kind: "integer", description: "CPU threads (default: all cores)", min: 1, max: 512 },
    { name: "out", short: "o", kind: "string", valueName: "DIR", description: "output directory (default <source>-optimized)" },
    { name: "recipe", kind: "string", valueName: "FILE", description: "optimize.json recipe" },
    { name: "json", kind: "boolean", description: "print the final report as JSON" },
  ],
  examples: [
    "slmkit optimize model-F16.gguf --max-kld 0.05",
    "slmkit optimize model-F16.gguf --types Q8_0,Q5_1,Q4_K_M,Q4_0 --max-size 1GB --min-speed 20 --out variants",
    "slmkit optimize --recipe optimize.json",
  ],
  async run({ positionals, values }) {
    if (positionals.length > 1) throw new UsageError("give one source model");
    let fromFile: RecipeInput = {};
    const recipePath = values.recipe as string | undefined;
    if (recipePath !== undefined) {
      if (!existsSync(recipePath)) throw new CliError(`${recipePath}: no such recipe file`);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(recipePath, "utf8"));
      } catch (error) {
        throw new CliError(`${recipePath} is not valid JSON: ${(error as Error).message}`);
      }
      fromFile = parseRecipe(json, recipePath);
    }
    const maxSize = values["max-size"] === undefined ? undefined : parseByteSize(values["max-size"] as string);
    if (values["max-size"] !== undefined && maxSize === undefined) throw new UsageError(`--max-size: '${String(values["max-size"])}' is not a size (e.g. 1GB, 700MiB)`);
    const defined = <T extends object>(entries: T): T => Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as T;
    const fromFlags: RecipeInput = defined({
      source: positionals[0],
      types: values.types === undefined ? undefined : (values.types as string).split(",").map((type) => type.trim()).filter((type) => type !== ""),
      constraints: defined({ maxSizeBytes: maxSize, minTokensPerSecond: values["min-speed"] as number | undefined, maxKld: values["max-kld"] as number | undefined }),
      eval: defined({ context: values.ctx as number | undefined, text: values.text as string | undefined, chunks: values.chunks as number | undefined }),
      bench: defined({ prompt: values.prompt as number | undefined, generate: values.gen as number | undefined, repetitions: values.reps as number | undefined, threads: values.threads as number | undefined }),
      out: values.out as string | undefined,
    });
    let recipe;
    try {
      recipe = completeRecipe(fromFile, fromFlags);
    } catch (error) {
      if (error instanceof RecipeError) throw new UsageError(error.message);
      throw error;
    }
    if (!existsSync(recipe.source)) throw new CliError(`${recipe.source}: no such file`);
    if (recipe.eval.text !== undefined && !existsSync(recipe.eval.text)) throw new CliError(`${recipe.eval.text}: no such file`);
    let done = 0;
    const total = recipe.types.length + 1;
    const report = await interruptible((signal) =>
        optimize(recipe, {
          signal,
          onProgress: (variant, step, detail) => {
            if (step === "reused") process.stderr.write(`${variant}: measured before, reused\n`);
            else if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K[${done + 1}/${total}] ${variant}: ${step}${detail === undefined ? "" : ` ${detail}`}`);
          },
          onReport: (partial) => {
            if (partial.variants.length === done) return;
            done = partial.variants.length;
            const latest = partial.variants.at(-1);
            if (latest === undefined || values.json === true) return;
            if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
            process.stderr.write(`${latest.name}: ${(latest.sizeBytes / 2 ** 20).toFixed(1)} MiB, tg ${latest.generationTokensPerSecond?.toFixed(1) ?? "-"} t/s, PPL ${latest.perplexity.toFixed(3)}, KLD ${latest.kld.toFixed(5)}\n`);
          },
        }),
    );
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
    if (report === "interrupted") {
      process.stderr.write(`interrupted: ${done} variant${done === 1 ? "" : "s"} finished; they and a partial report are in ${recipe.out}. Run the same command again to resume.\n`);
      return 130;
    }
    if (values.json === true) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(report.chosen === null ? "No variant meets the constraints (see the report)." : `Chosen: ${report.chosen} (${report.variants.find((variant) => variant.name === report.chosen)?.path})`);
      console.log(`Pareto front: ${report.front.join(", ")}`);
      console.log(`Report: ${join(recipe.out, REPORT_FILES.markdown)}, ${join(recipe.out, REPORT_JSON)}, ${REPORT_FILES.sizeChart}, ${REPORT_FILES.speedChart}`);
    }
    return report.chosen === null ? 1 : 0;
  },
};
