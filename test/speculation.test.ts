/**
 * Speculative decoding with the real engine: under greedy decoding a draft model and prompt lookup
 * change how fast tokens come, never which (the output equals the model's alone); proposals are
 * counted, and /metrics shows them; a draft with another tokenizer is refused at load.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EngineError, type GenerateRequest, LoadedModel, type Speculation } from "../src/engine/index.js";
import { describeModelFile, startServer } from "../src/server/index.js";
import { makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("speculation");
let target: string;
let otherTokenizer: string;
let reference: { first: number[]; second: number[] };
let prompts: { first: number[]; second: number[] };

const request = (prompt: readonly number[]): GenerateRequest => ({ prompt: prompt as GenerateRequest["prompt"], maxTokens: 40, sampling: { temperature: 0 } });

before(async () => {
  target = await makeModel(directory.path, "target", { architecture: "llama", seed: 51 });
  otherTokenizer = await makeModel(directory.path, "other", { architecture: "qwen3", seed: 52 });
  const model = await LoadedModel.load(target, { contextSize: 512 });
  try {
    const first = model.promptFromText("Once upon a time there was a little dog. Once upon a time there was a little cat.");
    const firstOutput = [...(await model.generate(request(first))).outputTokens];
    // A prompt that holds the model's own continuation: prompt lookup has passages to propose from.
    const second = [...first, ...firstOutput];
    const secondOutput = [...(await model.generate(request(second))).outputTokens];
    prompts = { first, second };
    reference = { first: firstOutput, second: secondOutput };
  } finally {
    await model.dispose();
  }
});

after(() => directory.remove());

async function generateWith(speculation: Speculation): Promise<Array<{ tokens: number[]; accepted: number; rejected: number }>> {
  const model = await LoadedModel.load(target, { contextSize: 512, speculation });
  try {
    const results = [];
    for (const prompt of [prompts.first, prompts.second]) {
      const result = await model.generate(request(prompt));
      assert.ok(result.speculation, "the result counts proposals");
      results.push({ tokens: [...result.outputTokens], ...result.speculation });
    }
    return results;
  } finally {
    await model.dispose();
  }
}

describe("speculative decoding", () => {
  it("with a draft model, generates exactly the model's own greedy output", async () => {
    const [first, second] = await generateWith({ kind: "draft", draftModelPath: target });
    assert.deepEqual(first!.tokens, reference.first);
    assert.deepEqual(second!.tokens, reference.second);
    // How many drafted tokens arrive in time depends on scheduling (the model does not wait for the
    // draft): only the counting is certain.
    for (const result of [first!, second!]) assert.ok(Number.isInteger(result.accepted) && Number.isInteger(result.rejected) && result.accepted >= 0 && result.rejected >= 0);
  });

  it("with prompt lookup, generates the same output and proposes from the prompt", async () => {
    const [first, second] = await generateWith({ kind: "lookup" });
    assert.deepEqual(first!.tokens, reference.first);
    assert.deepEqual(second!.tokens, reference.second);
    assert.ok(second!.accepted > 0, `accepted ${second!.accepted}, rejected ${second!.rejected}`);
  });

  it("refuses a draft model whose tokenizer differs", async () => {
    await assert.rejects(LoadedModel.load(target, { contextSize: 256, speculation: { kind: "draft", draftModelPath: otherTokenizer } }), (error: unknown) => {
      assert.ok(error instanceof EngineError && error.code === "LOAD_FAILED");
      assert.match(error.message, /does not share the target model's tokenizer/);
      return true;
    });
  });

  it("counts accepted and rejected proposals in /metrics", async () => {
    const server = await startServer({ port: 0, models: [describeModelFile(target)], load: { contextSize: 512, speculation: { kind: "lookup" } } });
    try {
      const body = { model: "target", prompt: "Once upon a time there was a little dog. Once upon a time there was a little", max_tokens: 30, temperature: 0 };
      const reply = await fetch(`${server.url}/v1/completions`, { method: "POST", body: JSON.stringify(body) });
      assert.equal(reply.status, 200);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /^# TYPE slmkit_speculative_tokens_total counter$/m);
      const count = (outcome: string): number => Number(new RegExp(`slmkit_speculative_tokens_total\\{model="target",outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? NaN);
      assert.ok(Number.isInteger(count("accepted")) && Number.isInteger(count("rejected")), metrics);
    } finally {
      await server.close();
    }
  });
});
