/** `slmkit fit` as a process: JSON for a GGUF file (weights from the quantizer's plan) and for a catalog name. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { weightsBytes } from "../src/fit/index.js";
import { readGgufHeader } from "../src/gguf/index.js";
import { makeModel, runCli, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("fit");
let model: string;
before(async () => {
  model = await makeModel(directory.path, "tiny", { architecture: "llama", type: "F16", seed: 93 });
});
after(() => directory.remove());

interface FitJson {
  fits: boolean;
  memory: { weightsBytes: number; kvCacheBytes: number; computeBytes: number; runtimeBytes: number; totalBytes: number };
  exact: { weights: boolean };
  device: { totalMemoryBytes: number; availableMemoryBytes: number; cores: number };
}

describe("slmkit fit", () => {
  it("plans a GGUF file's weights at a type and its KV cache at a context, and says it fits", async () => {
    const result = await runCli(["fit", model, "--type", "Q4_0", "--ctx", "1024", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const fit = JSON.parse(result.stdout) as FitJson;
    assert.equal(fit.fits, true);
    assert.equal(fit.exact.weights, true);
    assert.equal(fit.memory.weightsBytes, weightsBytes(readGgufHeader(model), "Q4_0"));
    assert.equal(fit.memory.kvCacheBytes, 2 * 2 * (16 + 16) * 1024 * 2, "2 layers, 2 KV heads of 16, K and V, f16");
    assert.ok(fit.device.cores >= 1 && fit.device.availableMemoryBytes <= fit.device.totalMemoryBytes);
  });

  it("estimates a catalog model without its file, and exits 1 when it does not fit", async () => {
    const result = await runCli(["fit", "gemma3:27b", "--type", "F16", "--ctx", "131072", "--json"]);
    const fit = JSON.parse(result.stdout) as FitJson;
    assert.equal(fit.exact.weights, false);
    assert.equal(fit.fits, fit.memory.totalBytes <= fit.device.availableMemoryBytes);
    assert.equal(result.code, fit.fits ? 0 : 1);
  });
});
