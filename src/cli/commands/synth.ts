import { summarizeModel } from "../../gguf/index.js";
import { ARCHITECTURES, type ModelShape, SYNTH_WEIGHT_TYPES, type SynthWeightType, synthesizeModel } from "../../synth/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes, formatCount } from "../format.js";

export const synthCommand: Command = {
  name: "synth",
  summary: "Write a random-weight model of a real architecture, with a working tokenizer and chat template.",
  positionals: "",
  details:
    "For tests, demos and measuring speed and memory without downloading: llama.cpp loads it and\n" +
    "generates from it (gibberish, deterministic for a given --seed). Shape flags default to a tiny model.",
  options: [
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
    { name: "type", kind: "string", choices: SYNTH_WEIGHT_TYPES, description: "weight type (default F32)" },
    { name: "seed", kind: "integer", description: "random seed (default 42)", min: 0, max: 2 ** 32 - 1 },
    { name: "name", kind: "string", description: "general.name written to the model" },
    { name: "json", kind: "boolean", description: "print a JSON summary" },
  ],
  examples: ["slmkit synth --arch qwen3 -o tiny-qwen3.gguf", "slmkit synth --arch llama --layers 12 --width 768 --ff 2048 --heads 12 --kv-heads 4 --vocab 32000 --type F16 -o llama-100m.gguf"],
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
    const started = performance.now();
    const result = await synthesizeModel({
      architecture: (values.arch as string | undefined) ?? "llama",
      shape: shape as Partial<ModelShape>,
      vocabularySize: values.vocab as number | undefined,
      type: values.type as SynthWeightType | undefined,
      seed: values.seed as number | undefined,
      name: values.name as string | undefined,
      output,
    });
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
