import { type Server, createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { LoadOptions } from "../engine/index.js";
import { slmkitHome } from "../registry/index.js";
import { AccessControl } from "./access/access-control.js";
import type { KeyStore } from "./access/keys.js";
import { RateLimiter } from "./access/rate-limiter.js";
import type { AuditLog } from "./audit/audit-log.js";
import { dispatch } from "./dispatch.js";
import { type Route, Router, sendJson, sendText } from "./http.js";
import { type DrainReport, InFlightRequests } from "./in-flight.js";
import { type Logger, SILENT_LOGGER } from "./logger.js";
import { ModelPool, type PoolObserver, type PoolOptions, type ServedModel } from "./model-pool.js";
import type { PullSettings } from "./ollama-pull.js";
import { ollamaRoutes } from "./ollama-routes.js";
import { openAiRoutes } from "./openai-routes.js";
import { ServerMetrics } from "./server-metrics.js";

export const DEFAULT_HOST = "127.0.0.1";
/** Ollama's port, so that tools pointed at a local Ollama find slmkit. */
export const DEFAULT_PORT = 11434;
/** Requests larger than this are answered 413: prompts are bounded by the context anyway. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** How long shutdown lets running requests finish before it stops them. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export interface ServerOptions {
  readonly host?: string;
  readonly port?: number;
  readonly models: readonly ServedModel[];
  readonly load?: LoadOptions;
  /** Keep-alive and how many models stay loaded at once. */
  readonly pool?: Omit<PoolOptions, "observer">;
  readonly maxBodyBytes?: number;
  /** Where /api/create writes the models it makes (default $SLMKIT_HOME/created). */
  readonly createDirectory?: string;
  /** The model store /api/pull fills; without it, /api/pull answers 501. */
  readonly registry?: PullSettings;
  /** Receives a record per request, model load and unload, and shutdown step; silent when not given. */
  readonly logger?: Logger;
  /** API keys: auth is on once a key has been made, revoked or not (or always with requireAuth). */
  readonly keys?: KeyStore;
  readonly requireAuth?: boolean;
  /** The audit trail, one line per request. */
  readonly audit?: AuditLog;
  /** Record request bodies (prompts) and generated text in the audit trail too. */
  readonly auditContent?: boolean;
  /** Browser origins allowed by CORS ("*" for any); none by default. */
  readonly corsOrigins?: readonly string[];
  /** Serve HTTPS with this certificate and key (PEM). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

export interface ShutdownReport extends DrainReport {
  readonly seconds: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly pool: ModelPool;
  readonly metrics: ServerMetrics;
  /** Whether requests need an API key now (a key has been made, or requireAuth). */
  authRequired(): boolean;
  /** The route table: method, path pattern and the permission each needs. */
  readonly routes: readonly Pick<Route, "method" | "path" | "permission">[];
  /**
   * Graceful stop: accepts no new connections and answers 503 to new requests on open ones, lets
   * running requests finish for up to `timeoutMs`, then stops the rest (streams end with what they
   * have, as if they had hit their token limit), closes every connection and unloads the models.
   */
  shutdown(timeoutMs?: number): Promise<ShutdownReport>;
  /** Immediate stop: connections are cut and models unloaded. */
  close(): Promise<void>;
}

/** Starts the HTTP server; resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? SILENT_LOGGER;
  // The metrics read the pool when scraped; the pool tells them (and the log) of loads and unloads.
  const metrics: ServerMetrics = new ServerMetrics(() => pool.running());
  const pool = new ModelPool(options.models, options.load ?? {}, { ...options.pool, observer: poolObserver(metrics, logger) });
  const routes: Route[] = [
    {
      method: "GET",
      path: "/health",
      permission: "public",
      handle: async ({ response }) => sendJson(response, 200, health(pool)),
    },
    {
      method: "GET",
      path: "/metrics",
      permission: "metrics",
      handle: async ({ response }) => sendText(response, 200, metrics.render(), { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
    },
    ...openAiRoutes(pool),
    ...ollamaRoutes(pool, { directory: options.createDirectory ?? join(slmkitHome(), "created"), threads: options.load?.threads, store: options.registry?.store }, options.registry),
  ];
  const router = new Router(routes);
  const inFlight = new InFlightRequests();
  let draining = false;
  const dispatchOptions = {
    router,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    metrics,
    logger,
    stopSignal: inFlight.stopSignal,
    draining: () => draining,
    access: new AccessControl({ ...(options.keys && { keys: options.keys }), ...(options.requireAuth !== undefined && { requireAuth: options.requireAuth }) }),
    limiter: new RateLimiter(),
    ...(options.audit && { audit: options.audit }),
    ...(options.auditContent !== undefined && { auditContent: options.auditContent }),
    ...(options.corsOrigins && { corsOrigins: options.corsOrigins }),
  };
  const handler = (request: Parameters<typeof dispatch>[0], response: Parameters<typeof dispatch>[1]): void => void inFlight.track(dispatch(request, response, dispatchOptions));
  const server: Server = options.tls === undefined ? createServer(handler) : createTlsServer({ cert: options.tls.cert, key: options.tls.key }, handler);
  server.keepAliveTimeout = 30_000;
  const host = options.host ?? DEFAULT_HOST;
  await listen(server, host, options.port ?? DEFAULT_PORT);
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  let stopped: Promise<ShutdownReport> | undefined;
  const shutdown = (timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS): Promise<ShutdownReport> =>
    (stopped ??= (async () => {
      const started = performance.now();
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      logger.info("shutting down", { in_flight: inFlight.size, timeout_ms: timeoutMs });
      const report = await inFlight.drain(timeoutMs);
      if (report.stopped > 0) logger.warn("stopped requests still running at the shutdown deadline", { stopped: report.stopped });
      server.closeAllConnections();
      await closed;
      await pool.close();
      const seconds = (performance.now() - started) / 1000;
      logger.info("shut down", { seconds: Number(seconds.toFixed(3)), in_flight: report.inFlight, stopped: report.stopped });
      return { ...report, seconds };
    })());
  return {
    url: `${options.tls === undefined ? "http" : "https"}://${shownHost}:${port}`,
    port,
    pool,
    metrics,
    authRequired: () => dispatchOptions.access.enabled(),
    routes: router.routes.map(({ method, path, permission }) => ({ method, path, permission })),
    shutdown,
    close: async () => {
      server.closeAllConnections();
      await shutdown(0);
    },
  };
}

/** Model loads and unloads go to the metrics and the log. */
function poolObserver(metrics: ServerMetrics, logger: Logger): PoolObserver {
  return {
    loaded(model, seconds, error) {
      metrics.loaded(model, seconds, error);
      if (error === undefined) logger.info("model loaded", { model, seconds: Number(seconds.toFixed(3)) });
      else logger.error("model failed to load", { model, error: error instanceof Error ? error.message : String(error as string) });
    },
    unloaded(model, reason) {
      metrics.unloaded(model, reason);
      logger.info("model unloaded", { model, reason });
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
