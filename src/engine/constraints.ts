/**
 * What can steer sampling beyond temperature and the top-k/top-p/min-p filters: a grammar the output
 * must follow (JSON, or a JSON schema), penalties on repeated tokens, and per-token logit biases.
 * Each becomes a node-llama-cpp evaluation option.
 */
import type { Llama, LlamaGrammar, Token } from "node-llama-cpp";
import { EngineError } from "./errors.js";

/**
 * The text node-llama-cpp's JSON-schema grammars end with (four newlines): generation stops before
 * it, so the output is the JSON alone.
 */
export const SCHEMA_GRAMMAR_END = "\n\n\n\n";

/** Output that must parse: any JSON object, or JSON matching a schema. */
export type OutputGrammar = { readonly kind: "json" } | { readonly kind: "json_schema"; readonly schema: object };

export interface Penalties {
  /** llama.cpp's repeat penalty: divides the logits of recently seen tokens (1 = off). */
  readonly repeat?: number;
  /** OpenAI's presence penalty: subtracted once from every token seen (0 = off). */
  readonly presence?: number;
  /** OpenAI's frequency penalty: subtracted per occurrence (0 = off). */
  readonly frequency?: number;
  /** How many of the latest tokens count as seen (default 64, as llama.cpp). */
  readonly lastTokens?: number;
}

export const DEFAULT_PENALTY_WINDOW = 64;

/** Compiled grammars, by their JSON: compiling a schema costs milliseconds, requests repeat them. */
const grammars = new Map<string, Promise<LlamaGrammar>>();
/** Distinct schemas kept compiled; the least recently used goes beyond (each holds native memory). */
const MAX_GRAMMARS = 64;

/** Schema keywords the grammar enforces. */
const ENFORCED = new Set([
  "type", "enum", "const", "oneOf", "anyOf", "properties", "required", "additionalProperties", "items", "prefixItems",
  "minItems", "maxItems", "minLength", "maxLength", "format", "$ref", "$defs", "definitions",
]);
/** Keywords that only annotate: accepted and ignored. */
const ANNOTATIONS = new Set(["title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly"]);
const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);

/**
 * Why a JSON schema cannot be enforced, or undefined. node-llama-cpp's compiler quietly turns what it
 * does not know into something else (an unknown type becomes `null`), so a schema is checked first:
 * a keyword that narrows what is valid but cannot be enforced (pattern, minimum, allOf ...) is
 * refused rather than silently dropped.
 */
export function unsupportedSchemaPart(schema: unknown, at = "schema"): string | undefined {
  if (typeof schema === "boolean") return undefined;
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return `${at} must be an object`;
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (ANNOTATIONS.has(key)) continue;
    if (!ENFORCED.has(key)) return `${at}.${key} cannot be enforced by the grammar`;
    if (key === "type") {
      const types: unknown[] = Array.isArray(value) ? value : [value];
      const bad = types.find((type) => typeof type !== "string" || !TYPES.has(type));
      if (bad !== undefined) return `${at}.type ${JSON.stringify(bad)} is not a JSON schema type`;
    } else if (key === "properties" || key === "$defs" || key === "definitions") {
      if (value === null || typeof value !== "object") return `${at}.${key} must be an object`;
      for (const [name, sub] of Object.entries(value as object)) {
        const problem = unsupportedSchemaPart(sub, `${at}.${key}.${name}`);
        if (problem) return problem;
      }
    } else if (key === "oneOf" || key === "anyOf" || key === "prefixItems") {
      if (!Array.isArray(value)) return `${at}.${key} must be an array`;
      for (const [index, sub] of value.entries()) {
        const problem = unsupportedSchemaPart(sub, `${at}.${key}[${index}]`);
        if (problem) return problem;
      }
    } else if (key === "items" || (key === "additionalProperties" && typeof value === "object")) {
      const problem = unsupportedSchemaPart(value, `${at}.${key}`);
      if (problem) return problem;
    } else if (key === "enum" && !Array.isArray(value)) {
      return `${at}.enum must be an array`;
    }
  }
  return undefined;
}

/** The compiled grammar for an output format; a schema the compiler cannot handle is a BAD_OPTION. */
export function compileGrammar(llama: Llama, grammar: OutputGrammar): Promise<LlamaGrammar> {
  if (grammar.kind === "json_schema") {
    const problem = unsupportedSchemaPart(grammar.schema);
    if (problem) return Promise.reject(new EngineError("BAD_OPTION", `the JSON schema cannot be enforced: ${problem}`));
  }
  const key = JSON.stringify(grammar);
  let compiled = grammars.get(key);
  if (compiled === undefined) {
    compiled = (grammar.kind === "json" ? llama.getGrammarFor("json") : llama.createGrammarForJsonSchema(grammar.schema as never)).catch((error: unknown) => {
      grammars.delete(key);
      throw new EngineError("BAD_OPTION", `the JSON schema cannot be enforced: ${(error as Error).message.split("\n")[0]}`);
    });
    grammars.set(key, compiled);
    // The oldest entry goes (a Map iterates in insertion order; a use below moves an entry to the end).
    if (grammars.size > MAX_GRAMMARS) grammars.delete(grammars.keys().next().value!);
  } else {
    grammars.delete(key);
    grammars.set(key, compiled);
  }
  return compiled;
}

/** Checks a penalty setting; returns the problem, or undefined. */
export function checkPenalties(penalties: Penalties | undefined): string | undefined {
  if (penalties === undefined) return undefined;
  const { repeat, presence, frequency, lastTokens } = penalties;
  if (repeat !== undefined && (!Number.isFinite(repeat) || repeat < 0 || repeat > 10)) return `the repeat penalty must be between 0 and 10 (got ${repeat})`;
  if (presence !== undefined && (!Number.isFinite(presence) || Math.abs(presence) > 2)) return `the presence penalty must be between -2 and 2 (got ${presence})`;
  if (frequency !== undefined && (!Number.isFinite(frequency) || Math.abs(frequency) > 2)) return `the frequency penalty must be between -2 and 2 (got ${frequency})`;
  if (lastTokens !== undefined && (!Number.isInteger(lastTokens) || lastTokens < -1)) return `the penalty window must be a whole number ≥ -1 (got ${lastTokens})`;
  return undefined;
}

/** True when the settings change nothing (all at their "off" values). */
export function penaltiesOff(penalties: Penalties | undefined): boolean {
  return penalties === undefined || ((penalties.repeat ?? 1) === 1 && (penalties.presence ?? 0) === 0 && (penalties.frequency ?? 0) === 0);
}

/**
 * node-llama-cpp's repeat-penalty option over the latest tokens of the prompt and output so far
 * (`lastTokens` -1: all of them; 0: none).
 */
export function repeatPenaltyOption(penalties: Penalties, recent: () => readonly Token[]) {
  const window = penalties.lastTokens ?? DEFAULT_PENALTY_WINDOW;
  return {
    punishTokens: () => {
      const tokens = recent();
      return window < 0 ? [...tokens] : window === 0 ? [] : tokens.slice(-window);
    },
    penalty: penalties.repeat ?? 1,
    presencePenalty: penalties.presence ?? 0,
    frequencyPenalty: penalties.frequency ?? 0,
  };
}

/** Checks logit biases against the vocabulary; returns the problem, or undefined. */
export function checkTokenBias(bias: ReadonlyMap<number, number> | undefined, vocabularySize: number): string | undefined {
  if (bias === undefined) return undefined;
  for (const [token, value] of bias) {
    if (!Number.isInteger(token) || token < 0 || token >= vocabularySize) return `token ${token} is not in the model's vocabulary of ${vocabularySize}`;
    if (!Number.isFinite(value) || value < -100 || value > 100) return `the bias of token ${token} must be between -100 and 100 (got ${value})`;
  }
  return undefined;
}

/**
 * The part of a schema the grammar can enforce: keywords it cannot (pattern, minimum ...) are
 * dropped, so the output is still valid JSON of the right shape but may break those limits. For tool
 * parameters, where refusing a client's whole tool list over a `minimum` would help nobody.
 */
export function enforceablePart(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(enforceablePart);
  if (schema === null || typeof schema !== "object") return schema;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (!ENFORCED.has(key)) continue;
    if (key === "type" && (Array.isArray(value) ? value : [value]).some((type) => typeof type !== "string" || !TYPES.has(type))) continue;
    if (key === "properties" || key === "$defs" || key === "definitions") {
      kept[key] = Object.fromEntries(Object.entries((value ?? {}) as object).map(([name, sub]) => [name, enforceablePart(sub)]));
    } else if (key === "enum" || key === "const" || key === "required" || typeof value !== "object") {
      kept[key] = value;
    } else {
      kept[key] = enforceablePart(value);
    }
  }
  return kept;
}
