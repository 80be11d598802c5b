/**
 * What a model is served with besides its weights, as Ollama's Modelfile and /api/create give it:
 * a default system prompt, default sampling parameters, a chat template (Jinja, as the GGUF's own),
 * messages that start every chat, a licence. Stored in the manifest; applied by `run` and `serve`.
 */
import { Template } from "@huggingface/jinja";
import { RegistryError } from "./errors.js";

export interface ConfigMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

export interface ModelConfig {
  readonly system?: string;
  /** A Jinja chat template replacing the model's own. */
  readonly template?: string;
  /** Ollama's option names: temperature, top_k, top_p, min_p, seed, num_predict, repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty, stop. */
  readonly parameters?: Readonly<Record<string, number | readonly string[]>>;
  readonly messages?: readonly ConfigMessage[];
  readonly license?: string;
}

/** The parameters a config may set, and their kind. */
export const CONFIG_PARAMETERS: Readonly<Record<string, "number" | "integer" | "strings">> = {
  temperature: "number",
  top_k: "integer",
  top_p: "number",
  min_p: "number",
  seed: "integer",
  num_predict: "integer",
  repeat_penalty: "number",
  repeat_last_n: "integer",
  presence_penalty: "number",
  frequency_penalty: "number",
  stop: "strings",
};

/** The ranges the request schemas accept (seed: any; negative means random, as in Ollama). */
const PARAMETER_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  temperature: [0, 2],
  top_k: [0, 1_000_000],
  top_p: [0, 1],
  min_p: [0, 1],
  num_predict: [-2, 2 ** 31 - 1],
  repeat_penalty: [0, 10],
  repeat_last_n: [-1, 1_000_000],
  presence_penalty: [-2, 2],
  frequency_penalty: [-2, 2],
};

/** Checks a parameter's value; throws naming it when it is not one slmkit applies. */
export function checkParameter(name: string, value: unknown): number | readonly string[] {
  const kind = CONFIG_PARAMETERS[name];
  if (kind === undefined) throw new RegistryError("BAD_REF", `PARAMETER ${name} is not one slmkit applies; it knows ${Object.keys(CONFIG_PARAMETERS).join(", ")}`);
  if (kind === "strings") {
    const list = Array.isArray(value) ? value : [value];
    if (!list.every((item) => typeof item === "string" && item !== "")) throw new RegistryError("BAD_REF", `PARAMETER stop takes non-empty strings`);
    return list as string[];
  }
  const number = typeof value === "string" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number) || (kind === "integer" && !Number.isInteger(number))) {
    throw new RegistryError("BAD_REF", `PARAMETER ${name} takes ${kind === "integer" ? "a whole number" : "a number"} (got ${JSON.stringify(value)})`);
  }
  // Checked now, so that a model does not make every later request fail over a field its client never sent.
  const [low, high] = PARAMETER_RANGES[name] ?? [-Infinity, Infinity];
  if (number < low || number > high) throw new RegistryError("BAD_REF", `PARAMETER ${name} must be from ${low} to ${high} (got ${number})`);
  return number;
}

/** Ollama's TEMPLATE is a Go template; slmkit renders Jinja (as the model's own and llama.cpp's --jinja do). */
export function checkTemplate(template: string): string {
  if (/\{\{-?\s*(\.|if\s+\.|range\s+\.)/.test(template)) {
    throw new RegistryError("BAD_REF", "TEMPLATE looks like an Ollama Go template ({{ .Prompt }}); slmkit takes a Jinja chat template, as found in GGUF files ({{ messages }}, {% for message in messages %})");
  }
  try {
    new Template(template);
  } catch (error) {
    throw new RegistryError("BAD_REF", `TEMPLATE is not valid Jinja: ${(error as Error).message}`);
  }
  return template;
}

/** A model's settings over the ones it was made from: each field replaces, parameters merge by name. */
export function mergeConfig(base: ModelConfig | undefined, override: ModelConfig): ModelConfig {
  const parameters = base?.parameters || override.parameters ? { ...base?.parameters, ...override.parameters } : undefined;
  const merged: ModelConfig = { ...base, ...override, ...(parameters && { parameters }) };
  return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined)) as ModelConfig;
}
