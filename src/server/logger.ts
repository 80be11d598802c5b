/**
 * The server's structured log: one record per event (a request answered, a model loaded, shutdown
 * steps), written as one JSON object per line for log collectors or as a short line for people.
 */

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Values a record may carry besides its message. */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Whether records of `level` are written at all (to skip building costly fields). */
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  readonly format?: LogFormat;
  /** Records below this level are dropped (default info). */
  readonly level?: LogLevel;
  /** Where each line goes, without its newline. */
  readonly write: (line: string) => void;
  readonly now?: () => Date;
}

export function createLogger({ format = "pretty", level = "info", write, now = () => new Date() }: LoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const enabled = (candidate: LogLevel): boolean => LOG_LEVELS.indexOf(candidate) >= threshold;
  const render = format === "json" ? jsonLine : prettyLine;
  const log = (recordLevel: LogLevel, message: string, fields: LogFields = {}): void => {
    if (enabled(recordLevel)) write(render(now(), recordLevel, message, fields));
  };
  return {
    log,
    enabled,
    debug: (message, fields) => log("debug", message, fields),
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
  };
}

/** A logger that writes nothing. */
export const SILENT_LOGGER: Logger = createLogger({ level: "error", write: () => undefined });

/** `{"time":...,"level":...,"msg":...,<fields>}`; fields never overwrite those three. */
function jsonLine(time: Date, level: LogLevel, message: string, fields: LogFields): string {
  const record: Record<string, unknown> = { time: time.toISOString(), level, msg: message };
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && !(key in record)) record[key] = value;
  }
  return JSON.stringify(record);
}

/** `<time> INFO  <message> key=value ...`, values quoted when they hold spaces. */
function prettyLine(time: Date, level: LogLevel, message: string, fields: LogFields): string {
  const parts = [time.toISOString(), level.toUpperCase().padEnd(5), message];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    parts.push(`${key}=${/[\s"=]/.test(text) || text === "" ? JSON.stringify(text) : text}`);
  }
  return parts.join(" ");
}
