import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readGgufHeader, summarizeModel } from "../gguf/index.js";
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

  it("refuses impossible shapes with a message that says what to change", async () => {
    await assert.rejects(synthesizeModel({ architecture: "llama", output: join(directory, "x.gguf"), shape: { heads: 6, kvHeads: 4 } }), SynthError);
    await assert.rejects(synthesizeModel({ architecture: "mamba", output: join(directory, "x.gguf") }), /choose one of: llama, qwen3/);
    await assert.rejects(synthesizeModel({ architecture: "llama", output: join(directory, "x.gguf"), vocabularySize: 10 }), /too small/);
  });
});
