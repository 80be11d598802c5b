import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type GgufHeader, GgufMetadata, readGgufHeader, str, u32 } from "../gguf/index.js";
import { QUANT_PRESETS, quantizeFile } from "../quant/index.js";
import { synthesizeModel } from "../synth/index.js";
import { acceleratorCopyBytes, attentionShapeOf, footprint, kvCacheBytes, weightsBytes } from "./footprint.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-fit-"));
const sources: string[] = [];

before(async () => {
  // The default shape (rows of 64: K-quants fall back) and one whose rows take every block size.
  sources.push(join(directory, "small.gguf"), join(directory, "wide.gguf"));
  await synthesizeModel({ architecture: "llama", type: "F32", seed: 91, output: sources[0]! });
  await synthesizeModel({ architecture: "qwen3", type: "F16", seed: 92, output: sources[1]!, shape: { layers: 2, width: 256, feedForward: 512, heads: 4, kvHeads: 2, headDim: 64 } });
});

after(() => rmSync(directory, { recursive: true, force: true }));

describe("footprint", () => {
  it("gives the weights of every type to the byte of the file slmkit quantize writes", async () => {
    for (const source of sources) {
      const header = readGgufHeader(source);
      for (const preset of QUANT_PRESETS) {
        const output = join(directory, `out-${preset.name}.gguf`);
        await quantizeFile(source, output, { preset: preset.name, threads: 1 });
        const written = readGgufHeader(output).tensors.reduce((sum, tensor) => sum + tensor.byteSize, 0);
        assert.equal(weightsBytes(header, preset.name), written, `${source} → ${preset.name}`);
      }
      assert.equal(weightsBytes(header), header.tensors.reduce((sum, tensor) => sum + tensor.byteSize, 0));
    }
  });

  it("counts the KV cache per layer, KV head, K and V width, and cache type", () => {
    const shape = attentionShapeOf(readGgufHeader(sources[1]!));
    assert.deepEqual({ layers: shape.layers, kvHeads: shape.kvHeads, keyWidth: shape.keyWidth, valueWidth: shape.valueWidth }, { layers: 2, kvHeads: 2, keyWidth: 64, valueWidth: 64 });
    assert.equal(kvCacheBytes(shape, 4096, "f16"), 2 * 2 * (64 + 64) * 4096 * 2);
    assert.equal(kvCacheBytes(shape, 4096, "q8_0"), (2 * 2 * 128 * 4096 * 34) / 32);
    assert.equal(kvCacheBytes(shape, 4096, "q4_0"), (2 * 2 * 128 * 4096 * 18) / 32);
    const total = footprint(shape, { weightsBytes: 1000, contextTokens: 2048, acceleratorCopyBytes: 500 });
    assert.equal(total.totalBytes, total.weightsBytes + total.acceleratorCopyBytes + total.kvCacheBytes + total.computeBytes + total.runtimeBytes);
  });

  it("gives sliding-window layers (Gemma 3) a cache of the window plus a micro-batch, and pads the context to 256 cells", () => {
    const dense = { layers: 12, kvHeads: 4, keyWidth: 256, valueWidth: 256, embeddingWidth: 2560, feedForwardWidth: 10240, vocabularySize: 1000 };
    const perCell = 4 * 512 * 2; // KV heads × (K + V width) × f16
    assert.equal(kvCacheBytes(dense, 1000), 12 * 1024 * perCell, "1000 tokens take 1024 cells");
    const gemma = { ...dense, slidingWindow: 1024, slidingPattern: 6 };
    // Layers 5 and 11 are global (8192 cells), the other ten local (1024 + 512 → 1536 cells).
    assert.equal(kvCacheBytes(gemma, 8192), (2 * 8192 + 10 * 1536) * perCell);
    // A context shorter than the window: every layer holds the context.
    assert.equal(kvCacheBytes(gemma, 1024), 12 * 1024 * perCell);
    const metadata = new GgufMetadata([
      ["general.architecture", str("gemma3")],
      ["gemma3.block_count", u32(34)],
      ["gemma3.embedding_length", u32(2560)],
      ["gemma3.attention.head_count", u32(8)],
      ["gemma3.attention.head_count_kv", u32(4)],
      ["gemma3.attention.key_length", u32(256)],
      ["gemma3.attention.value_length", u32(256)],
      ["gemma3.attention.sliding_window", u32(1024)],
    ]);
    const shape = attentionShapeOf({ metadata, tensors: [] } as unknown as GgufHeader);
    assert.deepEqual([shape.slidingWindow, shape.slidingPattern, shape.layers], [1024, 6, 34]);
  });

  it("counts the compute buffer a run touches by its largest prompt batch, and reports what is reserved", () => {
    const shape = attentionShapeOf(readGgufHeader(sources[1]!));
    const short = footprint(shape, { weightsBytes: 0, contextTokens: 2048, batchTokens: 5 });
    const full = footprint(shape, { weightsBytes: 0, contextTokens: 2048 });
    assert.equal(full.computeBytes - short.computeBytes, (512 - 5) * (shape.feedForwardWidth + shape.embeddingWidth) * 12);
    assert.equal(full.computeReservedBytes, short.computeReservedBytes);
    assert.ok(full.computeReservedBytes > full.computeBytes, "the reserved logits of a micro-batch are never all written");
    // A batch larger than the micro-batch or the context is evaluated in pieces of at most that.
    assert.equal(footprint(shape, { weightsBytes: 0, contextTokens: 64, batchTokens: 4096 }).computeBytes, 64 * (shape.feedForwardWidth + shape.embeddingWidth) * 12 + shape.vocabularySize * 4);
  });

  it("counts an AMX copy only on CPUs with AMX, and only of the types its kernels take", () => {
    const header = readGgufHeader(sources[1]!); // F16
    assert.equal(acceleratorCopyBytes(header, ["avx2", "avx512f"]), 0);
    const twoDimensional = header.tensors.filter((tensor) => tensor.shape.length >= 2).reduce((sum, tensor) => sum + tensor.byteSize, 0);
    assert.equal(acceleratorCopyBytes(header, ["amx_int8"]), twoDimensional);
    // Q5_1 has no AMX kernel: only the tensors the mixture gives other types (the output's Q6_K) are copied.
    assert.ok(acceleratorCopyBytes(header, ["amx_int8"], "Q5_1") < 0.5 * weightsBytes(header, "Q5_1"));
  });
});
