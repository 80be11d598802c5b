/**
 * Function calling over a model's own chat template: the tools go to the template (or, when it
 * knows none, into a system message), the model's reply is read back as tool calls in the syntax
 * its template teaches, and a call the client requires is enforced by a JSON-schema grammar.
 */
import type { ChatMessage } from "./chat-template.js";
import { type OutputGrammar, enforceablePart } from "./constraints.js";

export interface ToolDefinition {
  readonly name: string;
  readonly description?: string;
  /** A JSON schema for the arguments object. */
  readonly parameters?: object;
}

/** none: never call; auto: the model decides; required: some tool; {name}: that tool. */
export type ToolChoice = "none" | "auto" | "required" | { readonly name: string };

export interface ToolCall {
  readonly name: string;
  /** The arguments object as the model wrote it. */
  readonly arguments: Record<string, unknown>;
}

/**
 * How a model writes a call. `tagged`: Hermes/Qwen style, `<tool_call>{"name": ..., "arguments": ...}</tool_call>`;
 * `json`: the reply is the call object itself (Llama 3.x style, and what slmkit teaches models
 * whose template knows no tools).
 */
export type ToolCallSyntax = "tagged" | "json";

const OPEN_TAG = "<tool_call>";
const THINK_OPEN = "<think>";
const THINK_CLOSE = "</think>";
const CLOSE_TAG = "</tool_call>";

/** The chat, template variables and output constraints for a request with tools. */
export interface ToolChat {
  readonly messages: readonly ChatMessage[];
  readonly variables: Record<string, unknown>;
  /** Text the reply is started with (the opening of a required call). */
  readonly assistantPrefix: string;
  /** For a required call: the grammar of its JSON. */
  readonly grammar?: OutputGrammar;
  /** How to read the reply; undefined when no tool may be called. */
  readonly syntax?: ToolCallSyntax;
  /** The reply is the call's JSON alone (a required call). */
  readonly forced: boolean;
  /** Names of the tools that may be called: a "call" to anything else is content. */
  readonly toolNames: readonly string[];
}

export function toolCallSyntaxOf(templateSource: string | undefined): ToolCallSyntax {
  return templateSource?.includes(OPEN_TAG) ? "tagged" : "json";
}

/** Whether a template renders a `tools` variable at all. */
export function templateKnowsTools(templateSource: string | undefined): boolean {
  return templateSource !== undefined && /\btools\b/.test(templateSource);
}

/**
 * Prepares a chat with tools. Templates that know tools receive them as `tools` (OpenAI's
 * `{type: "function", function: {...}}` objects, as Hugging Face templates expect); others get a
 * system message that lists them and asks for a bare JSON call, and tool turns rewritten as text.
 */
export function prepareToolChat(templateSource: string | undefined, messages: readonly ChatMessage[], tools: readonly ToolDefinition[], choice: ToolChoice): ToolChat {
  if (tools.length === 0 || choice === "none") {
    const knows = templateKnowsTools(templateSource);
    return { messages: knows ? messages : messages.map(asPlainMessage), variables: {}, assistantPrefix: "", forced: false, toolNames: [] };
  }
  if (typeof choice === "object" && !tools.some((tool) => tool.name === choice.name)) {
    throw new RangeError(`tool_choice names '${choice.name}', which is not among the tools given`);
  }
  const knows = templateKnowsTools(templateSource);
  const syntax = knows ? toolCallSyntaxOf(templateSource) : "json";
  const prepared = knows ? messages : withToolsSystemMessage(messages.map(asPlainMessage), tools);
  const variables = knows ? { tools: tools.map(asTemplateTool) } : {};
  const toolNames = tools.map((tool) => tool.name);
  if (choice === "auto") return { messages: prepared, variables, assistantPrefix: "", syntax, forced: false, toolNames };
  const allowed = typeof choice === "object" ? tools.filter((tool) => tool.name === choice.name) : tools;
  return {
    messages: prepared,
    variables,
    assistantPrefix: syntax === "tagged" ? `${OPEN_TAG}\n` : "",
    grammar: { kind: "json_schema", schema: callSchema(allowed) },
    syntax,
    forced: true,
    toolNames,
  };
}

/** The JSON schema of one call to any of `tools`: `{"name": <its name>, "arguments": <its parameters>}`. */
export function callSchema(tools: readonly ToolDefinition[]): object {
  const variants = tools.map((tool) => ({
    type: "object",
    properties: { name: { const: tool.name }, arguments: enforceablePart(tool.parameters ?? { type: "object" }) },
    required: ["name", "arguments"],
  }));
  return variants.length === 1 ? variants[0]! : { oneOf: variants };
}

function asTemplateTool(tool: ToolDefinition): object {
  return { type: "function", function: { name: tool.name, ...(tool.description !== undefined && { description: tool.description }), parameters: tool.parameters ?? { type: "object", properties: {} } } };
}

function withToolsSystemMessage(messages: readonly ChatMessage[], tools: readonly ToolDefinition[]): ChatMessage[] {
  const listing = tools.map((tool) => JSON.stringify(asTemplateTool(tool))).join("\n");
  const instructions =
    `You may call these tools:\n${listing}\n` +
    'To call a tool, reply with only a JSON object {"name": <tool name>, "arguments": <arguments object>} and nothing else. ' +
    "Otherwise, answer normally.";
  const [first, ...rest] = messages;
  if (first?.role === "system") return [{ role: "system", content: `${first.content}\n\n${instructions}` }, ...rest];
  return [{ role: "system", content: instructions }, ...messages];
}

/** A tool turn or a call, as text for a template that knows neither. */
function asPlainMessage(message: ChatMessage): ChatMessage {
  if (message.role === "tool") return { role: "user", content: `Result of the tool call${message.name ? ` to ${message.name}` : ""}: ${message.content}` };
  if (message.tool_calls && message.tool_calls.length > 0) {
    const calls = message.tool_calls.map((call) => JSON.stringify({ name: call.function.name, arguments: call.function.arguments }));
    return { role: "assistant", content: [message.content, ...calls].filter((part) => part).join("\n") };
  }
  return message;
}

/**
 * Reads tool calls out of a reply; text that is not a well-formed call stays content. With
 * `toolNames`, only calls to those tools count: `{"name": "John", "age": 30}` is an answer, not a call.
 */
export function parseToolCalls(text: string, syntax: ToolCallSyntax, toolNames?: readonly string[]): { content: string; calls: ToolCall[] } {
  // Calls are looked for after a leading <think> block: a tag mentioned while thinking is not a call.
  const thoughtEnd = text.trimStart().startsWith(THINK_OPEN) ? text.indexOf(THINK_CLOSE) : -1;
  if (thoughtEnd >= 0) {
    const split = thoughtEnd + THINK_CLOSE.length;
    const rest = parseToolCalls(text.slice(split), syntax, toolNames);
    return rest.calls.length > 0 ? { content: text.slice(0, split) + rest.content, calls: rest.calls } : { content: text, calls: [] };
  }
  const known = (call: ToolCall | undefined): call is ToolCall => call !== undefined && (toolNames === undefined || toolNames.includes(call.name));
  if (syntax === "tagged") {
    const start = text.indexOf(OPEN_TAG);
    if (start < 0) return { content: text, calls: [] };
    const calls: ToolCall[] = [];
    for (const block of text.slice(start).split(OPEN_TAG).slice(1)) {
      const end = block.indexOf(CLOSE_TAG);
      const call = callFrom(end < 0 ? block : block.slice(0, end));
      if (!known(call)) return { content: text, calls: [] };
      calls.push(call);
    }
    return { content: text.slice(0, start).trim(), calls };
  }
  const trimmed = text.trim();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return { content: text, calls: [] };
  const parsed = parseJson(trimmed);
  const candidates = Array.isArray(parsed) ? parsed : [parsed];
  const calls = candidates.map((candidate) => callFromValue(candidate));
  if (calls.length === 0 || !calls.every(known)) return { content: text, calls: [] };
  return { content: "", calls: calls as ToolCall[] };
}

function callFrom(json: string): ToolCall | undefined {
  return callFromValue(parseJson(json.trim()));
}

/** `{"name": string, "arguments": object}`; `parameters` is accepted for `arguments` (Llama 3.x writes it). */
function callFromValue(value: unknown): ToolCall | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const { name, arguments: args, parameters } = value as Record<string, unknown>;
  // A call names its arguments (an empty object at least): an object with only a name is data.
  if (args === undefined && parameters === undefined) return undefined;
  const given = args ?? parameters;
  const object = typeof given === "string" ? parseJson(given) : given;
  if (typeof name !== "string" || name === "" || object === null || typeof object !== "object" || Array.isArray(object)) return undefined;
  return { name, arguments: object as Record<string, unknown> };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Splits a streamed reply into content that can be sent at once and text held back because it
 * may be a tool call: from an opening tag on (tagged), or the whole reply when it starts like JSON.
 */
export class ToolCallStreamFilter {
  private pending = "";
  private capturing = false;
  private started = false;
  /** A leading <think> block passes as it is: calls are looked for after it. */
  private thinking: "start" | "inside" | "after" = "start";
  private head = "";

  constructor(private readonly syntax: ToolCallSyntax) {}

  /** The content of `text` that is safe to send now. */
  push(text: string): string {
    if (this.thinking === "after") return this.filter(text);
    this.head += text;
    if (this.thinking === "start") {
      const trimmed = this.head.trimStart();
      if (trimmed.length < THINK_OPEN.length && THINK_OPEN.startsWith(trimmed)) return "";
      if (!trimmed.startsWith(THINK_OPEN)) {
        this.thinking = "after";
        return this.filter(this.takeHead(this.head.length));
      }
      this.thinking = "inside";
    }
    const end = this.head.indexOf(THINK_CLOSE);
    if (end < 0) return this.takeHead(this.head.length - partialSuffixLength(this.head, THINK_CLOSE));
    this.thinking = "after";
    const thought = this.takeHead(end + THINK_CLOSE.length);
    return thought + this.filter(this.takeHead(this.head.length));
  }

  private takeHead(length: number): string {
    const out = this.head.slice(0, length);
    this.head = this.head.slice(length);
    return out;
  }

  private filter(text: string): string {
    if (this.capturing) return "";
    this.pending += text;
    if (this.syntax === "json") {
      const trimmed = this.pending.trimStart();
      if (trimmed === "") return "";
      if (!this.started && (trimmed.startsWith("{") || trimmed.startsWith("["))) {
        this.capturing = true;
        return "";
      }
      this.started = true;
      return this.take(this.pending.length);
    }
    const tag = this.pending.indexOf(OPEN_TAG);
    if (tag >= 0) {
      this.capturing = true;
      return this.take(tag);
    }
    return this.take(this.pending.length - partialTagLength(this.pending));
  }

  private take(length: number): string {
    const out = this.pending.slice(0, length);
    this.pending = this.pending.slice(length);
    return out;
  }
}

/** How many characters at the end of `text` could begin an opening tag. */
function partialTagLength(text: string): number {
  return partialSuffixLength(text, OPEN_TAG);
}

function partialSuffixLength(text: string, tag: string): number {
  for (let length = Math.min(tag.length - 1, text.length); length > 0; length--) {
    if (tag.startsWith(text.slice(-length))) return length;
  }
  return 0;
}
