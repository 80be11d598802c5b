import { gpuState } from "../../engine/index.js";
import { CACHE_TYPES, type CacheType, deviceProfile, footprint, freeDiskBytes, MICRO_BATCH, measureModel } from "../../fit/index.js";
import { slmkitHome } from "../../registry/index.js";
import { presetByName } from "../../quant/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes } from "../format.js";
import { modelFactsOf } from "../model-facts.js";
import { speedEstimate, speedLine } from "../speed-estimate.js";

export const fitCommand: Command = {
  name: "fit",
  summary: "Tell whether a model fits this device at a quantization and context, how much memory it takes and how fast it will run.",
  positionals: "<model.gguf | store name | catalog name | hf:owner/repo/file.gguf | URL>",
  details:
    "Memory: for a GGUF file, a store model or a remote file (hf: ref or URL: only its header is fetched,\n" +
    "with HTTP Range requests, through the same endpoint and HF_TOKEN as pull), the weights are computed from\n" +
    "its tensors through slmkit's quantizer plan: to the byte what `slmkit quantize --type` would write. For a\n" +
    "catalog name (no file here) they are computed the same way from the model's shapes (llama and qwen3\n" +
    "families; others: from the parameter count and the type's average bits per weight). On CPUs with AMX\n" +
    "the copy llama.cpp makes for its AMX kernels is counted. The KV cache is laid out as llama.cpp does it:\n" +
    "the context padded to 256 cells, and Gemma 3's sliding-window layers holding their window plus a\n" +
    "micro-batch (from llama.cpp's cache code; not yet checked against a Gemma 3 run here).\n" +
    "The compute buffer counts what a run writes for its largest prompt batch (--batch); the whole buffer\n" +
    "llama.cpp reserves is shown beside it. Runtime: Node.js, llama.cpp and the vocabulary's tables.\n" +
    "\n" +
    "Speed (CPU): the bytes each generated token streams through each kernel over the rate this device was\n" +
    "measured to stream them at, plus a fixed cost per step and per layer; prompts by multiply-adds over the\n" +
    "measured rate. The first estimate for a weight type measures it with synthetic probe models, one the\n" +
    "size of a small model and one twice the CPU's cache (a model that fits the cache runs from it, a larger\n" +
    "one from memory); a few seconds per type, kept in $SLMKIT_HOME/device-rates.json (--refresh: again).\n" +
    "Exit code 0 when it fits, 1 when it does not.",
  options: [
    { name: "type", kind: "string", valueName: "TYPE", description: "the quantization to plan for (default: as stored; for a catalog name Q4_K_M)" },
    { name: "ctx", kind: "integer", description: "context tokens (default 4096)", min: 1, max: 1 << 22 },
    { name: "cache-type", kind: "string", choices: Object.keys(CACHE_TYPES), description: "K/V cache type (default f16)" },
    { name: "batch", kind: "integer", description: `largest number of prompt tokens evaluated at once (default ${MICRO_BATCH}: any prompt; a short chat: its length)`, min: 1, max: 1 << 22 },
    { name: "no-speed", kind: "boolean", description: "skip the speed estimate (no measuring)" },
    { name: "refresh", kind: "boolean", description: "measure this device's rates again" },
    { name: "measure", kind: "boolean", description: "also run the model (a file, as stored) and show measured speed and peak memory beside the estimate" },
    { name: "json", kind: "boolean", description: "print { fits, memory, estimate, device } as JSON" },
  ],
  examples: ["slmkit fit qwen3-0.6b-f16.gguf --type Q4_0 --ctx 8192", "slmkit fit gemma3:4b --type Q8_0 --json", "slmkit fit hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf --ctx 32768"],
  async run({ positionals, values }) {
    const [target, ...rest] = positionals;
    if (target === undefined || rest.length > 0) throw new UsageError("give one model: a GGUF file, a store name, a catalog name or an hf: ref");
    const type = values.type === undefined ? undefined : presetByName(values.type as string).name;
    const context = (values.ctx as number | undefined) ?? 4096;
    const cacheType = ((values["cache-type"] as string | undefined) ?? "f16") as CacheType;
    const device = deviceProfile();
    const facts = await modelFactsOf(target, type, device.cpuFeatures);
    const memory = footprint(facts.shape, { weightsBytes: facts.weights, contextTokens: context, cacheType, acceleratorCopyBytes: facts.copy, batchTokens: values.batch as number | undefined });
    const fits = memory.totalBytes <= device.availableMemoryBytes;
    const json = values.json === true;
    let measured: Awaited<ReturnType<typeof measureModel>> | undefined;
    if (values.measure === true) {
      if (facts.path === undefined) throw new UsageError("--measure runs the model: give a GGUF file or a store name (a catalog model: pull it, or make its twin with slmkit synth --like)");
      if (type !== undefined) throw new UsageError("--measure runs the file as stored: leave out --type, or quantize first (slmkit quantize --type)");
      if (!fits) throw new UsageError("the model does not fit: not running it");
      if (!json || process.stderr.isTTY) process.stderr.write("running the model…\n");
      measured = await measureModel(facts.path, { contextSize: context });
    }
    // After --measure: the probes load models into this process too, which would count in its peak memory.
    const estimate = values["no-speed"] === true || facts.work === undefined ? undefined : await speedEstimate(facts.work, device, values.refresh === true, json);
    const gpus = await gpuState();
    // On a GPU the whole reserved compute buffer is allocated, and no CPU-side copy is made.
    const gpuBytes = memory.weightsBytes + memory.kvCacheBytes + memory.computeReservedBytes;
    const gpu = gpus.backend === false ? null : { ...gpus, neededBytes: gpuBytes, fits: gpuBytes <= gpus.vramFreeBytes };
    const disk = freeDiskBytes(slmkitHome());
    if (json) {
      const exact = { weights: facts.weightsExact, weightsFromShapes: facts.weightsFromShapes === true, kvCache: true, compute: false, runtime: false };
      const speed = estimate ?? { generationTokensPerSecond: null, promptTokensPerSecond: null, note: facts.work === undefined ? "no tensor list for this model: speed not estimated" : "not asked (--no-speed)" };
      console.log(JSON.stringify({ model: facts.name, type: type ?? "as stored", contextTokens: context, cacheType, fits, memory, exact, estimate: speed, ...(measured ? { measured } : {}), gpu, device: { ...device, freeDiskBytes: disk ?? null } }, null, 2));
      return fits ? 0 : 1;
    }
    const line = (label: string, bytes: number, note = ""): string => `  ${label.padEnd(10)} ${formatBytes(bytes).padStart(10)}${note}`;
    console.log(
      [
        `${facts.name} at ${type ?? "its stored types"}, ${context} tokens of context (${cacheType} cache):`,
        line("weights", memory.weightsBytes, facts.weightsExact ? "" : facts.weightsFromShapes ? "  (from the catalog's shapes, as slmkit quantize would write them)" : "  (estimated from the parameter count)"),
        ...(memory.acceleratorCopyBytes > 0 ? [line("AMX copy", memory.acceleratorCopyBytes, "  (weights repacked for this CPU's AMX kernels)")] : []),
        line("KV cache", memory.kvCacheBytes),
        line("compute", memory.computeBytes, `  (written; ${formatBytes(memory.computeReservedBytes)} reserved)`),
        line("runtime", memory.runtimeBytes),
        line("total", memory.totalBytes),
        `${fits ? "fits" : "does NOT fit"}: ${formatBytes(device.availableMemoryBytes)} available of ${formatBytes(device.totalMemoryBytes)} (${device.cores} cores, ${device.cpuFeatures.join(" ") || "no SIMD features found"})`,
        gpu
          ? `GPU (${gpu.backend}: ${gpu.devices.join(", ")}): ${formatBytes(gpu.neededBytes)} with every layer offloaded, ${formatBytes(gpu.vramFreeBytes)} free: ${gpu.fits ? "fits" : "does NOT fit (layers that do not fit run on the CPU)"}`
          : "no GPU found: CPU only",
        ...(estimate ? [speedLine(estimate)] : []),
        ...(measured ? [measuredLine(measured, memory.totalBytes)] : []),
      ].join("\n"),
    );
    return fits ? 0 : 1;
  },
};


function measuredLine(measured: Awaited<ReturnType<typeof measureModel>>, predictedBytes: number): string {
  const memory = measured.peakResidentBytes === undefined ? "" : `; peak memory ${formatBytes(measured.peakResidentBytes)} (predicted ${formatBytes(predictedBytes)}, a short run writes less compute than --batch ${MICRO_BATCH})`;
  return `measured: ${measured.generationTokensPerSecond.toFixed(1)} tokens/s generating, ${measured.promptTokensPerSecond.toFixed(0)} tokens/s reading a 128-token prompt${memory}`;
}
