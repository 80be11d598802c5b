/**
 * A store model's settings (Modelfile / /api/create) applied to requests: its system prompt when a
 * chat brings none, its opening messages, its default parameters under the request's own, its chat
 * template in place of the GGUF's.
 */
import type { ChatMessage, ChatTemplate, LoadedModel } from "../engine/index.js";
import type { ModelConfig } from "../registry/index.js";

export function withConfiguredMessages(config: ModelConfig | undefined, messages: readonly ChatMessage[]): ChatMessage[] {
  if (!config || (config.system === undefined && !config.messages?.length)) return [...messages];
  const firstOther = messages.findIndex((message) => message.role !== "system");
  const systems = firstOther < 0 ? [...messages] : messages.slice(0, firstOther);
  const rest = firstOther < 0 ? [] : messages.slice(firstOther);
  const system: ChatMessage[] = systems.length > 0 ? systems : config.system !== undefined ? [{ role: "system", content: config.system }] : [];
  return [...system, ...(config.messages ?? []), ...rest];
}

const templates = new WeakMap<LoadedModel, Map<string, ChatTemplate>>();

/** The chat template to render with: the configured one (compiled once per loaded model), else the model's. */
export function configuredTemplate(model: LoadedModel, config: ModelConfig | undefined): ChatTemplate {
  if (config?.template === undefined) return model.chatTemplate;
  let byModel = templates.get(model);
  if (!byModel) templates.set(model, (byModel = new Map<string, ChatTemplate>()));
  let template = byModel.get(config.template);
  if (!template) byModel.set(config.template, (template = model.chatTemplateFrom(config.template)));
  return template;
}

/** Ollama's options: the request's over the model's configured parameters (same names). */
export function withConfiguredOptions<T extends object>(config: ModelConfig | undefined, options: T | null | undefined): T | null | undefined {
  if (!config?.parameters) return options;
  return { ...(config.parameters as object), ...(options ?? {}) } as T;
}

/** OpenAI request fields the model's parameters fill when the request leaves them out. */
export function withConfiguredOpenAiFields<T extends Record<string, unknown>>(config: ModelConfig | undefined, body: T): T {
  const parameters = config?.parameters;
  if (!parameters) return body;
  const filled: Record<string, unknown> = { ...body };
  const fill = (field: string, parameter: string): void => {
    if (filled[field] == null && parameters[parameter] !== undefined) filled[field] = parameters[parameter];
  };
  fill("temperature", "temperature");
  fill("top_p", "top_p");
  fill("top_k", "top_k");
  fill("min_p", "min_p");
  // A negative seed means "random" in a Modelfile (Ollama's meaning): no fixed seed.
  if (filled.seed == null && typeof parameters.seed === "number" && parameters.seed >= 0) filled.seed = parameters.seed;
  fill("stop", "stop");
  fill("presence_penalty", "presence_penalty");
  fill("frequency_penalty", "frequency_penalty");
  fill("repeat_penalty", "repeat_penalty");
  if (filled.max_tokens == null && filled.max_completion_tokens == null && typeof parameters.num_predict === "number" && parameters.num_predict > 0) filled.max_tokens = parameters.num_predict;
  return filled as T;
}
