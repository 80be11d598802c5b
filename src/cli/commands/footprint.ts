import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { CACHE_TYPES, type CacheType, deviceProfile, type Footprint, footprint } from "../../fit/index.js";
import { presetByName } from "../../quant/index.js";
import { CliError, type Command, UsageError } from "../args.js";
import { barChartSvg } from "../bar-chart.js";
import { formatBytes } from "../format.js";
import { modelFactsOf } from "../model-facts.js";

const GIB = 2 ** 30;

interface Row {
  readonly model: string;
  readonly type: string;
  readonly weightsFrom: "file" | "shapes" | "parameter count";
  readonly memory: Footprint;
  readonly fits: boolean;
}

export const footprintCommand: Command = {
  name: "footprint",
  summary: "Memory of several models at several quantizations side by side: a table, and a chart as SVG.",
  positionals: "",
  details:
    "Each cell is what `slmkit fit <model> --type <T> --ctx <N>` computes: weights through the quantizer's plan\n" +
    "(from the file, or from a catalog model's shapes), the accelerator copy, KV cache, compute and runtime.\n" +
    "This replaces rules of thumb such as \"F16 takes 2× the file, Q4_0 1.2×\" with the sum of the parts.",
  options: [
    { name: "models", kind: "string", valueName: "A,B,C", description: "models: GGUF files, store names or catalog names (required)" },
    { name: "types", kind: "string", valueName: "T,T", description: "quantizations (default F16,Q8_0,Q4_0)" },
    { name: "ctx", kind: "integer", description: "context tokens (default 4096)", min: 1, max: 1 << 22 },
    { name: "cache-type", kind: "string", choices: Object.keys(CACHE_TYPES), description: "K/V cache type (default f16)" },
    { name: "svg", kind: "string", valueName: "FILE", description: "write the chart as SVG" },
    { name: "png", kind: "string", valueName: "FILE", description: "write the chart as PNG (rendered by rsvg-convert: apt-get install librsvg2-bin)" },
    { name: "json", kind: "boolean", description: "print the rows as JSON" },
  ],
  examples: ["slmkit footprint --models qwen3:0.6b,gemma3:1b,phi4-mini:3.8b --svg footprint.svg", "slmkit footprint --models model.gguf --types Q8_0,Q5_1,Q4_0 --ctx 8192"],
  async run({ positionals, values }) {
    if (positionals.length > 0) throw new UsageError(`footprint takes its models with --models a,b,c (got '${positionals[0]}')`);
    const models = ((values.models as string | undefined) ?? "").split(",").map((name) => name.trim()).filter(Boolean);
    if (models.length === 0) throw new UsageError("give the models with --models a,b,c");
    const types = ((values.types as string | undefined) ?? "F16,Q8_0,Q4_0").split(",").map((type) => presetByName(type.trim()).name);
    const context = (values.ctx as number | undefined) ?? 4096;
    const cacheType = ((values["cache-type"] as string | undefined) ?? "f16") as CacheType;
    const device = deviceProfile();
    const rows: Row[] = [];
    for (const model of models) {
      for (const type of types) {
        const facts = await modelFactsOf(model, type, device.cpuFeatures);
        const memory = footprint(facts.shape, { weightsBytes: facts.weights, contextTokens: context, cacheType, acceleratorCopyBytes: facts.copy });
        rows.push({ model, type, weightsFrom: facts.weightsExact ? "file" : facts.weightsFromShapes ? "shapes" : "parameter count", memory, fits: memory.totalBytes <= device.availableMemoryBytes });
      }
    }
    if (typeof values.svg === "string" || typeof values.png === "string") {
      const svg = barChartSvg({
        title: `Memory at ${context} tokens of context (${cacheType} cache)`,
        unit: `GiB; ${device.cpuFeatures.includes("amx_int8") ? "this CPU has AMX: the copy its kernels take is counted; " : ""}computed by slmkit footprint`,
        format: (gib) => (gib < 1 ? gib.toFixed(2) : gib.toFixed(1)),
        limit: { label: `available ${formatBytes(device.availableMemoryBytes)}`, value: device.availableMemoryBytes / GIB },
        groups: models.map((model) => ({
          label: basename(model),
          bars: rows
            .filter((row) => row.model === model)
            .map((row) => ({
              label: row.type,
              segments: [
                { label: "weights", value: row.memory.weightsBytes / GIB },
                { label: "AMX copy", value: row.memory.acceleratorCopyBytes / GIB },
                { label: "KV cache", value: row.memory.kvCacheBytes / GIB },
                { label: "compute", value: row.memory.computeBytes / GIB },
                { label: "runtime", value: row.memory.runtimeBytes / GIB },
              ],
            })),
        })),
      });
      if (typeof values.svg === "string") writeFileSync(values.svg, svg);
      if (typeof values.png === "string") renderPng(svg, values.png);
    }
    if (values.json === true) {
      console.log(JSON.stringify({ contextTokens: context, cacheType, availableMemoryBytes: device.availableMemoryBytes, rows }, null, 2));
      return 0;
    }
    const width = Math.max(5, ...models.map((model) => model.length));
    console.log(`${"MODEL".padEnd(width)}  TYPE     WEIGHTS     KV CACHE    TOTAL       FITS  WEIGHTS FROM`);
    for (const row of rows) {
      console.log(
        `${row.model.padEnd(width)}  ${row.type.padEnd(7)}  ${formatBytes(row.memory.weightsBytes).padEnd(10)}  ${formatBytes(row.memory.kvCacheBytes).padEnd(10)}  ${formatBytes(row.memory.totalBytes).padEnd(10)}  ${(row.fits ? "yes" : "no").padEnd(4)}  ${row.weightsFrom}`,
      );
    }
    console.log(`(${context} tokens of context, ${cacheType} cache; ${formatBytes(device.availableMemoryBytes)} available${typeof values.svg === "string" ? `; chart: ${values.svg}` : ""}${typeof values.png === "string" ? `; PNG: ${values.png}` : ""})`);
    return 0;
  },
};

/** PNG through rsvg-convert (librsvg): slmkit draws SVG itself and leaves rasterizing to the system's renderer. */
function renderPng(svg: string, output: string): void {
  const result = spawnSync("rsvg-convert", ["--format", "png", "--output", output], { input: svg });
  if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new CliError("--png needs rsvg-convert (Debian/Ubuntu: apt-get install librsvg2-bin; macOS: brew install librsvg); --svg writes the chart without it");
  }
  if (result.status !== 0) throw new CliError(`rsvg-convert failed: ${result.stderr.toString().trim()}`);
}
