#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { EngineError } from "../engine/index.js";
import { GgufError } from "../gguf/index.js";
import { QuantizeError, UnknownPresetError } from "../quant/index.js";
import { ListenError } from "../server/index.js";
import { SynthError } from "../synth/index.js";
import { type Command, UsageError, commandHelp, parseCommandArgs } from "./args.js";
import { inspectCommand } from "./commands/inspect.js";
import { quantizeCommand } from "./commands/quantize.js";
import { installSignalHandlers } from "./interrupt.js";
import { runCommand } from "./commands/run.js";
import { serveCommand } from "./commands/serve.js";
import { synthCommand } from "./commands/synth.js";

/** Every command, in pipeline order; `slmkit --help` lists them from here. */
const COMMANDS: readonly Command[] = [inspectCommand, quantizeCommand, runCommand, serveCommand, synthCommand];

function version(): string {
  const packageJson = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return packageJson.version;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    "slmkit: small language models on edge devices. Inspect, run and serve GGUF models.",
    "",
    "Usage: slmkit <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "Run 'slmkit <command> --help' for a command's options.",
  ].join("\n");
}

/** Errors that describe a problem with the user's input: one line, exit code 1, no stack trace. */
function isExpected(error: unknown): error is Error {
  return error instanceof GgufError || error instanceof EngineError || error instanceof SynthError || error instanceof ListenError || error instanceof QuantizeError || error instanceof UnknownPresetError;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    console.log(version());
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    process.stderr.write(`slmkit: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.name).join(", ")}\n`);
    return 2;
  }
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
