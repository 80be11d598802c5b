import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { synthesizeModel } from "../../synth/index.js";
import { NativeModel, type NativeModelOptions } from "./native-model.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-native-model-"));
const path = join(directory, "vocabulary-32k.gguf");
const VOCABULARY = 32768;

before(async () => {
  // A real-sized vocabulary makes the logits the bulk of llama.cpp's compute buffer, as in real models.
  await synthesizeModel({ architecture: "llama", type: "F16", seed: 21, vocabularySize: VOCABULARY, output: path });
});
after(() => rmSync(directory, { recursive: true, force: true }));

const OPTIONS: NativeModelOptions = { contextSize: 1024, sequences: 2, threads: 1 };

/** The process's virtual memory: llama.cpp's buffers are mapped at once, touched or not. */
function virtualBytes(): number {
  return Number(/VmSize:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
}

function mappedByOpen(options: NativeModelOptions): number {
  const before = virtualBytes();
  const model = NativeModel.open(path, options);
  const mapped = virtualBytes() - before;
  model.close();
  return mapped;
}

test("outputRows shrinks the compute buffer llama.cpp reserves by the logits rows it leaves out", { skip: !existsSync("/proc/self/status") && "needs /proc" }, () => {
  NativeModel.open(path, OPTIONS).close(); // the library and its CPU backend load on the first open
  const full = mappedByOpen(OPTIONS);
  const two = mappedByOpen({ ...OPTIONS, outputRows: 2 });
  // Reserved by default: a micro-batch (512) of logits rows, with their activations; with outputRows 2, two.
  const expected = (512 - 2) * VOCABULARY * 4;
  assert.ok(full - two > 0.8 * expected && full - two < 2 * expected, `default maps ${full} bytes, outputRows 2 maps ${two}; expected ${expected} less`);
});

test("with outputRows, the rows of logits asked for match the default context's, and more are refused, not an abort", () => {
  const reference = NativeModel.open(path, OPTIONS);
  const tokens = reference.tokenize("Once upon a time there was a little dog who liked to run in the park with his friends.");
  assert.ok(tokens.length > 8, `${tokens.length} tokens`);
  /** Logits of the last `rows` prompt tokens, decoded in one batch. */
  const lastRows = (model: NativeModel, rows: number): Float32Array[] => {
    model.clear();
    model.decodeRun(tokens, 0, 0, tokens.length - rows);
    return Array.from({ length: rows }, (_, row) => model.logitsOf(row).slice());
  };
  const expected = lastRows(reference, 2);
  reference.close();

  const narrow = NativeModel.open(path, { ...OPTIONS, outputRows: 2 });
  try {
    assert.equal(narrow.outputRows, 2);
    assert.deepEqual(lastRows(narrow, 2), expected);
    assert.throws(() => lastRows(narrow, 3), (error: Error & { code?: string }) => error.code === "BAD_OPTION" && /3 rows of logits.*2/.test(error.message));
    assert.deepEqual(lastRows(narrow, 2), expected, "the model still decodes after a refused batch");
  } finally {
    narrow.close();
  }
  // Never fewer rows than sequences: each generating sequence needs its row every step.
  const atLeast = NativeModel.open(path, { ...OPTIONS, outputRows: 1 });
  assert.equal(atLeast.outputRows, OPTIONS.sequences);
  atLeast.close();
});
