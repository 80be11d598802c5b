import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError } from "./api-error.js";
import { parameterSize } from "./ollama-models.js";
import { chatRequest, deleteRequest, generateRequest, ollamaNameOf, optionsWithoutEffect, parseOllamaRequest, servedNameOf } from "./ollama-wire.js";

/** The status and message a request body is refused with. */
function refusal(schema: Parameters<typeof parseOllamaRequest>[0], body: unknown): { status: number; message: string } {
  try {
    parseOllamaRequest(schema, body);
  } catch (error) {
    assert.ok(error instanceof ApiError);
    return { status: error.status, message: error.message };
  }
  assert.fail(`accepted ${JSON.stringify(body)}`);
}

describe("Ollama model names", () => {
  it("treats a name without a tag and with :latest as one served model", () => {
    assert.equal(servedNameOf("tiny-llama:latest"), "tiny-llama");
    assert.equal(servedNameOf("tiny-llama"), "tiny-llama");
    assert.equal(servedNameOf("tiny-llama:q4"), "tiny-llama:q4");
    assert.equal(ollamaNameOf("tiny-llama"), "tiny-llama:latest");
    assert.equal(ollamaNameOf("backup:v2"), "backup:v2");
  });

  it("takes delete's model as `model` or as the deprecated `name` ollama-js sends", () => {
    assert.deepEqual(parseOllamaRequest(deleteRequest, { name: "a" }), { model: "a" });
    assert.deepEqual(parseOllamaRequest(deleteRequest, { model: "b", name: "a" }), { model: "b" });
    assert.equal(refusal(deleteRequest, {}).message, "model is required: a name from GET /api/tags");
  });
});

describe("Ollama request checking", () => {
  it("turns keep_alive into milliseconds, Infinity for a negative value", () => {
    const keepAlive = (value: unknown): number | null | undefined => parseOllamaRequest(generateRequest, { model: "m", keep_alive: value }).keep_alive;
    assert.equal(keepAlive("5m"), 300_000);
    assert.equal(keepAlive(30), 30_000);
    assert.equal(keepAlive(0), 0);
    assert.equal(keepAlive(-1), Infinity);
    assert.equal(keepAlive(undefined), undefined);
    assert.match(refusal(generateRequest, { model: "m", keep_alive: "soon" }).message, /'keep_alive'/);
  });

  it("accepts what Go clients send for unused fields", () => {
    const body = parseOllamaRequest(generateRequest, { model: "m", prompt: "p", format: "", template: "", system: "", options: null, keep_alive: null });
    assert.equal(body.prompt, "p");
  });

  it("accepts unimplemented options at values that change nothing, and names them otherwise", () => {
    const options = { repeat_penalty: 1.3, presence_penalty: 0.5, mirostat: 0, typical_p: 1, num_ctx: 8192, mirostat_eta: 0.3, future_option: "x" };
    const body = parseOllamaRequest(generateRequest, { model: "m", options });
    assert.deepEqual(optionsWithoutEffect(body.options).sort(), ["future_option", "mirostat_eta", "num_ctx"]);
    for (const [name, value] of [
      ["typical_p", 0.5],
      ["mirostat", 1],
      ["tfs_z", 0.9],
    ] as const) {
      const { status, message } = refusal(generateRequest, { model: "m", options: { [name]: value } });
      assert.equal(status, 400);
      assert.match(message, new RegExp(`^'options\\.${name}' is not supported by this server yet: accepted only as`));
    }
  });

  it("applies the penalties within llama.cpp's ranges and refuses values outside them", () => {
    const body = parseOllamaRequest(generateRequest, { model: "m", options: { repeat_penalty: 1.1, frequency_penalty: -2, presence_penalty: 2, repeat_last_n: -1 } });
    assert.equal(body.options?.repeat_penalty, 1.1);
    assert.equal(body.options?.repeat_last_n, -1);
    for (const [name, value] of [
      ["repeat_penalty", -1],
      ["frequency_penalty", 3],
      ["presence_penalty", "high"],
      ["repeat_last_n", -2],
    ] as const) {
      assert.match(refusal(generateRequest, { model: "m", options: { [name]: value } }).message, new RegExp(`'options\\.${name}'`));
    }
  });

  it("takes format as \"json\", a schema object, or empty", () => {
    assert.equal(parseOllamaRequest(generateRequest, { model: "m", format: "json" }).format, "json");
    assert.deepEqual(parseOllamaRequest(chatRequest, { model: "m", format: { type: "object" } }).format, { type: "object" });
    parseOllamaRequest(generateRequest, { model: "m", format: "" });
    assert.match(refusal(generateRequest, { model: "m", format: "xml" }).message, /'format'/);
    assert.match(refusal(generateRequest, { model: "m", format: ["json"] }).message, /'format'/);
  });

  it("refuses num_predict values that mean nothing, keeps -1 and -2 (no limit)", () => {
    for (const value of [-1, -2, 1, 4096]) parseOllamaRequest(generateRequest, { model: "m", options: { num_predict: value } });
    for (const value of [0, -3, 1.5]) assert.match(refusal(generateRequest, { model: "m", options: { num_predict: value } }).message, /'options\.num_predict'/);
  });

  it("refuses malformed tool calls with a 400; takes think and its off values", () => {
    assert.equal(refusal(chatRequest, { model: "m", tools: [{ type: "function" }] }).status, 400, "a tool without a function");
    assert.equal(refusal(chatRequest, { model: "m", messages: [{ role: "assistant", content: "", tool_calls: [{}] }] }).status, 400, "a call without a function");
    parseOllamaRequest(generateRequest, { model: "m", think: "high" });
    parseOllamaRequest(chatRequest, { model: "m", tools: [], think: false, messages: [{ role: "tool", content: "42" }] });
  });
});

describe("Ollama's parameter sizes", () => {
  it("writes counts as Ollama's format.HumanNumber does", () => {
    assert.equal(parameterSize(999), "999");
    assert.equal(parameterSize(130_368), "130K");
    assert.equal(parameterSize(494_032_768), "494.03M");
    assert.equal(parameterSize(135_000_000), "135M");
    assert.equal(parameterSize(8_030_261_248), "8.0B");
    assert.equal(parameterSize(7_000_000_000), "7B");
  });
});
