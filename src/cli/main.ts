#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { type Command, UsageError, commandHelp, parseCommandArgs } from "./args.js";
import { installSignalHandlers } from "./interrupt.js";

/**
 * Every command, in pipeline order; `slmkit --help` lists them from here. Each is imported only when
 * used, so that a quick command does not pay for loading the server or the engine.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  inspect: async () => (await import("./commands/inspect.js")).inspectCommand,
  fit: async () => (await import("./commands/fit.js")).fitCommand,
  footprint: async () => (await import("./commands/footprint.js")).footprintCommand,
  compare: async () => (await import("./commands/compare.js")).compareCommand,
  recommend: async () => (await import("./commands/recommend.js")).recommendCommand,
  catalog: async () => (await import("./commands/catalog.js")).catalogCommand,
  pull: async () => (await import("./commands/pull.js")).pullCommand,
  add: async () => (await import("./commands/store.js")).addCommand,
  list: async () => (await import("./commands/store.js")).listCommand,
  show: async () => (await import("./commands/store.js")).showCommand,
  rm: async () => (await import("./commands/store.js")).rmCommand,
  cp: async () => (await import("./commands/store.js")).cpCommand,
  gc: async () => (await import("./commands/store.js")).gcCommand,
  check: async () => (await import("./commands/store.js")).checkCommand,
  create: async () => (await import("./commands/create.js")).createCommand,
  quantize: async () => (await import("./commands/quantize.js")).quantizeCommand,
  bench: async () => (await import("./commands/bench.js")).benchCommand,
  eval: async () => (await import("./commands/eval.js")).evalCommand,
  optimize: async () => (await import("./commands/optimize.js")).optimizeCommand,
  run: async () => (await import("./commands/run.js")).runCommand,
  keys: async () => (await import("./commands/keys.js")).keysCommand,
  audit: async () => (await import("./commands/audit.js")).auditCommand,
  serve: async () => (await import("./commands/serve.js")).serveCommand,
  synth: async () => (await import("./commands/synth.js")).synthCommand,
};

function version(): string {
  const packageJson = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return packageJson.version;
}

async function overview(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    "slmkit: small language models on edge devices. Inspect, quantize, run and serve GGUF models.",
    "",
    "Usage: slmkit <command> [options]",
    "",
    "Commands:",
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "Run 'slmkit <command> --help' for a command's options.",
  ].join("\n");
}

/**
 * Errors that describe a problem with the user's input (a broken file, a bad option, a busy port):
 * one line, exit code 1, no stack trace. Matched by class name so that this file need not load
 * every stage to recognise their errors.
 */
const EXPECTED_ERRORS = new Set(["CliError", "GgufError", "EngineError", "SynthError", "ListenError", "QuantizeError", "RegistryError", "BenchError", "RecipeError", "KeyError", "AuditError"]);

function isExpected(error: unknown): error is Error {
  return error instanceof Error && EXPECTED_ERRORS.has(error.name);
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(await overview());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    console.log(version());
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    process.stderr.write(`slmkit: unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(", ")}\n`);
    return 2;
  }
  const command = await load();
  try {
    const args = parseCommandArgs(command, rest);
    if (args === "help") {
      console.log(commandHelp(command));
      return 0;
    }
    return (await command.run(args)) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`slmkit ${command.name}: ${error.message}\nRun 'slmkit ${command.name} --help' for usage.\n`);
      return 2;
    }
    if (isExpected(error)) {
      process.stderr.write(`slmkit ${command.name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

installSignalHandlers();

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`slmkit: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 70;
  },
);
