/**
 * Prompt-processing and generation speed measured the way llama-bench measures it: random tokens
 * (BOS first when the model adds one), prompt decoded in batches of n_batch, generation one token per
 * decode with no sampling, an unmeasured warm-up, the cache cleared before every repetition, and
 * only the last row of each decode asking for logits.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { type ModelDescription, NativeModel } from "../engine/index.js";
import { BenchError } from "./errors.js";

export interface SpeedOptions {
  /** Prompt tokens per pp test (llama-bench -p); 0 skips it. Default 512. */
  readonly prompt?: number;
  /** Generated tokens per tg test (-n); 0 skips it. Default 128. */
  readonly generate?: number;
  readonly threads?: number;
  /** Repetitions of each test (-r). Default 5. */
  readonly repetitions?: number;
  /** Logical batch (-b). Default 2048. */
  readonly batchSize?: number;
  /** Physical micro-batch (-ub). Default 512. */
  readonly microBatchSize?: number;
  /** Context cells; default prompt + generate, as llama-bench sizes it. */
  readonly contextSize?: number;
  readonly warmup?: boolean;
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
}

export type SpeedTestKind = "pp" | "tg";

export interface SpeedTest {
  readonly kind: SpeedTestKind;
  readonly prompt: number;
  readonly generate: number;
  /** Wall time of each repetition, nanoseconds. */
  readonly samplesNs: readonly number[];
}

export interface SpeedResult {
  readonly path: string;
  readonly model: ModelDescription;
  readonly threads: number;
  readonly batchSize: number;
  readonly microBatchSize: number;
  readonly contextSize: number;
  /** Opening the model and making its context, milliseconds. */
  readonly loadMs: number;
  /** Peak resident memory of this process by the end of the run, bytes. */
  readonly peakRssBytes: number;
  readonly startedAt: Date;
  readonly tests: readonly SpeedTest[];
}

/** Tokens per second of each sample of a test. */
export function samplesPerSecond(test: SpeedTest): number[] {
  const tokens = test.prompt + test.generate;
  return test.samplesNs.map((nanoseconds) => (tokens * 1e9) / nanoseconds);
}

export function meanAndDeviation(values: readonly number[]): { mean: number; deviation: number } {
  if (values.length === 0) return { mean: NaN, deviation: NaN };
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  if (values.length < 2) return { mean, deviation: 0 };
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1);
  return { mean, deviation: Math.sqrt(variance) };
}

/** A small deterministic generator, so two runs decode the same "random" tokens. */
function tokenStream(vocabulary: number, seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % vocabulary;
  };
}

export async function measureSpeed(path: string, options: SpeedOptions = {}): Promise<SpeedResult> {
  const prompt = options.prompt ?? 512;
  const generate = options.generate ?? 128;
  const repetitions = options.repetitions ?? 5;
  if (prompt < 0 || generate < 0 || prompt + generate === 0) throw new BenchError("give a prompt size (-p) or a generation length (-n) above 0");
  if (!Number.isInteger(repetitions) || repetitions < 1) throw new BenchError(`repetitions must be a whole number of at least 1, not ${repetitions}`);
  const batchSize = options.batchSize ?? 2048;
  const microBatchSize = options.microBatchSize ?? 512;
  const contextSize = options.contextSize ?? prompt + generate;
  const startedAt = new Date();
  const loadStart = performance.now();
  const model = NativeModel.open(path, {
    contextSize,
    batchSize,
    microBatchSize,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  });
  const loadMs = performance.now() - loadStart;
  try {
    const vocabulary = model.description.vocabularySize;
    const next = tokenStream(vocabulary, 0x5eed);
    const first = () => (model.description.addsBos ? model.description.bosToken : next());
    const batch = new Int32Array(model.batchSize);
    const runPrompt = (): void => {
      for (let done = 0; done < prompt; done += model.batchSize) {
        const count = Math.min(model.batchSize, prompt - done);
        const rows = batch.subarray(0, count);
        for (let index = 0; index < count; index++) rows[index] = done === 0 && index === 0 ? first() : next();
        model.decodeRun(rows, done, 0, done + count - 1);
      }
      model.synchronize();
    };
    const one = new Int32Array(1);
    const runGeneration = (tokens: number): void => {
      one[0] = first();
      for (let position = 0; position < tokens; position++) {
        model.decodeRun(one, position, 0, position);
        model.synchronize();
        one[0] = next();
      }
    };
    const plans: Array<{ kind: SpeedTestKind; run: () => void }> = [];
    if (prompt > 0) plans.push({ kind: "pp", run: runPrompt });
    if (generate > 0) plans.push({ kind: "tg", run: () => runGeneration(generate) });

    const tests: SpeedTest[] = [];
    for (const plan of plans) {
      const label = plan.kind === "pp" ? `pp${prompt}` : `tg${generate}`;
      if (options.warmup !== false) {
        options.onProgress?.(`${label}: warm-up`);
        model.clear();
        if (plan.kind === "pp") runPrompt();
        else runGeneration(1);
      }
      const samplesNs: number[] = [];
      for (let repetition = 0; repetition < repetitions; repetition++) {
        if (options.signal?.aborted) throw options.signal.reason instanceof Error ? options.signal.reason : new Error("interrupted");
        options.onProgress?.(`${label}: run ${repetition + 1}/${repetitions}`);
        model.clear();
        const start = process.hrtime.bigint();
        plan.run();
        samplesNs.push(Number(process.hrtime.bigint() - start));
        await nextTurn();
      }
      tests.push({ kind: plan.kind, prompt: plan.kind === "pp" ? prompt : 0, generate: plan.kind === "tg" ? generate : 0, samplesNs });
    }
    return {
      path,
      model: model.description,
      threads: options.threads ?? model.threads,
      // As asked, as llama-bench reports them (llama.cpp caps both at the context size).
      batchSize,
      microBatchSize,
      contextSize: model.contextSize,
      loadMs,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      startedAt,
      tests,
    };
  } finally {
    model.close();
  }
}
