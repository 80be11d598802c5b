import assert from "node:assert/strict";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LogProbsReader, LogProbsWriter, compressRow, rowWords, scoredPerChunk, storedLogProb, summarizeRow } from "./log-probs.js";

function randomLogits(vocabulary: number, seed: number): Float32Array {
  let state = seed;
  const logits = new Float32Array(vocabulary);
  for (let index = 0; index < vocabulary; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    logits[index] = ((state / 2 ** 32) - 0.5) * 30;
  }
  return logits;
}

test("row layout: words and scored positions as llama-perplexity counts them", () => {
  assert.equal(rowWords(512), 516);
  assert.equal(rowWords(513), 518);
  assert.equal(scoredPerChunk(128), 63);
  assert.equal(scoredPerChunk(512), 255);
});

test("a compressed row gives back each log-probability within half a step, and exactly -16 nats floors", () => {
  const logits = randomLogits(1000, 7);
  const row = new Uint16Array(rowWords(1000));
  const summary = compressRow(logits, row);
  const scale = new Float32Array(row.buffer, 0, 2)[0]!;
  assert.ok(scale > 0 && scale <= 16 / 65535 + 1e-9, `scale ${scale}`);
  for (let token = 0; token < logits.length; token++) {
    const truth = logits[token]! - summary.max - summary.logSumExp;
    if (truth < -16 - summary.logSumExp) continue;
    assert.ok(Math.abs(storedLogProb(row, token) - truth) <= scale / 2 + 1e-5, `token ${token}: ${storedLogProb(row, token)} vs ${truth}`);
  }
  assert.equal(summary.top, logits.indexOf(Math.max(...logits)));
});

test("a flat row (all logits equal) stores zero steps and the uniform log-probability", () => {
  const row = new Uint16Array(rowWords(4));
  compressRow(new Float32Array([2, 2, 2, 2]), row);
  assert.deepEqual([...row.subarray(4, 8)], [0, 0, 0, 0]);
  assert.ok(Math.abs(storedLogProb(row, 2) - Math.log(0.25)) < 1e-6);
});

test("summarizeRow: log-sum-exp of known values", () => {
  const summary = summarizeRow(new Float32Array([0, Math.log(3)]));
  assert.ok(Math.abs(summary.max + summary.logSumExp - Math.log(4)) < 1e-6);
  assert.equal(summary.top, 1);
});

test("writer and reader round-trip a file; a short or foreign file is refused with what to do", () => {
  const directory = mkdtempSync(join(tmpdir(), "slmkit-logprobs-"));
  try {
    const path = join(directory, "base.logits");
    const context = 16;
    const vocabulary = 5;
    const tokens = Int32Array.from({ length: 2 * context + 3 }, (_, index) => index % vocabulary);
    const writer = new LogProbsWriter(path, { context, vocabulary, chunks: 2, tokens });
    const chunkWords = scoredPerChunk(context) * rowWords(vocabulary);
    const chunks = [0, 1].map((chunk) => Uint16Array.from({ length: chunkWords }, (_, index) => (index * 7 + chunk) % 65536));
    writer.writeChunk(chunks[0]!);
    writer.writeChunk(chunks[1]!);
    writer.close();
    const reader = new LogProbsReader(path);
    assert.equal(reader.header.context, context);
    assert.equal(reader.header.vocabulary, vocabulary);
    assert.equal(reader.header.chunks, 2);
    assert.deepEqual([...reader.header.tokens], [...tokens.subarray(0, 2 * context)]);
    assert.deepEqual(reader.readChunk(1), chunks[1]);
    reader.close();

    truncateSync(path, 20 + 2 * context * 4 + chunkWords * 2 + 10);
    const short = new LogProbsReader(path);
    assert.throws(() => short.readChunk(1), /truncated/);
    short.close();

    const incomplete = new LogProbsWriter(join(directory, "half.logits"), { context, vocabulary, chunks: 2, tokens });
    incomplete.writeChunk(chunks[0]!);
    assert.throws(() => incomplete.close(), /1 of 2 chunks/);

    writeFileSync(join(directory, "other.bin"), "not a baseline at all");
    assert.throws(() => new LogProbsReader(join(directory, "other.bin")), /--save-baseline/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
