import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { LoadOptions } from "../engine/index.js";
import { ApiError, type ApiStyle } from "./api-error.js";
import { type RequestContext, type Route, Router, parseJson, readBody, sendJson, sendText } from "./http.js";
import { ModelPool, type PoolOptions, type ServedModel } from "./model-pool.js";
import { ollamaRoutes } from "./ollama-routes.js";
import { openAiRoutes } from "./openai-routes.js";
import { ServerMetrics } from "./server-metrics.js";

export const DEFAULT_HOST = "127.0.0.1";
/** Ollama's port, so that tools pointed at a local Ollama find slmkit. */
export const DEFAULT_PORT = 11434;
/** Requests larger than this are answered 413: prompts are bounded by the context anyway. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ServerOptions {
  readonly host?: string;
  readonly port?: number;
  readonly models: readonly ServedModel[];
  readonly load?: LoadOptions;
  /** Keep-alive and how many models stay loaded at once. */
  readonly pool?: PoolOptions;
  readonly maxBodyBytes?: number;
  /** Receives one line per request; silent when not given. */
  readonly log?: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly pool: ModelPool;
  readonly metrics: ServerMetrics;
  close(): Promise<void>;
}

/** Starts the HTTP server; resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  // The metrics read the pool when scraped; the pool tells them of loads and unloads.
  const metrics: ServerMetrics = new ServerMetrics(() => pool.running());
  const pool = new ModelPool(options.models, options.load ?? {}, { ...options.pool, observer: metrics });
  const routes: Route[] = [
    {
      method: "GET",
      path: "/health",
      handle: async ({ response }) => sendJson(response, 200, health(pool)),
    },
    {
      method: "GET",
      path: "/metrics",
      handle: async ({ response }) => sendText(response, 200, metrics.render(), { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
    },
    ...openAiRoutes(pool),
    ...ollamaRoutes(pool),
  ];
  const router = new Router(routes);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const server = createServer((request, response) => {
    void handle(router, request, response, { maxBodyBytes, metrics, log: options.log });
  });
  server.keepAliveTimeout = 30_000;
  const host = options.host ?? DEFAULT_HOST;
  await listen(server, host, options.port ?? DEFAULT_PORT);
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    pool,
    metrics,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
}

/** What /health tells: always 200 while the server runs, and each model's state, without waiting on loads. */
function health(pool: ModelPool): object {
  return {
    status: "ok",
    models: pool.list().map((served) => {
      const model = pool.loadedModel(served.name);
      if (model === undefined) return { name: served.name, loaded: false, loading: pool.isLoading(served.name) };
      return { name: served.name, loaded: true, busy_sequences: model.busySequences, parallel: model.parallel, waiting_requests: model.waitingRequests };
    }),
  };
}

/** The server could not start listening; the message says what to do. */
export class ListenError extends Error {
  override readonly name = "ListenError";
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") reject(new ListenError(`port ${port} on ${host} is in use (another slmkit, Ollama or llama-server?); choose another with --port`));
      else if (error.code === "EACCES") reject(new ListenError(`no permission to listen on ${host}:${port}; use a port above 1023`));
      else if (error.code === "EADDRNOTAVAIL") reject(new ListenError(`${host} is not an address of this machine; use --host 127.0.0.1 or one of its addresses`));
      else reject(error);
    });
    server.listen(port, host, () => resolve());
  });
}

interface HandleOptions {
  readonly maxBodyBytes: number;
  readonly metrics: ServerMetrics;
  readonly log?: (line: string) => void;
}

async function handle(router: Router, request: IncomingMessage, response: ServerResponse, { maxBodyBytes, metrics, log }: HandleOptions): Promise<void> {
  const started = performance.now();
  const abort = new AbortController();
  response.on("close", () => {
    if (!response.writableFinished) abort.abort();
  });
  const notes: Record<string, string | number> = {};
  const path = (request.url ?? "/").split("?")[0]!;
  let style = router.styleFor(path);
  // Metrics are labelled by the route's pattern, never the raw path (one series per route, not per URL).
  let routeLabel = "unmatched";
  try {
    const { route, params } = router.match(request.method ?? "GET", path);
    style = route.style ?? "openai";
    routeLabel = route.path;
    const context: RequestContext = {
      request,
      response,
      params,
      signal: abort.signal,
      notes,
      metrics,
      json: async () => parseJson(await readBody(request, maxBodyBytes)),
    };
    await route.handle(context);
  } catch (error) {
    answerError(response, error, style, log);
  }
  const milliseconds = performance.now() - started;
  // 499, nginx's "client closed request": the client went away before the answer was finished.
  metrics.observeRequest(routeLabel, request.method ?? "GET", abort.signal.aborted ? 499 : response.statusCode, milliseconds / 1000);
  if (log) {
    const status = abort.signal.aborted ? "client-closed" : String(response.statusCode);
    const extra = Object.entries(notes).map(([key, value]) => ` ${key}=${value}`).join("");
    log(`${request.method} ${path} ${status} ${Math.round(milliseconds)}ms${extra}`);
  }
}

function answerError(response: ServerResponse, error: unknown, style: ApiStyle, log?: (line: string) => void): void {
  const apiError = error instanceof ApiError ? error : new ApiError(500, `Internal error: ${(error as Error)?.message ?? String(error)}`);
  if (!(error instanceof ApiError)) log?.(`internal error: ${(error as Error)?.stack ?? String(error)}`);
  if (response.headersSent) {
    response.destroy();
    return;
  }
  // A body we did not read (413) must not be read into the next request on a kept-alive socket.
  if (apiError.status === 413) response.setHeader("Connection", "close");
  sendJson(response, apiError.status, apiError.body(style), apiError.headers);
}
