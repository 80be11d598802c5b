/**
 * What every API's generation routes share: getting a loaded model, running a generation for a
 * request, and turning engine errors into HTTP answers (4xx for the client's mistakes).
 */
import { EngineError, type GenerateRequest, type GenerateResult, type LoadedModel } from "../engine/index.js";
import { ApiError, badRequest } from "./api-error.js";
import type { RequestContext } from "./http.js";
import type { ModelPool } from "./model-pool.js";
import type { Permission } from "./access/permissions.js";

/** Engine errors caused by the request become 4xx answers; the rest stay server errors. */
export function toApiError(error: unknown): unknown {
  if (!(error instanceof EngineError)) return error;
  switch (error.code) {
    case "PROMPT_TOO_LONG":
      return badRequest(error.message, "messages", "context_length_exceeded");
    case "BAD_OPTION":
    case "TEMPLATE_ERROR":
      return badRequest(error.message);
    case "ABORTED":
      return new ApiError(499, error.message, "invalid_request_error", "client_closed");
    case "BUSY":
    case "DISPOSED":
    case "RUNTIME_UNAVAILABLE":
      return new ApiError(503, error.message, "server_error", "unavailable", null, { "Retry-After": "1" });
    case "LOAD_FAILED":
      return new ApiError(500, error.message, "server_error", "model_load_failed");
  }
}

/** Runs engine code, answering its errors as the API does. */
export function engineCall<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw toApiError(error);
  }
}

export async function engineCallAsync<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toApiError(error);
  }
}

/**
 * Runs a request's work with the model it names (loaded on first use, kept loaded while the work
 * runs, then for `keepAliveMs`); 404 when the name is not served.
 */
export function withModel<T>(
  pool: ModelPool,
  name: string,
  context: RequestContext,
  work: (model: LoadedModel) => Promise<T>,
  keepAliveMs?: number,
  permission: Permission = "inference",
): Promise<T> {
  context.notes.model = name;
  context.authorize?.(permission, name);
  return pool.use(name, (model) => work(model), keepAliveMs).catch((error: unknown) => {
    throw toApiError(error);
  });
}

/** Generates for a request, stopped early if the client goes away; notes token counts for the log. */
export async function generate(model: LoadedModel, request: GenerateRequest, context: RequestContext): Promise<GenerateResult> {
  const name = String(context.notes.model ?? model.name);
  const metrics = context.metrics;
  const observeInterval = metrics?.tokenIntervalObserver(name);
  let previous: number | undefined;
  const onToken = (): void => {
    const now = performance.now();
    if (previous !== undefined) observeInterval?.((now - previous) / 1000);
    previous = now;
    request.onToken?.();
  };
  const result = await engineCallAsync(() => model.generate({ ...request, signal: context.signal, onToken }));
  context.notes.prompt_tokens = result.promptTokens;
  context.notes.completion_tokens = result.completionTokens;
  context.generatedTexts?.push(result.text);
  metrics?.observeGeneration(name, result);
  return result;
}
