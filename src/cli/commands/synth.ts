import { rmSync } from "node:fs";
import { readGgufHeader, summarizeModel } from "../../gguf/index.js";
import { presetByName, QUANT_PRESETS, quantizeFile } from "../../quant/index.js";
import { CATALOG, findCatalogModel } from "../../registry/index.js";
import { ARCHITECTURES, type ModelShape, SYNTH_WEIGHT_TYPES, type SynthOptions, type SynthWeightType, synthesizeModel, twinOptions } from "../../synth/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes, formatCount } from "../format.js";
import { progressLine } from "./quantize.js";

export const synthCommand: Command = {
  name: "synth",
  summary: "Write a random-weight model of a real architecture, with a working tokenizer and chat template.",
  positionals: "",
  details:
    "For tests, demos and measuring speed and memory without downloading: llama.cpp loads it and\n" +
    "generates from it (gibberish, deterministic for a given --seed). Shape flags default to a tiny model.\n" +
    "--like <catalog model> writes a twin: exactly that model's shapes and vocabulary size, so `slmkit run`\n" +
    "and `slmkit fit` show its real speed and memory here. Any --type slmkit can quantize to is made by\n" +
    "writing F16 first (beside the output, removed after) and quantizing it with slmkit's quantizer.",
  options: [
    { name: "like", kind: "string", valueName: "MODEL", description: "a twin of a catalog model (slmkit catalog): its architecture and shapes" },
    { name: "arch", kind: "string", choices: ARCHITECTURES.map((a) => a.name), description: "architecture (default llama)" },
    { name: "output", short: "o", kind: "string", valueName: "FILE", description: "where to write the model (required)" },
    { name: "layers", kind: "integer", description: "transformer blocks", min: 1, max: 1024 },
    { name: "width", kind: "integer", description: "embedding width", min: 2, max: 65536 },
    { name: "ff", kind: "integer", description: "feed-forward width", min: 1, max: 262144 },
    { name: "heads", kind: "integer", description: "attention heads", min: 1, max: 1024 },
    { name: "kv-heads", kind: "integer", description: "key/value heads (grouped-query attention)", min: 1, max: 1024 },
    { name: "head-dim", kind: "integer", description: "width of one head (default width / heads)", min: 2, max: 4096 },
    { name: "ctx", kind: "integer", description: "training context length written to the model", min: 16, max: 1 << 24 },
    { name: "vocab", kind: "integer", description: "pad the vocabulary to this many tokens (real models: 32000–262144)", min: 1, max: 1 << 22 },
    { name: "tied", kind: "boolean", description: "share the token embedding as output projection (no output.weight)" },
    { name: "untied", kind: "boolean", description: "give the model its own output.weight" },
    { name: "type", kind: "string", valueName: "TYPE", description: `weight type: ${SYNTH_WEIGHT_TYPES.join(", ")} or a quantization (${QUANT_PRESETS.map((preset) => preset.name).join(", ")}) (default F32)` },
    { name: "seed", kind: "integer", description: "random seed (default 42)", min: 0, max: 2 ** 32 - 1 },
    { name: "name", kind: "string", description: "general.name written to the model" },
    { name: "json", kind: "boolean", description: "print a JSON summary" },
  ],
  examples: ["slmkit synth --arch qwen3 -o tiny-qwen3.gguf", "slmkit synth --like qwen3:0.6b --type Q4_0 -o twin-qwen3-0.6b-q4_0.gguf", "slmkit synth --arch llama --layers 12 --width 768 --ff 2048 --heads 12 --kv-heads 4 --vocab 32000 --type F16 -o llama-100m.gguf"],
  async run({ positionals, values }) {
    if (positionals.length > 0) throw new UsageError(`synth takes no positional arguments (got '${positionals[0]}'); did you mean -o ${positionals[0]}?`);
    const output = values.output as string | undefined;
    if (!output) throw new UsageError("give the output file with -o FILE");
    if (values.tied && values.untied) throw new UsageError("--tied and --untied contradict each other");
    const shape: Partial<Record<keyof ModelShape, number | boolean>> = {};
    const flags: Array<[string, keyof ModelShape]> = [
      ["layers", "layers"],
      ["width", "width"],
      ["ff", "feedForward"],
      ["heads", "heads"],
      ["kv-heads", "kvHeads"],
      ["head-dim", "headDim"],
      ["ctx", "contextLength"],
    ];
    for (const [flag, field] of flags) if (values[flag] !== undefined) shape[field] = values[flag] as number;
    if (values.tied) shape.tiedEmbeddings = true;
    if (values.untied) shape.tiedEmbeddings = false;
    const type = weightType(values.type as string | undefined);
    const started = performance.now();
    const like = values.like as string | undefined;
    if (like !== undefined && (Object.keys(shape).length > 0 || values.arch !== undefined || values.vocab !== undefined)) {
      throw new UsageError("--like takes the architecture, shape and vocabulary from the catalog: leave out --arch, the shape flags and --vocab");
    }
    const base: SynthOptions = like !== undefined ? twinOf(like, output) : { architecture: (values.arch as string | undefined) ?? "llama", shape: shape as Partial<ModelShape>, vocabularySize: values.vocab as number | undefined, output };
    const options: SynthOptions = { ...base, seed: values.seed as number | undefined, ...(values.name === undefined ? {} : { name: values.name as string }) };
    const progress = process.stderr.isTTY && !values.json ? progressLine() : undefined;
    const writing = (label: string) => progress && ((done: number, total: number) => progress.update({ tensor: label, tensorIndex: 0, tensorCount: 1, from: "random", to: "F16", bytesDone: done, bytesTotal: total }));
    let result;
    try {
      if ((SYNTH_WEIGHT_TYPES as readonly string[]).includes(type)) {
        result = await synthesizeModel({ ...options, type: type as SynthWeightType, onProgress: writing(output) });
      } else {
        // Quantized types: random F16 weights first, then slmkit's quantizer, as for a downloaded model.
        const source = `${output}.f16.partial`;
        try {
          const written = await synthesizeModel({ ...options, type: "F16", output: source, onProgress: writing(source) });
          await quantizeFile(source, output, { preset: type, onProgress: progress?.update });
          result = { ...written, path: output, header: readGgufHeader(output) };
        } finally {
          rmSync(source, { force: true });
        }
      }
    } finally {
      progress?.clear();
    }
    const summary = summarizeModel(result.header);
    const seconds = (performance.now() - started) / 1000;
    if (values.json) {
      console.log(JSON.stringify({ file: output, architecture: summary.architecture, parameters: summary.parameters, class: summary.modelClass, bytes: summary.fileSize, vocabularySize: summary.vocabularySize, shape: result.shape, seed: result.seed, seconds }, null, 2));
      return;
    }
    console.log(
      `wrote ${output}: ${summary.architecture}, ${formatCount(summary.parameters)} parameters (${summary.modelClass}), ` +
        `${summary.vocabularySize} tokens, ${formatBytes(summary.fileSize)}, random weights (seed ${result.seed}) in ${seconds.toFixed(2)} s`,
    );
  },
};

function weightType(given: string | undefined): string {
  if (given === undefined) return "F32";
  if ((SYNTH_WEIGHT_TYPES as readonly string[]).includes(given.toUpperCase())) return given.toUpperCase();
  return presetByName(given).name;
}

/** A catalog model's architecture and shapes, as synth options. */
function twinOf(name: string, output: string): SynthOptions {
  const model = findCatalogModel(name);
  if (!model) throw new UsageError(`'${name}' is not in the catalog; one of: ${CATALOG.map((entry) => entry.id).join(", ")}`);
  const options = twinOptions(model.architecture, model.contextLength, model.displayName);
  if (!options) throw new UsageError(`${model.id} is a ${model.architecture.arch} model; slmkit synthesizes ${ARCHITECTURES.map((spec) => spec.name).join(", ")} so far`);
  return { ...options, output };
}
