/** Human-readable numbers for terminal output; JSON output always carries the exact values. */

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** 292800 → "292.8K", 1543714304 → "1.54B". */
export function formatCount(count: number): string {
  const steps: Array<[number, string]> = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [size, suffix] of steps) {
    if (count >= size) {
      const value = count / size;
      return `${value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, "")}${suffix}`;
    }
  }
  return String(count);
}

export function formatInteger(value: number): string {
  return value.toLocaleString("en-US");
}

/** Two columns: labels padded to the widest. */
export function table(rows: ReadonlyArray<readonly [string, string]>, indent = "  "): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`).join("\n");
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  "": 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

/** "8GB" → 8e9, "512MiB" → 536870912, "1.5g" → 1.5e9, "4096" → 4096; undefined when not a size. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = BYTE_UNITS[match[2]!.toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(match[1]) * unit);
}
