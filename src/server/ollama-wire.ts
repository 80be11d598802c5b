/**
 * Ollama API request and response shapes, declared once and checked at the boundary
 * (https://github.com/ollama/ollama/blob/main/docs/api.md). Handlers only see values that passed.
 * As Ollama does, unknown fields and unknown `options` are dropped. Options slmkit cannot honour yet
 * are accepted only at values that change nothing here, and fields of features it lacks are refused
 * with an error naming them: 400 for a field of a request slmkit does serve, 501 for a feature.
 */
import { z } from "zod";
import { functionTool, toolChoice } from "./openai-wire.js";
import { MAX_TOP_LOGPROBS, SAMPLING_LIMITS } from "../engine/index.js";
import { badRequest, notImplemented } from "./api-error.js";
import { parseKeepAlive } from "./duration.js";

/**
 * What GET /api/version answers: the Ollama release whose API (docs/api.md) these routes follow.
 * Clients compare it to decide which features to use.
 */
export const OLLAMA_API_VERSION = "0.5.0";

// --- Model names ---------------------------------------------------------------------------------

/** The tag Ollama gives a name written without one. */
const DEFAULT_TAG = ":latest";

/** The served name a client's name refers to: `tiny-llama:latest` and `tiny-llama` are one model. */
export function servedNameOf(requested: string): string {
  return requested.endsWith(DEFAULT_TAG) ? requested.slice(0, -DEFAULT_TAG.length) : requested;
}

/** How Ollama lists a served name: always with its tag. */
export function ollamaNameOf(served: string): string {
  return served.includes(":") ? served : `${served}${DEFAULT_TAG}`;
}

/** `[host/][namespace/]model[:tag]`, each part starting with a letter or digit (so never `..`). */
const NEW_MODEL_NAME = /^(?:[A-Za-z0-9][\w.-]*\/){0,2}[A-Za-z0-9][\w.-]*(?::\w[\w.-]{0,127})?$/;

const MODEL_REQUIRED = "model is required";
const modelName = z.string({ error: (issue) => (issue.input === undefined ? MODEL_REQUIRED : "must be a string") }).min(1, MODEL_REQUIRED).max(256);

// --- Options -------------------------------------------------------------------------------------

/** Ollama sets no limit; a model's Modelfile carries a dozen at most. */
const MAX_STOP_STRINGS = 64;

/** The options slmkit applies, with Ollama's names for the engine's sampling and length settings. */
const appliedOptions = {
  temperature: z.number().min(0).max(SAMPLING_LIMITS.temperature.max).nullish(),
  top_k: z.number().int().min(0).max(SAMPLING_LIMITS.topK.max).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  /** Negative: a random seed (Ollama's default is -1). */
  seed: z.number().int().nullish(),
  /** llama.cpp's repeat penalty over the last repeat_last_n tokens (1: off). */
  repeat_penalty: z.number().min(0).max(10).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  /** Tokens the penalties look back over: 64 by default, -1 the whole context, 0 none. */
  repeat_last_n: z.number().int().min(-1).nullish(),
  /** Most tokens to generate; -1 (Ollama's default) and -2 both mean "until the context is full". */
  num_predict: z
    .number()
    .int()
    .refine((value) => value >= 1 || value === -1 || value === -2, "must be a number of tokens from 1, or -1 / -2 for no limit")
    .nullish(),
  stop: z.array(z.string().min(1)).max(MAX_STOP_STRINGS).nullish(),
};

type OptionType = "integer" | "number" | "boolean";
type OptionRow =
  | { readonly type: OptionType; readonly use: "load" | "inert" }
  | { readonly type: OptionType; readonly use: "unsupported"; readonly accepted: readonly (number | boolean)[]; readonly meaning: string };

/**
 * Ollama's other options, one row each, and what slmkit does with them. `load`: a setting of the
 * loaded model, fixed by `slmkit serve`'s flags: accepted, noted in the log. `inert`: it only tunes a
 * feature that is off here, so no value changes anything. `unsupported`: a feature not implemented
 * yet, accepted only at the listed values (off, and Ollama's default where that differs).
 */
const OTHER_OPTIONS = {
  num_ctx: { type: "integer", use: "load" },
  num_batch: { type: "integer", use: "load" },
  num_gpu: { type: "integer", use: "load" },
  main_gpu: { type: "integer", use: "load" },
  num_thread: { type: "integer", use: "load" },
  numa: { type: "boolean", use: "load" },
  low_vram: { type: "boolean", use: "load" },
  f16_kv: { type: "boolean", use: "load" },
  use_mmap: { type: "boolean", use: "load" },
  use_mlock: { type: "boolean", use: "load" },
  // Tokens kept when Ollama shifts a full context; slmkit never shifts (a prompt that does not fit is refused).
  num_keep: { type: "integer", use: "inert" },
  penalize_newline: { type: "boolean", use: "inert" },
  mirostat_tau: { type: "number", use: "inert" },
  mirostat_eta: { type: "number", use: "inert" },
  mirostat: { type: "integer", use: "unsupported", accepted: [0], meaning: "0 (off)" },
  typical_p: { type: "number", use: "unsupported", accepted: [1], meaning: "1 (off)" },
  tfs_z: { type: "number", use: "unsupported", accepted: [1], meaning: "1 (off)" },
  vocab_only: { type: "boolean", use: "unsupported", accepted: [false], meaning: "false" },
  logits_all: { type: "boolean", use: "unsupported", accepted: [false], meaning: "false" },
  embedding_only: { type: "boolean", use: "unsupported", accepted: [false], meaning: "false" },
} as const satisfies Record<string, OptionRow>;

const otherOption = (name: string): OptionRow | undefined => (OTHER_OPTIONS as Record<string, OptionRow>)[name];

const OPTION_TYPES = { integer: z.number().int(), number: z.number(), boolean: z.boolean() } as const;

function otherOptionSchema(row: OptionRow): z.ZodType<number | boolean | null | undefined> {
  const base: z.ZodType<number | boolean> = OPTION_TYPES[row.type];
  const accepted = row.use === "unsupported" ? row.accepted : undefined;
  return (accepted ? base.refine((value) => accepted.includes(value)) : base).nullish();
}

const optionsSchema = z
  .object({
    ...appliedOptions,
    ...(Object.fromEntries(Object.entries(OTHER_OPTIONS).map(([name, row]) => [name, otherOptionSchema(row)])) as {
      [Name in keyof typeof OTHER_OPTIONS]: z.ZodType<number | boolean | null | undefined>;
    }),
  })
  .catchall(z.unknown());
export type OllamaOptions = z.infer<typeof optionsSchema>;

/** Options given that change nothing here (settings of the loaded model, inert or unknown ones): for the log. */
export function optionsWithoutEffect(options: OllamaOptions | null | undefined): string[] {
  return Object.entries(options ?? {})
    .filter(([name, value]) => value != null && !(name in appliedOptions) && otherOption(name)?.use !== "unsupported")
    .map(([name]) => name);
}

// --- Requests ------------------------------------------------------------------------------------

/** keep_alive as milliseconds: Ollama's seconds or Go-style durations; negative keeps the model for ever. */
const keepAlive = z
  .union([z.number(), z.string().max(64)])
  .transform((value, context) => {
    const ms = parseKeepAlive(value);
    if (ms === undefined) context.addIssue({ code: "custom", message: 'must be a duration such as "5m" or "30s", or a number of seconds (0 unloads, negative keeps loaded)' });
    return ms ?? 0;
  })
  .nullish();

/** A field Go clients send as "" when unused: only that (or nothing) is accepted. */
const absent = z.union([z.literal(""), z.null()]).optional();
const noImages = z.array(z.string()).max(0).nullish();

/** Fields shared by generate and chat. */
const generationFields = {
  model: modelName,
  stream: z.boolean().nullish(),
  keep_alive: keepAlive,
  options: optionsSchema.nullish(),
  /** "json": any JSON object; an object: a JSON schema the output must match. */
  format: z.union([z.literal("json"), z.record(z.string(), z.unknown()), absent]),
  think: z.union([z.boolean(), z.enum(["high", "medium", "low"])]).nullish(),
  logprobs: z.boolean().nullish(),
  /** Alternatives per token; needs logprobs: true. */
  top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
};

export const generateRequest = z.object({
  ...generationFields,
  /** Empty or missing: load the model (or unload it, with keep_alive 0). */
  prompt: z.string().nullish(),
  system: z.string().nullish(),
  raw: z.boolean().nullish(),
  /** The token ids a previous answer returned, continued by this prompt (Ollama deprecates it). */
  context: z.array(z.number().int().min(0).max(2 ** 31 - 1)).nullish(),
  template: absent,
  suffix: absent,
  images: noImages,
});
export type GenerateRequestBody = z.infer<typeof generateRequest>;

/** A call in an earlier assistant turn; Ollama sends its arguments as an object. */
const messageToolCall = z.object({
  function: z.object({ name: z.string().min(1).max(256), arguments: z.record(z.string(), z.unknown()).nullish(), index: z.number().int().nullish() }),
});

const chatMessage = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string().nullish(),
  images: noImages,
  tool_calls: z.array(messageToolCall).max(128).nullish(),
  /** A tool turn: the tool whose result this is. */
  tool_name: z.string().max(256).nullish(),
  name: z.string().max(256).nullish(),
  thinking: z.string().nullish(),
});

export const chatRequest = z.object({
  ...generationFields,
  /** Empty or missing: load the model (or unload it, with keep_alive 0). */
  messages: z.array(chatMessage).nullish(),
  /** Described as OpenAI does; Ollama sends the same objects. */
  tools: z.array(functionTool).max(128).nullish(),
  /** slmkit's extension (Ollama has none): OpenAI's tool_choice, to require a call. */
  tool_choice: toolChoice.nullish(),
});
export type ChatRequestBody = z.infer<typeof chatRequest>;

/** Show and delete name the model as `model`, or as `name` (deprecated; ollama-js's delete still sends it). */
const modelOrName = {
  model: z.string().max(256).nullish(),
  name: z.string().max(256).nullish(),
};
const eitherName = (body: { model?: string | null; name?: string | null }): boolean => Boolean(body.model || body.name);
const eitherNameIssue = { message: MODEL_REQUIRED, path: ["model"] };

export const showRequest = z
  .object({ ...modelOrName, verbose: z.boolean().nullish() })
  .refine(eitherName, eitherNameIssue)
  .transform((body) => ({ model: (body.model || body.name)!, verbose: body.verbose ?? false }));

export const deleteRequest = z
  .object(modelOrName)
  .refine(eitherName, eitherNameIssue)
  .transform((body) => ({ model: (body.model || body.name)! }));

/** /api/embed: one text or many; vectors come back normalized. */
export const embedRequest = z.object({
  model: modelName,
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  /** Cut inputs longer than the context to fit (Ollama's default), instead of refusing them. */
  truncate: z.boolean().nullish(),
  dimensions: z.null().optional(),
  options: optionsSchema.nullish(),
  keep_alive: keepAlive,
});

/** /api/embeddings, the older form: one prompt, the raw (not normalized) vector. */
export const legacyEmbeddingRequest = z.object({
  model: modelName,
  prompt: z.string(),
  options: optionsSchema.nullish(),
  keep_alive: keepAlive,
});

export const copyRequest = z.object({
  source: modelName,
  destination: z.string().min(1).max(256).regex(NEW_MODEL_NAME, "must be a model name such as 'my-model' or 'my-model:v2'"),
});

/**
 * /api/create: a new model from a served one, quantized by slmkit's quantizer when `quantize` is
 * given. Modelfile fields (template, system, parameters ...) need the registry's manifests.
 */
export const createRequest = z.object({
  model: z.string().min(1).max(256).regex(NEW_MODEL_NAME, "must be a model name such as 'my-model' or 'my-model:q4'"),
  from: modelName,
  quantize: z.string().min(1).max(32).nullish(),
  stream: z.boolean().nullish(),
  files: z.record(z.string(), z.string()).nullish(),
  adapters: z.record(z.string(), z.string()).nullish(),
  template: z.string().nullish(),
  system: z.string().nullish(),
  license: z.union([z.string(), z.array(z.string())]).nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  messages: z.array(z.unknown()).nullish(),
});
export type CreateRequestBody = z.infer<typeof createRequest>;

/** /api/pull: the model as `model` (or the deprecated `name`); `insecure` is accepted and means nothing here. */
export const pullRequest = z
  .object({ ...modelOrName, insecure: z.boolean().nullish(), stream: z.boolean().nullish() })
  .refine(eitherName, eitherNameIssue)
  .transform((body) => ({ model: (body.model || body.name)!, stream: body.stream ?? true }));

// --- Checking ------------------------------------------------------------------------------------

/** Fields of requests slmkit serves that it cannot honour yet, and why: a 400 naming the field. */
const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = {
  format: 'give "json" or a JSON schema object',
  template: "a per-request template is not supported: the model's own chat template is used (raw: true sends the prompt as it is)",
  suffix: "fill-in-the-middle is not implemented yet",
  images: "slmkit serves text-only models",
  "messages.images": "slmkit serves text-only models",
  ...Object.fromEntries(
    Object.entries(OTHER_OPTIONS as Record<string, OptionRow>).flatMap(([name, row]) => (row.use === "unsupported" ? [[`options.${name}`, `accepted only as ${row.meaning}`]] : [])),
  ),
};

/** Features slmkit does not have yet, by the field that asks for them: a 501. */
const NOT_IMPLEMENTED: ReadonlyArray<{ what: string; inUse(body: Record<string, unknown>): boolean }> = [
];

/** Parses a request body against a schema; the first problem becomes a 400 (or 501) naming the field. */
export function parseOllamaRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) {
    const fields = result.data as Record<string, unknown>;
    const missing = NOT_IMPLEMENTED.find((row) => row.inUse(fields));
    if (missing) throw notImplemented(`${missing.what} is not implemented yet`);
    return result.data;
  }
  const issue = result.error.issues[0]!;
  const field = issue.path.join(".");
  const unsupported = UNSUPPORTED_FIELDS[issue.path.filter((part) => typeof part === "string").join(".")];
  if (unsupported !== undefined) throw badRequest(`'${field}' is not supported by this server yet: ${unsupported}`, field);
  if (issue.message === MODEL_REQUIRED) throw badRequest(`${MODEL_REQUIRED}: a name from GET /api/tags`, "model");
  throw badRequest(field ? `invalid '${field}': ${issue.message}` : `invalid request: ${issue.message}`, field || null);
}

// --- Answers -------------------------------------------------------------------------------------

/** Ollama reports every duration in nanoseconds. */
export const nanoseconds = (ms: number): number => Math.round(ms * 1e6);

export type DoneReason = "stop" | "length" | "load" | "unload";

/** The statistics of a finished generation, as Ollama's final answer carries them. */
export interface Metrics {
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
}

export interface ModelDetails {
  parent_model: string;
  format: "gguf";
  family: string;
  families: string[];
  parameter_size: string;
  quantization_level: string;
}

/** One model of GET /api/tags. */
export interface ListedModel {
  name: string;
  model: string;
  modified_at: string;
  size: number;
  digest: string;
  details: ModelDetails;
}

/** One model of GET /api/ps. */
export interface RunningModel extends Omit<ListedModel, "modified_at"> {
  size_vram: number;
  expires_at: string;
  context_length: number;
}
