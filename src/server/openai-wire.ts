/**
 * OpenAI API request and response shapes, declared once and checked at the boundary
 * (https://platform.openai.com/docs/api-reference/chat). Handlers only see values that passed.
 * Fields OpenAI defines that slmkit does not implement yet are refused with a 400 naming the field
 * rather than silently ignored; unknown extra fields are dropped, as OpenAI's own API does.
 */
import { z } from "zod";
import { MAX_TOP_LOGPROBS } from "../engine/index.js";
import { badRequest } from "./api-error.js";

const MAX_STOP_STRINGS = 16;

const stopField = z.union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP_STRINGS)]).nullish();

/** Sampling and length fields shared by chat and text completions (llama-server's extensions included). */
const generationFields = {
  model: z.string().min(1).max(256),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).max(1_000_000).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  max_tokens: z.number().int().min(1).max(2 ** 31 - 1).nullish(),
  stop: stopField,
  n: z.number().int().min(1).max(1).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  /** llama-server's extension: keep generating past end-of-generation tokens (benchmarks). */
  ignore_eos: z.boolean().nullish(),
  user: z.string().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  /** llama-server's extension: llama.cpp's multiplicative repeat penalty. */
  repeat_penalty: z.number().min(0).max(10).nullish(),
  /** Token id (as a string key, as OpenAI sends it) → bias from -100 (ban) to 100. */
  logit_bias: z.record(z.string().regex(/^\d+$/, "keys are token ids"), z.number().min(-100).max(100)).nullish(),
};


/** OpenAI's structured output: plain text, any JSON object, or JSON matching a schema. */
const responseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({ name: z.string().max(64), schema: z.record(z.string(), z.unknown()), strict: z.boolean().nullish(), description: z.string().nullish() }),
  }),
]);

const textPart = z.object({ type: z.literal("text"), text: z.string() });

/** A call the assistant made in an earlier turn; OpenAI sends its arguments as a JSON string. */
const messageToolCall = z.object({
  id: z.string().max(256),
  type: z.literal("function"),
  function: z.object({ name: z.string().min(1).max(256), arguments: z.string() }),
});

const chatMessage = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
  name: z.string().optional(),
  tool_calls: z.array(messageToolCall).max(128).nullish(),
  tool_call_id: z.string().max(256).nullish(),
});

/** A function the model may call; names as OpenAI allows them. */
export const functionTool = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, "must be 1 to 64 letters, digits, '_', '.' or '-'"),
    description: z.string().max(16_384).nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  }),
});

export const toolChoice = z.union([z.enum(["none", "auto", "required"]), z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) })]);

export const chatCompletionRequest = z.object({
  ...generationFields,
  messages: z.array(chatMessage).min(1),
  logprobs: z.boolean().nullish(),
  /** Alternatives per token; needs logprobs: true. */
  top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  max_completion_tokens: z.number().int().min(1).max(2 ** 31 - 1).nullish(),
  response_format: responseFormat.nullish(),
  tools: z.array(functionTool).max(128).nullish(),
  tool_choice: toolChoice.nullish(),
  /** Several calls in one reply: accepted; a required call is always a single one. */
  parallel_tool_calls: z.boolean().nullish(),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;

export const completionRequest = z.object({
  ...generationFields,
  /** The legacy API's logprobs: how many alternatives per token (0 to 5), the chosen token's always. */
  logprobs: z.number().int().min(0).max(5).nullish(),
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  echo: z.literal(false).nullish(),
  best_of: z.literal(1).nullish(),
  suffix: z.null().optional(),
});
export type CompletionRequest = z.infer<typeof completionRequest>;

/** Parses a request body against a schema; the first problem becomes a 400 naming the field. */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join(".");
  const known = ["echo", "best_of", "suffix", "n"];
  const topField = String(issue.path[0] ?? "");
  if (known.includes(topField)) {
    throw badRequest(`'${field}' is not supported by this server yet (only its default value is accepted)`, field, "unsupported_parameter");
  }
  throw badRequest(field ? `Invalid '${field}': ${issue.message}` : `Invalid request: ${issue.message}`, field || null);
}

/** OpenAI's usage object. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

export type OpenAiFinishReason = "stop" | "length" | "tool_calls";

export const embeddingRequest = z.object({
  model: z.string().min(1).max(256),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  encoding_format: z.enum(["float", "base64"]).nullish(),
  dimensions: z.null().optional(),
  user: z.string().nullish(),
});
export type EmbeddingRequest = z.infer<typeof embeddingRequest>;

export interface ModelObject {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  /** slmkit's own details; OpenAI clients keep unknown fields. */
  slmkit?: { path: string; random_weights: boolean; note?: string };
}
