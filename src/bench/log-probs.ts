/**
 * Compressed next-token log-probabilities, the form llama-perplexity keeps a baseline in
 * (`--kl-divergence-base`): per scored position, 16-bit steps between the row's largest logit and
 * 16 nats below it, plus the scale and the log-probability of step 0. A file written here is read by
 * `llama-perplexity --kl-divergence` and the other way round, so baselines can be shared between tools.
 *
 * File layout (little-endian): "_logits_", uint32 context, int32 vocabulary, int32 chunks,
 * int32 tokens[chunks × context], then per chunk (context − 1 − context/2) rows of `rowWords(vocabulary)`
 * uint16: [float32 scale, float32 minimum log-probability] followed by one step per token.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";

const MAGIC = "_logits_";
const HEADER_BYTES = 8 + 4 + 4 + 4;
/** Log-probabilities more than this far below the row's best are stored as the floor. */
const RANGE_NATS = 16;
const STEPS = 65535;

/** uint16 words per stored row: two float32 then the vocabulary, padded to an even count. */
export function rowWords(vocabulary: number): number {
  return 2 * Math.floor((vocabulary + 1) / 2) + 4;
}

/** Positions scored per chunk of `context` tokens: the second half, less the last (it has no next token). */
export function scoredPerChunk(context: number): number {
  return context - 1 - Math.floor(context / 2);
}

export interface RowSummary {
  /** Largest logit of the row. */
  readonly max: number;
  /** log Σ exp(logit − max), so log p(i) = logit(i) − max − logSumExp. */
  readonly logSumExp: number;
  /** Index of the largest logit (the first, on ties). */
  readonly top: number;
}

/** Max, log-sum-exp and arg-max of a logits row, in one pass for the max and one for the sum. */
export function summarizeRow(logits: Float32Array): RowSummary {
  let max = logits[0]!;
  let top = 0;
  for (let index = 1; index < logits.length; index++) {
    if (logits[index]! > max) {
      max = logits[index]!;
      top = index;
    }
  }
  let sum = 0;
  for (let index = 0; index < logits.length; index++) sum += Math.exp(logits[index]! - max);
  return { max, logSumExp: Math.log(sum), top };
}

/**
 * Writes the compressed log-probabilities of `logits` into `row` (rowWords long) and returns the row's
 * summary. Steps round to nearest; logits at or below the floor store step 0.
 */
export function compressRow(logits: Float32Array, row: Uint16Array): RowSummary {
  const summary = summarizeRow(logits);
  let min = logits[0]!;
  for (let index = 1; index < logits.length; index++) if (logits[index]! < min) min = logits[index]!;
  min = Math.fround(Math.max(min, summary.max - RANGE_NATS));
  const scale = Math.fround((summary.max - min) / STEPS);
  const header = new Float32Array(row.buffer, row.byteOffset, 2);
  header[0] = scale;
  header[1] = min - summary.max - summary.logSumExp;
  const steps = row.subarray(4);
  if (scale === 0) {
    steps.fill(0);
    return summary;
  }
  const inverse = 1 / scale;
  for (let index = 0; index < logits.length; index++) {
    const value = logits[index]!;
    steps[index] = value > min ? Math.round(inverse * (value - min)) : 0;
  }
  return summary;
}

/** The base log-probability of `token` stored in a compressed row. */
export function storedLogProb(row: Uint16Array, token: number): number {
  const header = new Float32Array(row.buffer, row.byteOffset, 2);
  return header[0]! * row[4 + token]! + header[1]!;
}

export interface LogProbsHeader {
  readonly context: number;
  readonly vocabulary: number;
  readonly chunks: number;
  /** The evaluated tokens, chunks × context (BOS not substituted). */
  readonly tokens: Int32Array;
}

/** Appends a baseline chunk by chunk; the header goes first, with the number of chunks to come. */
export class LogProbsWriter {
  private readonly descriptor: number;
  private chunksWritten = 0;

  constructor(
    readonly path: string,
    readonly header: LogProbsHeader,
  ) {
    this.descriptor = openSync(path, "w");
    const fixed = Buffer.alloc(HEADER_BYTES);
    fixed.write(MAGIC, 0, "latin1");
    fixed.writeUInt32LE(header.context, 8);
    fixed.writeInt32LE(header.vocabulary, 12);
    fixed.writeInt32LE(header.chunks, 16);
    writeSync(this.descriptor, fixed);
    const tokens = header.tokens.subarray(0, header.chunks * header.context);
    writeSync(this.descriptor, new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength));
  }

  /** Writes one chunk's rows (scoredPerChunk(context) × rowWords(vocabulary) words). */
  writeChunk(rows: Uint16Array): void {
    const expected = scoredPerChunk(this.header.context) * rowWords(this.header.vocabulary);
    if (rows.length !== expected) throw new Error(`a chunk has ${expected} words, not ${rows.length}`);
    writeSync(this.descriptor, new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    this.chunksWritten++;
  }

  close(): void {
    closeSync(this.descriptor);
    if (this.chunksWritten !== this.header.chunks) {
      throw new Error(`${this.path} was closed after ${this.chunksWritten} of ${this.header.chunks} chunks; it is incomplete`);
    }
  }
}

/** Reads a baseline written by LogProbsWriter or by llama-perplexity --kl-divergence-base. */
export class LogProbsReader {
  readonly header: LogProbsHeader;
  private readonly descriptor: number;
  private readonly chunkBytes: number;
  private readonly dataStart: number;

  constructor(readonly path: string) {
    this.descriptor = openSync(path, "r");
    const fixed = Buffer.alloc(HEADER_BYTES);
    if (readSync(this.descriptor, fixed, 0, HEADER_BYTES, 0) !== HEADER_BYTES || fixed.toString("latin1", 0, 8) !== MAGIC) {
      closeSync(this.descriptor);
      throw new Error(`${path} is not a baseline log-probability file (it should start with "${MAGIC}"; make one with --save-baseline)`);
    }
    const context = fixed.readUInt32LE(8);
    const vocabulary = fixed.readInt32LE(12);
    const chunks = fixed.readInt32LE(16);
    const tokens = new Int32Array(chunks * context);
    readSync(this.descriptor, new Uint8Array(tokens.buffer), 0, tokens.byteLength, HEADER_BYTES);
    this.header = { context, vocabulary, chunks, tokens };
    this.dataStart = HEADER_BYTES + tokens.byteLength;
    this.chunkBytes = scoredPerChunk(context) * rowWords(vocabulary) * 2;
  }

  /** The rows of chunk `index`; throws when the file ends early. */
  readChunk(index: number): Uint16Array {
    const rows = new Uint16Array(this.chunkBytes / 2);
    const read = readSync(this.descriptor, new Uint8Array(rows.buffer), 0, this.chunkBytes, this.dataStart + index * this.chunkBytes);
    if (read !== this.chunkBytes) throw new Error(`${this.path} ends inside chunk ${index + 1} of ${this.header.chunks}; it is truncated`);
    return rows;
  }

  close(): void {
    closeSync(this.descriptor);
  }
}
