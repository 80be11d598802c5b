/**
 * Model names in the store: `[host/][namespace/]model[:tag]`, Ollama's shape. Every part starts with
 * a letter or digit and holds only letters, digits, `_`, `.` and `-`, so a name can never climb out
 * of the store (`..`), be absolute, or hide a separator. The tag defaults to `latest`.
 */
import { RegistryError } from "./errors.js";

export const DEFAULT_TAG = "latest";

export interface ModelName {
  /** Path parts before the model (host, namespace), possibly none. */
  readonly scope: readonly string[];
  readonly model: string;
  readonly tag: string;
}

const PART = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function parseModelName(text: string): ModelName {
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(":");
  const slash = trimmed.lastIndexOf("/");
  const hasTag = colon > slash;
  const path = hasTag ? trimmed.slice(0, colon) : trimmed;
  const tag = hasTag ? trimmed.slice(colon + 1) : DEFAULT_TAG;
  const parts = path.split("/");
  const bad = (why: string): RegistryError =>
    new RegistryError("BAD_NAME", `'${text}' is not a model name (${why}); names look like 'qwen3:4b', 'me/my-model:q4' or 'hf.co/owner/repo:file'`);
  if (parts.length > 3) throw bad("at most host/namespace/model");
  // A manifest is <model>/<tag>.json: a part named like one would collide with a tag's file.
  if (parts.some((part) => part.toLowerCase().endsWith(".json"))) throw bad("a part may not end in .json");
  for (const part of parts) {
    if (!PART.test(part) || part.includes("..")) throw bad(`'${part}' must start with a letter or digit and hold only letters, digits, '_', '.', '-'`);
  }
  if (!TAG.test(tag) || tag.includes("..")) throw bad(`the tag '${tag}' must be letters, digits, '_', '.', '-'`);
  return { scope: parts.slice(0, -1), model: parts.at(-1)!, tag };
}

/** The name as shown: `scope/model:tag`. */
export function formatModelName(name: ModelName): string {
  return `${[...name.scope, name.model].join("/")}:${name.tag}`;
}

/** The canonical form of a name given by a user (`qwen3` → `qwen3:latest`). */
export function canonicalName(text: string): string {
  return formatModelName(parseModelName(text));
}
