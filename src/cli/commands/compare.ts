import { deviceProfile, footprint } from "../../fit/index.js";
import { presetByName } from "../../quant/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes, formatCount } from "../format.js";
import { type ModelAbout, modelFactsOf } from "../model-facts.js";
import { speedEstimate } from "../speed-estimate.js";

const SIZE_TYPES = ["F16", "Q8_0", "Q5_1", "Q4_K_M", "Q4_0"];

interface Column extends ModelAbout {
  readonly model: string;
  readonly weightsBytesByType: Readonly<Record<string, number>>;
  readonly type: string;
  readonly contextTokens: number;
  readonly memoryBytes: number;
  readonly fits: boolean;
  readonly generationTokensPerSecond: number | null;
  readonly promptTokensPerSecond: number | null;
  readonly weightsFrom: string;
}

export const compareCommand: Command = {
  name: "compare",
  summary: "Compare models side by side: parameters, class, licence, context, size per quantization, memory and speed here.",
  positionals: "<model> <model> [model...]",
  details:
    "Models are GGUF files, store names or catalog names (no download: catalog models are computed from their\n" +
    "shapes). Memory is at --ctx tokens (default 4096) and --type (default Q4_K_M); speed is estimated for this\n" +
    "CPU as `slmkit fit` does (the first estimate for a weight type measures it: a few seconds).",
  options: [
    { name: "type", kind: "string", valueName: "TYPE", description: "quantization for memory and speed (default Q4_K_M)" },
    { name: "ctx", kind: "integer", description: "context tokens for memory (default 4096)", min: 1, max: 1 << 22 },
    { name: "no-speed", kind: "boolean", description: "skip the speed estimate (no measuring)" },
    { name: "json", kind: "boolean", description: "print one object per model as JSON" },
  ],
  examples: ["slmkit compare qwen3:1.7b gemma3:1b llama3.2:1b", "slmkit compare qwen3:4b phi4-mini:3.8b --type Q8_0 --ctx 8192"],
  async run({ positionals, values }) {
    if (positionals.length < 2) throw new UsageError("give at least two models to compare");
    const type = presetByName((values.type as string | undefined) ?? "Q4_K_M").name;
    const context = (values.ctx as number | undefined) ?? 4096;
    const device = deviceProfile();
    const columns: Column[] = [];
    for (const model of positionals) {
      const facts = await modelFactsOf(model, type, device.cpuFeatures);
      const sizes: Record<string, number> = {};
      for (const sizeType of SIZE_TYPES) sizes[sizeType] = (await modelFactsOf(model, sizeType, device.cpuFeatures)).weights;
      const memory = footprint(facts.shape, { weightsBytes: facts.weights, contextTokens: context, acceleratorCopyBytes: facts.copy });
      const speed = values["no-speed"] === true || facts.work === undefined ? undefined : await speedEstimate(facts.work, device, false, values.json === true);
      columns.push({ model, ...facts.about, weightsBytesByType: sizes, type, contextTokens: context, memoryBytes: memory.totalBytes, fits: memory.totalBytes <= device.availableMemoryBytes, generationTokensPerSecond: speed?.generationTokensPerSecond ?? null, promptTokensPerSecond: speed?.promptTokensPerSecond ?? null, weightsFrom: facts.weightsExact ? "file" : facts.weightsFromShapes ? "shapes" : "parameter count" });
    }
    if (values.json === true) {
      console.log(JSON.stringify(columns, null, 2));
      return 0;
    }
    const rows: Array<[string, (column: Column) => string]> = [
      ["parameters", (column) => formatCount(column.parameters)],
      ["class", (column) => column.modelClass],
      ["architecture", (column) => column.architecture ?? "?"],
      ["licence", (column) => column.license ?? "?"],
      ["context", (column) => (column.contextLength === undefined ? "?" : String(column.contextLength))],
      ...SIZE_TYPES.map((sizeType): [string, (column: Column) => string] => [`size ${sizeType}`, (column) => formatBytes(column.weightsBytesByType[sizeType]!)]),
      [`RAM ${type} @${context}`, (column) => `${formatBytes(column.memoryBytes)}${column.fits ? "" : " (no fit)"}`],
      [`tokens/s ${type}`, (column) => (column.generationTokensPerSecond === null ? "-" : `~${column.generationTokensPerSecond.toFixed(1)}`)],
      [`prompt tok/s ${type}`, (column) => (column.promptTokensPerSecond === null ? "-" : `~${column.promptTokensPerSecond.toFixed(0)}`)],
      ["weights from", (column) => column.weightsFrom],
    ];
    const labelWidth = Math.max(...rows.map(([label]) => label.length));
    const widths = columns.map((column) => Math.max(column.model.length, ...rows.map(([, cell]) => cell(column).length)));
    console.log(`${"".padEnd(labelWidth)}  ${columns.map((column, index) => column.model.padEnd(widths[index]!)).join("  ")}`);
    for (const [label, cell] of rows) console.log(`${label.padEnd(labelWidth)}  ${columns.map((column, index) => cell(column).padEnd(widths[index]!)).join("  ")}`);
    return 0;
  },
};
