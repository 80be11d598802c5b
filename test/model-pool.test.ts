/**
 * The pool's memory budget with real loads: a model that would not fit beside an idle one makes it
 * unload first; a busy one is never unloaded under its request; a model larger than the whole budget
 * is refused with a 503 that says what to change.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiError, ModelPool, describeModelFile } from "../src/server/index.js";
import { estimateResidentBytes } from "../src/server/memory-estimate.js";
import { makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("pool");
let first: string;
let second: string;
const load = { contextSize: 256 };

before(async () => {
  first = await makeModel(directory.path, "first", { architecture: "llama", seed: 41 });
  second = await makeModel(directory.path, "second", { architecture: "llama", seed: 42 });
});

after(() => directory.remove());

describe("model pool memory budget", () => {
  it("estimates weights, KV cache per sequence and overhead from the header", () => {
    const one = estimateResidentBytes(first, { contextSize: 256, parallel: 1 });
    const four = estimateResidentBytes(first, { contextSize: 256, parallel: 4 });
    // llama synth defaults: 2 layers, 2 KV heads of width 16; K and V in 16 bits. Three more sequences
    // add their KV cache (and a larger compute buffer for the longer context).
    const kv = 2 * 256 * 3 * 2 * (16 + 16) * 2;
    assert.ok(four - one >= kv && four - one < kv + 4 * 1024 * 1024, `${four - one}`);
  });

  it("unloads the idle model to make room, but never a busy one", async () => {
    const unloads: string[] = [];
    const budget = estimateResidentBytes(second, load) + 1;
    const pool = new ModelPool([describeModelFile(first), describeModelFile(second)], load, {
      memoryBudgetBytes: budget,
      observer: { unloaded: (model, reason) => unloads.push(`${model}:${reason}`) },
    });
    try {
      await pool.load("first");
      await pool.load("second");
      assert.deepEqual(unloads, ["first:evicted"]);
      assert.deepEqual(pool.running().map(({ served }) => served.name), ["second"]);
      // While "second" is busy, "first" loads beside it, over budget, rather than fail or cut it off.
      await pool.use("second", async () => {
        await pool.load("first");
        assert.deepEqual(pool.running().map(({ served }) => served.name).sort(), ["first", "second"]);
      });
      assert.deepEqual(unloads, ["first:evicted"]);
    } finally {
      await pool.close();
    }
  });

  it("refuses a model larger than the whole budget with a 503 naming the flag", async () => {
    const pool = new ModelPool([describeModelFile(first)], load, { memoryBudgetBytes: 1024 });
    await assert.rejects(pool.load("first"), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 503);
      assert.match(error.message, /--memory-budget/);
      return true;
    });
    assert.equal(pool.running().length, 0);
    await pool.close();
  });
});
