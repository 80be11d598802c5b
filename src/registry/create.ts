/**
 * `slmkit create` and the server's /api/create: a new store name over a model (a store name, a GGUF
 * path or a pull ref), with a Modelfile's settings, optionally quantized by slmkit's quantizer. The
 * weights are stored once, by content: a create without quantize copies no bytes.
 */
import { existsSync, rmSync, statSync } from "node:fs";
import { basename, isAbsolute, resolve } from "node:path";
import { presetByName, quantizeFile, type QuantizeProgress } from "../quant/index.js";
import { moveIntoPlace } from "./atomic-file.js";
import { RegistryError } from "./errors.js";
import { sha256OfFile } from "./hashing.js";
import { mergeConfig, type ModelConfig } from "./model-config.js";
import { formatModelName, parseModelName } from "./names.js";
import { pull, type PullOptions } from "./pull.js";
import { digestHex, type Manifest, MANIFEST_VERSION, type ModelStore } from "./store.js";

export interface CreateOptions {
  /** A quantization type (`Q4_K_M`...): the new model is the FROM model quantized. */
  readonly quantize?: string;
  /** Where a relative FROM path is read from (the Modelfile's folder). */
  readonly baseDirectory?: string;
  /** For a FROM that must be pulled. */
  readonly pull?: PullOptions;
  readonly threads?: number;
  readonly onQuantizeProgress?: (progress: QuantizeProgress) => void;
  /** Stops a quantization in progress (shutdown, a client that left). */
  readonly signal?: AbortSignal;
}

export async function createModel(store: ModelStore, nameText: string, from: string, config: ModelConfig, options: CreateOptions = {}): Promise<Manifest> {
  const name = formatModelName(parseModelName(nameText));
  const base = await resolveFrom(store, from, options);
  let hex = base.hex;
  let file = base.file;
  const parts = base.parts;
  if (options.quantize && parts) {
    throw new RegistryError("BAD_REF", `${from} is split into ${parts.length} files; slmkit's quantizer reads single files: merge the parts first (llama.cpp's gguf-split --merge)`);
  }
  if (options.quantize) {
    const preset = presetByName(options.quantize).name;
    const partial = store.partialPath(`create-${base.hex}-${preset}`);
    await quantizeFile(store.blobPath(base.hex), partial, { preset, threads: options.threads, onProgress: options.onQuantizeProgress, signal: options.signal });
    hex = await sha256OfFile(partial);
    if (!store.hasBlob(hex, statSync(partial).size)) moveIntoPlace(partial, store.blobPath(hex));
    else rmSync(partial, { force: true });
    file = `${basename(file).replace(/\.gguf$/i, "")}-${preset}.gguf`;
  }
  const manifest: Manifest = {
    schemaVersion: MANIFEST_VERSION,
    name,
    digest: `sha256:${hex}`,
    size: parts ? parts.reduce((sum, part) => sum + part.size, 0) : statSync(store.blobPath(hex)).size,
    file,
    ...(parts && { parts }),
    source: { kind: "create", ref: from },
    ...(hasSettings(mergeConfig(base.config, config)) && { config: mergeConfig(base.config, config) }),
    createdAt: new Date().toISOString(),
  };
  store.writeManifest(manifest);
  return manifest;
}

function hasSettings(config: ModelConfig): boolean {
  return Object.values(config).some((value) => value !== undefined);
}

/** The FROM model's blob (copied in for a path, pulled for a ref) and its settings, which the new model inherits. */
type BaseModel = { hex: string; file: string; config: ModelConfig; parts?: Manifest["parts"] };

async function resolveFrom(store: ModelStore, from: string, options: CreateOptions): Promise<BaseModel> {
  if (from.startsWith("hf:") || from.startsWith("https://")) {
    const { manifest } = await pull(store, from, options.pull);
    return { hex: digestHex(manifest.digest), file: manifest.file, config: manifest.config ?? {}, ...(manifest.parts && { parts: manifest.parts }) };
  }
  const path = isAbsolute(from) ? from : resolve(options.baseDirectory ?? ".", from);
  if (existsSync(path) || /\.gguf$/i.test(from)) {
    if (!existsSync(path)) throw new RegistryError("NOT_FOUND", `FROM ${from}: no such file (${path})`);
    return { hex: await store.addBlob(path), file: basename(path), config: {} };
  }
  const manifest = store.read(from);
  if (manifest === undefined) throw new RegistryError("NOT_FOUND", `FROM ${from}: neither a file nor a model in the store; 'slmkit list' shows the store`);
  const { path: blob } = store.resolve(from);
  // A linked model's file is outside the store: quantizing or serving it under a new name needs it inside.
  const hex = manifest.linkedPath ? await store.addBlob(blob) : digestHex(manifest.digest);
  return { hex, file: manifest.file, config: manifest.config ?? {}, ...(manifest.parts && { parts: manifest.parts }) };
}
