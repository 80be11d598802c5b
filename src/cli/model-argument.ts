/**
 * What `run` and `serve` accept as a model: a GGUF path, or a name in the store. A path wins when
 * both exist; a name that is neither says where it looked.
 */
import { existsSync } from "node:fs";
import { modelNameOf } from "../engine/index.js";
import { DEFAULT_TAG, type ModelConfig, ModelStore, parseModelName, RegistryError } from "../registry/index.js";
import { CliError } from "./args.js";

export interface ModelArgument {
  readonly path: string;
  /** How it is served: the file's stem for a path, the store name (without `:latest`) for a name. */
  readonly name: string;
  /** A store model's settings (system prompt, parameters, template, messages). */
  readonly config?: ModelConfig;
}

export function resolveModelArgument(text: string, store = new ModelStore()): ModelArgument {
  if (existsSync(text) || /\.gguf$/i.test(text) || text.includes("\\")) return { path: text, name: modelNameOf(text) };
  let valid = true;
  try {
    parseModelName(text);
  } catch {
    valid = false;
  }
  if (!valid) throw new CliError(`${text}: no such file, and not a model name`);
  try {
    const { manifest, path } = store.resolve(text);
    const name = manifest.name.endsWith(`:${DEFAULT_TAG}`) ? manifest.name.slice(0, -DEFAULT_TAG.length - 1) : manifest.name;
    return { path, name, ...(manifest.config && { config: manifest.config }) };
  } catch (error) {
    if (error instanceof RegistryError && error.code === "NOT_FOUND") throw new CliError(`${text}: no such file, and ${error.message}`);
    throw error;
  }
}
