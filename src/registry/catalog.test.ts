import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyModel } from "../gguf/index.js";
import { CATALOG, chooseQuant, estimateBytes, findCatalogModel } from "./catalog.js";
import { RegistryError } from "./errors.js";
import { parseModelName } from "./names.js";

const GIB = 2 ** 30;

describe("catalog", () => {
  it("holds the seed's models, each consistent: class from parameters, shapes, GGUF file names, usable aliases", () => {
    for (const id of ["qwen3:0.6b", "qwen3:4b", "phi4-mini:3.8b", "gemma3:1b", "gemma3:27b", "llama3.2:3b", "llama3.1:8b", "smollm2:135m", "bitnet-b1.58:2b"]) {
      assert.ok(findCatalogModel(id), id);
    }
    assert.equal(new Set(CATALOG.map((model) => model.id)).size, CATALOG.length, "aliases are unique");
    for (const model of CATALOG) {
      parseModelName(model.id);
      assert.equal(model.class, classifyModel(model.parameters).name, model.id);
      const { layers, heads, kvHeads, headDim, vocabularySize } = model.architecture;
      assert.ok(layers > 0 && heads > 0 && kvHeads > 0 && heads % kvHeads === 0 && headDim > 0 && vocabularySize > 1000, model.id);
      assert.ok(model.gguf.length > 0, model.id);
      for (const repo of model.gguf) {
        assert.match(repo.repo, /^[\w.-]+\/[\w.-]+$/);
        for (const file of Object.values(repo.files)) assert.match(file, /\.gguf$/, `${model.id} ${file}`);
      }
    }
  });

  it("picks the most faithful quantization that fits, never an unquantized one unless asked, and says why", () => {
    const model = findCatalogModel("qwen3:4b")!;
    const roomy = chooseQuant(model, undefined, 64 * GIB);
    assert.equal(roomy.quant, "Q8_0");
    assert.match(roomy.reason, /Q8_0: about 5\.0 GiB .* fits in 80% of the 64\.0 GiB free \(the most faithful available\)/);
    const tight = chooseQuant(model, undefined, 4 * GIB);
    assert.equal(tight.quant, "Q4_K_M");
    assert.ok(tight.estimatedBytes <= 0.8 * 4 * GIB);
    assert.match(tight.reason, /Q8_0, Q6_K, Q5_K_M would need more/);
    assert.match(chooseQuant(model, undefined, 1 * GIB).reason, /the smallest: even it .* exceeds/);
    assert.equal(chooseQuant(findCatalogModel("qwen3:0.6b")!, undefined, 64 * GIB).quant, "Q8_0");
    assert.equal(chooseQuant(findCatalogModel("qwen3:0.6b")!, "bf16").quant, "BF16");
    assert.throws(() => chooseQuant(model, "Q2_K"), (error: unknown) => error instanceof RegistryError && /has no Q2_K file/.test(error.message));
  });

  it("estimates weights at the quantization's bits and a 16-bit KV cache", () => {
    const model = findCatalogModel("qwen3:0.6b")!;
    const kv = 28 * 4096 * 8 * 128 * 2 * 2;
    assert.equal(estimateBytes(model, 8.5), Math.round(((model.parameters * 8.5) / 8 + kv) * 1.1));
  });
});
