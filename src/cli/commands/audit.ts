/** `slmkit audit verify|tail|query`: check the server's audit trail and read it. */
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { slmkitHome } from "../../registry/index.js";
import { type AuditFilter, type AuditLine, parseSince, readAudit, verifyAudit } from "../../server/index.js";
import { type Command, CliError, type ParsedArgs, UsageError } from "../args.js";

const SUBCOMMANDS = ["verify", "tail", "query"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];
const SUBCOMMAND_HELP = "give one of: verify (check the chain), tail (the last lines), query (the lines matching --key, --since, --route, --status)";

const FILTER_OPTIONS = ["key", "since", "route", "status"] as const;
/** The options each subcommand takes besides --dir and --json; any other is a usage error. */
const SUBCOMMAND_OPTIONS: Readonly<Record<Subcommand, readonly string[]>> = { verify: [], tail: ["lines", ...FILTER_OPTIONS], query: FILTER_OPTIONS };
const DEFAULT_TAIL_LINES = 20;

export const auditCommand: Command = {
  name: "audit",
  summary: "Check the server's audit trail (one line per request, each chained to the one before) and read it.",
  positionals: "verify|tail|query",
  details:
    "verify walks the chain and exits 1 naming the first line that was edited, deleted, inserted, moved or\n" +
    "cut from the end. tail prints the last lines; query the lines matching its filters (tail takes them too).\n" +
    "The chain is tamper-evident, not tamper-proof: whoever can rewrite every file and audit/head.json\n" +
    "consistently goes unnoticed; ship the lines off the machine to rule that out.",
  options: [
    { name: "dir", kind: "string", valueName: "DIR", description: "the audit directory (default $SLMKIT_HOME/audit)" },
    { name: "lines", short: "n", kind: "integer", description: `tail: how many lines (default ${DEFAULT_TAIL_LINES})`, min: 1 },
    { name: "key", kind: "string", valueName: "ID", description: "only requests made with this API key id" },
    { name: "since", kind: "string", valueName: "WHEN", description: "only requests since a span ago (30m, 1h, 2d) or a date (2024-05-01, 2024-05-01T08:00:00Z)" },
    { name: "route", kind: "string", valueName: "ROUTE", description: "only requests to this route, e.g. /v1/chat/completions" },
    { name: "status", kind: "integer", description: "only requests answered with this HTTP status", min: 100, max: 599 },
    { name: "json", kind: "boolean", description: "verify: the result as JSON; tail, query: the stored lines as JSONL" },
  ],
  examples: [
    "slmkit audit verify",
    "slmkit audit tail -n 50",
    "slmkit audit query --key k_3f2a --since 1h --status 429",
    "slmkit audit query --route /v1/chat/completions --since 2024-05-01 --json",
  ],
  async run({ positionals, values }) {
    const [subcommand, ...rest] = positionals;
    if (subcommand === undefined) throw new UsageError(`missing subcommand: ${SUBCOMMAND_HELP}`);
    if (!isSubcommand(subcommand)) throw new UsageError(`unknown subcommand '${subcommand}': ${SUBCOMMAND_HELP}`);
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    const misplaced = ["lines", ...FILTER_OPTIONS].find((name) => values[name] !== undefined && !SUBCOMMAND_OPTIONS[subcommand].includes(name));
    if (misplaced !== undefined) throw new UsageError(`--${misplaced} does not apply to 'audit ${subcommand}'`);
    const directory = (values.dir as string | undefined) ?? join(slmkitHome(), "audit");
    if (!existsSync(directory)) throw new CliError(`no audit log at ${directory}: nothing has been audited there yet (--dir names another directory)`);
    const json = values.json === true;
    if (subcommand === "verify") return verify(directory, json);
    const filter = filterFrom(values);
    const matching = readable(directory, () => readAudit(directory, filter));
    const shown = subcommand === "tail" ? matching.slice(-((values.lines as number | undefined) ?? DEFAULT_TAIL_LINES)) : matching;
    if (json) {
      for (const line of shown) console.log(JSON.stringify(line));
    } else {
      console.log(shown.length === 0 ? "no audit lines match" : formatLines(shown).join("\n"));
    }
  },
};

function isSubcommand(text: string): text is Subcommand {
  return (SUBCOMMANDS as readonly string[]).includes(text);
}

function verify(directory: string, json: boolean): number {
  const result = readable(directory, () => verifyAudit(directory));
  if (json) console.log(JSON.stringify(result, null, 2));
  else if (result.ok) console.log(`ok: ${result.lines} line${result.lines === 1 ? "" : "s"} in ${result.files} file${result.files === 1 ? "" : "s"}`);
  else console.error(`${basename(directory)}/${result.file} line ${result.line}${result.seq === null ? "" : ` (seq ${result.seq})`}: ${result.reason}`);
  return result.ok ? 0 : 1;
}

function filterFrom(values: ParsedArgs["values"]): AuditFilter {
  const sinceText = values.since as string | undefined;
  const since = sinceText === undefined ? undefined : parseSince(sinceText);
  if (sinceText !== undefined && since === undefined) throw new UsageError(`--since needs a span such as 30m, 1h, 2d or a date such as 2024-05-01 (got '${sinceText}')`);
  return { keyId: values.key as string | undefined, since, route: values.route as string | undefined, status: values.status as number | undefined };
}

/** Runs a read, turning a file system refusal (permissions, a file where the directory should be) into one line. */
function readable<T>(directory: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (typeof (error as NodeJS.ErrnoException).code === "string") throw new CliError(`cannot read the audit log at ${directory}: ${(error as Error).message}`);
    throw error;
  }
}

/** One line per request: time, status, method and route, model, key, tokens in/out, latency; columns aligned. */
function formatLines(lines: readonly AuditLine[]): string[] {
  const cells = lines.map((line) => [
    line.time,
    String(line.status),
    `${line.method} ${line.route}`,
    line.model ?? "-",
    line.keyName ?? line.keyId ?? "-",
    `${line.tokensIn ?? "-"}→${line.tokensOut ?? "-"} tok`,
    `${Math.round(line.latencyMs)} ms`,
  ]);
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  return cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join("  ").trimEnd());
}
