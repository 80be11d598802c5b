import { parseArgs } from "node:util";

/** A mistake in how a command was called: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A problem with the user's files or environment that the CLI reports as one line, exit code 1. */
export class CliError extends Error {
  override readonly name = "CliError";
}

export type OptionKind = "string" | "boolean" | "number" | "integer" | "strings";

export interface OptionSpec {
  readonly name: string;
  readonly short?: string;
  readonly kind: OptionKind;
  readonly description: string;
  /** Shown in help as `--name VALUE`. */
  readonly valueName?: string;
  readonly min?: number;
  readonly max?: number;
  /** For string options: the accepted values (case-insensitive). */
  readonly choices?: readonly string[];
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** Positional arguments as shown in the usage line, e.g. "<model.gguf> [prompt]". */
  readonly positionals: string;
  readonly options: readonly OptionSpec[];
  /** Example invocations shown at the end of --help. */
  readonly examples?: readonly string[];
  readonly details?: string;
}

export interface ParsedArgs {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | number | string[] | undefined>>;
}

const HELP_OPTION: OptionSpec = { name: "help", short: "h", kind: "boolean", description: "show this help" };

/** Parses argv against a command's options; numbers are checked against their ranges. */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs | "help" {
  const options = [...spec.options, HELP_OPTION];
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        options.map((option) => [
          option.name,
          {
            type: option.kind === "boolean" ? ("boolean" as const) : ("string" as const),
            multiple: option.kind === "strings",
            ...(option.short ? { short: option.short } : {}),
          },
        ]),
      ),
    });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  if (parsed.values.help === true) return "help";
  const values: Record<string, string | boolean | number | string[] | undefined> = {};
  for (const option of spec.options) {
    const raw = parsed.values[option.name];
    values[option.name] = raw === undefined ? undefined : convert(option, raw as string | boolean | string[]);
  }
  return { positionals: parsed.positionals, values };
}

function convert(option: OptionSpec, raw: string | boolean | string[]): string | boolean | number | string[] {
  if (option.kind === "boolean" || option.kind === "strings" || typeof raw !== "string") return raw;
  if (option.kind === "string") {
    if (option.choices && !option.choices.some((choice) => choice.toLowerCase() === raw.toLowerCase())) {
      throw new UsageError(`--${option.name} must be one of ${option.choices.join(", ")} (got '${raw}')`);
    }
    return option.choices?.find((choice) => choice.toLowerCase() === raw.toLowerCase()) ?? raw;
  }
  const value = Number(raw);
  const whole = option.kind === "integer";
  if (raw.trim() === "" || !Number.isFinite(value) || (whole && !Number.isInteger(value))) {
    throw new UsageError(`--${option.name} needs ${whole ? "a whole number" : "a number"} (got '${raw}')`);
  }
  if ((option.min !== undefined && value < option.min) || (option.max !== undefined && value > option.max)) {
    const range = option.max === undefined ? `at least ${option.min}` : option.min === undefined ? `at most ${option.max}` : `between ${option.min} and ${option.max}`;
    throw new UsageError(`--${option.name} must be ${range} (got ${raw})`);
  }
  return value;
}

/** The --help text of a command, generated from its spec. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: slmkit ${spec.name} ${spec.positionals}`.trimEnd(), "", spec.summary];
  if (spec.details) lines.push("", spec.details);
  lines.push("", "Options:");
  const shown = [...spec.options, HELP_OPTION].map((option) => {
    const flag = `${option.short ? `-${option.short}, ` : "    "}--${option.name}${option.kind === "boolean" ? "" : ` ${option.valueName ?? valueNameOf(option)}`}`;
    return [flag, option.description + (option.kind === "strings" ? " (repeatable)" : "")] as const;
  });
  const width = Math.max(...shown.map(([flag]) => flag.length));
  for (const [flag, description] of shown) lines.push(`  ${flag.padEnd(width)}  ${description}`);
  if (spec.examples?.length) lines.push("", "Examples:", ...spec.examples.map((example) => `  ${example}`));
  return lines.join("\n");
}

function valueNameOf(option: OptionSpec): string {
  if (option.choices) return option.choices.join("|");
  return option.kind === "integer" || option.kind === "number" ? "N" : "VALUE";
}

/** A CLI command: its spec (for parsing and --help) and what it does. Resolves to the exit code. */
export interface Command extends CommandSpec {
  run(args: ParsedArgs): Promise<number | void>;
}
