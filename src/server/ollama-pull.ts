/**
 * Ollama's /api/pull over slmkit's registry: Hugging Face names as Ollama takes them
 * (`hf.co/<owner>/<repo>:<QUANT>`, the quant defaulting to Q4_K_M as Ollama's does) or slmkit's refs
 * (`hf:...`, `https://...`). The model goes into the store under the name the client gave and is
 * served at once. Progress streams as Ollama's status lines.
 */
import { publishedQuantBytes } from "../fit/index.js";
import { canonicalName, type ModelStore, pull, type PullEvent, RegistryError } from "../registry/index.js";
import { ApiError, badRequest } from "./api-error.js";
import type { RequestContext } from "./http.js";
import { describeModelFile, type ModelPool } from "./model-pool.js";
import { parseOllamaRequest, pullRequest, servedNameOf } from "./ollama-wire.js";

export interface PullSettings {
  readonly store: ModelStore;
  readonly endpoint?: string;
  readonly token?: string;
  readonly offline?: boolean;
}

/** Ollama's default quantization when a Hugging Face name has no tag. */
const DEFAULT_QUANT = "Q4_K_M";

/** The registry ref for a name a client asks Ollama to pull, and the store name it gets. */
export function pullTarget(model: string): { ref: string; name: string | undefined } {
  if (model.startsWith("hf:") || model.startsWith("https://")) return { ref: model, name: undefined };
  const match = /^(?:hf\.co|huggingface\.co)\/([^/:]+\/[^/:]+)(?::([A-Za-z0-9_]+))?$/.exec(model);
  if (!match) {
    throw badRequest(`slmkit pulls from Hugging Face: ask for hf.co/<owner>/<repo>:<QUANT> (for example hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0) or an hf: ref; '${model}' is not one`, "model");
  }
  const quant = !match[2] || match[2] === "latest" ? DEFAULT_QUANT : match[2].toUpperCase();
  return { ref: `hf:${match[1]}:${quant}`, name: `hf.co/${match[1]}:${match[2] && match[2] !== "latest" ? match[2] : DEFAULT_QUANT}` };
}

export async function pullModel(context: RequestContext, pool: ModelPool, settings: PullSettings): Promise<void> {
  const body = parseOllamaRequest(pullRequest, await context.json());
  const target = pullTarget(body.model);
  const response = context.response;
  let started = false;
  const send = (line: object): void => {
    if (!body.stream) return;
    if (!started) response.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-cache" });
    started = true;
    if (!response.writableEnded && !response.destroyed) response.write(`${JSON.stringify(line)}\n`);
  };
  let digest = "";
  const onEvent = (event: PullEvent): void => {
    if (event.type === "resolved") {
      digest = event.sha256 ? `sha256:${event.sha256}` : "";
      send({ status: "pulling manifest" });
    } else if (event.type === "progress") send({ status: `pulling ${digest.slice(7, 19) || "file"}`, digest, total: event.total, completed: event.bytes });
    else if (event.type === "verified") send({ status: "verifying sha256 digest" });
    else if (event.type === "done") send({ status: "writing manifest" });
  };
  let name: string;
  try {
    const { manifest } = await pull(settings.store, target.ref, {
      ...(target.name && { name: canonicalName(target.name) }),
      endpoint: settings.endpoint,
      token: settings.token,
      offline: settings.offline,
      quantSize: publishedQuantBytes,
      onEvent,
      signal: context.signal,
    });
    name = servedNameOf(manifest.name);
    const { path } = settings.store.resolve(manifest.name);
    await pool.replace(describeModelFile(path, name));
  } catch (error) {
    // The Hub unreachable (fetch failed) is a bad gateway, not an internal error.
    const failure =
      error instanceof RegistryError
        ? new ApiError(statusOf(error), error.message)
        : error instanceof TypeError && /fetch failed/.test(error.message)
          ? new ApiError(502, `cannot reach the model hub: ${(error.cause as Error | undefined)?.message ?? error.message}`)
          : error;
    if (!started) throw failure;
    send(failure instanceof ApiError ? failure.toOllama() : { error: (failure as Error).message });
    response.end();
    return;
  }
  context.notes.model = name;
  if (body.stream) {
    send({ status: "success" });
    response.end();
  } else {
    response.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
    response.end(JSON.stringify({ status: "success" }));
  }
}

function statusOf(error: RegistryError): number {
  switch (error.code) {
    case "NOT_FOUND":
      return 404;
    case "UNAUTHORIZED":
      return 401;
    case "BAD_REF":
    case "BAD_NAME":
      return 400;
    case "OFFLINE":
    case "HTTP":
      return 502;
    default:
      return 500;
  }
}
