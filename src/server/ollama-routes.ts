/**
 * The Ollama-compatible routes (/api/...), so that Ollama's clients work unmodified. Wire shapes are in
 * ollama-wire.ts, model descriptions in ollama-models.ts. Answers carry the model name the client
 * sent (`tiny-llama` or `tiny-llama:latest`); errors are Ollama's `{"error": "message"}`.
 */
import {
  type ChatTemplate,
  type GenerateRequest,
  type GenerateResult,
  type LoadedModel,
  type OutputGrammar,
  promptOpensThinking,
  splitThinking,
  templateSupportsThinking,
  ThinkingSplitter,
  type TokenLogprob,
  type ToolCall,
  type ToolChat,
} from "../engine/index.js";
import type { ChatMessage } from "../engine/index.js";
import { openBodyStream } from "./body-stream.js";
import type { Permission } from "./access/permissions.js";
import { ApiError, badRequest, notImplemented } from "./api-error.js";
import { engineCall, engineCallAsync, withModel } from "./generation.js";
import { type Method, type RequestContext, type Route, sendJson, sendText } from "./http.js";
import { ollamaLogprobs } from "./logprobs-wire.js";
import { type CreateSettings, createModel } from "./ollama-create.js";
import { pullModel, type PullSettings } from "./ollama-pull.js";
import type { ModelPool, ServedModel } from "./model-pool.js";
import { ModelDescriptions } from "./ollama-models.js";
import { generateToolReply, toolChatPrompt, toolRequestOf, WITHOUT_TOOLS } from "./tool-reply.js";
import { configuredTemplate, withConfiguredMessages, withConfiguredOptions } from "./model-defaults.js";
import type { ModelConfig } from "../registry/index.js";
import {
  type ChatRequestBody,
  type DoneReason,
  type GenerateRequestBody,
  type Metrics,
  OLLAMA_API_VERSION,
  type OllamaOptions,
  chatRequest,
  copyRequest,
  deleteRequest,
  embedRequest,
  legacyEmbeddingRequest,
  generateRequest,
  nanoseconds,
  optionsWithoutEffect,
  parseOllamaRequest,
  servedNameOf,
  showRequest,
} from "./ollama-wire.js";

/** Routes of Ollama's API that need what slmkit does not have yet: a 501 that says so. */
const NOT_YET: ReadonlyArray<{ method: Method; path: string; permission: Permission; message: string }> = [
  { method: "POST", path: "/api/push", permission: "models.manage", message: "/api/push (uploading models) is not implemented yet: it needs the model registry, coming with a later release" },
];

/** The Ollama routes, one row each; all answer errors in Ollama's shape. */
export function ollamaRoutes(pool: ModelPool, create: CreateSettings, registry?: PullSettings): Route[] {
  const descriptions = new ModelDescriptions();
  const routes: Array<Omit<Route, "style">> = [
    // Ollama's own liveness answer, which clients probe with GET or HEAD.
    { method: "GET", path: "/", permission: "public", handle: async ({ response }) => sendText(response, 200, "Ollama is running") },
    { method: "GET", path: "/api/version", permission: "models.read", handle: async ({ response }) => sendJson(response, 200, { version: OLLAMA_API_VERSION }) },
    { method: "POST", path: "/api/generate", permission: ["inference", "models.load"], handle: (context) => generateRoute(context, pool, descriptions) },
    { method: "POST", path: "/api/chat", permission: ["inference", "models.load"], handle: (context) => chatRoute(context, pool) },
    { method: "GET", path: "/api/tags", permission: "models.read", handle: async (context) => listModels(context, pool, descriptions) },
    { method: "POST", path: "/api/create", permission: "models.manage", handle: (context) => createModel(context, pool, create) },
    {
      method: "POST",
      path: "/api/pull",
      permission: "models.manage",
      handle: async (context) => {
        if (!registry) throw notImplemented("/api/pull needs the model store; this server was started without one");
        await pullModel(context, pool, registry);
      },
    },
    { method: "POST", path: "/api/show", permission: "models.read", handle: (context) => showModel(context, pool, descriptions) },
    { method: "GET", path: "/api/ps", permission: "models.read", handle: async (context) => runningModels(context, pool, descriptions) },
    { method: "POST", path: "/api/copy", permission: "models.manage", handle: (context) => copyModel(context, pool) },
    { method: "DELETE", path: "/api/delete", permission: "models.manage", handle: (context) => deleteModel(context, pool) },
    { method: "POST", path: "/api/embed", permission: "embeddings", handle: (context) => embedRoute(context, pool) },
    { method: "POST", path: "/api/embeddings", permission: "embeddings", handle: (context) => legacyEmbeddingRoute(context, pool) },
    ...NOT_YET.map(({ method, path, permission, message }) => ({
      method,
      path,
      permission,
      handle: async (): Promise<void> => {
        throw notImplemented(message);
      },
    })),
  ];
  return routes.map((route) => ({ ...route, style: "ollama" }));
}

/** The served model a client's name refers to; 404 in Ollama's words when there is none. */
function findModel(pool: ModelPool, requested: string): ServedModel {
  const served = pool.find(servedNameOf(requested));
  if (served === undefined) throw new ApiError(404, `model '${requested}' not found; GET /api/tags lists the models served here`, "invalid_request_error", "model_not_found", "model");
  return served;
}

const now = (): string => new Date().toISOString();

// --- Generation ----------------------------------------------------------------------------------

async function generateRoute(context: RequestContext, pool: ModelPool, descriptions: ModelDescriptions): Promise<void> {
  const started = performance.now();
  const body = parseOllamaRequest(generateRequest, await context.json());
  const served = findModel(pool, body.model);
  if (body.raw && (body.system || (body.context?.length ?? 0) > 0)) {
    throw badRequest("raw mode does not take 'system' or 'context': the prompt is sent to the model as it is", body.system ? "system" : "context");
  }
  if (!body.prompt) {
    await loadOrUnload(context, pool, served, body, (reason) => ({ response: "", done: true, done_reason: reason }));
    return;
  }
  const vocabularySize = descriptions.vocabularySize(served);
  await withModel(
    pool,
    served.name,
    context,
    async (model) => {
      const loaded = performance.now();
      const settings = generationSettings(withConfiguredOptions(served.config, body.options), body.format, context);
      const thinking = thinkingOf(body.think, configuredTemplate(model, served.config), body.model);
      const prompt = generatePrompt(body, model, vocabularySize, served.config, thinking.variables);
      const request = { ...settings, prompt: prompt.tokens, stop: [...settings.stop, ...prompt.stop], ...logprobsOf(body) };
      const meta = (): object => ({ model: body.model, created_at: now() });
      await respond(context, model, request, WITHOUT_TOOLS, body.stream !== false, thinking.think, {
        // Literals of fixed shape per token (spreads per token take V8's slow property path).
        piece: (text, thought) =>
          thought ? { model: body.model, created_at: now(), response: text, thinking: thought, done: false } : { model: body.model, created_at: now(), response: text, done: false },
        done: (result, text, _calls, thought) => ({
          ...meta(),
          response: text,
          ...(thought && { thinking: thought }),
          done: true,
          done_reason: doneReason(result),
          // Ollama's context: the prompt and the answer as token ids, to send back with the next prompt.
          ...(!body.raw && { context: [...request.prompt, ...model.tokenize(result.text)] }),
          ...metrics(result, started, loaded),
        }),
      });
    },
    body.keep_alive ?? undefined,
  );
}

/**
 * The prompt of /api/generate: as it is when raw, else through the model's chat template as one user
 * turn (after the system text), continuing the token ids of `context` when given.
 */
function generatePrompt(
  body: GenerateRequestBody,
  model: LoadedModel,
  vocabularySize: number,
  config: ModelConfig | undefined,
  variables: Record<string, unknown>,
): { tokens: GenerateRequest["prompt"]; stop: readonly string[] } {
  const text = body.prompt ?? "";
  if (body.raw) return { tokens: model.promptFromText(text), stop: [] };
  const system = body.system || config?.system;
  const messages = withConfiguredMessages(config, [...(system ? [{ role: "system" as const, content: system }] : []), { role: "user", content: text }]);
  const template = configuredTemplate(model, config);
  // A model without a chat template gets the text as it is, as Ollama's default template `{{ .Prompt }}` does.
  const rendered = template.isFallback
    ? { tokens: model.promptFromText(system ? `${system}\n\n${text}` : text), stop: [] }
    : engineCall(() => model.promptFromChat(messages, variables, "", template));
  const previous = body.context ?? [];
  if (previous.length === 0) return rendered;
  const stranger = previous.find((token) => token >= vocabularySize);
  if (stranger !== undefined) {
    throw badRequest(`invalid 'context': token ${stranger} is not in the model's vocabulary of ${vocabularySize}; send back the context this model answered with`, "context");
  }
  // The new turn continues the old tokens, so its beginning-of-sequence token goes.
  const bos = model.promptFromText("");
  const turn = bos.length > 0 && rendered.tokens[0] === bos[0] ? rendered.tokens.slice(1) : rendered.tokens;
  return { tokens: [...(previous as unknown as GenerateRequest["prompt"]), ...turn], stop: rendered.stop };
}

async function chatRoute(context: RequestContext, pool: ModelPool): Promise<void> {
  const started = performance.now();
  const body = parseOllamaRequest(chatRequest, await context.json());
  const served = findModel(pool, body.model);
  const messages = body.messages ?? [];
  if (messages.length === 0) {
    await loadOrUnload(context, pool, served, body, (reason) => ({ message: { role: "assistant", content: "" }, done: true, done_reason: reason }));
    return;
  }
  await withModel(
    pool,
    served.name,
    context,
    async (model) => {
      const loaded = performance.now();
      const settings = generationSettings(withConfiguredOptions(served.config, body.options), body.format, context);
      const { tools, choice } = toolRequestOf(body.tools, body.tool_choice);
      const template = configuredTemplate(model, served.config);
      const thinking = thinkingOf(body.think, template, body.model);
      const { chat, tokens, stop } = toolChatPrompt(
        model,
        withConfiguredMessages(served.config, toChatMessages(messages)),
        tools,
        choice,
        template,
        thinking.variables,
      );
      if (chat.grammar && settings.grammar) throw badRequest("format cannot be combined with a required tool call (tool_choice)", "format");
      const request = { ...settings, prompt: tokens, stop: [...settings.stop, ...stop], ...(chat.grammar && { grammar: chat.grammar }), ...logprobsOf(body) };
      const meta = (): object => ({ model: body.model, created_at: now() });
      const message = (content: string, calls: readonly ToolCall[], thought = ""): object =>
        !thought && calls.length === 0
          ? { role: "assistant", content }
          : { role: "assistant", content, ...(thought && { thinking: thought }), ...(calls.length > 0 && { tool_calls: ollamaToolCalls(calls) }) };
      await respond(context, model, request, chat, body.stream !== false, thinking.think, {
        piece: (text, thought) => ({ model: body.model, created_at: now(), message: message(text, [], thought), done: false }),
        calls: (calls) => ({ ...meta(), message: message("", calls), done: false }),
        done: (result, text, calls, thought) => ({ ...meta(), message: message(text, calls, thought), done: true, done_reason: doneReason(result), ...metrics(result, started, loaded) }),
      });
    },
    body.keep_alive ?? undefined,
  );
}

/** An empty prompt or conversation loads the model (kept for keep_alive), or unloads it with keep_alive 0. */
async function loadOrUnload(
  context: RequestContext,
  pool: ModelPool,
  served: ServedModel,
  body: GenerateRequestBody | ChatRequestBody,
  answer: (reason: DoneReason) => object,
): Promise<void> {
  let reason: DoneReason;
  if (body.keep_alive === 0) {
    context.notes.model = served.name;
    context.authorize?.("models.load", served.name);
    await pool.unload(served.name);
    reason = "unload";
  } else {
    await withModel(pool, served.name, context, async () => undefined, body.keep_alive ?? undefined, "models.load");
    reason = "load";
  }
  sendJson(context.response, 200, { model: body.model, created_at: now(), ...answer(reason) });
}

/** Ollama's options and format as the engine's settings; options that change nothing here are noted in the log. */
function generationSettings(
  options: OllamaOptions | null | undefined,
  format: GenerateRequestBody["format"],
  context: RequestContext,
): Omit<GenerateRequest, "prompt"> & { stop: readonly string[] } {
  const given: Partial<OllamaOptions> = options ?? {};
  // num_ctx and the other load-time settings belong to the loaded model (`slmkit serve --ctx`).
  const withoutEffect = optionsWithoutEffect(options);
  if (withoutEffect.length > 0) context.notes.options_without_effect = withoutEffect.join(",");
  const grammar: OutputGrammar | undefined = format === "json" ? { kind: "json" } : format && typeof format === "object" ? { kind: "json_schema", schema: format } : undefined;
  return {
    maxTokens: given.num_predict != null && given.num_predict > 0 ? given.num_predict : undefined,
    stop: given.stop ?? [],
    ...(grammar && { grammar }),
    penalties: {
      repeat: given.repeat_penalty ?? 1,
      presence: given.presence_penalty ?? 0,
      frequency: given.frequency_penalty ?? 0,
      ...(given.repeat_last_n != null && { lastTokens: given.repeat_last_n }),
    },
    sampling: {
      ...(given.temperature != null && { temperature: given.temperature }),
      ...(given.top_k != null && { topK: given.top_k }),
      ...(given.top_p != null && { topP: given.top_p }),
      ...(given.min_p != null && { minP: given.min_p }),
      // Ollama's seed is any integer (negative: random); llama.cpp's is 32 bits.
      ...(given.seed != null && given.seed >= 0 && { seed: Number(BigInt.asUintN(32, BigInt(given.seed))) }),
    },
  };
}

/**
 * Generates and answers: one JSON object, or NDJSON pieces then a final object with the statistics.
 * A request the engine would refuse is refused with its 4xx before any streaming starts.
 */
interface ReplyShape {
  piece(text: string, thinking: string): object;
  /** A streamed line carrying the reply's tool calls. */
  calls?(calls: readonly ToolCall[]): object;
  done(result: GenerateResult, text: string, calls: readonly ToolCall[], thinking: string): object;
}

/**
 * Generates and answers, whole or streamed. With `think`, a leading <think> block goes to the
 * `thinking` fields and only the rest is the reply's content.
 */
async function respond(context: RequestContext, model: LoadedModel, request: GenerateRequest, chat: ToolChat, stream: boolean, think: boolean, shape: ReplyShape): Promise<void> {
  await engineCallAsync(() => model.prepare(request));
  // Ollama puts log probabilities beside the reply: all of them in a single answer, a piece's in each streamed line.
  const withLogprobs = (line: object, logprobs: readonly TokenLogprob[] | undefined): object => (logprobs ? { ...line, logprobs: ollamaLogprobs(logprobs) } : line);
  // Some templates open the think block in the prompt: the reply then starts inside it.
  const opened = think && promptOpensThinking(model.detokenize(request.prompt.slice(-8), { special: true }));
  if (!stream) {
    const reply = await generateToolReply(model, request, chat, context);
    const { thinking, content } = think ? splitThinking(reply.content, opened) : { thinking: "", content: reply.content };
    sendJson(context.response, 200, withLogprobs(shape.done(reply.result, content, reply.calls, thinking), reply.result.logprobs));
    return;
  }
  const body = openBodyStream(context.response, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-cache" });
  const send = (line: object): void => body.write(`${JSON.stringify(line)}\n`);
  const splitter = think ? new ThinkingSplitter(opened) : undefined;
  const sendPiece = (text: string, logprobs?: readonly TokenLogprob[]): void => {
    const { thinking, content } = splitter ? splitter.push(text) : { thinking: "", content: text };
    if (thinking || content || logprobs?.length) send(withLogprobs(shape.piece(content, thinking), logprobs));
  };
  try {
    const reply = await generateToolReply(model, request, chat, context, sendPiece);
    const rest = splitter?.finish();
    if (rest && (rest.thinking || rest.content)) send(shape.piece(rest.content, rest.thinking));
    if (reply.calls.length > 0 && shape.calls) send(shape.calls(reply.calls));
    send(shape.done(reply.result, "", [], ""));
  } catch (error) {
    // The status is already 200: Ollama then sends the error as the last line.
    send((error instanceof ApiError ? error : new ApiError(500, (error as Error).message)).toOllama());
  }
  body.end();
}

/**
 * Ollama's `think`: true (or a level) separates the reasoning, false asks the template to skip it,
 * absent leaves the model and its output as they are. A model whose template knows no thinking is
 * refused `think: true`, as Ollama refuses it.
 */
function thinkingOf(think: GenerateRequestBody["think"], template: ChatTemplate, model: string): { think: boolean; variables: Record<string, unknown> } {
  if (think == null) return { think: false, variables: {} };
  const on = think !== false;
  if (on && !templateSupportsThinking(template.source)) throw badRequest(`"${model}" does not support thinking`, "think");
  return { think: on, variables: { enable_thinking: on } };
}

/** The engine's logprobs setting for a request: alternatives per token, when logprobs are asked for. */
function logprobsOf(body: GenerateRequestBody | ChatRequestBody): { logprobs?: number } {
  return body.logprobs ? { logprobs: body.top_logprobs ?? 0 } : {};
}

/** Ollama's tool_calls: arguments as an object. */
function ollamaToolCalls(calls: readonly ToolCall[]): object[] {
  return calls.map((call, index) => ({ function: { index, name: call.name, arguments: call.arguments } }));
}

/** Ollama's messages as the template's; a tool turn is named by `tool_name` (or `name`). */
function toChatMessages(messages: NonNullable<ChatRequestBody["messages"]>): ChatMessage[] {
  return messages.map((message): ChatMessage => {
    const content = message.content ?? "";
    if (message.role === "assistant" && message.tool_calls && message.tool_calls.length > 0) {
      return { role: "assistant", content, tool_calls: message.tool_calls.map((call) => ({ type: "function" as const, function: { name: call.function.name, arguments: call.function.arguments ?? {} } })) };
    }
    const name = message.tool_name ?? message.name;
    return { role: message.role, content, ...(message.role === "tool" && name && { name }) };
  });
}

function doneReason(result: GenerateResult): DoneReason {
  return result.finishReason === "length" ? "length" : "stop";
}

/** Ollama's statistics: load is the wait for the model, prompt evaluation runs to the first token. */
function metrics(result: GenerateResult, started: number, loaded: number): Metrics {
  return {
    total_duration: nanoseconds(performance.now() - started),
    load_duration: nanoseconds(loaded - started),
    prompt_eval_count: result.promptTokens,
    prompt_eval_duration: nanoseconds(result.promptMs),
    eval_count: result.completionTokens,
    eval_duration: nanoseconds(result.generationMs),
  };
}

// --- Embeddings ----------------------------------------------------------------------------------

async function embedRoute(context: RequestContext, pool: ModelPool): Promise<void> {
  const started = performance.now();
  const body = parseOllamaRequest(embedRequest, await context.json());
  const served = findModel(pool, body.model);
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  await withModel(
    pool,
    served.name,
    context,
    async (model) => {
      const loaded = performance.now();
      const { vectors, promptTokens } = await engineCallAsync(() => model.embed(inputs, { normalize: true, truncate: body.truncate ?? true }));
      context.notes.prompt_tokens = promptTokens;
      sendJson(context.response, 200, {
        model: body.model,
        embeddings: vectors,
        total_duration: nanoseconds(performance.now() - started),
        load_duration: nanoseconds(loaded - started),
        prompt_eval_count: promptTokens,
      });
    },
    body.keep_alive ?? undefined,
    "embeddings",
  );
}

async function legacyEmbeddingRoute(context: RequestContext, pool: ModelPool): Promise<void> {
  const body = parseOllamaRequest(legacyEmbeddingRequest, await context.json());
  const served = findModel(pool, body.model);
  await withModel(
    pool,
    served.name,
    context,
    async (model) => {
      // The old endpoint answers an empty prompt with an empty vector, and does not normalize.
      const vectors = body.prompt === "" ? [[]] : (await engineCallAsync(() => model.embed([body.prompt], { truncate: true }))).vectors;
      sendJson(context.response, 200, { embedding: vectors[0] });
    },
    body.keep_alive ?? undefined,
    "embeddings",
  );
}

// --- Models --------------------------------------------------------------------------------------

function listModels(context: RequestContext, pool: ModelPool, descriptions: ModelDescriptions): void {
  // Most recently modified first, as Ollama lists them.
  const models = pool.list().map((served) => descriptions.listed(served));
  models.sort((a, b) => b.modified_at.localeCompare(a.modified_at));
  sendJson(context.response, 200, { models });
}

async function showModel(context: RequestContext, pool: ModelPool, descriptions: ModelDescriptions): Promise<void> {
  const body = parseOllamaRequest(showRequest, await context.json());
  sendJson(context.response, 200, descriptions.show(findModel(pool, body.model), body.verbose));
}

function runningModels(context: RequestContext, pool: ModelPool, descriptions: ModelDescriptions): void {
  // Longest time left first, as Ollama lists them.
  const models = pool.running().map((entry) => descriptions.running(entry, pool.keepAliveMs));
  models.sort((a, b) => b.expires_at.localeCompare(a.expires_at));
  sendJson(context.response, 200, { models });
}

/** Serves the source's file under a second name too; like Ollama, an existing destination is replaced. */
async function copyModel(context: RequestContext, pool: ModelPool): Promise<void> {
  const body = parseOllamaRequest(copyRequest, await context.json());
  const source = findModel(pool, body.source);
  const destination = servedNameOf(body.destination);
  if (destination !== source.name) {
    await pool.remove(destination);
    pool.alias(source.name, destination);
  }
  sendEmpty(context);
}

/** Stops serving a name. The model file itself is never deleted. */
async function deleteModel(context: RequestContext, pool: ModelPool): Promise<void> {
  const body = parseOllamaRequest(deleteRequest, await context.json());
  const served = findModel(pool, body.model);
  await pool.remove(served.name);
  sendEmpty(context);
}

/** Ollama answers copy and delete with a bare 200. */
function sendEmpty(context: RequestContext): void {
  context.response.writeHead(200, { "Content-Length": 0 });
  context.response.end();
}
