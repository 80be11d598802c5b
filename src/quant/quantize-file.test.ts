import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readGgufHeader } from "../gguf/index.js";
import { QuantizeError } from "./plan.js";
import { type QuantizeProgress, quantizeFile } from "./quantize-file.js";
import { writeTestModel } from "./test-data.testkit.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-quantize-"));
const model = join(directory, "model.gguf");

before(async () => {
  await writeTestModel(model, { layers: 2, width: 256, feedForward: 512, vocabulary: 1000 });
});
after(() => rmSync(directory, { recursive: true, force: true }));

describe("quantizeFile", () => {
  it("reports progress that only grows and ends at the input size", async () => {
    const events: QuantizeProgress[] = [];
    const report = await quantizeFile(model, join(directory, "q.gguf"), { preset: "Q4_0", threads: 2, onProgress: (event) => events.push(event) });
    assert.ok(events.length >= report.tensors.length);
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.bytesDone >= events[i - 1]!.bytesDone);
    assert.equal(events.at(-1)!.bytesDone, events.at(-1)!.bytesTotal);
    assert.equal(report.bytesIn, events.at(-1)!.bytesTotal);
    assert.equal(report.bytesOut, readGgufHeader(join(directory, "q.gguf")).tensors.reduce((sum, t) => sum + t.byteSize, 0));
  });

  it("stops when its signal fires mid-way, leaving no file and no partial", async () => {
    const abort = new AbortController();
    const output = join(directory, "stopped.gguf");
    let events = 0;
    await assert.rejects(
      quantizeFile(model, output, {
        preset: "Q8_0",
        threads: 2,
        signal: abort.signal,
        onProgress: () => {
          if (++events === 2) abort.abort();
        },
      }),
    );
    assert.ok(events >= 2);
    assert.deepEqual(readdirSync(directory).filter((name) => name.includes("stopped")), []);
  });

  it("writes the same bytes with one thread and with several", async () => {
    await quantizeFile(model, join(directory, "one.gguf"), { preset: "Q5_K_M", threads: 1 });
    await quantizeFile(model, join(directory, "three.gguf"), { preset: "Q5_K_M", threads: 3 });
    assert.ok(readFileSync(join(directory, "one.gguf")).equals(readFileSync(join(directory, "three.gguf"))));
  });

  it("applies --tensor-type overrides, first match wins, and refuses bad patterns and types", async () => {
    await quantizeFile(model, join(directory, "over.gguf"), { preset: "Q4_0", tensorTypes: [{ pattern: "ffn_(up|down)", type: "q8_0" }, { pattern: "ffn", type: "q5_1" }] });
    const types = Object.fromEntries(readGgufHeader(join(directory, "over.gguf")).tensors.map((t) => [t.name, t.type.name]));
    assert.equal(types["blk.0.ffn_up.weight"], "Q8_0");
    assert.equal(types["blk.1.ffn_down.weight"], "Q8_0");
    assert.equal(types["blk.0.ffn_gate.weight"], "Q5_1");
    assert.equal(types["blk.0.attn_q.weight"], "Q4_0");
    await assert.rejects(quantizeFile(model, join(directory, "x.gguf"), { preset: "Q4_0", tensorTypes: [{ pattern: "(", type: "q8_0" }] }), QuantizeError);
    await assert.rejects(quantizeFile(model, join(directory, "x.gguf"), { preset: "Q4_0", tensorTypes: [{ pattern: "ffn", type: "q9_9" }] }), /not a type slmkit can write/);
  });
});
