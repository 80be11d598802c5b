/**
 * API keys for the HTTP server. A key is `slmkit-<id>-<secret>`: the id is public (it names the key
 * in listings and logs), the secret is 32 random bytes. The key file keeps, per key, a random salt and
 * sha256(salt ‖ secret), never the key or the secret, so a copy of the file lets nobody in.
 *
 * One file serves several processes: the server keeps a KeyStore for its lifetime while
 * `slmkit keys create/revoke` change the file from other processes. Writes are atomic (temporary file
 * and rename) and the store re-reads the file whenever it has been replaced, so the server sees a new
 * or revoked key at its next request without a restart.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { type BigIntStats, closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomic } from "../../registry/index.js";

/** Roles from most to least powerful; what each may do is the server's route table's business. */
export const ROLES = ["admin", "operator", "user", "viewer"] as const;
export type Role = (typeof ROLES)[number];

/** Per-key limits, stored with the key and enforced by the server; an absent limit is no limit. */
export interface KeyLimits {
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
  readonly concurrentStreams?: number;
}

/** What may be shown about a key: never its secret or hash. */
export interface KeyInfo {
  /** Public id, 12 lowercase hex characters; part of the key text. */
  readonly id: string;
  /** Unique among keys that are not revoked. */
  readonly name: string;
  readonly role: Role;
  /** The models the key may use; null: every model. */
  readonly models: readonly string[] | null;
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601; null: never expires. */
  readonly expiresAt: string | null;
  /** ISO 8601; null: not revoked. A revoked key stays listed. */
  readonly revokedAt: string | null;
  readonly limits: KeyLimits;
}

/** The outcome of checking a presented key. "unknown" also covers a known id with the wrong secret. */
export type Authentication =
  | { readonly ok: true; readonly key: KeyInfo }
  | { readonly ok: false; readonly reason: "malformed" | "unknown" | "expired" | "revoked" };

export type KeyErrorCode = "DUPLICATE_NAME" | "NOT_FOUND" | "BAD_OPTION" | "CORRUPT";

/** A key operation that cannot be done as asked; the message says what to do instead. */
export class KeyError extends Error {
  override readonly name = "KeyError";

  constructor(
    readonly code: KeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface CreateKeyOptions {
  readonly name: string;
  readonly role: Role;
  /** Model names the key may use; absent: every model. */
  readonly models?: readonly string[];
  /** Lifetime from `now`; absent: the key never expires. */
  readonly expiresInMs?: number;
  readonly limits?: KeyLimits;
}

const FILE_VERSION = 1;
const KEY_PATTERN = /^slmkit-([0-9a-f]{12})-([A-Za-z0-9_-]{43})$/;
const ID_PATTERN = /^[0-9a-f]{12}$/;
const SECRET_BYTES = 32;
const SALT_BYTES = 16;
const NAME_MAX_LENGTH = 64;
const LIMIT_FIELDS = ["requestsPerMinute", "tokensPerMinute", "concurrentStreams"] as const;

/** A key as held in memory: what may be shown, and what it is checked against. */
interface StoredKey {
  readonly info: KeyInfo;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/**
 * The secret is 256 random bits, so nobody can guess it from its hash however fast the hash is:
 * a plain sha256 is enough, and a password-stretching hash (scrypt, argon2) would only slow down the
 * server, which hashes the presented secret on every request. The salt keeps equal secrets (there are
 * none in practice) from having equal hashes and makes precomputed tables useless.
 */
function hashSecret(salt: Buffer, secret: string): Buffer {
  return createHash("sha256").update(salt).update(secret, "utf8").digest();
}

/** Compared against when the id is unknown, so the time taken does not tell which ids exist. */
const DUMMY_SALT = randomBytes(SALT_BYTES);
const DUMMY_HASH = hashSecret(DUMMY_SALT, randomBytes(SECRET_BYTES).toString("base64url"));

export class KeyStore {
  private keys: StoredKey[] = [];
  /** Which version of the file `keys` was read from: inode, size and times, or "absent". */
  private loadedFrom: string | undefined;

  /** `path` is the key file, e.g. join(slmkitHome(), "keys.json"); it need not exist yet (no keys). */
  constructor(readonly path: string) {}

  /** Makes a key and stores its salted hash. The returned key text is the only copy of the secret. */
  create(options: CreateKeyOptions, now = new Date()): { key: string; info: KeyInfo } {
    const name = checkName(options.name);
    if (!(ROLES as readonly string[]).includes(options.role)) throw new KeyError("BAD_OPTION", `unknown role '${options.role}': give one of ${ROLES.join(", ")}`);
    const models = options.models === undefined ? null : normaliseModels(options.models);
    const expiresAt = options.expiresInMs === undefined ? null : expiryFrom(now, options.expiresInMs);
    const limits = checkLimits(options.limits ?? {});
    return this.update((keys) => {
      const holder = keys.find((stored) => stored.info.name === name && stored.info.revokedAt === null);
      if (holder) throw new KeyError("DUPLICATE_NAME", `a key named '${name}' exists already (id ${holder.info.id}); revoke it first or pick another name`);
      let id: string;
      do id = randomBytes(6).toString("hex");
      while (keys.some((stored) => stored.info.id === id));
      const secret = randomBytes(SECRET_BYTES).toString("base64url");
      const salt = randomBytes(SALT_BYTES);
      const info: KeyInfo = freezeInfo({ id, name, role: options.role, models, createdAt: now.toISOString(), expiresAt, revokedAt: null, limits });
      return { keys: [...keys, { info, salt, hash: hashSecret(salt, secret) }], result: { key: `slmkit-${id}-${secret}`, info } };
    });
  }

  /** Every key, revoked and expired ones included, oldest first. */
  list(): KeyInfo[] {
    return this.current().map((stored) => stored.info);
  }

  /**
   * Revokes a key named by id, or by name (the key of that name that is not revoked). Revoking a
   * revoked key changes nothing and returns it as it is.
   */
  revoke(idOrName: string, now = new Date()): KeyInfo {
    return this.update((keys) => {
      const index = findKey(keys, idOrName);
      if (index < 0) throw new KeyError("NOT_FOUND", `no key with id or name '${idOrName}'; 'slmkit keys list' shows the keys`);
      const stored = keys[index]!;
      if (stored.info.revokedAt !== null) return { keys, result: stored.info };
      const revoked = { ...stored, info: freezeInfo({ ...stored.info, revokedAt: now.toISOString() }) };
      return { keys: keys.map((key, at) => (at === index ? revoked : key)), result: revoked.info };
    });
  }

  /** Checks a presented key text. Throws KeyError CORRUPT when the key file cannot be read as one. */
  authenticate(presented: string, now = new Date()): Authentication {
    const match = KEY_PATTERN.exec(presented);
    if (!match) return { ok: false, reason: "malformed" };
    const id = match[1]!;
    const secret = match[2]!;
    const stored = this.current().find((key) => key.info.id === id);
    const matches = timingSafeEqual(hashSecret(stored?.salt ?? DUMMY_SALT, secret), stored?.hash ?? DUMMY_HASH);
    // Only the holder of the secret learns whether a key is revoked or expired.
    if (stored === undefined || !matches) return { ok: false, reason: "unknown" };
    if (stored.info.revokedAt !== null) return { ok: false, reason: "revoked" };
    if (isExpired(stored.info, now)) return { ok: false, reason: "expired" };
    return { ok: true, key: stored.info };
  }

  /** True once any key has been made, revoked and expired ones included: what turns the server's auth on. */
  hasKeys(): boolean {
    return this.current().length > 0;
  }

  /** True when at least one key that is neither revoked nor expired exists. */
  hasActiveKeys(now = new Date()): boolean {
    return this.current().some((stored) => stored.info.revokedAt === null && !isExpired(stored.info, now));
  }

  /** The keys as the file holds them now: re-read when the file was replaced since the last read. */
  private current(): readonly StoredKey[] {
    const stats = statSync(this.path, { bigint: true, throwIfNoEntry: false });
    if (stats === undefined) {
      this.keys = [];
      this.loadedFrom = "absent";
    } else if (this.loadedFrom !== versionOf(stats)) {
      this.load();
    }
    return this.keys;
  }

  private load(): void {
    let handle: number;
    try {
      handle = openSync(this.path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      this.keys = [];
      this.loadedFrom = "absent";
      return;
    }
    try {
      // The version comes from the open file itself, so a replacement between stat and read is seen next time.
      const version = versionOf(fstatSync(handle, { bigint: true }));
      this.keys = parseKeyFile(this.path, readFileSync(handle, "utf8"));
      this.loadedFrom = version;
    } finally {
      closeSync(handle);
    }
  }

  /** Reads the file afresh, changes the keys and writes them back, holding the file's lock throughout. */
  private update<T>(change: (keys: readonly StoredKey[]) => { keys: readonly StoredKey[]; result: T }): T {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    return withFileLock(`${this.path}.lock`, () => {
      this.load();
      const { keys, result } = change(this.keys);
      if (keys !== this.keys) {
        writeKeyFile(this.path, keys);
        this.loadedFrom = undefined;
      }
      return result;
    });
  }
}

/** "30d", "12h", "90m", "45s" → milliseconds; throws KeyError BAD_OPTION otherwise. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([dhms])$/.exec(text.trim());
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[match?.[2] ?? ""];
  const milliseconds = unit === undefined ? NaN : Number(match![1]) * unit;
  if (!Number.isSafeInteger(milliseconds) || milliseconds <= 0) {
    throw new KeyError("BAD_OPTION", `'${text}' is not a duration: give a whole number above 0 and a unit, d, h, m or s (e.g. 30d, 12h, 90m)`);
  }
  return milliseconds;
}

function isExpired(info: KeyInfo, now: Date): boolean {
  return info.expiresAt !== null && Date.parse(info.expiresAt) <= now.getTime();
}

/** The key with this id, else the unrevoked key with this name, else the latest revoked one of that name. */
function findKey(keys: readonly StoredKey[], idOrName: string): number {
  const byId = keys.findIndex((stored) => stored.info.id === idOrName);
  if (byId >= 0) return byId;
  const active = keys.findIndex((stored) => stored.info.name === idOrName && stored.info.revokedAt === null);
  return active >= 0 ? active : keys.findLastIndex((stored) => stored.info.name === idOrName);
}

function checkName(raw: string): string {
  const name = raw.trim();
  if (name === "" || name.length > NAME_MAX_LENGTH || /\p{Cc}/u.test(name)) {
    throw new KeyError("BAD_OPTION", `a key name needs 1 to ${NAME_MAX_LENGTH} printable characters (got '${raw}')`);
  }
  // Revoke takes an id or a name; a name shaped like an id could name two keys.
  if (ID_PATTERN.test(name)) throw new KeyError("BAD_OPTION", `'${name}' looks like a key id; pick a name that does not`);
  return name;
}

/** Trimmed, without empty entries or repeats, in the order given. */
function normaliseModels(models: readonly string[]): readonly string[] {
  const names = [...new Set(models.map((model) => model.trim()).filter((model) => model !== ""))];
  if (names.length === 0) throw new KeyError("BAD_OPTION", "the model list is empty: name at least one model, or give none to allow every model");
  return names;
}

function expiryFrom(now: Date, expiresInMs: number): string {
  const expiry = new Date(now.getTime() + expiresInMs);
  if (!Number.isFinite(expiresInMs) || expiresInMs <= 0 || Number.isNaN(expiry.getTime())) {
    throw new KeyError("BAD_OPTION", `a key's lifetime must be a positive number of milliseconds within the calendar (got ${expiresInMs})`);
  }
  return expiry.toISOString();
}

/** Only the known limit fields, so a hand-edited file cannot smuggle others into KeyInfo. */
function pickLimits(limits: KeyLimits): KeyLimits {
  return Object.fromEntries(LIMIT_FIELDS.filter((field) => limits[field] !== undefined).map((field) => [field, limits[field]]));
}

function checkLimits(limits: KeyLimits): KeyLimits {
  const checked: Record<string, number> = {};
  for (const field of LIMIT_FIELDS) {
    const value = limits[field];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) throw new KeyError("BAD_OPTION", `the limit ${field} must be a whole number above 0 (got ${value})`);
    checked[field] = value;
  }
  return Object.freeze(checked);
}

function freezeInfo(info: KeyInfo): KeyInfo {
  return Object.freeze({ ...info, models: info.models === null ? null : Object.freeze([...info.models]), limits: Object.freeze({ ...info.limits }) });
}

function versionOf(stats: BigIntStats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

function parseKeyFile(path: string, text: string): StoredKey[] {
  const corrupt = (what: string): KeyError =>
    new KeyError(
      "CORRUPT",
      `the key file ${path} is damaged (${what}). Restore it from a backup, or move it aside and make new keys with 'slmkit keys create' (the old keys then stop working)`,
    );
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not JSON: ${(error as Error).message.replace(/\s+/g, " ")}`);
  }
  if (!isObject(data) || data.version !== FILE_VERSION || !Array.isArray(data.keys)) {
    throw corrupt(`expected { "version": ${FILE_VERSION}, "keys": [...] }`);
  }
  const ids = new Set<string>();
  return data.keys.map((record: unknown, index) => {
    const problem = recordProblem(record);
    if (problem !== undefined) throw corrupt(`keys[${index}]: ${problem}`);
    const checked = record as Record<string, unknown>;
    const id = checked.id as string;
    if (ids.has(id)) throw corrupt(`keys[${index}]: the id ${id} appears twice`);
    ids.add(id);
    const info = freezeInfo({
      id,
      name: checked.name as string,
      role: checked.role as Role,
      models: checked.models as string[] | null,
      createdAt: checked.createdAt as string,
      expiresAt: checked.expiresAt as string | null,
      revokedAt: checked.revokedAt as string | null,
      limits: pickLimits(checked.limits as KeyLimits),
    });
    return { info, salt: Buffer.from(checked.salt as string, "hex"), hash: Buffer.from(checked.hash as string, "hex") };
  });
}

/** What is wrong with one record of the key file, or undefined when it is sound. */
function recordProblem(record: unknown): string | undefined {
  if (!isObject(record)) return "not an object";
  const isDate = (value: unknown): boolean => typeof value === "string" && !Number.isNaN(Date.parse(value));
  const checks: Array<[string, (value: unknown) => boolean]> = [
    ["id", (value) => typeof value === "string" && ID_PATTERN.test(value)],
    ["name", (value) => typeof value === "string" && value !== ""],
    ["role", (value) => (ROLES as readonly unknown[]).includes(value)],
    ["models", (value) => value === null || (Array.isArray(value) && value.every((model) => typeof model === "string"))],
    ["createdAt", isDate],
    ["expiresAt", (value) => value === null || isDate(value)],
    ["revokedAt", (value) => value === null || isDate(value)],
    ["limits", (value) => isObject(value) && LIMIT_FIELDS.every((field) => value[field] === undefined || (Number.isSafeInteger(value[field]) && (value[field] as number) > 0))],
    ["salt", (value) => typeof value === "string" && new RegExp(`^[0-9a-f]{${SALT_BYTES * 2}}$`).test(value)],
    ["hash", (value) => typeof value === "string" && /^[0-9a-f]{64}$/.test(value)],
  ];
  const bad = checks.find(([field, check]) => !check(record[field]));
  return bad && `'${bad[0]}' is missing or invalid`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Writes the key file whole or not at all, readable by its owner only. */
function writeKeyFile(path: string, keys: readonly StoredKey[]): void {
  const records = keys.map(({ info, salt, hash }) => ({ ...info, salt: salt.toString("hex"), hash: hash.toString("hex") }));
  writeFileAtomic(path, `${JSON.stringify({ version: FILE_VERSION, keys: records }, null, 2)}\n`, 0o600);
}

/** A lock left behind by a process that died while holding it: nobody holds it this long. */
const STALE_LOCK_MS = 10_000;
const LOCK_POLL_MS = 20;

/**
 * Serialises read-change-write between processes (two `slmkit keys` commands at once would otherwise
 * lose one's change, perhaps a revocation). Only create and revoke take it, and hold it for
 * milliseconds, so waiting blocks the thread: no server request path ever waits here.
 */
function withFileLock<T>(lockPath: string, work: () => T): T {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      closeSync(openSync(lockPath, "wx", 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const age = Date.now() - (statSync(lockPath, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > STALE_LOCK_MS) rmSync(lockPath, { force: true });
    else Atomics.wait(sleeper, 0, 0, LOCK_POLL_MS);
  }
  try {
    return work();
  } finally {
    rmSync(lockPath, { force: true });
  }
}
