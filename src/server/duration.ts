/**
 * Ollama's keep_alive values: a number of seconds, or a Go-style duration ("300ms", "30s", "5m",
 * "1h30m"). A negative value keeps the model loaded for ever; 0 unloads it after the request.
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds (Infinity for "for ever"), or undefined when the text is not a duration. */
export function parseKeepAlive(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? (value < 0 ? Infinity : value * 1000) : undefined;
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return parseKeepAlive(Number(text));
  const match = /^(-)?((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(text);
  if (!match) return undefined;
  let total = 0;
  for (const [, amount, unit] of match[2]!.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  return match[1] ? Infinity : total;
}
