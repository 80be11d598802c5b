import { createInterface } from "node:readline/promises";
import { type ChatMessage, EngineError, type EngineKind, type GenerateResult, LoadedModel, type LoadOptions, SAMPLING_LIMITS, type SamplingOptions, type Speculation } from "../../engine/index.js";
import { readGgufHeader } from "../../gguf/index.js";
import { type Command, type OptionSpec, type ParsedArgs, UsageError } from "../args.js";
import { withInterruptHandler } from "../interrupt.js";
import { resolveModelArgument } from "../model-argument.js";
import type { ModelConfig } from "../../registry/index.js";

/** Sampling flags, shared by every command that generates. */
export const SAMPLING_OPTIONS: readonly OptionSpec[] = [
  { name: "temperature", kind: "number", description: "randomness; 0 = always the most likely token (default 0.8)", ...SAMPLING_LIMITS.temperature },
  { name: "top-k", kind: "integer", description: "sample from the K most likely tokens; 0 = all (default 40)", ...SAMPLING_LIMITS.topK },
  { name: "top-p", kind: "number", description: "sample from the smallest set with probability ≥ P (default 0.95)", ...SAMPLING_LIMITS.topP },
  { name: "min-p", kind: "number", description: "drop tokens below P × the top token's probability (default 0.05)", ...SAMPLING_LIMITS.minP },
  { name: "seed", kind: "integer", description: "random seed, for repeatable output", ...SAMPLING_LIMITS.seed },
];

export const ENGINE_OPTIONS: readonly OptionSpec[] = [
  { name: "ctx", kind: "integer", description: "context size in tokens (default: the model's, at most 4096)", min: 16, max: 1 << 20 },
  { name: "threads", short: "t", kind: "integer", description: "CPU threads (default: one per core)", min: 1, max: 1024 },
  { name: "backend", kind: "string", choices: ["auto", "cpu", "cuda", "vulkan", "metal"], description: "compute backend (default auto: a GPU when there is one)" },
  { name: "verbose", kind: "boolean", description: "show llama.cpp's warnings and timing statistics" },
  {
    name: "engine",
    kind: "string",
    choices: ["native", "node-llama-cpp"],
    description: "what decodes: native, slmkit's continuous batcher on llama.cpp's C API (default on the CPU), or node-llama-cpp (default with a GPU or speculative decoding)",
  },
  { name: "draft-model", kind: "string", valueName: "FILE", description: "speculative decoding: a small model with the same tokenizer drafts tokens the model checks in batches (on few cores it can be slower: measure)" },
  { name: "lookup", kind: "boolean", description: "speculative decoding by prompt lookup: tokens that continue a passage of the prompt are proposed (summaries, edits of given text)" },
  { name: "draft-max", kind: "integer", description: "most tokens proposed at once under --draft-model or --lookup (default 8)", min: 1, max: 64 },
];

/** The engine's load options from the shared engine flags. */
export function loadOptionsFrom(values: ParsedArgs["values"]): LoadOptions {
  const draft = values["draft-model"] as string | undefined;
  if (draft !== undefined && values.lookup === true) throw new UsageError("--draft-model and --lookup are two ways of speculating: choose one");
  const maxTokens = values["draft-max"] as number | undefined;
  if (maxTokens !== undefined && draft === undefined && values.lookup !== true) throw new UsageError("--draft-max needs --draft-model or --lookup");
  const speculation: Speculation | undefined =
    draft !== undefined ? { kind: "draft", draftModelPath: draft, maxTokens } : values.lookup === true ? { kind: "lookup", maxTokens } : undefined;
  if (draft !== undefined) readGgufHeader(draft); // a broken draft file fails with a one-line error
  return {
    contextSize: values.ctx as number | undefined,
    threads: values.threads as number | undefined,
    backend: values.backend as never,
    verbose: values.verbose === true,
    ...(values.engine !== undefined && { engine: values.engine as EngineKind }),
    ...(speculation && { speculation }),
  };
}

export function samplingFrom(values: ParsedArgs["values"]): Partial<SamplingOptions> {
  const pick = (name: string): number | undefined => values[name] as number | undefined;
  return {
    ...(pick("temperature") !== undefined && { temperature: pick("temperature") }),
    ...(pick("top-k") !== undefined && { topK: pick("top-k") }),
    ...(pick("top-p") !== undefined && { topP: pick("top-p") }),
    ...(pick("min-p") !== undefined && { minP: pick("min-p") }),
    ...(pick("seed") !== undefined && { seed: pick("seed") }),
  };
}

export const runCommand: Command = {
  name: "run",
  summary: "Generate text with a model: continue a prompt, or chat when no prompt is given.",
  positionals: "<model.gguf or store name> [prompt]",
  details:
    "With a prompt, prints the prompt and streams its continuation (raw text, no chat template).\n" +
    "With no prompt on a terminal, starts a chat that uses the model's chat template; with no prompt\n" +
    "and text piped in, continues that text.",
  options: [
    { name: "max-tokens", short: "n", kind: "integer", description: "most tokens to generate (default: until the model stops or the context is full)", min: 1 },
    ...SAMPLING_OPTIONS,
    { name: "stop", kind: "strings", description: "stop before this text" },
    { name: "system", kind: "string", description: "system message for chat mode" },
    { name: "no-echo", kind: "boolean", description: "print only the continuation, not the prompt" },
    ...ENGINE_OPTIONS,
  ],
  examples: [
    'slmkit run model.gguf "Once upon a time" --temperature 0 --max-tokens 40',
    "slmkit run model.gguf            # chat",
    "cat notes.txt | slmkit run model.gguf --max-tokens 100",
  ],
  async run(args) {
    const [modelText, ...words] = args.positionals;
    if (modelText === undefined) throw new UsageError("give a model file or a store name");
    const { path, config } = resolveModelArgument(modelText);
    // A store model's settings (Modelfile) stand in for flags not given.
    args = { ...args, values: withConfigDefaults(args.values, config) };
    if (((args.values.stop as string[] | undefined) ?? []).includes("")) throw new UsageError("--stop needs some text: an empty stop string would end every reply at once");
    readGgufHeader(path); // a malformed file fails here with a one-line error, before llama.cpp sees it
    let prompt: string | undefined = words.length > 0 ? words.join(" ") : undefined;
    if (prompt === undefined && !process.stdin.isTTY) prompt = await readStdin();
    const model = await LoadedModel.load(path, loadOptionsFrom(args.values));
    try {
      if (prompt !== undefined) await complete(model, prompt, args);
      else await chat(model, args, config);
    } finally {
      await model.dispose();
    }
  },
};

async function complete(model: LoadedModel, prompt: string, args: ParsedArgs): Promise<void> {
  if (args.values["no-echo"] !== true) process.stdout.write(prompt);
  const abort = new AbortController();
  // Ctrl-C ends the generation (and prints what there is), not the process.
  await withInterruptHandler(() => abort.abort(), async () => {
    const result = await model.generate({
      prompt: model.promptFromText(prompt),
      maxTokens: args.values["max-tokens"] as number | undefined,
      sampling: samplingFrom(args.values),
      stop: (args.values.stop as string[] | undefined) ?? [],
      signal: abort.signal,
      onText: (text) => process.stdout.write(text),
    });
    process.stdout.write("\n");
    if (args.values.verbose) printStats(result);
  });
}

async function chat(model: LoadedModel, args: ParsedArgs, config?: ModelConfig): Promise<void> {
  const history: ChatMessage[] = [];
  const system = args.values.system as string | undefined;
  if (system) history.push({ role: "system", content: system });
  history.push(...(config?.messages ?? []));
  const chatTemplate = config?.template !== undefined ? model.chatTemplateFrom(config.template) : model.chatTemplate;
  const template = config?.template !== undefined ? "the Modelfile's template" : chatTemplate.isFallback ? "no chat template in the model: using ChatML" : "the model's chat template";
  process.stderr.write(`Chatting with ${model.name} (${template}). /bye or Ctrl-D leaves; Ctrl-C stops a reply.\n`);
  const input = createInterface({ input: process.stdin, output: process.stdout, prompt: ">>> " });
  let generating: AbortController | undefined;
  input.on("SIGINT", () => {
    if (generating) generating.abort();
    else input.close();
  });
  try {
    for (;;) {
      let line: string;
      try {
        line = (await input.question(">>> ")).trim();
      } catch {
        break; // Ctrl-D or Ctrl-C at the prompt
      }
      if (line === "/bye" || line === "/exit") break;
      if (line === "") continue;
      history.push({ role: "user", content: line });
      generating = new AbortController();
      let result: GenerateResult;
      try {
        const { tokens, stop } = model.promptFromChat(history, undefined, "", chatTemplate);
        result = await model.generate({
          prompt: tokens,
          maxTokens: args.values["max-tokens"] as number | undefined,
          sampling: samplingFrom(args.values),
          stop: [...((args.values.stop as string[] | undefined) ?? []), ...stop],
          signal: generating.signal,
          onText: (text) => process.stdout.write(text),
        });
      } catch (error) {
        // A message the model cannot take (too long, a template that fails on it) ends that turn, not the chat.
        if (!(error instanceof EngineError)) throw error;
        history.pop();
        process.stderr.write(`${error.message}\n`);
        continue;
      } finally {
        generating = undefined;
      }
      process.stdout.write("\n");
      if (args.values.verbose) printStats(result);
      history.push({ role: "assistant", content: result.text });
    }
  } finally {
    input.close();
  }
}

/** Flags a store model's settings fill when the command line leaves them out. */
function withConfigDefaults(values: ParsedArgs["values"], config: ModelConfig | undefined): ParsedArgs["values"] {
  if (!config) return values;
  const filled: Record<string, ParsedArgs["values"][string]> = { ...values };
  const parameters = config.parameters ?? {};
  const fill = (flag: string, value: number | readonly string[] | string | undefined): void => {
    if (filled[flag] === undefined && value !== undefined) filled[flag] = (typeof value === "object" ? [...(value as readonly string[])] : value);
  };
  fill("temperature", parameters.temperature);
  fill("top-k", parameters.top_k);
  fill("top-p", parameters.top_p);
  fill("min-p", parameters.min_p);
  fill("seed", parameters.seed);
  fill("stop", parameters.stop);
  if (typeof parameters.num_predict === "number" && parameters.num_predict > 0) fill("max-tokens", parameters.num_predict);
  fill("system", config.system);
  return filled;
}

function printStats(result: GenerateResult): void {
  const perSecond = result.generationMs > 0 ? (Math.max(result.completionTokens - 1, 0) * 1000) / result.generationMs : 0;
  process.stderr.write(
    `[${result.promptTokens} prompt tokens (${result.reusedPromptTokens} reused) in ${result.promptMs.toFixed(0)} ms; ` +
      `${result.completionTokens} generated at ${perSecond.toFixed(1)} tokens/s; finish: ${result.finishReason}]\n`,
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}
