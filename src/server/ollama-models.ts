/**
 * What Ollama's model routes (/api/tags, /api/show, /api/ps) tell about a served model, read from
 * its GGUF header: details (family, parameter size, quantization), model_info, chat template, and a
 * digest. A header is read once per file and kept in this small form, not as its token tables.
 */
import { createHash } from "node:crypto";
import { DEFAULT_SAMPLING, type LoadedModel, templateKnowsTools, templateSupportsThinking } from "../engine/index.js";
import { type GgufHeader, type GgufValue, readGgufHeader, summarizeModel } from "../gguf/index.js";
import type { ServedModel } from "./model-pool.js";
import { type ListedModel, type ModelDetails, type RunningModel, ollamaNameOf } from "./ollama-wire.js";

/** What slmkit knows about a model file, kept per file. */
interface FileFacts {
  readonly details: ModelDetails;
  readonly modelInfo: Record<string, unknown>;
  readonly template: string | undefined;
  readonly license: string | undefined;
  readonly vocabularySize: number;
}

/** Metadata Ollama leaves out of model_info: the name is the served one, the template has its own field. */
const HIDDEN_KEYS = new Set(["general.name", "tokenizer.chat_template"]);

/** How Ollama shows a model that stays loaded for ever: now plus Go's longest duration (~292 years). */
const FOREVER_MS = 2 ** 63 / 1e6;

export class ModelDescriptions {
  private readonly facts = new Map<string, FileFacts>();

  /** The model as GET /api/tags lists it. */
  listed(served: ServedModel): ListedModel {
    const name = ollamaNameOf(served.name);
    return {
      name,
      model: name,
      modified_at: new Date(served.created * 1000).toISOString(),
      size: served.fileSize,
      digest: digestOf(served),
      details: this.factsOf(served).details,
    };
  }

  /** A loaded model as GET /api/ps lists it; `idleKeepAliveMs` says when a busy one will expire. */
  running(entry: { served: ServedModel; model: LoadedModel; expiresAt: Date | null; busy: boolean }, idleKeepAliveMs: number): RunningModel {
    const { served, model } = entry;
    const memory = model.memory;
    const expiresAt = entry.expiresAt ?? new Date(Date.now() + (entry.busy && idleKeepAliveMs !== Infinity ? idleKeepAliveMs : FOREVER_MS));
    const name = ollamaNameOf(served.name);
    return {
      name,
      model: name,
      size: memory.ram + memory.vram,
      digest: digestOf(served),
      details: this.factsOf(served).details,
      expires_at: expiresAt.toISOString(),
      size_vram: memory.vram,
      context_length: model.contextSize,
    };
  }

  /** The body of POST /api/show; `verbose` gives metadata arrays in full instead of their lengths. */
  show(served: ServedModel, verbose: boolean): object {
    const facts = this.factsOf(served);
    return {
      ...(facts.license !== undefined && { license: facts.license }),
      modelfile: `# slmkit serves this GGUF file as it is; there is no Modelfile.\nFROM ${served.path}\n`,
      parameters: samplingDefaults(),
      ...((served.config?.template ?? facts.template) !== undefined && { template: served.config?.template ?? facts.template }),
      details: facts.details,
      model_info: verbose ? modelInfo(readGgufHeader(served.path), true) : facts.modelInfo,
      capabilities: capabilitiesOf(served.config?.template ?? facts.template),
      modified_at: new Date(served.created * 1000).toISOString(),
    };
  }

  vocabularySize(served: ServedModel): number {
    return this.factsOf(served).vocabularySize;
  }

  private factsOf(served: ServedModel): FileFacts {
    const key = `${served.path}\n${served.fileSize}\n${served.created}`;
    let facts = this.facts.get(key);
    if (facts === undefined) {
      facts = readFacts(readGgufHeader(served.path));
      this.facts.set(key, facts);
    }
    return facts;
  }
}

function readFacts(header: GgufHeader): FileFacts {
  const summary = summarizeModel(header);
  const family = summary.architecture ?? "unknown";
  return {
    details: {
      parent_model: "",
      format: "gguf",
      family,
      families: [family],
      parameter_size: parameterSize(summary.parameters),
      quantization_level: quantizationLevel(summary.fileType, summary.tensorTypes),
    },
    modelInfo: modelInfo(header, false),
    template: header.metadata.string("tokenizer.chat_template"),
    license: header.metadata.string("general.license"),
    vocabularySize: summary.vocabularySize ?? 0,
  };
}

/**
 * Identifies the file a name serves, as Ollama's digest identifies a model: copies share it, and it
 * changes when the file does. It hashes the path, size and modification time, not gigabytes of
 * weights on every listing.
 */
function digestOf(served: ServedModel): string {
  return createHash("sha256").update(`${served.path}\n${served.fileSize}\n${served.created}`).digest("hex");
}

/** Parameters the way Ollama writes them (its format.HumanNumber): 130K, 494.03M, 8.0B. */
export function parameterSize(count: number): string {
  if (count >= 1e9) return Number.isInteger(count / 1e9) ? `${count / 1e9}B` : `${(count / 1e9).toFixed(1)}B`;
  if (count >= 1e6) return Number.isInteger(count / 1e6) ? `${count / 1e6}M` : `${(count / 1e6).toFixed(2)}M`;
  if (count >= 1e3) return `${Math.round(count / 1e3)}K`;
  return String(count);
}

/** llama.cpp's file type without its ALL_/MOSTLY_ prefix (Q4_K_M, F16); else the type holding most weights. */
function quantizationLevel(fileType: string | undefined, tensorTypes: Readonly<Record<string, { parameters: number }>>): string {
  if (fileType !== undefined) return fileType.replace(/^(ALL|MOSTLY)_/, "");
  const byWeights = Object.entries(tensorTypes).sort(([, a], [, b]) => b.parameters - a.parameters);
  return byWeights[0]?.[0] ?? "unknown";
}

/** The sampling slmkit applies when a request does not say, in Ollama's `parameters` layout. */
function samplingDefaults(): string {
  const rows: Array<[string, number]> = [
    ["temperature", DEFAULT_SAMPLING.temperature],
    ["top_k", DEFAULT_SAMPLING.topK],
    ["top_p", DEFAULT_SAMPLING.topP],
    ["min_p", DEFAULT_SAMPLING.minP],
  ];
  return rows.map(([name, value]) => `${name.padEnd(30)} ${value}`).join("\n");
}

/** GGUF metadata as JSON: scalars as stored, arrays (150k-entry token tables) as their lengths unless `full`. */
function modelInfo(header: GgufHeader, full: boolean): Record<string, unknown> {
  const info: Record<string, unknown> = {};
  for (const [key, value] of header.metadata) {
    if (HIDDEN_KEYS.has(key)) continue;
    info[key] = value.type === "array" && !full ? value.values.length : jsonValue(value);
  }
  return info;
}

function jsonValue(value: GgufValue): unknown {
  switch (value.type) {
    case "float32":
      return shortestFloat32(value.value);
    case "uint64":
    case "int64":
      return Number(value.value);
    case "array":
      if (value.itemType === "array") return value.values.map(jsonValue);
      if (value.itemType === "float32") return Array.from(value.values, shortestFloat32);
      if (value.itemType === "uint64" || value.itemType === "int64") return Array.from(value.values, Number);
      return Array.from(value.values as ArrayLike<unknown>);
    default:
      return value.value;
  }
}

/** The shortest decimal that is the same float32 (1e-5, not 0.000009999999747378752), as Go prints it. */
function shortestFloat32(value: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

/** What Ollama's clients look for in /api/show: tools and thinking when the chat template handles them. */
function capabilitiesOf(template: string | undefined): string[] {
  return ["completion", ...(templateKnowsTools(template) ? ["tools"] : []), ...(templateSupportsThinking(template) ? ["thinking"] : [])];
}
