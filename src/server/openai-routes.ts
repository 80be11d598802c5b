import { randomUUID } from "node:crypto";
import type { ChatMessage, GenerateRequest, GenerateResult, LoadedModel, OutputGrammar, TokenLogprob, ToolCall } from "../engine/index.js";
import { openBodyStream } from "./body-stream.js";
import { ApiError, badRequest, modelNotFound } from "./api-error.js";
import { engineCallAsync, generate, withModel } from "./generation.js";
import { type RequestContext, type Route, sendJson } from "./http.js";
import { openAiChatLogprobs, openAiCompletionLogprobs } from "./logprobs-wire.js";
import type { ModelPool, ServedModel } from "./model-pool.js";
import { generateToolReply, type ToolReply, toolChatPrompt, toolRequestOf } from "./tool-reply.js";
import { configuredTemplate, withConfiguredMessages, withConfiguredOpenAiFields } from "./model-defaults.js";
import type { ModelConfig } from "../registry/index.js";
import {
  type ChatCompletionRequest,
  type CompletionRequest,
  type ModelObject,
  type OpenAiFinishReason,
  chatCompletionRequest,
  completionRequest,
  embeddingRequest,
  parseRequest,
  usage,
} from "./openai-wire.js";

/** The OpenAI-compatible routes: /v1/models, /v1/chat/completions, /v1/completions. */
export function openAiRoutes(pool: ModelPool): Route[] {
  return [
    { method: "GET", path: "/v1/models", permission: "models.read", handle: async (context) => listModels(context, pool) },
    { method: "GET", path: "/v1/models/:id", permission: "models.read", handle: async (context) => showModel(context, pool) },
    { method: "POST", path: "/v1/chat/completions", permission: "inference", handle: (context) => chatCompletion(context, pool) },
    { method: "POST", path: "/v1/completions", permission: "inference", handle: (context) => textCompletion(context, pool) },
    { method: "POST", path: "/v1/embeddings", permission: "embeddings", handle: (context) => embeddings(context, pool) },
  ];
}

function modelObject(model: ServedModel): ModelObject {
  return {
    id: model.name,
    object: "model",
    created: model.created,
    owned_by: "slmkit",
    slmkit: {
      path: model.path,
      random_weights: model.randomWeights,
      ...(model.randomWeights ? { note: "random weights made by `slmkit synth`: its output is gibberish" } : {}),
    },
  };
}

function listModels(context: RequestContext, pool: ModelPool): void {
  sendJson(context.response, 200, { object: "list", data: pool.list().map(modelObject) });
}

function showModel(context: RequestContext, pool: ModelPool): void {
  const id = context.params.id!;
  const model = pool.find(id);
  if (model === undefined) throw modelNotFound(id);
  sendJson(context.response, 200, modelObject(model));
}

/** Sampling, length and stop settings common to both completion routes. */
function generationSettings(body: ChatCompletionRequest | CompletionRequest, maxTokens: number | null | undefined): Omit<GenerateRequest, "prompt"> {
  const stop = body.stop === undefined || body.stop === null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
  const bias = body.logit_bias ? new Map(Object.entries(body.logit_bias).map(([token, value]) => [Number(token), value])) : undefined;
  return {
    maxTokens: maxTokens ?? undefined,
    stop,
    ignoreEos: body.ignore_eos ?? false,
    penalties: { presence: body.presence_penalty ?? 0, frequency: body.frequency_penalty ?? 0, repeat: body.repeat_penalty ?? 1 },
    ...(bias && { tokenBias: bias }),
    sampling: {
      ...(body.temperature != null && { temperature: body.temperature }),
      ...(body.top_p != null && { topP: body.top_p }),
      ...(body.top_k != null && { topK: body.top_k }),
      ...(body.min_p != null && { minP: body.min_p }),
      // OpenAI takes any 64-bit seed; llama.cpp's is 32 bits.
      ...(body.seed != null && { seed: Number(BigInt.asUintN(32, BigInt(body.seed))) }),
    },
  };
}

/** OpenAI's messages as the template's: arguments parsed to objects, tool turns named after their call. */
function toChatMessages(body: ChatCompletionRequest): ChatMessage[] {
  const toolNames = new Map<string, string>();
  return body.messages.map((message): ChatMessage => {
    const content = typeof message.content === "string" ? message.content : (message.content ?? []).map((part) => part.text).join("");
    if (message.role === "assistant" && message.tool_calls && message.tool_calls.length > 0) {
      for (const call of message.tool_calls) toolNames.set(call.id, call.function.name);
      const calls = message.tool_calls.map((call) => ({ id: call.id, type: "function" as const, function: { name: call.function.name, arguments: parseArguments(call.function.arguments) } }));
      return { role: "assistant", content, tool_calls: calls };
    }
    if (message.role === "tool") {
      const name = message.name ?? (message.tool_call_id ? toolNames.get(message.tool_call_id) : undefined);
      return { role: "tool", content, ...(message.tool_call_id && { tool_call_id: message.tool_call_id }), ...(name && { name }) };
    }
    return { role: message.role === "developer" ? "system" : message.role, content };
  });
}

/** Arguments as an object when they are JSON (templates write them with tojson), else the string. */
function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** OpenAI's tool_calls: ids made here, arguments as a JSON string. */
function openAiToolCalls(calls: readonly ToolCall[]): Array<{ id: string; type: "function"; function: { name: string; arguments: string } }> {
  return calls.map((call) => ({ id: `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`, type: "function", function: { name: call.name, arguments: JSON.stringify(call.arguments) } }));
}

async function chatCompletion(context: RequestContext, pool: ModelPool): Promise<void> {
  const given = parseRequest(chatCompletionRequest, await context.json());
  const config = pool.find(given.model)?.config;
  const body = withConfiguredOpenAiFields(config, given);
  await withModel(pool, body.model, context, (model) => answerChat(context, body, model, config));
}

async function answerChat(context: RequestContext, body: ChatCompletionRequest, model: LoadedModel, config: ModelConfig | undefined): Promise<void> {
  const settings = generationSettings(body, body.max_completion_tokens ?? body.max_tokens);
  if (body.top_logprobs != null && !body.logprobs) throw badRequest("top_logprobs needs logprobs: true", "top_logprobs");
  const { tools, choice } = toolRequestOf(body.tools, body.tool_choice);
  const { chat, tokens, stop } = toolChatPrompt(model, withConfiguredMessages(config, toChatMessages(body)), tools, choice, configuredTemplate(model, config));
  const format = body.response_format;
  if (chat.forced && format && format.type !== "text") throw badRequest("response_format cannot be combined with a required tool call (tool_choice)", "response_format");
  const grammar: OutputGrammar | undefined =
    chat.grammar ?? (format?.type === "json_object" ? { kind: "json" } : format?.type === "json_schema" ? { kind: "json_schema", schema: format.json_schema.schema } : undefined);
  const request = {
    ...settings,
    prompt: tokens,
    stop: [...(settings.stop ?? []), ...stop],
    ...(grammar && { grammar }),
    ...(body.logprobs && { logprobs: body.top_logprobs ?? 0 }),
  };
  // Refuse a bad request with its 4xx now: once a stream has started, the status is 200.
  await engineCallAsync(() => model.prepare(request));
  const meta = { id: `chatcmpl-${randomUUID().replaceAll("-", "")}`, created: Math.floor(Date.now() / 1000), model: body.model };

  if (!body.stream) {
    const reply = await generateToolReply(model, request, chat, context);
    const message =
      reply.calls.length > 0 ? { role: "assistant", content: reply.content || null, tool_calls: openAiToolCalls(reply.calls) } : { role: "assistant", content: reply.content };
    sendJson(context.response, 200, {
      ...meta,
      object: "chat.completion",
      choices: [{ index: 0, message, logprobs: reply.result.logprobs ? openAiChatLogprobs(reply.result.logprobs) : null, finish_reason: finishReason(reply) }],
      usage: usage(reply.result.promptTokens, reply.result.completionTokens),
    });
    return;
  }
  const chunk = (choices: unknown[], usage?: object): object => streamChunk(meta, "chat.completion.chunk", choices, usage);
  await streamEvents(context, async (send) => {
    send(chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]));
    const reply = await generateToolReply(model, request, chat, context, (text, tokens) =>
      send(chunk([{ index: 0, delta: { content: text }, logprobs: tokens ? openAiChatLogprobs(tokens) : null, finish_reason: null }])),
    );
    if (reply.calls.length > 0) {
      const calls = openAiToolCalls(reply.calls).map((call, index) => ({ index, ...call }));
      send(chunk([{ index: 0, delta: { tool_calls: calls }, logprobs: null, finish_reason: null }]));
    }
    send(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason(reply) }]));
    if (body.stream_options?.include_usage) send(chunk([], usage(reply.result.promptTokens, reply.result.completionTokens)));
  });
}

async function textCompletion(context: RequestContext, pool: ModelPool): Promise<void> {
  const given = parseRequest(completionRequest, await context.json());
  const body = withConfiguredOpenAiFields(pool.find(given.model)?.config, given);
  await withModel(pool, body.model, context, (model) => answerCompletion(context, body, model));
}

async function answerCompletion(context: RequestContext, body: CompletionRequest, model: LoadedModel): Promise<void> {
  const text = typeof body.prompt === "string" ? body.prompt : body.prompt[0]!;
  const request = {
    ...generationSettings(body, body.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS),
    prompt: model.promptFromText(text),
    ...(body.logprobs != null && { logprobs: body.logprobs }),
  };
  await engineCallAsync(() => model.prepare(request));
  const meta = { id: `cmpl-${randomUUID().replaceAll("-", "")}`, created: Math.floor(Date.now() / 1000), model: body.model };

  if (!body.stream) {
    const result = await generate(model, request, context);
    const logprobs = result.logprobs ? openAiCompletionLogprobs(result.logprobs) : null;
    sendJson(context.response, 200, {
      ...meta,
      object: "text_completion",
      choices: [{ index: 0, text: result.text, logprobs, finish_reason: finishReason(result) }],
      usage: usage(result.promptTokens, result.completionTokens),
    });
    return;
  }
  const chunk = (choices: unknown[], usage?: object): object => streamChunk(meta, "text_completion", choices, usage);
  await streamEvents(context, async (send) => {
    let offset = 0;
    const onText = (piece: string, tokens?: readonly TokenLogprob[]): void => {
      send(chunk([{ index: 0, text: piece, logprobs: tokens ? openAiCompletionLogprobs(tokens, offset) : null, finish_reason: null }]));
      offset += piece.length;
    };
    const result = await generate(model, { ...request, onText }, context);
    send(chunk([{ index: 0, text: "", logprobs: null, finish_reason: finishReason(result) }]));
    if (body.stream_options?.include_usage) send(chunk([], usage(result.promptTokens, result.completionTokens)));
  });
}

async function embeddings(context: RequestContext, pool: ModelPool): Promise<void> {
  const body = parseRequest(embeddingRequest, await context.json());
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  await withModel(pool, body.model, context, async (model) => {
    const { vectors, promptTokens } = await engineCallAsync(() => model.embed(inputs, { normalize: true }));
    context.notes.prompt_tokens = promptTokens;
    const encode = (vector: number[]): number[] | string =>
      body.encoding_format === "base64" ? Buffer.from(Float32Array.from(vector).buffer).toString("base64") : vector;
    sendJson(context.response, 200, {
      object: "list",
      data: vectors.map((vector, index) => ({ object: "embedding", index, embedding: encode(vector) })),
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
  }, undefined, "embeddings");
}

/** OpenAI's legacy completions endpoint defaults max_tokens to 16. */
const DEFAULT_COMPLETION_MAX_TOKENS = 16;

function finishReason(reply: GenerateResult | ToolReply): OpenAiFinishReason {
  if ("calls" in reply && reply.calls.length > 0) return "tool_calls";
  const result = "calls" in reply ? reply.result : reply;
  return result.finishReason === "stop" ? "stop" : "length";
}

/**
 * One streamed chunk, a literal of fixed shape: spreading the request's id/created/model into each
 * token's object sent V8 down its slow property-definition path (3.5% of the JS thread's time on the qwen3-0.6b
 * twin, and that thread shares the cores with llama.cpp).
 */
function streamChunk(meta: { id: string; created: number; model: string }, object: string, choices: unknown[], usage?: object): object {
  const { id, created, model } = meta;
  return usage === undefined ? { id, created, model, object, choices } : { id, created, model, object, choices, usage };
}

/**
 * Answers with server-sent events: `data: <json>` per event, then `data: [DONE]`. An error after
 * the stream has started is sent as an event with OpenAI's error object, then the stream ends.
 */
async function streamEvents(context: RequestContext, produce: (send: (event: object) => void) => Promise<void>): Promise<void> {
  const body = openBodyStream(context.response, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive" });
  const send = (event: object): void => body.write(`data: ${JSON.stringify(event)}\n\n`);
  try {
    await produce(send);
  } catch (error) {
    const apiError = error instanceof ApiError ? error : new ApiError(500, (error as Error).message);
    send(apiError.toOpenAi());
  }
  body.end("data: [DONE]\n\n");
}
