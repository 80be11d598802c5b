import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError, type ApiStyle } from "./api-error.js";
import type { Principal } from "./access/access-control.js";
import { PERMISSIONS, type Permission } from "./access/permissions.js";
import type { GenerationObserver } from "./server-metrics.js";

export type Method = "GET" | "HEAD" | "POST" | "DELETE";

export interface RequestContext {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly params: Readonly<Record<string, string>>;
  /** Aborted when the client goes away before the response is finished. */
  readonly signal: AbortSignal;
  /** The request body parsed as JSON; 400 on bad JSON, 413 past the size limit. */
  json(): Promise<unknown>;
  /** Notes for the access log line (model, token counts). */
  readonly notes: Record<string, string | number>;
  /** Told of the request's generations, for /metrics. */
  readonly metrics?: GenerationObserver;
  /** The texts the request generated, collected only when the audit trail records content. */
  readonly generatedTexts?: string[];
  /** Who is calling (a key, or nobody while auth is off). */
  readonly principal?: Principal;
  /**
   * 403 unless the caller may do `permission`, on `model` when given (keys can be limited to some
   * models). Routes whose permission depends on the body (Ollama's generate: load or generate) call it.
   */
  authorize?(permission: Permission, model?: string): void;
}

/** One row of the route table: method, path pattern (`:name` matches one segment) and handler. */
export interface Route {
  readonly method: Method;
  readonly path: string;
  /** Whose error body the route answers with; OpenAI's when not given. */
  readonly style?: ApiStyle;
  /** What the caller must be allowed (any of a list); see access/permissions.ts. Required: no route is open by omission. */
  readonly permission: Permission | readonly Permission[];
  handle(context: RequestContext): Promise<void>;
}

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

/** Matches request paths against the route table; tells 404 (no such path) from 405 (wrong method). */
export class Router {
  private readonly compiled: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.compiled = routes.map((route) => {
      const declared: readonly unknown[] = typeof route.permission === "string" ? [route.permission] : ((route.permission as readonly unknown[] | undefined) ?? []);
      if (declared.length === 0 || !declared.every((permission) => (PERMISSIONS as readonly unknown[]).includes(permission))) {
        throw new Error(`the route ${route.method} ${route.path} declares no known permission; every route must say who may call it`);
      }
      const names: string[] = [];
      const source = route.path
        .split("/")
        .map((segment) => {
          if (!segment.startsWith(":")) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          names.push(segment.slice(1));
          return "([^/]+)";
        })
        .join("/");
      return { route, pattern: new RegExp(`^${source}/?$`), names };
    });
  }

  /** Every route, for listings and for the tests that walk them all. */
  get routes(): readonly Route[] {
    return this.compiled.map(({ route }) => route);
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } {
    const allowed: string[] = [];
    for (const { route, pattern, names } of this.compiled) {
      const found = pattern.exec(path);
      if (!found) continue;
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        const params: Record<string, string> = {};
        names.forEach((name, index) => (params[name] = safeDecode(found[index + 1]!)));
        return { route, params };
      }
      allowed.push(route.method);
    }
    if (allowed.length > 0) {
      throw new ApiError(405, `${method} is not allowed on ${path}; use ${allowed.join(" or ")}`, "invalid_request_error", "method_not_allowed", null, {
        Allow: allowed.join(", "),
      });
    }
    throw new ApiError(404, `There is no route ${method} ${path}`, "invalid_request_error", "not_found");
  }

  /**
   * The error style for a path, matched or not: that of the routes under the same first segment
   * (`/api/...` answers as Ollama does even for a path it lacks), OpenAI's when none is.
   */
  styleFor(path: string): ApiStyle {
    const first = (pathOf: string): string => pathOf.split("/")[1] ?? "";
    const neighbour = this.compiled.find(({ route }) => first(route.path) === first(path));
    return neighbour?.route.style ?? "openai";
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, `The path segment '${segment}' is not valid percent-encoding`);
  }
}

/** Reads a request body up to `limitBytes`; past it, answers 413 without reading the rest. */
export async function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limitBytes) throw tooLarge(limitBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limitBytes: number): ApiError {
  return new ApiError(413, `The request body is larger than the server's limit of ${limitBytes} bytes`, "invalid_request_error", "request_too_large");
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new ApiError(400, "The request body is empty; send a JSON object");
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new ApiError(400, `The request body is not valid JSON: ${(error as Error).message}`, "invalid_request_error", "invalid_json");
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  sendText(response, status, JSON.stringify(body), { "Content-Type": "application/json; charset=utf-8", ...headers });
}

/** Answers with a text body (none for HEAD, with the length GET would have). */
export function sendText(response: ServerResponse, status: number, text: string, headers: Readonly<Record<string, string>> = {}): void {
  response.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(text), ...headers });
  response.end(response.req.method === "HEAD" ? undefined : text);
}
