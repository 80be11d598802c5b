/**
 * Function calling through the official clients against a live server and the real engine:
 * required and named calls come back as tool_calls (OpenAI: arguments as a JSON string; Ollama: as
 * an object), streamed and not; tools, calls and tool results reach the model's template (the
 * prompt's token count matches the text the template should make); bad tool requests get a 400.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { type RunningServer, describeModelFile, startServer } from "../src/server/index.js";
import { countTokens, makeModel, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("tools");
let server: RunningServer;
let openai: OpenAI;
let ollama: Ollama;
let qwenPath: string;
let llamaPath: string;

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 12 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["city", "unit"],
    },
  },
};
const clock = { type: "function" as const, function: { name: "get_time", parameters: { type: "object", properties: { zone: { type: "string", enum: ["UTC", "CET"] } }, required: ["zone"] } } };

/** The synthetic Qwen3 template's system turn for `weather`, written out by hand. */
const WEATHER_SYSTEM_TURN =
  "<|im_start|>system\nThese tools may be called. Their JSON schemas are between <tools> and </tools>:\n<tools>\n" +
  '{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"]}}}' +
  '\n</tools>\nTo call one, write <tool_call>{"name": <its name>, "arguments": <an object>}</tool_call>.<|im_end|>\n';
const QUESTION = "What is the weather in Oslo?";

before(async () => {
  qwenPath = await makeModel(directory.path, "tiny-qwen3", { architecture: "qwen3", seed: 11 });
  llamaPath = await makeModel(directory.path, "tiny-llama", { architecture: "llama", seed: 12 });
  server = await startServer({ port: 0, models: [describeModelFile(qwenPath), describeModelFile(llamaPath)], load: { contextSize: 1024, parallel: 2 } });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  ollama = new Ollama({ host: server.url });
});

after(async () => {
  await server?.close();
  directory.remove();
});

function checkWeatherArguments(args: unknown): void {
  const { city, unit } = args as { city: unknown; unit: unknown };
  assert.equal(typeof city, "string");
  // maxLength counts characters (code points). A random model can write stray bytes of UTF-8 that
  // the grammar lets through as parts of a character and that decode as U+FFFD: those are not counted.
  assert.ok([...(city as string).replaceAll("\uFFFD", "")].length <= 12, JSON.stringify(city));
  assert.ok(unit === "celsius" || unit === "fahrenheit", `unit ${String(unit)}`);
  assert.deepEqual(Object.keys(args as object).sort(), ["city", "unit"]);
}

describe("tools with the openai client", () => {
  it("answers a required call with tool_calls, and the tools reach the model's template", async () => {
    const reply = await openai.chat.completions.create({
      model: "tiny-qwen3",
      messages: [{ role: "user", content: QUESTION }],
      tools: [weather],
      tool_choice: "required",
      max_tokens: 200,
      temperature: 0.8,
      seed: 1,
    });
    const choice = reply.choices[0]!;
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, null);
    const call = choice.message.tool_calls![0]!;
    assert.equal(call.type, "function");
    assert.match(call.id, /^call_[0-9a-f]{24}$/);
    assert.equal(call.type === "function" && call.function.name, "get_weather");
    checkWeatherArguments(JSON.parse(call.type === "function" ? call.function.arguments : "null"));
    // The prompt: the tools' system turn, the question, and the opening of the call the reply must be.
    const rendered = `${WEATHER_SYSTEM_TURN}<|im_start|>user\n${QUESTION}<|im_end|>\n<|im_start|>assistant\n<tool_call>\n`;
    assert.equal(reply.usage!.prompt_tokens, await countTokens(qwenPath, rendered, { special: true, bos: false }));
  });

  it("streams a named call as tool_calls deltas with finish_reason tool_calls", async () => {
    const stream = await openai.chat.completions.create({
      model: "tiny-qwen3",
      messages: [{ role: "user", content: "What time is it?" }],
      tools: [weather, clock],
      tool_choice: { type: "function", function: { name: "get_time" } },
      max_tokens: 100,
      stream: true,
    });
    const calls: Array<{ id?: string; name?: string; arguments: string }> = [];
    let finish: string | null = null;
    let content = "";
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      content += choice.delta.content ?? "";
      for (const delta of choice.delta.tool_calls ?? []) {
        calls[delta.index] ??= { arguments: "" };
        const call = calls[delta.index]!;
        call.id ??= delta.id;
        call.name ??= delta.function?.name;
        call.arguments += delta.function?.arguments ?? "";
      }
      finish = choice.finish_reason ?? finish;
    }
    assert.equal(finish, "tool_calls");
    assert.equal(content, "");
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.name, "get_time");
    assert.ok(["UTC", "CET"].includes((JSON.parse(calls[0]!.arguments) as { zone: string }).zone));
  });

  it("sends earlier calls and their results back through the template", async () => {
    const reply = await openai.chat.completions.create({
      model: "tiny-qwen3",
      messages: [
        { role: "user", content: QUESTION },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Oslo", "unit": "celsius"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "-3 C, snow" },
      ],
      tools: [weather],
      max_tokens: 4,
    });
    const rendered =
      `${WEATHER_SYSTEM_TURN}<|im_start|>user\n${QUESTION}<|im_end|>\n` +
      '<|im_start|>assistant\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}\n</tool_call><|im_end|>\n' +
      "<|im_start|>user\n<tool_response>\n-3 C, snow\n</tool_response><|im_end|>\n<|im_start|>assistant\n";
    assert.equal(reply.usage!.prompt_tokens, await countTokens(qwenPath, rendered, { special: true, bos: false }));
  });

  it("teaches a model whose template knows no tools to answer with a bare JSON call", async () => {
    const reply = await openai.chat.completions.create({
      model: "tiny-llama",
      messages: [{ role: "user", content: QUESTION }],
      tools: [weather],
      tool_choice: "required",
      max_tokens: 200,
      seed: 5,
    });
    assert.equal(reply.choices[0]!.finish_reason, "tool_calls");
    const call = reply.choices[0]!.message.tool_calls![0]!;
    assert.equal(call.type === "function" && call.function.name, "get_weather");
    checkWeatherArguments(JSON.parse(call.type === "function" ? call.function.arguments : "null"));
  });

  it("refuses bad tool requests with a 400 naming the field", async () => {
    const cases: Array<[object, string]> = [
      [{ tools: [weather], tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
      [{ tool_choice: "required" }, "tool_choice"],
      [{ tools: [{ type: "function", function: { name: "has space" } }] }, "tools.0.function.name"],
      [{ tools: [{ type: "retrieval" }] }, "tools.0.type"],
      [{ tools: [weather], tool_choice: "required", response_format: { type: "json_object" } }, "response_format"],
      [{ messages: [{ role: "assistant", tool_calls: [{ id: "x", type: "function", function: { name: "f", arguments: {} } }] }] }, "messages.0.tool_calls.0.function.arguments"],
    ];
    for (const [fields, param] of cases) {
      const response = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "tiny-qwen3", messages: [{ role: "user", content: "Hi" }], max_tokens: 2, ...fields }),
      });
      assert.equal(response.status, 400, JSON.stringify(fields));
      const body = (await response.json()) as { error: { param: string } };
      assert.equal(body.error.param, param, JSON.stringify(body));
    }
  });
});

describe("tools with the ollama client", () => {
  it("returns required calls with arguments as an object, streamed and not", async () => {
    const request = { model: "tiny-qwen3", messages: [{ role: "user", content: QUESTION }], tools: [weather], tool_choice: "required", options: { num_predict: 200 } };
    const reply = await ollama.chat({ ...request, stream: false } as Parameters<Ollama["chat"]>[0] & { stream: false });
    assert.equal(reply.done, true);
    const call = reply.message.tool_calls![0]!;
    assert.equal(call.function.name, "get_weather");
    checkWeatherArguments(call.function.arguments);

    const stream = await ollama.chat({ ...request, stream: true } as Parameters<Ollama["chat"]>[0] & { stream: true });
    const streamed = [];
    for await (const part of stream) streamed.push(...(part.message.tool_calls ?? []));
    assert.equal(streamed.length, 1);
    assert.equal(streamed[0]!.function.name, "get_weather");
    checkWeatherArguments(streamed[0]!.function.arguments);
  });

  it("gives the tools, earlier calls and tool results to the template (tool_name names the tool)", async () => {
    const reply = await ollama.chat({
      model: "tiny-qwen3",
      messages: [
        { role: "user", content: QUESTION },
        { role: "assistant", content: "", tool_calls: [{ function: { name: "get_weather", arguments: { city: "Oslo", unit: "celsius" } } }] },
        { role: "tool", content: "-3 C, snow", tool_name: "get_weather" } as never,
      ],
      tools: [weather],
      options: { num_predict: 3 },
    });
    const rendered =
      `${WEATHER_SYSTEM_TURN}<|im_start|>user\n${QUESTION}<|im_end|>\n` +
      '<|im_start|>assistant\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}\n</tool_call><|im_end|>\n' +
      "<|im_start|>user\n<tool_response>\n-3 C, snow\n</tool_response><|im_end|>\n<|im_start|>assistant\n";
    assert.equal(reply.prompt_eval_count, await countTokens(qwenPath, rendered, { special: true, bos: false }));
  });
});
