import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createModel, hubEndpoint, ModelStore, parseModelfile } from "../../registry/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes } from "../format.js";

export const createCommand: Command = {
  name: "create",
  summary: "Make a store model from a Modelfile (FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE, LICENSE), optionally quantized.",
  positionals: "<name>",
  details:
    "FROM is a store name, a GGUF path (relative to the Modelfile) or a pull ref (hf:..., https://...). The\n" +
    "weights are stored once: without --quantize the new name shares the FROM model's file. TEMPLATE is a\n" +
    "Jinja chat template (as in GGUF files; Ollama's Go templates are refused). PARAMETER takes temperature,\n" +
    "top_k, top_p, min_p, seed, num_predict, repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty,\n" +
    "stop. The settings apply in `slmkit run` and `slmkit serve`; a request's own values win.",
  options: [
    { name: "file", short: "f", kind: "string", valueName: "Modelfile", description: "the Modelfile (default ./Modelfile)" },
    { name: "quantize", short: "q", kind: "string", valueName: "TYPE", description: "quantize the FROM model to this type with slmkit's quantizer (Q4_K_M, Q8_0, ...)" },
    { name: "json", kind: "boolean", description: "print the new manifest as JSON" },
  ],
  examples: ["slmkit create storyteller -f Modelfile", "slmkit create qwen3:0.6b-q4 -f Modelfile --quantize Q4_K_M"],
  async run({ positionals, values }) {
    const [name, ...rest] = positionals;
    if (name === undefined || rest.length > 0) throw new UsageError("give the new model's name");
    const file = resolve((values.file as string | undefined) ?? "Modelfile");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read the Modelfile ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give one with -f`);
    }
    const modelfile = parseModelfile(text);
    const manifest = await createModel(new ModelStore(), name, modelfile.from, modelfile.config, {
      quantize: values.quantize as string | undefined,
      baseDirectory: dirname(file),
      pull: { endpoint: hubEndpoint(), token: process.env.HF_TOKEN || undefined, offline: process.env.SLMKIT_OFFLINE === "1" },
    });
    console.log(values.json === true ? JSON.stringify(manifest, null, 2) : `${manifest.name}  ${formatBytes(manifest.size)}  ${manifest.digest}`);
  },
};
