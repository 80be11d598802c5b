import { existsSync } from "node:fs";
import { acceleratorCopyBytes, type AttentionShape, attentionShapeOf, CACHE_TYPES, type CacheType, deviceProfile, footprint, weightsBytes } from "../../fit/index.js";
import { readGgufHeader } from "../../gguf/index.js";
import { presetByName } from "../../quant/index.js";
import { type CatalogModel, findCatalogModel, ModelStore } from "../../registry/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes } from "../format.js";
import { resolveModelArgument } from "../model-argument.js";

/** llama.cpp's average bits per weight of each type's mixture on typical models: for catalog models, which have no header here. */
const CATALOG_BITS: Readonly<Record<string, number>> = { F32: 32, F16: 16, BF16: 16, Q8_0: 8.5, Q6_K: 6.56, Q5_K_M: 5.69, Q5_K_S: 5.54, Q5_1: 6, Q5_0: 5.5, Q4_K_M: 4.89, Q4_K_S: 4.58, Q4_1: 5, Q4_0: 4.5, Q3_K_L: 4.27, Q3_K_M: 3.91, Q3_K_S: 3.5, Q2_K: 3.35, TQ2_0: 2.06, TQ1_0: 1.69 };

export const fitCommand: Command = {
  name: "fit",
  summary: "Tell whether a model fits this device at a quantization and context, with the memory broken down.",
  positionals: "<model.gguf | store name | catalog name>",
  details:
    "For a GGUF file or a store model, the weights are computed from its tensors through slmkit's quantizer plan:\n" +
    "to the byte what `slmkit quantize --type` would write. For a catalog name (no file here) they are estimated\n" +
    "from the parameter count. On CPUs with AMX the weights llama.cpp copies for its AMX kernels are counted.\n" +
    "The KV cache is exact for the shape, context and cache type, except that sliding-window attention (Gemma\n" +
    "3's local layers) is not modelled yet: it is overestimated there. The compute buffer is what llama.cpp\n" +
    "reserves (within 3% of its log); a short run touches only part of it. Speed estimates are not computed\n" +
    "yet. Exit code 0 when it fits, 1 when it does not.",
  options: [
    { name: "type", kind: "string", valueName: "TYPE", description: "the quantization to plan for (default: as stored; for a catalog name Q4_K_M)" },
    { name: "ctx", kind: "integer", description: "context tokens (default 4096)", min: 1, max: 1 << 22 },
    { name: "cache-type", kind: "string", choices: Object.keys(CACHE_TYPES), description: "K/V cache type (default f16)" },
    { name: "json", kind: "boolean", description: "print { fits, memory, estimate, device } as JSON" },
  ],
  examples: ["slmkit fit qwen3-0.6b-f16.gguf --type Q4_0 --ctx 8192", "slmkit fit gemma3:4b --type Q8_0 --json"],
  async run({ positionals, values }) {
    const [target, ...rest] = positionals;
    if (target === undefined || rest.length > 0) throw new UsageError("give one model: a GGUF file, a store name or a catalog name");
    const type = values.type === undefined ? undefined : presetByName(values.type as string).name;
    const context = (values.ctx as number | undefined) ?? 4096;
    const cacheType = ((values["cache-type"] as string | undefined) ?? "f16") as CacheType;
    const device = deviceProfile();
    const { shape, weights, weightsExact, name, copy } = modelFacts(target, type, device.cpuFeatures);
    const memory = footprint(shape, weights, context, cacheType, copy);
    const fits = memory.totalBytes <= device.availableMemoryBytes;
    if (values.json === true) {
      const exact = { weights: weightsExact, kvCache: true, compute: true, runtime: false };
      const estimate = { generationTokensPerSecond: null, promptTokensPerSecond: null, note: "speed estimates are not computed yet" };
      console.log(JSON.stringify({ model: name, type: type ?? "as stored", contextTokens: context, cacheType, fits, memory, exact, estimate, device }, null, 2));
      return fits ? 0 : 1;
    }
    const line = (label: string, bytes: number, note = ""): string => `  ${label.padEnd(10)} ${formatBytes(bytes).padStart(10)}${note}`;
    console.log(
      [
        `${name} at ${type ?? "its stored types"}, ${context} tokens of context (${cacheType} cache):`,
        line("weights", memory.weightsBytes, weightsExact ? "" : "  (estimated from the parameter count)"),
        ...(memory.acceleratorCopyBytes > 0 ? [line("AMX copy", memory.acceleratorCopyBytes, "  (weights repacked for this CPU's AMX kernels)")] : []),
        line("KV cache", memory.kvCacheBytes),
        line("compute", memory.computeBytes, "  (reserved; a short run touches part of it)"),
        line("runtime", memory.runtimeBytes),
        line("total", memory.totalBytes),
        `${fits ? "fits" : "does NOT fit"}: ${formatBytes(device.availableMemoryBytes)} available of ${formatBytes(device.totalMemoryBytes)} (${device.cores} cores, ${device.cpuFeatures.join(" ") || "no SIMD features found"})`,
      ].join("\n"),
    );
    return fits ? 0 : 1;
  },
};

interface ModelFacts {
  readonly shape: AttentionShape;
  readonly weights: number;
  readonly weightsExact: boolean;
  readonly name: string;
  readonly copy: number;
}

function modelFacts(target: string, type: string | undefined, cpuFeatures: readonly string[]): ModelFacts {
  const catalog = existsSync(target) ? undefined : findCatalogModel(target);
  if (catalog && !new ModelStore().read(target)) return catalogFacts(catalog, cpuFeatures, type);
  const { path, name } = resolveModelArgument(target);
  const header = readGgufHeader(path);
  return { shape: attentionShapeOf(header), weights: weightsBytes(header, type), weightsExact: true, name, copy: acceleratorCopyBytes(header, cpuFeatures, type) };
}

function catalogFacts(model: CatalogModel, cpuFeatures: readonly string[], type = "Q4_K_M"): ModelFacts {
  const bits = CATALOG_BITS[type];
  if (bits === undefined) throw new UsageError(`no bits-per-weight figure for ${type}; give one of ${Object.keys(CATALOG_BITS).join(", ")}`);
  const { layers, kvHeads, headDim, embeddingWidth, feedForwardWidth, vocabularySize } = model.architecture;
  const shape = { layers, kvHeads, keyWidth: headDim, valueWidth: headDim, embeddingWidth, feedForwardWidth, vocabularySize };
  const weights = Math.round((model.parameters * bits) / 8);
  // AMX takes F16 and the 4-to-8-bit types (K-quants by their base type): a copy of about the weights.
  const amx = cpuFeatures.includes("amx_int8") && /^(F16|Q4_0|Q4_1|Q8_0|Q4_K|Q5_K|Q6_K)/.test(type) ? weights * (type === "Q8_0" ? 1.12 : 1) : 0;
  return { shape, weights, weightsExact: false, name: `${model.id} (catalog)`, copy: Math.round(amx) };
}
