/** `slmkit keys create|list|revoke`: the API keys the HTTP server accepts. */
import { join } from "node:path";
import { KeyError, type KeyInfo, type KeyLimits, KeyStore, parseDuration, type Role, ROLES } from "../../server/index.js";
import { slmkitHome } from "../../registry/index.js";
import { CliError, type Command, type ParsedArgs, UsageError } from "../args.js";

type Values = ParsedArgs["values"];

/** Options that only `keys create` reads; the other subcommands refuse them rather than ignore them. */
const CREATE_ONLY = ["role", "name", "models", "expires", "rpm", "tpm", "max-streams"] as const;

/** Bad input from the user is a usage error (exit 2); a missing key or a damaged file is not (exit 1). */
const USAGE_ERROR_CODES: ReadonlySet<KeyError["code"]> = new Set(["BAD_OPTION", "DUPLICATE_NAME"]);

const SUBCOMMANDS: Readonly<Record<string, (store: KeyStore, operands: readonly string[], values: Values) => void>> = {
  create: createKey,
  list: listKeys,
  revoke: revokeKey,
};

export const keysCommand: Command = {
  name: "keys",
  summary: "Create, list and revoke the API keys the HTTP server accepts.",
  positionals: "create|list|revoke [<id-or-name>]",
  details: [
    "create prints the new key once; only a salted hash of it is stored, so it cannot be shown again.",
    "Clients send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'. Roles, most powerful first:",
    `${ROLES.join(", ")}. list shows every key, revoked and expired ones too; revoke takes a key's id or name.`,
    "Running servers see new and revoked keys at their next request.",
  ].join("\n"),
  options: [
    { name: "file", kind: "string", valueName: "PATH", description: "the key file (default: $SLMKIT_HOME/keys.json)" },
    { name: "role", kind: "string", choices: ROLES, description: "create: what the key may do" },
    { name: "name", kind: "string", valueName: "NAME", description: "create: a name for the key, unique among keys not revoked" },
    { name: "models", kind: "strings", valueName: "A,B", description: "create: the only models the key may use (default: every model)" },
    { name: "expires", kind: "string", valueName: "DURATION", description: "create: lifetime, e.g. 30d, 12h, 90m (default: never expires)" },
    { name: "rpm", kind: "integer", min: 1, description: "create: at most N requests a minute" },
    { name: "tpm", kind: "integer", min: 1, description: "create: at most N tokens a minute" },
    { name: "max-streams", kind: "integer", min: 1, description: "create: at most N generations at once" },
    { name: "json", kind: "boolean", description: "print the result as JSON" },
  ],
  examples: [
    "slmkit keys create --role user --name ci-bot --models qwen3:0.6b --expires 30d --rpm 60",
    "slmkit keys create --role admin --name me --json",
    "slmkit keys list",
    "slmkit keys revoke ci-bot",
  ],
  async run({ positionals, values }) {
    const [subcommand, ...operands] = positionals;
    const action = subcommand !== undefined && Object.hasOwn(SUBCOMMANDS, subcommand) ? SUBCOMMANDS[subcommand] : undefined;
    if (action === undefined) throw new UsageError(`give a subcommand: ${Object.keys(SUBCOMMANDS).join(", ")}${subcommand === undefined ? "" : ` (got '${subcommand}')`}`);
    if (subcommand !== "create") {
      const misplaced = CREATE_ONLY.find((option) => values[option] !== undefined);
      if (misplaced !== undefined) throw new UsageError(`--${misplaced} applies to 'keys create' only`);
    }
    const store = new KeyStore((values.file as string | undefined) ?? join(slmkitHome(), "keys.json"));
    try {
      action(store, operands, values);
    } catch (error) {
      if (!(error instanceof KeyError)) throw error;
      throw USAGE_ERROR_CODES.has(error.code) ? new UsageError(error.message) : new CliError(error.message);
    }
  },
};

function createKey(store: KeyStore, operands: readonly string[], values: Values): void {
  if (operands.length > 0) throw new UsageError(`'keys create' takes no operands (got '${operands.join(" ")}')`);
  const role = values.role as Role | undefined;
  const name = values.name as string | undefined;
  if (role === undefined || name === undefined) throw new UsageError(`'keys create' needs --role (${ROLES.join("|")}) and --name`);
  const models = (values.models as string[] | undefined)?.flatMap((list) => list.split(","));
  let expiresInMs: number | undefined;
  if (values.expires !== undefined) {
    try {
      expiresInMs = parseDuration(values.expires as string);
    } catch (error) {
      throw error instanceof KeyError ? new UsageError(`--expires: ${error.message}`) : error;
    }
  }
  const limits: KeyLimits = {
    requestsPerMinute: values.rpm as number | undefined,
    tokensPerMinute: values.tpm as number | undefined,
    concurrentStreams: values["max-streams"] as number | undefined,
  };
  const { key, info } = store.create({ name, role, models, expiresInMs, limits });
  if (values.json === true) {
    const { id, models: allowed, createdAt, expiresAt, limits: stored } = info;
    console.log(JSON.stringify({ key, id, name: info.name, role: info.role, models: allowed, createdAt, expiresAt, limits: stored }, null, 2));
    return;
  }
  console.log(key);
  console.log(
    `Key ${info.id} ('${info.name}', ${info.role}) created. It will not be shown again: store it now. ` +
      "Clients send it as 'Authorization: Bearer <key>' or as 'x-api-key: <key>'.",
  );
}

function listKeys(store: KeyStore, operands: readonly string[], values: Values): void {
  if (operands.length > 0) throw new UsageError(`'keys list' takes no operands (got '${operands.join(" ")}')`);
  const keys = store.list();
  if (values.json === true) return console.log(JSON.stringify(keys, null, 2));
  if (keys.length === 0) return console.log(`No API keys in ${store.path}. Make one with 'slmkit keys create --role user --name NAME'.`);
  const now = new Date();
  const header = ["ID", "NAME", "ROLE", "MODELS", "CREATED", "EXPIRES", "STATE", "LIMITS"];
  const rows = keys.map((info) => [info.id, info.name, info.role, info.models?.join(",") ?? "all", shortTime(info.createdAt), info.expiresAt === null ? "never" : shortTime(info.expiresAt), stateOf(info, now), limitsText(info.limits)]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  console.log([line(header), ...rows.map(line)].join("\n"));
}

function revokeKey(store: KeyStore, operands: readonly string[], values: Values): void {
  const [idOrName, ...rest] = operands;
  if (idOrName === undefined || rest.length > 0) throw new UsageError("'keys revoke' takes one key id or name");
  const now = new Date();
  const info = store.revoke(idOrName, now);
  if (values.json === true) return console.log(JSON.stringify(info, null, 2));
  const already = info.revokedAt !== now.toISOString();
  console.log(`${already ? "already revoked" : "revoked"}: key ${info.id} ('${info.name}', ${info.role})${already ? ` at ${shortTime(info.revokedAt!)}` : ""}`);
}

function stateOf(info: KeyInfo, now: Date): "active" | "expired" | "revoked" {
  if (info.revokedAt !== null) return "revoked";
  return info.expiresAt !== null && Date.parse(info.expiresAt) <= now.getTime() ? "expired" : "active";
}

/** "2025-01-01T09:30:00.000Z" → "2025-01-01 09:30Z". */
function shortTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
}

const LIMIT_LABELS: ReadonlyArray<readonly [keyof KeyLimits, string]> = [
  ["requestsPerMinute", "rpm"],
  ["tokensPerMinute", "tpm"],
  ["concurrentStreams", "streams"],
];

function limitsText(limits: KeyLimits): string {
  const parts = LIMIT_LABELS.filter(([field]) => limits[field] !== undefined).map(([field, label]) => `${label}=${limits[field]}`);
  return parts.length === 0 ? "-" : parts.join(" ");
}
