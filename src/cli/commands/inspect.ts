import { type GgufHeader, type ModelSummary, MODEL_CLASSES, isSynthetic, readGgufHeader, summarizeModel, toPlain } from "../../gguf/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes, formatCount, formatInteger, table } from "../format.js";

export const inspectCommand: Command = {
  name: "inspect",
  summary: "Tell what a GGUF model is: architecture, size class, shape, tokenizer, tensor types and bits per weight.",
  positionals: "<model.gguf>",
  details: "Reads only the file's header, so it is instant even for a 20 GB model. Parameters are the sum of all tensor elements.",
  options: [
    { name: "json", kind: "boolean", description: "print the summary as JSON" },
    { name: "metadata", kind: "boolean", description: "also list every metadata key (long arrays shortened)" },
    { name: "tensors", kind: "boolean", description: "also list every tensor: name, type, shape, bytes" },
  ],
  examples: ["slmkit inspect model.gguf", "slmkit inspect model.gguf --json | jq .parameters"],
  async run({ positionals, values }) {
    const [path, ...rest] = positionals;
    if (path === undefined || rest.length > 0) throw new UsageError("give exactly one model file");
    const header = readGgufHeader(path);
    const summary = summarizeModel(header);
    if (values.json) {
      const json: Record<string, unknown> = { file: path, ...summaryJson(summary) };
      if (values.metadata) json.metadata = metadataJson(header);
      if (values.tensors) json.tensors = header.tensors.map((t) => ({ name: t.name, type: t.type.name, shape: t.shape, bytes: t.byteSize, offset: header.dataOffset + t.offset }));
      console.log(JSON.stringify(json, null, 2));
      return;
    }
    console.log(describe(path, summary, isSynthetic(header)));
    if (values.metadata) console.log(`\nMetadata (${header.metadata.size} keys)\n${metadataText(header)}`);
    if (values.tensors) {
      console.log(`\nTensors (${header.tensors.length})`);
      console.log(table(header.tensors.map((t) => [t.name, `${t.type.name.padEnd(6)} [${t.shape.join(", ")}]  ${formatBytes(t.byteSize)}`])));
    }
  },
};

/** The summary with `class` beside the parameter count and null (not a missing key) for what the file does not say. */
function summaryJson(summary: ModelSummary): Record<string, unknown> {
  const { modelClass, ...rest } = summary;
  const ordered: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    ordered[key] = value ?? null;
    if (key === "parameters") ordered.class = modelClass;
  }
  return ordered;
}

function describe(path: string, s: ModelSummary, synthetic: boolean): string {
  const classRow = MODEL_CLASSES.find((row) => row.name === s.modelClass)!;
  const unknown = "unknown";
  const shown = (value: number | undefined): string => (value === undefined ? unknown : formatInteger(value));
  const types = Object.entries(s.tensorTypes)
    .sort(([, a], [, b]) => b.parameters - a.parameters)
    .map(([type, count]) => `${type} ×${count.tensors} (${formatCount(count.parameters)} params, ${formatBytes(count.bytes)})`)
    .join(", ");
  const rows: Array<[string, string]> = [
    ["architecture", s.architecture ?? unknown],
    ["name", s.name ?? unknown],
    ["parameters", `${formatCount(s.parameters)} (${formatInteger(s.parameters)})`],
    ["class", `${s.modelClass}: ${classRow.description}`],
    ["context length", shown(s.contextLength)],
    ["layers", shown(s.layers)],
    ["heads / KV heads", `${shown(s.heads)} / ${shown(s.kvHeads)}`],
    ["embedding width", shown(s.embeddingWidth)],
    ["feed-forward width", shown(s.feedForwardWidth)],
    ["tokenizer", `${s.tokenizerModel ?? unknown}, ${shown(s.vocabularySize)} tokens`],
    ["chat template", s.hasChatTemplate ? "yes" : "no"],
    ["file type", s.fileType ?? "not stated"],
    ["tensor types", types || "none"],
    ["bits per weight", s.bitsPerWeight.toFixed(2)],
    ["file", `${formatBytes(s.fileSize)} (${formatInteger(s.fileSize)} bytes), GGUF v${s.ggufVersion}, ${s.tensorCount} tensors`],
  ];
  if (synthetic) rows.push(["weights", "RANDOM (made by slmkit synth): output is gibberish"]);
  return `${path}\n${table(rows)}`;
}

const SHOWN_ARRAY_ITEMS = 8;

function metadataJson(header: GgufHeader): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of header.metadata) {
    const plain = toPlain(value);
    out[key] = Array.isArray(plain) && plain.length > SHOWN_ARRAY_ITEMS ? { type: "array", length: plain.length, first: jsonSafe(plain.slice(0, SHOWN_ARRAY_ITEMS)) } : jsonSafe(plain);
  }
  return out;
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  return value;
}

function metadataText(header: GgufHeader): string {
  const rows: Array<[string, string]> = [];
  for (const [key, value] of header.metadata) {
    const plain = toPlain(value);
    let shown: string;
    if (Array.isArray(plain)) {
      const items = plain.slice(0, SHOWN_ARRAY_ITEMS).map((item) => JSON.stringify(jsonSafe(item)));
      shown = `[${items.join(", ")}${plain.length > SHOWN_ARRAY_ITEMS ? `, … ${plain.length} items` : ""}]`;
    } else {
      shown = JSON.stringify(jsonSafe(plain));
      if (shown.length > 120) shown = `${shown.slice(0, 117)}…"`;
    }
    rows.push([key, `${value.type === "array" ? `${value.itemType}[]` : value.type} ${shown}`]);
  }
  return table(rows);
}
