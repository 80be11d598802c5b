import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVALUATION_TEXT, type EvaluateProgress, type EvaluateResult, evaluateModel } from "../../bench/index.js";
import { CliError, type Command, UsageError } from "../args.js";
import { interruptible } from "../interrupt.js";
import { resolveModelArgument } from "../model-argument.js";

/** What `eval --json` prints. */
export interface EvalReport {
  readonly model: string;
  readonly baseline?: string;
  readonly context: number;
  readonly chunks: number;
  readonly tokens: number;
  readonly perplexity: number;
  readonly perplexityUncertainty: number;
  readonly baselinePerplexity?: number;
  readonly pplRatio?: number;
  readonly kld?: NonNullable<EvaluateResult["divergence"]>["kld"];
  readonly sameTopP?: number;
  readonly rmsDeltaP?: number;
  readonly deltaP?: NonNullable<EvaluateResult["divergence"]>["deltaP"];
  readonly seconds: number;
}

export const evalCommand: Command = {
  name: "eval",
  summary: "Perplexity of a model on a text, and its KL-divergence from a baseline model, as llama-perplexity computes them.",
  positionals: "<model>",
  details:
    "The text is tokenized with BOS, cut into chunks of --ctx tokens and the second half of each chunk is scored,\n" +
    "so perplexities compare with llama-perplexity's. With --baseline (a model, e.g. the F16 original) or\n" +
    "--baseline-logits (a file from --save-baseline or llama-perplexity --kl-divergence-base; both tools read\n" +
    "each other's), it also reports the KL-divergence of the model's next-token distributions from the\n" +
    "baseline's (mean and percentiles), how often both rank the same token first, RMS Δp and PPL ratio.\n" +
    "Without --text, a ~26 kB text written for slmkit (simple stories and plain prose, public domain) is used.",
  options: [
    { name: "text", kind: "string", valueName: "FILE", description: "UTF-8 text to score (default: slmkit's evaluation text)" },
    { name: "ctx", short: "c", kind: "integer", description: "tokens per chunk (default 512, as llama-perplexity)", min: 8, max: 1 << 20 },
    { name: "baseline", kind: "string", valueName: "MODEL", description: "compare with this model's distributions (KL-divergence)" },
    { name: "baseline-logits", kind: "string", valueName: "FILE", description: "compare with saved baseline log-probabilities" },
    { name: "save-baseline", kind: "string", valueName: "FILE", description: "save the baseline's (or, alone, this model's) log-probabilities" },
    { name: "chunks", kind: "integer", description: "score at most N chunks", min: 1, max: 1 << 24 },
    { name: "threads", short: "t", kind: "integer", description: "CPU threads (default: all cores)", min: 1, max: 512 },
    { name: "batch", short: "b", kind: "integer", description: "tokens per decode; chunks are packed up to it (default 2048)", min: 8, max: 1 << 20 },
    { name: "json", kind: "boolean", description: "print the result as JSON" },
  ],
  examples: [
    "slmkit eval model-Q4_0.gguf --ctx 128",
    "slmkit eval model-Q4_0.gguf --baseline model-F16.gguf --text wiki.test.raw --json",
    "slmkit eval model-F16.gguf --save-baseline base.logits && slmkit eval model-Q4_0.gguf --baseline-logits base.logits",
  ],
  async run({ positionals, values }) {
    if (positionals.length !== 1) throw new UsageError("give one model (a GGUF file or a store name)");
    const baselineModel = values.baseline as string | undefined;
    const baselineLogits = values["baseline-logits"] as string | undefined;
    if (baselineModel !== undefined && baselineLogits !== undefined) throw new UsageError("give --baseline or --baseline-logits, not both");
    if (baselineLogits !== undefined && !existsSync(baselineLogits)) throw new CliError(`${baselineLogits}: no such file (make one with --save-baseline)`);
    const textPath = values.text as string | undefined;
    if (textPath !== undefined && !existsSync(textPath)) throw new CliError(`${textPath}: no such file`);
    const text = textPath === undefined ? EVALUATION_TEXT : readFileSync(textPath, "utf8");
    const model = resolveModelArgument(positionals[0]!);
    const context = (values.ctx as number | undefined) ?? 512;
    const common = {
      context,
      ...(values.chunks === undefined ? {} : { maxChunks: values.chunks as number }),
      ...(values.threads === undefined ? {} : { threads: values.threads as number }),
      ...(values.batch === undefined ? {} : { batchSize: values.batch as number }),
    };
    const progress = (label: string) =>
      process.stderr.isTTY
        ? (step: EvaluateProgress) => process.stderr.write(`\r\x1b[2K${label}: chunk ${step.chunksDone}/${step.chunks}, PPL ${step.perplexity.toFixed(4)}`)
        : undefined;
    const scratch = baselineModel !== undefined && values["save-baseline"] === undefined ? mkdtempSync(join(tmpdir(), "slmkit-eval-")) : undefined;
    try {
      const result = await interruptible(async (signal) => {
          let baselineFile = baselineLogits;
          if (baselineModel !== undefined) {
            baselineFile = (values["save-baseline"] as string | undefined) ?? join(scratch!, "baseline.logits");
            const baselinePath = resolveModelArgument(baselineModel).path;
            const onProgress = progress("baseline");
            await evaluateModel(baselinePath, { ...common, text, saveBaseline: baselineFile, signal, ...(onProgress && { onProgress }) });
          }
          const onProgress = progress(model.name);
          const saveOwn = baselineModel === undefined ? (values["save-baseline"] as string | undefined) : undefined;
          return evaluateModel(model.path, {
            ...common,
            ...(baselineFile === undefined ? { text } : { baseline: baselineFile }),
            ...(saveOwn === undefined ? {} : { saveBaseline: saveOwn }),
            signal,
            ...(onProgress && { onProgress }),
          });
      });
      if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
      if (result === "interrupted") {
        process.stderr.write(`interrupted${values["save-baseline"] === undefined ? "" : "; the baseline file is incomplete"}\n`);
        return 130;
      }
      const report = reportOf(model.path, baselineModel ?? baselineLogits, result);
      if (values.json === true) console.log(JSON.stringify(report, null, 2));
      else printReport(report);
      return 0;
    } finally {
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export function reportOf(model: string, baseline: string | undefined, result: EvaluateResult): EvalReport {
  const divergence = result.divergence;
  return {
    model,
    ...(baseline === undefined ? {} : { baseline }),
    context: result.context,
    chunks: result.chunks,
    tokens: result.tokens,
    perplexity: result.perplexity,
    perplexityUncertainty: result.perplexityUncertainty,
    ...(divergence === undefined
      ? {}
      : {
          baselinePerplexity: divergence.baselinePerplexity,
          pplRatio: divergence.pplRatio,
          kld: divergence.kld,
          sameTopP: divergence.sameTopP,
          rmsDeltaP: divergence.rmsDeltaP,
          deltaP: divergence.deltaP,
        }),
    seconds: result.seconds,
  };
}

function printReport(report: EvalReport): void {
  console.log(`${report.model}: ${report.chunks} chunks of ${report.context} tokens, ${report.tokens} scored, ${report.seconds.toFixed(1)} s`);
  console.log(`  PPL               ${report.perplexity.toFixed(4)} ± ${report.perplexityUncertainty.toFixed(4)}`);
  if (report.kld === undefined) return;
  console.log(`  PPL(baseline)     ${report.baselinePerplexity!.toFixed(4)}   ratio ${report.pplRatio!.toFixed(4)}`);
  console.log(`  KLD mean          ${report.kld.mean.toFixed(6)} ± ${report.kld.uncertainty.toFixed(6)}`);
  console.log(`  KLD median / p99  ${report.kld.median.toFixed(6)} / ${report.kld.p99.toFixed(6)}   max ${report.kld.max.toFixed(6)}`);
  console.log(`  same top token    ${(100 * report.sameTopP!).toFixed(2)} %`);
  console.log(`  RMS Δp            ${(100 * report.rmsDeltaP!).toFixed(3)} %`);
}
