import { type CandidateFacts, deviceProfile, footprint, type Quality, QUALITY_TYPES, recommend, USE_CASES, type UseCaseName } from "../../fit/index.js";
import { fileFor, findCatalogModel, ModelStore } from "../../registry/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes, parseByteSize } from "../format.js";
import { modelFactsOf } from "../model-facts.js";
import { speedEstimate } from "../speed-estimate.js";

/** Share of available memory planned for when no --memory is given: the rest is for everything else running. */
const AVAILABLE_SHARE = 0.8;

export const recommendCommand: Command = {
  name: "recommend",
  summary: "Recommend a model, quantization and engine for a use case on this device, ranked, with reasons.",
  positionals: "",
  details:
    "Starts from the guidelines (micro SLMs for mobile chat; Qwen3-1.7B and Gemma 3 for a desktop assistant;\n" +
    "Qwen3-4B and Phi-4-mini for code; long-context models for documents; the largest SLM that fits for\n" +
    "research; Q4_0 / Q5_1 / Q8_0 for max-compression / balanced / near-original) and checks each candidate\n" +
    "here: memory computed as `slmkit fit` does (at the use case's context), speed estimated from this CPU's\n" +
    "measured rates (the first run measures the types it needs: a minute or two; --no-speed skips). A\n" +
    "quantization that does not fit is stepped down; a model that fits nowhere is left out.",
  options: [
    { name: "use-case", kind: "string", choices: Object.keys(USE_CASES), description: "what the model is for (required)" },
    { name: "memory", kind: "string", valueName: "SIZE", description: `memory to plan for, e.g. 4GB (default ${AVAILABLE_SHARE * 100}% of what is available now)` },
    { name: "quality", kind: "string", choices: Object.keys(QUALITY_TYPES), description: "quantization level (default: the use case's)" },
    { name: "offline", kind: "boolean", description: "only models already in the store" },
    { name: "top", kind: "integer", description: "how many to list (default 3)", min: 1, max: 50 },
    { name: "no-speed", kind: "boolean", description: "skip speed estimates (no measuring)" },
    { name: "json", kind: "boolean", description: "print the ranking as JSON" },
  ],
  examples: ["slmkit recommend --use-case mobile-chat --memory 4GB", "slmkit recommend --use-case code --quality balanced --json"],
  async run({ positionals, values }) {
    if (positionals.length > 0) throw new UsageError(`recommend takes options only (got '${positionals[0]}')`);
    const name = values["use-case"] as UseCaseName | undefined;
    if (name === undefined) throw new UsageError(`give --use-case: one of ${Object.keys(USE_CASES).join(", ")}`);
    const useCase = USE_CASES[name];
    const quality = ((values.quality as string | undefined) ?? useCase.quality) as Quality;
    const device = deviceProfile();
    let budget = device.availableMemoryBytes * AVAILABLE_SHARE;
    if (typeof values.memory === "string") {
      const parsed = parseByteSize(values.memory);
      if (parsed === undefined) throw new UsageError(`--memory takes a size such as 4GB or 512MiB (got '${values.memory}')`);
      budget = parsed;
    }
    const store = new ModelStore();
    const facts: CandidateFacts[] = [];
    for (const model of useCase.models) {
      const catalog = findCatalogModel(model);
      if (!catalog) continue;
      for (const type of QUALITY_TYPES[quality]) {
        const known = await modelFactsOf(model, type, device.cpuFeatures);
        const memory = footprint(known.shape, { weightsBytes: known.weights, contextTokens: useCase.contextTokens, acceleratorCopyBytes: known.copy });
        // Speed only where it can matter: a candidate that fits the budget.
        const measure = values["no-speed"] !== true && known.work !== undefined && memory.totalBytes <= budget;
        const speed = measure && known.work ? await speedEstimate(known.work, device, false, values.json === true) : undefined;
        facts.push({
          model,
          type,
          memoryBytes: memory.totalBytes,
          ...(speed ? { generationTokensPerSecond: speed.generationTokensPerSecond } : {}),
          published: fileFor(catalog, type) !== undefined,
          local: store.read(`${model}-${type.toLowerCase()}`) !== undefined,
        });
      }
    }
    const ranking = recommend(facts, { useCase, quality, memoryBudgetBytes: budget, offline: values.offline === true, describeBytes: formatBytes }).slice(0, (values.top as number | undefined) ?? 3);
    const engine = engineAdvice();
    if (values.json === true) {
      console.log(JSON.stringify({ useCase: name, quality, memoryBudgetBytes: budget, contextTokens: useCase.contextTokens, engine, recommendations: ranking }, null, 2));
      return ranking.length > 0 ? 0 : 1;
    }
    console.log(`${name}: ${useCase.guideline}. Quality ${quality}, ${useCase.contextTokens} tokens of context, ${formatBytes(budget)} to plan for.`);
    if (ranking.length === 0) {
      console.log(`Nothing fits${values.offline === true ? " among the models in the store" : ""}: give more --memory, a smaller --quality, or another --use-case.`);
      return 1;
    }
    ranking.forEach((entry, index) => {
      const how = entry.published ? `slmkit pull ${entry.model} --quant ${entry.type}` : `slmkit pull ${entry.model} --quant F16, then slmkit quantize --type ${entry.type}`;
      console.log(`\n${index + 1}. ${entry.model} ${entry.type}    (${how})`);
      for (const reason of entry.reasons) console.log(`   - ${reason}`);
    });
    console.log(`\nEngine: ${engine.engine}.${engine.alternatives.length > 0 ? ` ${engine.alternatives.join(" ")}` : ""}`);
    return 0;
  },
};

/** The engine slmkit runs here, and what else this platform offers (slmkit does not drive those). */
function engineAdvice(): { engine: string; alternatives: string[] } {
  const alternatives: string[] = [];
  if (process.platform === "darwin" && process.arch === "arm64") alternatives.push("On Apple Silicon, MLX (mlx-lm) is an alternative for the same models.");
  alternatives.push("For NPUs (Snapdragon, Intel, AMD), ONNX Runtime with Olive-optimized models is the route; slmkit does not drive it.");
  const engine = process.platform === "darwin" && process.arch === "arm64" ? "llama.cpp through node-llama-cpp, on Metal" : "llama.cpp through node-llama-cpp, on the CPU (CUDA or Vulkan when a GPU is found)";
  return { engine, alternatives };
}
