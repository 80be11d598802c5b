/** The probes run the real engine on small synthetic models; here at a fraction of their size. */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { keptRates, readRates } from "./probe.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-probe-"));
after(() => rmSync(directory, { recursive: true, force: true }));

describe("device rates", () => {
  const file = join(directory, "rates.json");
  const messages: string[] = [];
  const options = { file, identity: "test cpu | 2 cores", scratch: directory, scale: 1 / 16, onProgress: (message: string) => messages.push(message) };

  it("measures the fixed costs and each asked type and path once, then keeps them", async () => {
    const rates = await keptRates(["F16/matrix", "Q8_0/tied-output"], options);
    assert.ok(rates.stepSeconds >= 0 && rates.layerSeconds >= 0 && rates.stepSeconds + rates.layerSeconds > 0, JSON.stringify(rates));
    for (const key of ["F16/matrix", "Q8_0/tied-output"]) {
      const rate = rates.generationBytesPerSecond[key];
      assert.ok(rate !== undefined && Number.isFinite(rate) && rate > 1e6, `${key}: ${rate}`);
    }
    assert.ok((rates.promptMultiplyAddsPerSecond["F16/matrix"] ?? 0) > 1e6);
    assert.equal(messages.length, 3, messages.join("\n"));
    assert.deepEqual(readdirSync(directory).sort(), ["rates.json"], "the probe models are removed");
    assert.deepEqual(readRates(file, options.identity), rates);

    messages.length = 0;
    assert.deepEqual(await keptRates(["F16/matrix"], options), rates, "kept rates are used as they are");
    assert.deepEqual(messages, []);
  });

  it("measures only what is missing, everything again on another device or when asked", async () => {
    messages.length = 0;
    const more = await keptRates(["F16/matrix", "Q4_0/matrix"], options);
    assert.deepEqual(messages, ["measuring Q4_0 (layer matrices) on this device"]);
    assert.ok((more.generationBytesPerSecond["Q4_0/matrix"] ?? 0) > 0);
    // A type no preset makes (IQ4_XS) is left to the estimate's fallback, not probed.
    messages.length = 0;
    await keptRates(["IQ4_XS/matrix"], options);
    assert.deepEqual(messages, []);

    assert.equal(readRates(file, "another cpu"), undefined);
    messages.length = 0;
    const again = await keptRates(["F16/matrix"], { ...options, refresh: true });
    assert.equal(messages.length, 2, messages.join("\n"));
    assert.equal(again.generationBytesPerSecond["Q4_0/matrix"], undefined, "a refresh starts over");
  });
});
