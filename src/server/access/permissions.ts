/**
 * What each role may do. Every route declares the permission it needs (the Route type makes it
 * required, and the Router refuses a route without one); this table says which roles hold it.
 */
import type { Role } from "./keys.js";

export const PERMISSIONS = [
  /** Anyone, with or without a key: /health. */
  "public",
  /** Generate text: chat, completions, Ollama's generate and chat. */
  "inference",
  /** Embeddings, both APIs. */
  "embeddings",
  /** List and describe models (/v1/models, /api/tags, /api/show, /api/ps, /api/version). */
  "models.read",
  /** Load and unload models (Ollama's generate/chat with no prompt, or keep_alive 0). */
  "models.load",
  /** Change the store: pull, create, copy, delete. */
  "models.manage",
  /** Prometheus metrics. */
  "metrics",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: PERMISSIONS,
  operator: ["public", "models.read", "models.load", "models.manage", "metrics"],
  user: ["public", "inference", "embeddings", "models.read", "models.load"],
  viewer: ["public", "models.read"],
};

/** Whether `role` holds `permission`. */
export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

/** Permissions that only concern the models a key lists (a key without a list may use every model). */
export const MODEL_SCOPED: readonly Permission[] = ["inference", "embeddings", "models.load"];
