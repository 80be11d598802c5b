import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferByteSource } from "./byte-source.js";
import { rawGguf, stringValue, u32Value } from "./raw-gguf.testkit.js";
import { parseGgufHeader } from "./reader.js";
import { classifyModel, summarizeModel } from "./summary.js";

describe("model summary", () => {
  it("classifies by parameter count as the mission defines the classes", () => {
    const cases: Array<[number, string]> = [
      [292_800, "tiny"],
      [99_999_999, "tiny"],
      [100e6, "micro"],
      [135e6, "micro"],
      [0.6e9, "micro"],
      [1.44e9, "micro"],
      [1.5e9, "small"],
      [1.72e9, "small"],
      [3.8e9, "small"],
      [13.9e9, "small"],
      [14e9, "medium"],
      [27e9, "medium"],
      [30e9, "medium"],
      [30.5e9, "large"],
      [70e9, "large"],
    ];
    for (const [parameters, name] of cases) assert.equal(classifyModel(parameters).name, name, `${parameters}`);
  });

  it("counts parameters, tensor types, bytes and bits per weight from the header", () => {
    const header = parseGgufHeader(
      new BufferByteSource(
        rawGguf({
          kvs: [
            { key: "general.architecture", type: 8, value: stringValue("qwen3") },
            { key: "qwen3.block_count", type: 4, value: u32Value(28) },
            { key: "qwen3.attention.head_count", type: 4, value: u32Value(16) },
          ],
          tensors: [
            { name: "a", dims: [64, 4], type: 0, offset: 0 }, // F32: 256 elements, 1024 bytes
            { name: "b", dims: [256], type: 2, offset: 1024 }, // Q4_0: 256 elements, 144 bytes
          ],
          dataBytes: 1024 + 144,
        }),
      ),
    );
    const summary = summarizeModel(header);
    assert.equal(summary.parameters, 512);
    assert.equal(summary.layers, 28);
    assert.equal(summary.heads, 16);
    assert.equal(summary.kvHeads, 16, "KV heads default to heads");
    assert.deepEqual(summary.tensorTypes, { F32: { tensors: 1, parameters: 256, bytes: 1024 }, Q4_0: { tensors: 1, parameters: 256, bytes: 144 } });
    assert.equal(summary.bitsPerWeight, ((1024 + 144) * 8) / 512);
    assert.equal(summary.hasChatTemplate, false);
  });
});
