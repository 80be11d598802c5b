import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import {
  AuditLog,
  KeyStore,
  createLogger,
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  describeModelFile,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LogLevel,
  parseKeepAlive,
  type RunningServer,
  type ServedModel,
  startServer,
} from "../../server/index.js";
import { CliError, type Command, UsageError } from "../args.js";
import { DEMO_MODEL_NAME, ensureDemoModel } from "../demo-model.js";
import { parseByteSize } from "../format.js";
import { resolveModelArgument } from "../model-argument.js";
import { readGgufHeader } from "../../gguf/index.js";
import { hubEndpoint, type ModelConfig, ModelStore, slmkitHome } from "../../registry/index.js";
import { withInterruptHandler } from "../interrupt.js";
import { ENGINE_OPTIONS, loadOptionsFrom } from "./run.js";

export const serveCommand: Command = {
  name: "serve",
  summary: "Serve models over HTTP, speaking OpenAI's API (/v1/...) and Ollama's (/api/...) so their clients work unmodified.",
  positionals: "[model.gguf | store name ...]",
  details:
    "Each model file is served under its name without .gguf, a store model under its store name. With no\n" +
    "model given, serves every model in the store, or, when it is empty, a small demo model with RANDOM\n" +
    "weights (made on first use, no download): it shows the API works; its replies are gibberish.\n" +
    "POST /api/pull fetches Hugging Face models (hf.co/<owner>/<repo>:<QUANT>) into the store and serves them.\n" +
    "Binds 127.0.0.1 unless told otherwise; another address needs API keys (`slmkit keys create`) or --auth,\n" +
    "or --insecure to serve without them. Requests need a key (Authorization: Bearer or x-api-key) as soon as\n" +
    "one exists in $SLMKIT_HOME/keys.json; each role may call the routes its permissions allow (README).\n" +
    "Every request is written to the audit trail in $SLMKIT_HOME/audit/ (no prompts unless --audit-content;\n" +
    "`slmkit audit verify` checks its hash chain). Environment: SLMKIT_HOST, SLMKIT_PORT, SLMKIT_HOME.",
  options: [
    { name: "host", kind: "string", description: "address to listen on (default 127.0.0.1)" },
    { name: "port", short: "p", kind: "integer", description: `port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)`, min: 0, max: 65535 },
    { name: "parallel", kind: "integer", description: "requests served at once per model (default 1; more wait their turn)", min: 1, max: 256 },
    { name: "max-queue", kind: "integer", description: "requests that may wait per model; beyond, 503 with Retry-After (default: no limit)", min: 0, max: 1_000_000 },
    { name: "keep-alive", kind: "string", valueName: "DURATION", description: "how long a model stays loaded after its last request: 30s, 5m, 1h; -1 for ever, 0 unloads at once (default 5m)" },
    { name: "max-loaded", kind: "integer", description: "models kept loaded at once; one more unloads the least recently used idle one (default: no limit)", min: 1, max: 1024 },
    { name: "memory-budget", kind: "string", valueName: "SIZE", description: "memory the loaded models may take together, e.g. 8GB or 512MiB; idle models unload to make room (default 90% of RAM)" },
    { name: "max-body", kind: "integer", description: `largest request body in bytes (default ${DEFAULT_MAX_BODY_BYTES})`, min: 1024 },
    { name: "shutdown-timeout", kind: "string", valueName: "DURATION", description: `on SIGTERM or Ctrl-C, how long running requests may finish before they are stopped (default ${DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000}s)` },
    { name: "log-format", kind: "string", choices: LOG_FORMATS, description: "pretty: one readable line per event; json: one JSON object per line, for log collectors (default pretty)" },
    { name: "log-level", kind: "string", choices: LOG_LEVELS, description: "least severe records written (default info: every request)" },
    { name: "quiet", short: "q", kind: "boolean", description: "log only warnings and errors (same as --log-level warn)" },
    { name: "auth", kind: "boolean", description: "require an API key even while none exists (all but /health answer 401 until one is made)" },
    { name: "insecure", kind: "boolean", description: "allow a non-loopback --host without API keys: anyone who reaches it may use and change the models" },
    { name: "keys-file", kind: "string", valueName: "FILE", description: "the API key store (default $SLMKIT_HOME/keys.json)" },
    { name: "audit-dir", kind: "string", valueName: "DIR", description: "where the audit trail goes (default $SLMKIT_HOME/audit)" },
    { name: "no-audit", kind: "boolean", description: "write no audit trail" },
    { name: "audit-content", kind: "boolean", description: "also record request bodies (prompts) and generated text in the audit trail" },
    { name: "tls-cert", kind: "string", valueName: "FILE", description: "serve HTTPS with this PEM certificate (with --tls-key)" },
    { name: "tls-key", kind: "string", valueName: "FILE", description: "the PEM private key of --tls-cert" },
    { name: "cors-origin", kind: "strings", valueName: "ORIGIN", description: "a browser origin allowed to call the API, e.g. https://app.example.com ('*': any); none by default" },
    ...ENGINE_OPTIONS,
  ],
  examples: ["slmkit serve                       # the random-weight demo model", "slmkit serve qwen3-0.6b-q4_0.gguf --port 8080 --parallel 4"],
  async run({ positionals, values }) {
    const host = (values.host as string | undefined) ?? process.env.SLMKIT_HOST ?? DEFAULT_HOST;
    if (isIP(host) === 0 && host !== "localhost") throw new UsageError(`--host must be an IP address or localhost (got '${host}')`);
    const port = (values.port as number | undefined) ?? portFromEnvironment();
    const store = new ModelStore();
    const given = positionals.length > 0 ? positionals.map((text) => resolveModelArgument(text, store)) : await storeOrDemoModels(store);
    const models: ServedModel[] = given.map((model) => describeModelFile(model.path, model.name, "config" in model ? model.config : undefined));
    const names = new Map<string, string>();
    for (const model of models) {
      const other = names.get(model.name);
      if (other !== undefined) throw new UsageError(`${other} and ${model.path} would both be served as '${model.name}'; give each model a different file name`);
      names.set(model.name, model.path);
    }
    const keepAliveMs = durationOption(values, "keep-alive", "30s, 5m or -1");
    const shutdownTimeoutMs = durationOption(values, "shutdown-timeout", "10s or 2m") ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    const level = (values["log-level"] as LogLevel | undefined) ?? (values.quiet === true ? "warn" : "info");
    const logger = createLogger({ format: values["log-format"] as LogFormat | undefined, level, write: (line) => process.stderr.write(`${line}\n`) });
    const keys = new KeyStore((values["keys-file"] as string | undefined) ?? join(slmkitHome(), "keys.json"));
    const requireAuth = values.auth === true;
    if (!isLoopback(host) && !requireAuth && !keys.hasKeys() && values.insecure !== true) {
      throw new UsageError(
        `refusing to listen on ${host} without API keys: anyone who can reach it could use, pull and delete models. ` +
          "Create a key first (`slmkit keys create --role admin --name me`), or pass --auth, or --insecure to accept the risk",
      );
    }
    const tls = tlsOption(values);
    if (values["no-audit"] === true && values["audit-content"] === true) throw new UsageError("--audit-content needs the audit trail; drop --no-audit");
    const audit = values["no-audit"] === true ? undefined : new AuditLog((values["audit-dir"] as string | undefined) ?? join(slmkitHome(), "audit"));
    const server = await startServer({
      keys,
      requireAuth,
      ...(audit && { audit }),
      auditContent: values["audit-content"] === true,
      ...(values["cors-origin"] !== undefined && { corsOrigins: values["cors-origin"] as string[] }),
      ...(tls && { tls }),
      host,
      port,
      models,
      maxBodyBytes: values["max-body"] as number | undefined,
      pool: { keepAliveMs, maxLoaded: values["max-loaded"] as number | undefined, memoryBudgetBytes: byteSizeOption(values, "memory-budget") },
      load: {
        ...loadOptionsFrom(values),
        parallel: values.parallel as number | undefined,
        maxQueue: values["max-queue"] as number | undefined,
      },
      logger,
      registry: { store, endpoint: hubEndpoint(), token: process.env.HF_TOKEN || undefined, offline: process.env.SLMKIT_OFFLINE === "1" },
    });
    if (values["log-format"] === "json") logStart(logger, server, models, host);
    else printBanner(server, models, host);
    warmUp(server, models, logger);
    const signal = await untilSignal();
    logger.info(`${signal} received: finishing running requests, then unloading (${signal} again stops at once)`, { signal });
    await withInterruptHandler(() => process.exit(130), () => server.shutdown(shutdownTimeoutMs));
    audit?.close();
  },
};

/** --tls-cert and --tls-key, both or neither, read as PEM. */
function tlsOption(values: Readonly<Record<string, unknown>>): { cert: Buffer; key: Buffer } | undefined {
  const cert = values["tls-cert"] as string | undefined;
  const key = values["tls-key"] as string | undefined;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError("give both --tls-cert and --tls-key");
  for (const file of [cert, key]) if (!existsSync(file)) throw new CliError(`${file}: no such file`);
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

function portFromEnvironment(): number {
  const raw = process.env.SLMKIT_PORT;
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`SLMKIT_PORT must be a port number (got '${raw}')`);
  return port;
}

function printBanner(server: RunningServer, models: readonly ServedModel[], host: string): void {
  const lines = [`slmkit serve: listening on ${server.url} (OpenAI-compatible API under /v1, Ollama's under /api, health at /health)`];
  for (const model of models) {
    const warning = model.randomWeights ? "  <- RANDOM WEIGHTS: a demo made by `slmkit synth`; its replies are gibberish" : "";
    lines.push(`  model ${model.name}  (${model.path})${warning}`);
  }
  if (models.some((model) => model.name === DEMO_MODEL_NAME)) {
    lines.push("  Serve a real model with: slmkit serve path/to/model.gguf");
  }
  const example = JSON.stringify({ model: models[0]!.name, messages: [{ role: "user", content: "Hello" }] });
  lines.push(`  Try: curl ${server.url}/v1/chat/completions -H 'Content-Type: application/json' -d '${example}'`);
  if (!isLoopback(host) && !server.authRequired()) {
    lines.push(`  Warning: listening on ${host} with --insecure: anyone who can reach this address can use and change these models.`);
  }
  process.stderr.write(`${lines.join("\n")}\n`);
}

/** The banner's facts as log records, so that a JSON log holds nothing but JSON lines. */
function logStart(logger: Logger, server: RunningServer, models: readonly ServedModel[], host: string): void {
  logger.info("listening", { url: server.url, openai: `${server.url}/v1`, ollama: `${server.url}/api` });
  for (const model of models) logger.info("serving model", { model: model.name, path: model.path, random_weights: model.randomWeights || undefined });
  if (!isLoopback(host) && !server.authRequired()) logger.warn("listening on a non-loopback address without API keys (--insecure)", { host });
}

function isLoopback(host: string): boolean {
  return host === DEFAULT_HOST || host === "localhost" || host === "::1";
}

/** Loads the models in the background so the first request does not wait for them (the pool logs the outcome). */
function warmUp(server: RunningServer, models: readonly ServedModel[], logger: Logger): void {
  for (const model of models) {
    server.pool.get(model.name).catch((error: unknown) => logger.debug("warm-up load failed", { model: model.name, error: (error as Error).message }));
  }
}

/** A duration flag in milliseconds (Infinity for -1), or undefined when not given. */
function durationOption(values: Readonly<Record<string, unknown>>, name: string, examples: string): number | undefined {
  const text = values[name] as string | undefined;
  if (text === undefined) return undefined;
  const milliseconds = parseKeepAlive(text);
  if (milliseconds === undefined) throw new UsageError(`--${name} takes a duration such as ${examples} (got '${text}')`);
  return milliseconds;
}

/** With no model given: every model in the store, or the demo model when the store is empty. */
async function storeOrDemoModels(store: ModelStore): Promise<Array<{ path: string; name: string | undefined; config?: ModelConfig }>> {
  const names = store.list().map((manifest) => manifest.name);
  const usable = names.flatMap((name) => {
    try {
      const model = resolveModelArgument(name, store);
      readGgufHeader(model.path); // a file that is not a GGUF model is skipped, not fatal
      return [model];
    } catch {
      return []; // a damaged entry: `slmkit check` names it; the rest still serve
    }
  });
  return usable.length > 0 ? usable : [{ path: await ensureDemoModel(), name: undefined }];
}

/** A size flag in bytes, or undefined when not given. */
function byteSizeOption(values: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const text = values[name] as string | undefined;
  if (text === undefined) return undefined;
  const bytes = parseByteSize(text);
  if (bytes === undefined || bytes <= 0) throw new UsageError(`--${name} takes a size such as 8GB or 512MiB (got '${text}')`);
  return bytes;
}

/** Resolves with the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  return withInterruptHandler((signal) => stop(signal), () => stopped);
}
