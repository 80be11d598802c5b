import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readGgufHeader, summarizeModel } from "../gguf/index.js";
import { dequantizeElements, quantTypeByName } from "../quant/index.js";
import { SynthError, synthesizeModel } from "./synthesize.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-synth-"));
after(() => rmSync(directory, { recursive: true, force: true }));

describe("synth", () => {
  it("is deterministic by seed", async () => {
    const write = (name: string, seed: number) => synthesizeModel({ architecture: "llama", output: join(directory, name), seed, type: "F16" });
    await write("a.gguf", 1);
    await write("b.gguf", 1);
    await write("c.gguf", 2);
    const [a, b, c] = ["a.gguf", "b.gguf", "c.gguf"].map((name) => readFileSync(join(directory, name)));
    assert.ok(a!.equals(b!));
    assert.ok(!a!.equals(c!));
  });

  it("writes the tensors of the architecture, norms in F32 and matrices in the chosen type", async () => {
    const path = join(directory, "qwen.gguf");
    await synthesizeModel({ architecture: "qwen3", output: path, shape: { layers: 3 }, type: "BF16", vocabularySize: 1000 });
    const header = readGgufHeader(path);
    const names = header.tensors.map((t) => t.name);
    assert.equal(names.filter((name) => name.startsWith("blk.2.")).length, 11);
    assert.ok(names.includes("blk.0.attn_q_norm.weight"));
    assert.ok(!names.includes("output.weight"), "qwen3 ties the output to the embedding by default");
    assert.equal(header.tensors.find((t) => t.name === "blk.0.attn_norm.weight")!.type.name, "F32");
    assert.equal(header.tensors.find((t) => t.name === "blk.0.ffn_up.weight")!.type.name, "BF16");
    const summary = summarizeModel(header);
    assert.equal(summary.vocabularySize, 1000);
    assert.equal(summary.fileType, "MOSTLY_BF16");
    assert.equal(header.metadata.string("tokenizer.ggml.model"), "gpt2");
  });

  it("writes tiled matrices of a quantized type (for timing probes), valid blocks of the planned size", async () => {
    const output = join(directory, "tiled.gguf");
    const { header } = await synthesizeModel({ architecture: "gemma3", tiledMatrixType: "Q4_K", output, shape: { layers: 2, width: 256, feedForward: 512, heads: 2, kvHeads: 1, headDim: 128 } });
    const read = readGgufHeader(output);
    assert.deepEqual(read.tensors.map((tensor) => tensor.type.name), header.tensors.map((tensor) => (tensor.shape.length === 1 ? "F32" : "Q4_K")));
    assert.ok(read.tensors.some((tensor) => tensor.name === "blk.1.post_ffw_norm.weight"), "Gemma 3's extra norms");
    const ffn = read.tensors.find((tensor) => tensor.name === "blk.0.ffn_up.weight")!;
    const bytes = readFileSync(output).subarray(read.dataOffset + ffn.offset, read.dataOffset + ffn.offset + ffn.byteSize);
    const blocks = dequantizeElements(quantTypeByName("Q4_K")!, bytes, 256 * 512);
    assert.ok(blocks.every((value) => Number.isFinite(value)) && blocks.some((value) => value !== 0), "real blocks, not zeros or garbage");
    await assert.rejects(synthesizeModel({ architecture: "llama", tiledMatrixType: "IQ4_XS", output }), /no quantizer for IQ4_XS/);
  });

  it("refuses impossible shapes with a message that says what to change", async () => {
    await assert.rejects(synthesizeModel({ architecture: "llama", output: join(directory, "x.gguf"), shape: { heads: 6, kvHeads: 4 } }), SynthError);
    await assert.rejects(synthesizeModel({ architecture: "mamba", output: join(directory, "x.gguf") }), /choose one of: llama, qwen3/);
    await assert.rejects(synthesizeModel({ architecture: "llama", output: join(directory, "x.gguf"), vocabularySize: 10 }), /too small/);
  });
});
