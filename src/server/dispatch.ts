/**
 * Answers one HTTP request: gives it an id, matches its route, runs the handler with a signal that
 * fires when the client leaves or shutdown stops it, answers errors in the route's API style, and
 * reports the request to the metrics and the log.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AccessControl, Principal } from "./access/access-control.js";
import { roleAllows } from "./access/permissions.js";
import type { RateLimiter } from "./access/rate-limiter.js";
import { ApiError, type ApiStyle } from "./api-error.js";
import type { AuditLog } from "./audit/audit-log.js";
import { type RequestContext, type Router, parseJson, readBody, sendJson } from "./http.js";
import type { Logger } from "./logger.js";
import type { ServerMetrics } from "./server-metrics.js";

export interface DispatchOptions {
  readonly router: Router;
  readonly maxBodyBytes: number;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** Fires when shutdown's deadline passes: generations stop and answer with what they have. */
  readonly stopSignal: AbortSignal;
  /** True once shutdown began: new requests are turned away with 503. */
  readonly draining: () => boolean;
  readonly access: AccessControl;
  readonly limiter: RateLimiter;
  /** One line per request, when given. */
  readonly audit?: AuditLog;
  /** Also record request bodies and output text in the audit log (off by default: they may be private). */
  readonly auditContent?: boolean;
  /** Browser origins allowed to call the API (CORS); none by default. */
  readonly corsOrigins?: readonly string[];
}

/** A request id a client or proxy sent is kept when it is short and plain; otherwise a new one is made. */
const ACCEPTED_REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function dispatch(request: IncomingMessage, response: ServerResponse, options: DispatchOptions): Promise<void> {
  const { router, metrics, logger } = options;
  const started = performance.now();
  const offered = request.headers["x-request-id"];
  const requestId = typeof offered === "string" && ACCEPTED_REQUEST_ID.test(offered) ? offered : randomUUID();
  response.setHeader("X-Request-Id", requestId);
  const clientGone = new AbortController();
  response.on("close", () => {
    if (!response.writableFinished) clientGone.abort();
  });
  // The request's signal: the client left, or shutdown stopped it. (AbortSignal.any on the server's
  // long-lived stop signal would keep a little memory per request for the server's lifetime.)
  const requestSignal = new AbortController();
  const stop = (): void => requestSignal.abort();
  clientGone.signal.addEventListener("abort", stop, { once: true });
  options.stopSignal.addEventListener("abort", stop, { once: true });
  response.once("close", () => options.stopSignal.removeEventListener("abort", stop));
  const signal = requestSignal.signal;
  const notes: Record<string, string | number> = {};
  const method = request.method ?? "GET";
  const path = (request.url ?? "/").split("?")[0]!;
  let style = router.styleFor(path);
  // Metrics are labelled by the route's pattern, never the raw path (one series per route, not per URL).
  let routeLabel = "unmatched";
  let principal: Principal = { key: null };
  let release = (): void => undefined;
  let body: unknown;
  const generatedTexts: string[] | undefined = options.auditContent === true ? [] : undefined;
  if (answerCors(request, response, options.corsOrigins ?? [])) return;
  try {
    if (options.draining()) throw shuttingDown();
    const { route, params } = router.match(method, path);
    style = route.style ?? "openai";
    routeLabel = route.path;
    principal = options.access.check(request, route.permission);
    const permissions = typeof route.permission === "string" ? [route.permission] : route.permission;
    if (principal.key !== null && !permissions.includes("public")) release = options.limiter.admit(principal.key, permissions.includes("inference"));
    const caller = principal;
    const context: RequestContext = {
      request,
      response,
      params,
      signal,
      notes,
      metrics,
      principal: caller,
      ...(generatedTexts && { generatedTexts }),
      authorize: (permission, model) => {
        if (caller.key !== null && !roleAllows(caller.key.role, permission)) {
          throw new ApiError(403, `The key '${caller.key.name}' has the role '${caller.key.role}', which may not do this (it needs ${permission})`, "invalid_request_error", "permission_denied");
        }
        if (model !== undefined) options.access.checkModel(caller, model, permission);
      },
      json: async () => (body = parseJson(await readBody(request, options.maxBodyBytes))),
    };
    await route.handle(context);
  } catch (error) {
    // A request stopped by shutdown before it produced anything is told to come back, not blamed.
    const stoppedByShutdown = options.stopSignal.aborted && !clientGone.signal.aborted && error instanceof ApiError && error.status === 499;
    answerError(response, stoppedByShutdown ? shuttingDown() : error, style, logger, requestId);
  }
  release();
  const seconds = (performance.now() - started) / 1000;
  // 499, nginx's "client closed request": the client went away before the answer was finished.
  const status = clientGone.signal.aborted ? 499 : response.statusCode;
  metrics.observeRequest(routeLabel, method, status, seconds);
  const tokensIn = typeof notes.prompt_tokens === "number" ? notes.prompt_tokens : null;
  const tokensOut = typeof notes.completion_tokens === "number" ? notes.completion_tokens : null;
  if (principal.key !== null) options.limiter.addTokens(principal.key, (tokensIn ?? 0) + (tokensOut ?? 0));
  if (options.audit !== undefined) {
    try {
      options.audit.append({
        time: new Date().toISOString(),
        requestId,
        keyId: principal.key?.id ?? null,
        keyName: principal.key?.name ?? null,
        role: principal.key?.role ?? null,
        method,
        route: routeLabel,
        model: typeof notes.model === "string" ? notes.model : null,
        status,
        tokensIn,
        tokensOut,
        latencyMs: Math.round(seconds * 1000),
        client: request.socket.remoteAddress ?? "unknown",
        ...(generatedTexts !== undefined && (body !== undefined || generatedTexts.length > 0)
          ? { content: { ...(body !== undefined && { request: body }), ...(generatedTexts.length > 0 && { output: generatedTexts.join("") }) } }
          : {}),
      });
    } catch (error) {
      logger.error("audit log write failed", { request_id: requestId, error: (error as Error).message });
    }
  }
  const level = status >= 500 && status !== 503 ? "error" : "info";
  logger.log(level, `${method} ${path}`, {
    request_id: requestId,
    status,
    client_closed: clientGone.signal.aborted || undefined,
    stopped_by_shutdown: (options.stopSignal.aborted && !clientGone.signal.aborted) || undefined,
    duration_ms: Math.round(seconds * 1000),
    route: routeLabel,
    client: request.socket.remoteAddress,
    ...notes,
  });
}

function shuttingDown(): ApiError {
  return new ApiError(503, "The server is shutting down; retry against another instance or once it is back", "server_error", "shutting_down", null, {
    Connection: "close",
    "Retry-After": "5",
  });
}

function answerError(response: ServerResponse, error: unknown, style: ApiStyle, logger: Logger, requestId: string): void {
  const apiError = error instanceof ApiError ? error : new ApiError(500, `Internal error: ${(error as Error)?.message ?? String(error)}`);
  if (!(error instanceof ApiError)) logger.error("internal error", { request_id: requestId, stack: (error as Error)?.stack ?? String(error) });
  if (response.headersSent) {
    response.destroy();
    return;
  }
  // A body we did not read (413) must not be read into the next request on a kept-alive socket.
  if (apiError.status === 413) response.setHeader("Connection", "close");
  sendJson(response, apiError.status, apiError.body(style), apiError.headers);
}

/**
 * CORS: an allowed Origin gets Access-Control-Allow-Origin (and Vary: Origin); a preflight (OPTIONS)
 * is answered here, 204 for an allowed origin and 403 otherwise. Returns true when the request was answered.
 */
function answerCors(request: IncomingMessage, response: ServerResponse, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  const permitted = typeof origin === "string" && (allowed.includes(origin) || allowed.includes("*"));
  if (permitted) {
    response.setHeader("Access-Control-Allow-Origin", origin);
    response.setHeader("Vary", "Origin");
  }
  if (request.method !== "OPTIONS") return false;
  if (!permitted) {
    sendJson(response, 403, { error: { message: `Cross-origin requests from ${String(origin ?? "this origin")} are not allowed; start the server with --cors-origin to allow one`, type: "invalid_request_error", param: null, code: "cors_denied" } });
    return true;
  }
  response.writeHead(204, {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Api-Key, X-Request-Id",
    "Access-Control-Max-Age": "600",
  });
  response.end();
  return true;
}
