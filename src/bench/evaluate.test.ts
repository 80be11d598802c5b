import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { quantizeFile } from "../quant/index.js";
import { synthesizeModel } from "../synth/index.js";
import { BenchError } from "./errors.js";
import { EVALUATION_TEXT } from "./eval-text.js";
import { evaluateModel } from "./evaluate.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-evaluate-"));
const source = join(directory, "source-F32.gguf");
const variant = (type: string) => join(directory, `source-${type}.gguf`);
const baseline = join(directory, "baseline.logits");
const context = 64;
const chunks = 8;

before(async () => {
  await synthesizeModel({ architecture: "llama", type: "F32", seed: 5, output: source });
  for (const type of ["F16", "Q8_0", "Q4_0"]) await quantizeFile(source, variant(type), { preset: type, threads: 1 });
});
after(() => rmSync(directory, { recursive: true, force: true }));

test("perplexity does not depend on how chunks are packed into decodes", async () => {
  const options = { context, text: EVALUATION_TEXT, maxChunks: chunks, threads: 1 };
  const packed = await evaluateModel(source, { ...options, batchSize: 2048 });
  const single = await evaluateModel(source, { ...options, batchSize: context });
  const split = await evaluateModel(source, { ...options, batchSize: 16 });
  assert.equal(packed.chunks, chunks);
  assert.equal(packed.tokens, chunks * (context - 1 - context / 2));
  for (const other of [single, split]) {
    assert.equal(other.tokens, packed.tokens);
    assert.ok(Math.abs(other.perplexity / packed.perplexity - 1) < 1e-3, `${other.perplexity} vs ${packed.perplexity}`);
  }
});

test("KL-divergence from the F32 source grows as the weights get coarser: F16 < Q8_0 < Q4_0", async () => {
  const base = await evaluateModel(source, { context, text: EVALUATION_TEXT, maxChunks: chunks, saveBaseline: baseline, threads: 1 });
  const results = new Map<string, number>();
  for (const type of ["F16", "Q8_0", "Q4_0"]) {
    const result = await evaluateModel(variant(type), { context, baseline, threads: 1 });
    assert.ok(result.divergence !== undefined);
    assert.equal(result.chunks, chunks, "the chunks come from the baseline file");
    assert.ok(Math.abs(result.divergence.baselinePerplexity / base.perplexity - 1) < 1e-3, "the stored baseline gives back its perplexity");
    results.set(type, result.divergence.kld.mean);
  }
  const [f16, q8, q4] = ["F16", "Q8_0", "Q4_0"].map((type) => results.get(type)!);
  assert.ok(f16! < q8! && q8! < q4!, `KLD F16 ${f16}, Q8_0 ${q8}, Q4_0 ${q4}`);
  assert.ok(q4! > 10 * q8!, "Q4_0 loses an order of magnitude more than Q8_0");

  const itself = await evaluateModel(source, { context, baseline, threads: 1 });
  assert.ok(itself.divergence!.kld.mean < 1e-5, `the source against its own baseline: ${itself.divergence!.kld.mean}`);
  assert.equal(itself.divergence!.sameTopP, 1);
});

test("a text too short for two chunks, or a baseline of another context, is refused with what to do", async () => {
  await assert.rejects(evaluateModel(source, { context, text: "Once upon a time." }), (error: unknown) => error instanceof BenchError && /needs at least 128/.test(error.message));
  await assert.rejects(evaluateModel(variant("Q8_0"), { context: 32, baseline }), /use --ctx 64/);
});

test("an aborted evaluation stops between chunks", async () => {
  const controller = new AbortController();
  await assert.rejects(
    evaluateModel(source, { context, text: EVALUATION_TEXT, signal: controller.signal, batchSize: context, onProgress: () => controller.abort(new Error("stop here")) }),
    /stop here/,
  );
});
