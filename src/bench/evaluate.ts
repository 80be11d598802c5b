/**
 * Perplexity and KL-divergence of a model over a text, computed the way llama-perplexity does: the text
 * tokenized once with BOS, cut into chunks of `context` tokens, each chunk decoded from an empty cache
 * with its first token replaced by BOS, and the second half of each chunk scored. Several chunks go
 * through one decode as separate sequences when the batch holds them (llama-perplexity's n_seq).
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { type BatchRow, NativeModel } from "../engine/index.js";
import { BenchError } from "./errors.js";
import { LogProbsReader, LogProbsWriter, compressRow, rowWords, scoredPerChunk } from "./log-probs.js";
import { DivergenceAccumulator, type DivergenceResult, PerplexityAccumulator, type PerplexityResult } from "./quality-stats.js";

export interface EvaluateOptions {
  /** Tokens per chunk (llama-perplexity's -c). */
  readonly context: number;
  /** The text to score. Not needed when `baseline` is given: its file holds the tokens. */
  readonly text?: string;
  /** Tokens per decode call (-b); chunks are packed as sequences up to this. Default 2048. */
  readonly batchSize?: number;
  readonly threads?: number;
  /** Score at most this many chunks. */
  readonly maxChunks?: number;
  /** Write this model's compressed log-probabilities here, for later KL-divergence runs. */
  readonly saveBaseline?: string;
  /** Compare against a baseline file (from saveBaseline or llama-perplexity --kl-divergence-base). */
  readonly baseline?: string;
  readonly onProgress?: (progress: EvaluateProgress) => void;
  readonly signal?: AbortSignal;
}

export interface EvaluateProgress {
  readonly chunksDone: number;
  readonly chunks: number;
  readonly perplexity: number;
  readonly elapsedMs: number;
}

export interface EvaluateResult extends PerplexityResult {
  readonly context: number;
  readonly chunks: number;
  /** Tokens the text made (BOS included), of which chunks × context were used. */
  readonly textTokens: number;
  readonly seconds: number;
  /** Present when a baseline was given. */
  readonly divergence?: DivergenceResult;
}

export async function evaluateModel(modelPath: string, options: EvaluateOptions): Promise<EvaluateResult> {
  const context = options.context;
  if (!Number.isInteger(context) || context < 8) throw new BenchError(`the context must be an integer of at least 8 tokens, not ${context}`);
  const baseline = options.baseline === undefined ? undefined : new LogProbsReader(options.baseline);
  const batchLimit = options.batchSize ?? 2048;
  const sequences = Math.max(1, Math.floor(batchLimit / context));
  const model = NativeModel.open(modelPath, {
    contextSize: sequences * context,
    batchSize: Math.min(batchLimit, sequences * context),
    sequences,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  });
  let writer: LogProbsWriter | undefined;
  try {
    const vocabulary = model.description.vocabularySize;
    const tokens = baseline?.header.tokens ?? tokenizeText(model, options.text);
    if (baseline !== undefined) checkBaseline(baseline, context, vocabulary);
    const available = Math.floor(tokens.length / context);
    if (available < 1 || tokens.length < 2 * context) {
      throw new BenchError(`the text makes ${tokens.length} tokens; a context of ${context} needs at least ${2 * context} — use a longer text or a smaller --ctx`);
    }
    const chunks = Math.min(available, options.maxChunks ?? Infinity, baseline?.header.chunks ?? Infinity);
    if (options.saveBaseline !== undefined) writer = new LogProbsWriter(options.saveBaseline, { context, vocabulary, chunks, tokens });

    const perplexity = new PerplexityAccumulator();
    const divergence = baseline === undefined ? undefined : new DivergenceAccumulator();
    const first = Math.floor(context / 2);
    const scored = scoredPerChunk(context);
    const words = rowWords(vocabulary);
    const compressed = writer === undefined ? undefined : new Uint16Array(scored * words);
    const started = performance.now();
    for (let chunk = 0; chunk < chunks; chunk += sequences) {
      if (options.signal?.aborted) throw options.signal.reason instanceof Error ? options.signal.reason : new BenchError("evaluation interrupted");
      const group = Math.min(sequences, chunks - chunk);
      const outputs = decodeChunks(model, tokens, chunk, group, context, first);
      for (let sequence = 0; sequence < group; sequence++) {
        const start = (chunk + sequence) * context;
        const baselineRows = baseline?.readChunk(chunk + sequence);
        for (let index = 0; index < scored; index++) {
          const logits = outputs(sequence * (context - first) + index);
          const next = tokens[start + first + index + 1]!;
          if (divergence !== undefined && baselineRows !== undefined) divergence.add(logits, baselineRows.subarray(index * words, (index + 1) * words), next);
          else perplexity.add(logits, next);
          if (compressed !== undefined) compressRow(logits, compressed.subarray(index * words, (index + 1) * words));
        }
        if (compressed !== undefined) writer?.writeChunk(compressed);
      }
      const running = divergence?.result().perplexity ?? perplexity.result().perplexity;
      options.onProgress?.({ chunksDone: chunk + group, chunks, perplexity: running, elapsedMs: performance.now() - started });
      await nextTurn();
    }
    writer?.close();
    writer = undefined;
    const divergenceResult = divergence?.result();
    const textResult = divergenceResult ?? perplexity.result();
    return {
      perplexity: textResult.perplexity,
      perplexityUncertainty: textResult.perplexityUncertainty,
      tokens: textResult.tokens,
      context,
      chunks,
      textTokens: tokens.length,
      seconds: (performance.now() - started) / 1000,
      ...(divergenceResult === undefined ? {} : { divergence: divergenceResult }),
    };
  } finally {
    if (writer !== undefined) {
      try {
        writer.close();
      } catch {
        // An interrupted baseline is incomplete; the error that interrupted it is the one to report.
      }
    }
    baseline?.close();
    model.close();
  }
}

function tokenizeText(model: NativeModel, text: string | undefined): Int32Array {
  if (text === undefined) throw new BenchError("give a text to evaluate (--text) or a baseline file that holds its tokens");
  if (model.description.addsBos === false && text.length === 0) throw new BenchError("the text is empty");
  return model.tokenize(text, true);
}

function checkBaseline(baseline: LogProbsReader, context: number, vocabulary: number): void {
  const header = baseline.header;
  if (header.context !== context) {
    throw new BenchError(`${baseline.path} was made with a context of ${header.context}, not ${context}; use --ctx ${header.context}`);
  }
  if (header.vocabulary !== vocabulary) {
    throw new BenchError(`${baseline.path} has a vocabulary of ${header.vocabulary} tokens and the model ${vocabulary}: they are not the same model family`);
  }
}

/**
 * Decodes `group` chunks starting at chunk `first chunk` as sequences 0…group−1, and returns a reader
 * of output rows (sequence × (context − first) + offset). When a chunk is longer than a batch, its
 * outputs are copied out between decodes.
 */
function decodeChunks(model: NativeModel, tokens: Int32Array, chunk: number, group: number, context: number, first: number): (output: number) => Float32Array {
  model.clear();
  const bos = model.description.addsBos ? model.description.bosToken : undefined;
  const batches = Math.ceil(context / model.batchSize);
  if (batches === 1) {
    const rows: BatchRow[] = [];
    for (let sequence = 0; sequence < group; sequence++) {
      const start = (chunk + sequence) * context;
      for (let position = 0; position < context; position++) {
        const token = position === 0 && bos !== undefined ? bos : tokens[start + position]!;
        rows.push({ token, position, sequence, output: position >= first });
      }
    }
    model.decode(rows);
    return (output) => model.logitsOf(output);
  }
  // One chunk spans several decodes (context > batch): only one sequence per group then.
  const vocabulary = model.description.vocabularySize;
  const kept = new Float32Array((context - first) * vocabulary);
  let keptRows = 0;
  const start = chunk * context;
  const chunkTokens = tokens.slice(start, start + context);
  if (bos !== undefined) chunkTokens[0] = bos;
  for (let offset = 0; offset < context; offset += model.batchSize) {
    const piece = chunkTokens.subarray(offset, Math.min(context, offset + model.batchSize));
    model.decodeRun(piece, offset, 0, first);
    const produced = Math.max(0, offset + piece.length - Math.max(first, offset));
    for (let output = 0; output < produced; output++) kept.set(model.logitsOf(output), (keptRows + output) * vocabulary);
    keptRows += produced;
  }
  return (output) => kept.subarray(output * vocabulary, (output + 1) * vocabulary);
}
