/**
 * Who is calling and what they may do: the key a request presents (`Authorization: Bearer` or
 * `x-api-key`), checked against the key store, then the route's permission against the key's role,
 * then (for inference, embeddings and loading) the model against the key's model list.
 * Auth is on as soon as a key has been made (revoked and expired ones count), or always with
 * `requireAuth`; while it is off every
 * request is let through as anonymous, as a server bound to 127.0.0.1 has always been.
 */
import type { IncomingMessage } from "node:http";
import { ApiError } from "../api-error.js";
import { type KeyInfo, KeyError, type KeyStore } from "./keys.js";
import { MODEL_SCOPED, type Permission, roleAllows } from "./permissions.js";

/** The caller of one request: a key, or nobody (auth off, or a public route called without a key). */
export interface Principal {
  readonly key: KeyInfo | null;
}

const ANONYMOUS: Principal = { key: null };

/** The key text a request presents, if any. */
export function presentedKey(request: IncomingMessage): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === "string") {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (bearer) return bearer[1];
  }
  const header = request.headers["x-api-key"];
  return typeof header === "string" && header.trim() !== "" ? header.trim() : undefined;
}

const unauthorized = (message: string): ApiError =>
  new ApiError(401, message, "invalid_request_error", "invalid_api_key", null, { "WWW-Authenticate": 'Bearer realm="slmkit"' });

const forbidden = (message: string): ApiError => new ApiError(403, message, "invalid_request_error", "permission_denied");

export interface AccessOptions {
  readonly keys?: KeyStore;
  /** Require a key even while no key exists (every request but /health gets 401 until one is made). */
  readonly requireAuth?: boolean;
}

export class AccessControl {
  constructor(private readonly options: AccessOptions = {}) {}

  /** Whether requests must present a key now (keys made or revoked while the server runs count at once). */
  enabled(): boolean {
    if (this.options.requireAuth === true) return true;
    try {
      // Any key made, even one since revoked or expired: revoking the last key must not open the server.
      return this.options.keys?.hasKeys() ?? false;
    } catch (error) {
      // An unreadable key file must not open the server: fail closed.
      if (error instanceof KeyError) return true;
      throw error;
    }
  }

  /** Checks a request against the permission its route needs (any of a list); 401 or 403 otherwise. */
  check(request: IncomingMessage, needed: Permission | readonly Permission[]): Principal {
    const permissions: readonly Permission[] = typeof needed === "string" ? [needed] : needed;
    const presented = presentedKey(request);
    if (!this.enabled()) return ANONYMOUS;
    const isPublic = permissions.includes("public");
    if (presented === undefined) {
      if (isPublic) return ANONYMOUS;
      throw unauthorized("This server requires an API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>' (make one with `slmkit keys create`)");
    }
    const result = this.authenticate(presented);
    if (!result.ok) {
      if (isPublic) return ANONYMOUS;
      const why = { malformed: "is not an slmkit key", unknown: "is not valid", expired: "has expired", revoked: "was revoked" }[result.reason];
      throw unauthorized(`The API key ${why}; ask an admin for a new one (\`slmkit keys create\`)`);
    }
    const key = result.key;
    if (!permissions.some((permission) => roleAllows(key.role, permission))) {
      throw forbidden(`The key '${key.name}' has the role '${key.role}', which may not do this (it needs ${permissions.join(" or ")})`);
    }
    return { key };
  }

  /** For inference, embeddings and loading: 403 when the key lists models and `model` is not one of them. */
  checkModel(principal: Principal, model: string, permission: Permission): void {
    const key = principal.key;
    if (key === null || key.models === null || !MODEL_SCOPED.includes(permission)) return;
    const bare = (name: string) => name.replace(/:latest$/, "");
    if (!key.models.some((allowed) => bare(allowed) === bare(model))) {
      throw forbidden(`The key '${key.name}' may use only ${key.models.join(", ")}, not '${model}'`);
    }
  }

  private authenticate(presented: string): ReturnType<KeyStore["authenticate"]> {
    try {
      return this.options.keys!.authenticate(presented);
    } catch (error) {
      if (error instanceof KeyError) throw new ApiError(503, `The key store cannot be read (${error.message}); an admin must fix it`, "server_error", "key_store_unreadable");
      throw error;
    }
  }
}
