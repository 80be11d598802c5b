import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { enforceablePart } from "./constraints.js";
import { callSchema, parseToolCalls, prepareToolChat, ToolCallStreamFilter } from "./tool-calls.js";

const weather = { name: "get_weather", description: "Weather now", parameters: { type: "object", properties: { city: { type: "string", minLength: 1 } }, required: ["city"] } };
const TAGGED_TEMPLATE = "{% for tool in tools %}{{ tool | tojson }}{% endfor %} write <tool_call>...";

describe("parseToolCalls", () => {
  it("reads tagged calls, the text before them staying content", () => {
    const text = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n<tool_call>{"name":"get_time","arguments":{}}</tool_call>';
    assert.deepEqual(parseToolCalls(text, "tagged"), {
      content: "Let me check.",
      calls: [
        { name: "get_weather", arguments: { city: "Oslo" } },
        { name: "get_time", arguments: {} },
      ],
    });
  });

  it("reads an unclosed last tag (generation stopped at the end-of-turn token)", () => {
    assert.deepEqual(parseToolCalls('<tool_call>\n{"name": "f", "arguments": {"a": 1}}', "tagged").calls, [{ name: "f", arguments: { a: 1 } }]);
  });

  it("keeps malformed calls as content rather than inventing calls", () => {
    for (const text of ["<tool_call>{not json}</tool_call>", '<tool_call>{"arguments": {}}</tool_call>', '<tool_call>{"name": "f", "arguments": [1]}</tool_call>']) {
      assert.deepEqual(parseToolCalls(text, "tagged"), { content: text, calls: [] }, text);
    }
  });

  it("reads bare JSON calls, Llama's 'parameters' and arrays of calls; prose stays content", () => {
    assert.deepEqual(parseToolCalls(' {"name": "f", "parameters": {"x": "y"}} ', "json").calls, [{ name: "f", arguments: { x: "y" } }]);
    assert.deepEqual(parseToolCalls('[{"name": "f", "arguments": {}}, {"name": "g", "arguments": "{\\"k\\": 2}"}]', "json").calls, [
      { name: "f", arguments: {} },
      { name: "g", arguments: { k: 2 } },
    ]);
    assert.deepEqual(parseToolCalls("The weather is fine.", "json"), { content: "The weather is fine.", calls: [] });
    assert.deepEqual(parseToolCalls('{"answer": 42}', "json"), { content: '{"answer": 42}', calls: [] });
    assert.deepEqual(parseToolCalls('{"name": "John", "age": 30}', "json").calls, [], "an object with a name is data, not a call");
    assert.deepEqual(parseToolCalls('{"name": "get_time", "arguments": {}}', "json", ["get_weather"]).calls, [], "only the tools given can be called");
    assert.deepEqual(parseToolCalls('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>', "tagged", ["get_weather"]).calls, []);
  });
});

describe("tool calls after thinking", () => {
  const reply = '<think>\nMaybe <tool_call> get_weather? Yes.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>';

  it("are read after the think block, and a tag inside it is not a call", () => {
    const parsed = parseToolCalls(reply, "tagged", ["get_weather"]);
    assert.deepEqual(parsed.calls, [{ name: "get_weather", arguments: { city: "Oslo" } }]);
    assert.equal(parsed.content, "<think>\nMaybe <tool_call> get_weather? Yes.\n</think>");
    assert.deepEqual(parseToolCalls('<think>x</think>{"name": "get_weather", "arguments": {}}', "json", ["get_weather"]).calls, [{ name: "get_weather", arguments: {} }]);
  });

  it("stream the thinking as it comes and hold back the call after it", () => {
    const filter = new ToolCallStreamFilter("tagged");
    const pieces = reply.match(/.{1,5}/gs)!;
    const sent = pieces.map((piece) => filter.push(piece)).join("");
    assert.equal(sent, "<think>\nMaybe <tool_call> get_weather? Yes.\n</think>\n\n");
  });
});

describe("ToolCallStreamFilter", () => {
  const run = (syntax: "tagged" | "json", pieces: string[]): string => {
    const filter = new ToolCallStreamFilter(syntax);
    return pieces.map((piece) => filter.push(piece)).join("");
  };

  it("passes content through and holds back from an opening tag on, even one split across pieces", () => {
    assert.equal(run("tagged", ["Hello", " there <tool", "_call>\n{", '"name"', "}</tool_call>"]), "Hello there ");
    assert.equal(run("tagged", ["a <", "b"]), "a <b", "a '<' that does not become a tag is released");
  });

  it("holds back a reply that starts like JSON, and nothing else", () => {
    assert.equal(run("json", ["  ", '{"name"', ': "f"}']), "");
    assert.equal(run("json", ["Sure", ", {here}"]), "Sure, {here}");
  });
});

describe("prepareToolChat", () => {
  const messages = [{ role: "user" as const, content: "Weather in Oslo?" }];

  it("gives tools to a template that knows them, as OpenAI-style objects", () => {
    const chat = prepareToolChat(TAGGED_TEMPLATE, messages, [weather], "auto");
    assert.deepEqual(chat.variables, { tools: [{ type: "function", function: weather }] });
    assert.equal(chat.syntax, "tagged");
    assert.equal(chat.forced, false);
    assert.deepEqual(chat.messages, messages);
  });

  it("teaches a template without tools through a system message and bare JSON calls", () => {
    const chat = prepareToolChat("{{ messages }}", [{ role: "system", content: "Be brief." }, ...messages], [weather], "auto");
    assert.equal(chat.syntax, "json");
    assert.equal(chat.messages.length, 2);
    assert.match(chat.messages[0]!.content, /^Be brief\.\n\nYou may call these tools:\n.*"get_weather"/s);
  });

  it("rewrites tool turns and calls as text for a template without tools", () => {
    const chat = prepareToolChat("{{ messages }}", [...messages, { role: "assistant", content: "", tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Oslo" } } }] }, { role: "tool", content: "-3 C", name: "get_weather" }], [weather], "none");
    assert.deepEqual(chat.messages.slice(1), [
      { role: "assistant", content: '{"name":"get_weather","arguments":{"city":"Oslo"}}' },
      { role: "user", content: "Result of the tool call to get_weather: -3 C" },
    ]);
  });

  it("requires a call with a prefix in the model's syntax and a grammar of the chosen tool", () => {
    const other = { name: "get_time" };
    const required = prepareToolChat(TAGGED_TEMPLATE, messages, [weather, other], "required");
    assert.equal(required.assistantPrefix, "<tool_call>\n");
    assert.deepEqual(required.grammar, { kind: "json_schema", schema: callSchema([weather, other]) });
    const named = prepareToolChat(TAGGED_TEMPLATE, messages, [weather, other], { name: "get_time" });
    assert.deepEqual(named.grammar, { kind: "json_schema", schema: { type: "object", properties: { name: { const: "get_time" }, arguments: { type: "object" } }, required: ["name", "arguments"] } });
    assert.throws(() => prepareToolChat(TAGGED_TEMPLATE, messages, [weather], { name: "nope" }), RangeError);
  });
});

describe("enforceablePart", () => {
  it("drops what a grammar cannot enforce and keeps the shape", () => {
    assert.deepEqual(enforceablePart({ type: "object", properties: { n: { type: "integer", minimum: 0 }, s: { type: "string", pattern: "^a" } }, required: ["n"], allOf: [] }), {
      type: "object",
      properties: { n: { type: "integer" }, s: { type: "string" } },
      required: ["n"],
    });
  });
});
