import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferByteSource } from "./byte-source.js";
import { GgufError } from "./errors.js";
import { GgufMetadata, float32s, int32s, str, strings, u32 } from "./metadata.js";
import { parseGgufHeader } from "./reader.js";
import { tensorTypeByName } from "./tensor-types.js";
import { layoutGguf } from "./writer.js";

const ITERATIONS = 600;
const SEED = 20261126;

/** mulberry32: a tiny seeded generator, so every run mutates the same way. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function validFile(): Uint8Array {
  const vocabulary = Array.from({ length: 40 }, (_, i) => `tok${i}`);
  const metadata = new GgufMetadata([
    ["general.architecture", str("llama")],
    ["general.name", str("fuzz target")],
    ["llama.block_count", u32(1)],
    ["tokenizer.ggml.tokens", strings(vocabulary)],
    ["tokenizer.ggml.scores", float32s(vocabulary.map((_, i) => -i))],
    ["tokenizer.ggml.token_type", int32s(vocabulary.map(() => 1))],
    ["nested", { type: "array", itemType: "array", values: [{ type: "array", itemType: "uint16", values: Uint16Array.of(1, 2) }] }],
  ]);
  const types = ["F32", "F16", "Q4_0", "Q8_0", "Q4_K"].map((name) => tensorTypeByName(name)!);
  const tensors = types.map((type, i) => ({ name: `blk.0.t${i}`, type, shape: [256, 2], data: new Uint8Array(0) }));
  const { header, headerBytes } = layoutGguf({ metadata, tensors });
  const file = new Uint8Array(header.fileSize);
  file.set(headerBytes);
  return file;
}

const EXTREMES = [0n, 1n, 0xffffffffn, 1n << 32n, 1n << 53n, 1n << 63n, (1n << 64n) - 1n];

function mutate(original: Uint8Array, next: () => number): Uint8Array {
  let bytes: Uint8Array = Uint8Array.from(original);
  // Most interesting bytes are in the header: aim most mutations there.
  const headerEnd = Math.min(bytes.length, 1600);
  const at = (limit: number): number => Math.floor(next() * limit);
  const mutations = 1 + at(4);
  for (let m = 0; m < mutations; m++) {
    const kind = at(6);
    const position = next() < 0.9 ? at(headerEnd) : at(bytes.length);
    if (kind === 0) bytes[position] = bytes[position]! ^ (1 << at(8));
    else if (kind === 1) bytes[position] = at(256);
    else if (kind === 2 && position + 8 <= bytes.length) {
      Buffer.from(bytes.buffer, bytes.byteOffset).writeBigUInt64LE(EXTREMES[at(EXTREMES.length)]!, position);
    } else if (kind === 3) bytes = bytes.subarray(0, position);
    else if (kind === 4) {
      const insert = Uint8Array.from({ length: 1 + at(16) }, () => at(256));
      bytes = Uint8Array.from([...bytes.subarray(0, position), ...insert, ...bytes.subarray(position)]);
    } else {
      const length = 1 + at(32);
      bytes = Uint8Array.from([...bytes.subarray(0, position), ...bytes.subarray(position + length)]);
    }
  }
  return bytes;
}

describe("GGUF parser fuzzing", () => {
  it(`survives ${ITERATIONS} seeded random mutations of a valid file: a result or a GgufError, never anything else`, () => {
    const original = validFile();
    assert.doesNotThrow(() => parseGgufHeader(new BufferByteSource(original)));
    const next = random(SEED);
    const outcomes = new Map<string, number>();
    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      const bytes = mutate(original, next);
      const started = performance.now();
      let outcome = "parsed";
      try {
        const header = parseGgufHeader(new BufferByteSource(bytes, `mutant #${iteration}`));
        for (const tensor of header.tensors) {
          assert.ok(header.dataOffset + tensor.offset + tensor.byteSize <= bytes.length, `mutant #${iteration}: tensor data inside the file`);
        }
      } catch (error) {
        if (!(error instanceof GgufError)) assert.fail(`mutant #${iteration} threw a non-GGUF error: ${(error as Error)?.stack ?? String(error)}`);
        assert.ok(!error.message.includes("\n"), `mutant #${iteration}: one-line message`);
        outcome = error.code;
      }
      assert.ok(performance.now() - started < 1000, `mutant #${iteration} took too long`);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    // The mutations must exercise more than one kind of failure, or the fuzzer is not reaching much.
    assert.ok(outcomes.size >= 6, `outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  });
});
