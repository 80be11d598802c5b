/**
 * The search over quantized variants: make each one with slmkit's quantizer, measure its size, its speed
 * (as `slmkit bench`) and its quality against the source (as `slmkit eval --baseline`), keep the Pareto
 * front of size × speed × KL-divergence and choose the smallest variant that meets the constraints.
 * The report is rewritten after every variant, so an interrupted run leaves its finished variants and a
 * partial report, and a second run with the same recipe resumes where the first stopped.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { llamaLibrary } from "../engine/index.js";
import { presetByName, quantizeFile } from "../quant/index.js";
import { EVALUATION_TEXT } from "./eval-text.js";
import { evaluateModel } from "./evaluate.js";
import { writeReportFiles } from "./optimize-report.js";
import { type Objective, paretoFront } from "./pareto.js";
import type { Recipe } from "./recipe.js";
import { meanAndDeviation, measureSpeed, samplesPerSecond } from "./speed.js";

export interface VariantResult {
  /** "source" or the preset name. */
  readonly name: string;
  readonly path: string;
  readonly sizeBytes: number;
  /** Weight bits per parameter, from llama.cpp's own counts. */
  readonly bitsPerWeight: number;
  readonly promptTokensPerSecond: number | null;
  readonly generationTokensPerSecond: number | null;
  readonly generationDeviation: number | null;
  readonly perplexity: number;
  /** Mean KL-divergence from the source, nats (0 for the source itself). */
  readonly kld: number;
  readonly kldP99: number;
  readonly sameTopP: number;
  readonly pplRatio: number;
  readonly rmsDeltaP: number;
  readonly seconds: { readonly quantize: number; readonly bench: number; readonly eval: number };
}

export interface OptimizeReport {
  readonly recipe: Recipe;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly engine: string };
  readonly startedAt: string;
  /** False while variants are still being measured (or the run was interrupted). */
  readonly complete: boolean;
  readonly variants: readonly VariantResult[];
  /** Names of the variants on the Pareto front (smaller, faster, closer to the source). */
  readonly front: readonly string[];
  /** The smallest variant meeting every constraint, or null when none does. */
  readonly chosen: string | null;
  /** Why each variant that was not chosen fails a constraint (empty list: it meets them all). */
  readonly constraintFailures: Readonly<Record<string, readonly string[]>>;
}

export type OptimizeStep = "baseline" | "quantize" | "bench" | "eval" | "reused";

export interface OptimizeOptions {
  readonly onProgress?: (variant: string, step: OptimizeStep, detail?: string) => void;
  /** Called with the report each time it is rewritten. */
  readonly onReport?: (report: OptimizeReport) => void;
  readonly signal?: AbortSignal;
}

export const REPORT_JSON = "report.json";
export const BASELINE_FILE = "baseline.logits";

const OBJECTIVES: ReadonlyArray<Objective<VariantResult>> = [
  { name: "size", value: (variant) => variant.sizeBytes },
  { name: "generation speed", value: (variant) => -(variant.generationTokensPerSecond ?? 0) },
  { name: "KL-divergence", value: (variant) => variant.kld },
];

/** Constraints a variant fails, in words. */
export function constraintFailures(variant: VariantResult, constraints: Recipe["constraints"]): string[] {
  const failures: string[] = [];
  if (constraints.maxSizeBytes !== undefined && variant.sizeBytes > constraints.maxSizeBytes) failures.push(`size ${variant.sizeBytes} B > ${constraints.maxSizeBytes} B`);
  if (constraints.minTokensPerSecond !== undefined && (variant.generationTokensPerSecond ?? 0) < constraints.minTokensPerSecond) {
    failures.push(`generation ${(variant.generationTokensPerSecond ?? 0).toFixed(1)} tokens/s < ${constraints.minTokensPerSecond}`);
  }
  if (constraints.maxKld !== undefined && variant.kld > constraints.maxKld) failures.push(`KLD ${variant.kld.toFixed(5)} > ${constraints.maxKld}`);
  return failures;
}

/** Front, choice and failures for a set of measured variants. */
export function decide(variants: readonly VariantResult[], constraints: Recipe["constraints"]): Pick<OptimizeReport, "front" | "chosen" | "constraintFailures"> {
  const failures = Object.fromEntries(variants.map((variant) => [variant.name, constraintFailures(variant, constraints)]));
  const eligible = variants.filter((variant) => failures[variant.name]!.length === 0).sort((a, b) => a.sizeBytes - b.sizeBytes || a.kld - b.kld);
  return { front: paretoFront(variants, OBJECTIVES).map((variant) => variant.name), chosen: eligible[0]?.name ?? null, constraintFailures: failures };
}

function sameSettings(previous: Recipe, recipe: Recipe): boolean {
  return previous.source === recipe.source && JSON.stringify(previous.eval) === JSON.stringify(recipe.eval) && JSON.stringify(previous.bench) === JSON.stringify(recipe.bench);
}

function previousVariants(out: string, recipe: Recipe): Map<string, VariantResult> {
  const path = join(out, REPORT_JSON);
  if (!existsSync(path)) return new Map();
  try {
    const previous = JSON.parse(readFileSync(path, "utf8")) as OptimizeReport;
    if (!sameSettings(previous.recipe, recipe)) return new Map();
    return new Map(previous.variants.filter((variant) => existsSync(variant.path) && statSync(variant.path).size === variant.sizeBytes).map((variant) => [variant.name, variant]));
  } catch {
    return new Map();
  }
}

export async function optimize(recipe: Recipe, options: OptimizeOptions = {}): Promise<OptimizeReport> {
  for (const type of recipe.types) presetByName(type);
  mkdirSync(recipe.out, { recursive: true });
  const text = recipe.eval.text === undefined ? EVALUATION_TEXT : readFileSync(recipe.eval.text, "utf8");
  const reusable = previousVariants(recipe.out, recipe);
  const baselinePath = join(recipe.out, BASELINE_FILE);
  const variants: VariantResult[] = [];
  const startedAt = new Date().toISOString();
  const machine = { cpu: cpus()[0]?.model.trim() ?? "unknown", cores: cpus().length, engine: `llama.cpp ${llamaLibrary().release} (node-llama-cpp)` };
  const publish = (complete: boolean): OptimizeReport => {
    const report: OptimizeReport = { recipe, machine, startedAt, complete, variants: [...variants], ...decide(variants, recipe.constraints) };
    const path = join(recipe.out, REPORT_JSON);
    writeFileSync(`${path}.partial`, JSON.stringify(report, null, 2) + "\n");
    renameSync(`${path}.partial`, path);
    writeReportFiles(report);
    options.onReport?.(report);
    return report;
  };

  const stem = recipe.source.replace(/^.*[/\\]/, "").replace(/\.gguf$/i, "");
  const plan = [{ name: "source", path: recipe.source }, ...recipe.types.map((type) => ({ name: presetByName(type).name, path: join(recipe.out, `${stem}.${presetByName(type).name}.gguf`) }))];
  for (const { name, path } of plan) {
    options.signal?.throwIfAborted();
    const previous = reusable.get(name);
    if (previous !== undefined && (name !== "source" || existsSync(baselinePath))) {
      options.onProgress?.(name, "reused");
      variants.push(previous);
      publish(false);
      continue;
    }
    let quantizeSeconds = 0;
    if (name !== "source") {
      options.onProgress?.(name, "quantize");
      const started = performance.now();
      await quantizeFile(recipe.source, path, { preset: name, ...(options.signal && { signal: options.signal }) });
      quantizeSeconds = (performance.now() - started) / 1000;
    }
    options.onProgress?.(name, "bench");
    const benchStarted = performance.now();
    const speed = await measureSpeed(path, {
      prompt: recipe.bench.prompt,
      generate: recipe.bench.generate,
      repetitions: recipe.bench.repetitions,
      ...(recipe.bench.threads === undefined ? {} : { threads: recipe.bench.threads }),
      ...(options.signal && { signal: options.signal }),
    });
    const benchSeconds = (performance.now() - benchStarted) / 1000;
    options.onProgress?.(name, name === "source" ? "baseline" : "eval");
    const quality = await evaluateModel(path, {
      context: recipe.eval.context,
      ...(name === "source" ? { text, saveBaseline: baselinePath } : { baseline: baselinePath }),
      ...(recipe.eval.chunks === undefined ? {} : { maxChunks: recipe.eval.chunks }),
      ...(recipe.bench.threads === undefined ? {} : { threads: recipe.bench.threads }),
      ...(options.signal && { signal: options.signal }),
      onProgress: (step) => options.onProgress?.(name, name === "source" ? "baseline" : "eval", `chunk ${step.chunksDone}/${step.chunks}`),
    });
    const rate = (kind: "pp" | "tg") => {
      const test = speed.tests.find((entry) => entry.kind === kind);
      return test === undefined ? null : meanAndDeviation(samplesPerSecond(test));
    };
    const divergence = quality.divergence;
    variants.push({
      name,
      path,
      sizeBytes: statSync(path).size,
      bitsPerWeight: (speed.model.sizeBytes * 8) / speed.model.parameterCount,
      promptTokensPerSecond: rate("pp")?.mean ?? null,
      generationTokensPerSecond: rate("tg")?.mean ?? null,
      generationDeviation: rate("tg")?.deviation ?? null,
      perplexity: quality.perplexity,
      kld: divergence?.kld.mean ?? 0,
      kldP99: divergence?.kld.p99 ?? 0,
      sameTopP: divergence?.sameTopP ?? 1,
      pplRatio: divergence?.pplRatio ?? 1,
      rmsDeltaP: divergence?.rmsDeltaP ?? 0,
      seconds: { quantize: quantizeSeconds, bench: benchSeconds, eval: quality.seconds },
    });
    publish(false);
  }
  return publish(true);
}
