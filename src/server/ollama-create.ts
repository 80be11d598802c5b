/**
 * Ollama's /api/create, as far as slmkit goes before its registry: a new model from a served one,
 * quantized by slmkit's own quantizer (`quantize`), written under the server's create directory and
 * served at once. Progress streams as Ollama's status lines; `{"status":"success"}` ends it.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { presetByName, type QuantizeProgress, quantizeFile, UnknownPresetError } from "../quant/index.js";
import { ApiError, badRequest, notImplemented } from "./api-error.js";
import type { RequestContext } from "./http.js";
import { canonicalName, checkParameter, checkTemplate, createModel as createStoreModel, type Manifest, mergeConfig, type ModelConfig, type ModelStore, RegistryError } from "../registry/index.js";
import { describeModelFile, type ModelPool, type ServedModel } from "./model-pool.js";
import { type CreateRequestBody, createRequest, parseOllamaRequest, servedNameOf } from "./ollama-wire.js";

/** Modelfile fields that need the store's manifests. */
const NEEDS_REGISTRY = ["files", "adapters", "template", "system", "license", "parameters", "messages"] as const;

/**
 * A create with the store: the new model is a manifest over the FROM model's file (quantized when
 * asked), carrying the FROM model's settings with the request's over them.
 */
async function createInStore(context: RequestContext, pool: ModelPool, store: ModelStore, body: CreateRequestBody, source: ServedModel, name: string, threads?: number): Promise<void> {
  if (body.files != null || body.adapters != null) throw notImplemented("'files' and 'adapters' in /api/create are not supported yet: create from a model the server has, with 'from'");
  let config: ModelConfig;
  try {
    config = mergeConfig(source.config, configOf(body));
  } catch (error) {
    throw error instanceof RegistryError ? badRequest(error.message) : error;
  }
  const stream = body.stream !== false;
  const send = stream ? openStream(context) : () => undefined;
  const preset = body.quantize ? presetOf(body.quantize) : undefined;
  send({ status: preset ? `quantizing ${source.name} to ${preset}` : "using existing layers" });
  let lastPercent = -1;
  let manifest: Manifest;
  try {
    // A store model is created from by name, so that all of it (every part of a split model) is used.
    const from = store.read(source.name) ? source.name : source.path;
    manifest = await createStoreModel(store, canonicalName(body.model), from, config, {
      ...(preset && { quantize: preset }),
      threads,
      signal: context.signal,
      onQuantizeProgress: (progress) => {
        const percent = Math.floor((100 * progress.bytesDone) / Math.max(1, progress.bytesTotal));
        if (percent === lastPercent) return;
        lastPercent = percent;
        send({ status: `quantizing ${source.name} to ${preset}`, total: progress.bytesTotal, completed: progress.bytesDone });
      },
    });
  } catch (error) {
    const failure = error instanceof ApiError ? error : new ApiError(400, `cannot create '${name}': ${(error as Error).message}`);
    if (!stream) throw failure;
    send(failure.toOllama());
    context.response.end();
    return;
  }
  send({ status: "writing manifest" });
  await pool.replace(describeModelFile(store.resolve(manifest.name).path, name, manifest.config));
  send({ status: "success" });
  if (stream) context.response.end();
  else answer(context, body, [{ status: "success" }]);
}

/** The request's Modelfile fields as a model's settings, checked as a Modelfile's are. */
function configOf(body: CreateRequestBody): ModelConfig {
  const parameters = body.parameters ? Object.fromEntries(Object.entries(body.parameters).map(([key, value]) => [key, checkParameter(key, value)])) : undefined;
  const messages = (body.messages ?? []).map((message, index) => {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    if ((role !== "system" && role !== "user" && role !== "assistant") || typeof content !== "string") throw new RegistryError("BAD_REF", `messages[${index}] needs a role (system, user, assistant) and a text content`);
    return { role, content } as const;
  });
  return {
    ...(body.system != null && { system: body.system }),
    ...(body.template != null && { template: checkTemplate(body.template) }),
    ...(parameters && { parameters }),
    ...(messages.length > 0 && { messages }),
    ...(body.license != null && { license: Array.isArray(body.license) ? body.license.join("\n\n") : body.license }),
  };
}

export interface CreateSettings {
  /** Where created model files are written when there is no store. */
  readonly directory: string;
  /** The store: created models become store models, with their settings. */
  readonly store?: ModelStore;
  /** Quantizer threads (default: one per core; generation on the same cores slows meanwhile). */
  readonly threads?: number;
}

export async function createModel(context: RequestContext, pool: ModelPool, settings: CreateSettings): Promise<void> {
  const body = parseOllamaRequest(createRequest, await context.json());
  const source = pool.find(servedNameOf(body.from));
  if (source === undefined) throw new ApiError(404, `model '${body.from}' not found; /api/tags lists the models served here`);
  const name = servedNameOf(body.model);
  context.notes.model = name;
  if (settings.store) return createInStore(context, pool, settings.store, body, source, name, settings.threads);
  const asked = NEEDS_REGISTRY.find((field) => body[field] != null);
  if (asked) throw notImplemented(`'${asked}' in /api/create needs the model store; this server was started without one`);
  if (!body.quantize) {
    // Without quantize, a create is a copy under a new name.
    if (name !== source.name) await pool.replace({ ...source, name });
    return answer(context, body, [{ status: "success" }]);
  }
  const preset = presetOf(body.quantize);
  mkdirSync(settings.directory, { recursive: true });
  const output = join(settings.directory, `${name.replaceAll(/[/:]/g, "_")}.gguf`);
  const stream = body.stream !== false;
  const send = stream ? openStream(context) : () => undefined;
  send({ status: `quantizing ${source.name} to ${preset}` });
  try {
    let lastPercent = -1;
    await quantizeFile(source.path, output, {
      preset,
      threads: settings.threads,
      signal: context.signal,
      onProgress: (progress: QuantizeProgress) => {
        const percent = Math.floor((100 * progress.bytesDone) / Math.max(1, progress.bytesTotal));
        if (percent === lastPercent) return;
        lastPercent = percent;
        send({ status: `quantizing ${source.name} to ${preset}`, total: progress.bytesTotal, completed: progress.bytesDone });
      },
    });
  } catch (error) {
    const failure = new ApiError(400, `cannot quantize '${source.name}' to ${preset}: ${(error as Error).message}`);
    if (!stream) throw failure;
    send(failure.toOllama());
    context.response.end();
    return;
  }
  await pool.replace(describeModelFile(output, name));
  send({ status: "success" });
  if (stream) context.response.end();
  else answer(context, body, [{ status: "success" }]);
}

function presetOf(quantize: string): string {
  try {
    return presetByName(quantize).name;
  } catch (error) {
    if (error instanceof UnknownPresetError) throw badRequest(`invalid 'quantize': ${error.message}`, "quantize");
    throw error;
  }
}

function openStream(context: RequestContext): (line: object) => void {
  context.response.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-cache" });
  return (line) => {
    if (!context.response.writableEnded && !context.response.destroyed) context.response.write(`${JSON.stringify(line)}\n`);
  };
}

/** A create that finished at once: its status lines, streamed or as the last one alone. */
function answer(context: RequestContext, body: CreateRequestBody, lines: readonly object[]): void {
  if (body.stream === false) {
    context.response.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
    context.response.end(JSON.stringify(lines.at(-1)));
    return;
  }
  const send = openStream(context);
  for (const line of lines) send(line);
  context.response.end();
}
