/**
 * Bit-identity with llama.cpp beyond the recorded goldens: models of several architectures, shapes and
 * source types are quantized by slmkit and by llama.cpp's own llama_model_quantize (the libllama
 * node-llama-cpp ships, called through an FFI), and the two files must be byte for byte the same.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { QUANT_PRESETS, quantTypeByName, quantizeFile } from "../src/quant/index.js";
import { llamaModelQuantize } from "../src/quant/reference.testkit.js";
import type { SynthOptions } from "../src/synth/index.js";
import { makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("reference");
const models = new Map<string, string>();

/** Shapes chosen to reach the mixture's branches: grouped-query attention (gqa 4 and 1), eight
 * layers (ffn_down and attn_v bumps by position), rows that do not fill 256-blocks (fallbacks),
 * tied and untied outputs, and F32 / F16 / BF16 sources. */
const MODELS: Record<string, Omit<SynthOptions, "output">> = {
  "llama-gqa4-f16": { architecture: "llama", type: "F16", seed: 11, shape: { layers: 8, width: 256, feedForward: 512, heads: 8, kvHeads: 2, headDim: 32 } },
  "qwen3-tied-bf16": { architecture: "qwen3", type: "BF16", seed: 12, shape: { layers: 3, width: 256, feedForward: 768, heads: 4, kvHeads: 4, headDim: 64 } },
  "llama-short-rows-f32": { architecture: "llama", type: "F32", seed: 13, shape: { layers: 2, width: 96, feedForward: 160, heads: 3, kvHeads: 1, headDim: 32 } },
};

before(async () => {
  for (const [name, options] of Object.entries(MODELS)) models.set(name, await makeModel(directory.path, name, options));
});
after(() => directory.remove());

const reference = llamaModelQuantize();

interface Options {
  pure?: boolean;
  leaveOutputTensor?: boolean;
  outputTensorType?: string;
  tokenEmbeddingType?: string;
  tensorTypes?: Array<{ pattern: string; type: string }>;
}

async function assertSameAsLlama(model: string, preset: string, options: Options = {}): Promise<void> {
  const input = models.get(model)!;
  const tag = `${model}.${preset}.${JSON.stringify(options).replace(/[^A-Za-z0-9]+/g, "_")}`;
  const ours = join(directory.path, `${tag}.slmkit.gguf`);
  const theirs = join(directory.path, `${tag}.llama.gguf`);
  await quantizeFile(input, ours, { preset, threads: 2, ...options });
  const fileType = QUANT_PRESETS.find((row) => row.name === preset)!.fileType;
  const status = reference!(input, theirs, fileType, {
    threads: 1,
    pure: options.pure,
    leaveOutputTensor: options.leaveOutputTensor,
    outputTensorType: options.outputTensorType === undefined ? undefined : quantTypeByName(options.outputTensorType)!.id,
    tokenEmbeddingType: options.tokenEmbeddingType === undefined ? undefined : quantTypeByName(options.tokenEmbeddingType)!.id,
    tensorTypes: options.tensorTypes?.map(({ pattern, type }) => ({ pattern, typeId: quantTypeByName(type)!.id })),
  });
  assert.equal(status, 0, "llama_model_quantize succeeded");
  const [a, b] = [readFileSync(ours), readFileSync(theirs)];
  if (!a.equals(b)) {
    let at = 0;
    while (at < Math.min(a.length, b.length) && a[at] === b[at]) at++;
    assert.fail(`${tag}: files differ from byte ${at} (sizes ${a.length} and ${b.length})`);
  }
}

describe("quantization matches llama_model_quantize on synthesized models", { skip: reference ? false : "no prebuilt libllama for this platform" }, () => {
  for (const model of Object.keys(MODELS)) {
    for (const preset of QUANT_PRESETS) {
      it(`${model} → ${preset.name}`, () => assertSameAsLlama(model, preset.name));
    }
  }
  it("--pure", () => assertSameAsLlama("llama-gqa4-f16", "Q4_K_M", { pure: true }));
  it("--leave-output-tensor", () => assertSameAsLlama("llama-gqa4-f16", "Q4_K_M", { leaveOutputTensor: true }));
  it("--output-tensor-type and --token-embedding-type", () => assertSameAsLlama("llama-gqa4-f16", "Q5_K_S", { outputTensorType: "Q8_0", tokenEmbeddingType: "Q4_0" }));
  it("--output-tensor-type on a tied embedding", () => assertSameAsLlama("qwen3-tied-bf16", "Q3_K_M", { outputTensorType: "Q5_0" }));
  it("--tensor-type overrides: first match wins, mixture bypassed, fallbacks still apply", () =>
    assertSameAsLlama("llama-short-rows-f32", "Q4_K_M", {
      tensorTypes: [
        { pattern: "ffn_(up|down)", type: "Q8_0" },
        { pattern: "attn_v", type: "Q6_K" },
        { pattern: "ffn", type: "Q5_1" },
      ],
    }));
  it("--tensor-type overrides on a K-quant mixture with grouped attention", () =>
    assertSameAsLlama("llama-gqa4-f16", "Q3_K_S", { tensorTypes: [{ pattern: "blk\\.[0-3]\\.", type: "Q5_K" }, { pattern: "output", type: "Q4_0" }] }));
});
