import { basename, dirname, join, resolve } from "node:path";
import { existsSync, statSync } from "node:fs";
import { QUANT_PRESETS, QuantizeError, type QuantizeProgress, type QuantizeReport, presetByName, quantizeFile } from "../../quant/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes } from "../format.js";

const MAX_THREADS_OPTION = 256;

export const quantizeCommand: Command = {
  name: "quantize",
  summary: "Quantize a GGUF model, byte for byte as llama-quantize does, in TypeScript.",
  positionals: "<in.gguf> [out.gguf] <TYPE> [threads]",
  details:
    `Arguments in llama-quantize's order. TYPE (case-insensitive; Q3_K, Q4_K and Q5_K are aliases of the _M mixtures):\n` +
    QUANT_PRESETS.map((preset) => `  ${preset.name.padEnd(7)} ${preset.description}`).join("\n") +
    "\nWith no out.gguf, writes <in>-<TYPE>.gguf beside the input. The output appears only when complete.",
  options: [
    { name: "threads", short: "t", kind: "integer", description: "worker threads (default: one per core)", min: 1, max: MAX_THREADS_OPTION },
    { name: "pure", kind: "boolean", description: "give every weight the TYPE itself: no mixture, no Q6_K output" },
    { name: "leave-output-tensor", kind: "boolean", description: "keep output.weight as it is" },
    { name: "output-tensor-type", kind: "string", valueName: "TYPE", description: "type for output.weight (a ggml type name: q8_0, f16 ...)" },
    { name: "token-embedding-type", kind: "string", valueName: "TYPE", description: "type for token_embd.weight" },
    { name: "tensor-type", kind: "strings", valueName: "PATTERN=TYPE", description: "type for tensors whose name matches a regular expression" },
    { name: "allow-requantize", kind: "boolean", description: "accept already-quantized input (quality suffers)" },
    { name: "json", kind: "boolean", description: "print a JSON summary: per tensor name, types, bytes and milliseconds; totals" },
  ],
  examples: ["slmkit quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M", "slmkit quantize model-f16.gguf q8_0 --threads 4", "slmkit quantize model.gguf out.gguf Q4_0 --tensor-type 'ffn_down=q8_0'"],
  async run({ positionals, values }) {
    const { input, output, type, threads } = parsePositionals(positionals);
    if (resolve(input) === resolve(output)) throw new UsageError("the output would overwrite the input; give another output file");
    if (existsSync(output) && statSync(output).isDirectory()) throw new UsageError(`the output ${output} is a directory; give a file name`);
    try {
      presetByName(type);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const tensorTypes = ((values["tensor-type"] as string[] | undefined) ?? []).map((entry) => {
      const at = entry.indexOf("=");
      if (at <= 0 || at === entry.length - 1) throw new UsageError(`--tensor-type needs PATTERN=TYPE (got '${entry}')`);
      return { pattern: entry.slice(0, at), type: entry.slice(at + 1) };
    });
    const progress = process.stderr.isTTY && !values.json ? progressLine() : undefined;
    let report: QuantizeReport;
    try {
      report = await quantizeFile(input, output, {
        preset: type,
        threads: (values.threads as number | undefined) ?? threads,
        pure: values.pure === true,
        leaveOutputTensor: values["leave-output-tensor"] === true,
        outputTensorType: values["output-tensor-type"] as string | undefined,
        tokenEmbeddingType: values["token-embedding-type"] as string | undefined,
        tensorTypes,
        allowRequantize: values["allow-requantize"] === true,
        onProgress: progress?.update,
      });
    } catch (error) {
      // Option mistakes are usage errors (exit 2); problems with the model stay errors (exit 1).
      if (error instanceof QuantizeError && (error.code === "BAD_OPTION" || error.code === "UNKNOWN_TYPE")) throw new UsageError(error.message);
      throw error;
    } finally {
      progress?.clear();
    }
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    for (const tensor of report.tensors.filter((t) => t.fallbackFrom !== undefined)) {
      process.stderr.write(`  ${tensor.name}: rows are not a multiple of the ${tensor.fallbackFrom} block size, so it is ${tensor.typeOut} (as llama-quantize does)\n`);
    }
    const fallbacks = report.fallbacks > 0 ? ` (${report.fallbacks} fell back to another type)` : "";
    console.log(
      `wrote ${output}: ${report.preset}, ${report.tensors.length} tensors${fallbacks}, ${formatBytes(report.bytesIn)} → ${formatBytes(report.bytesOut)} ` +
        `in ${(report.milliseconds / 1000).toFixed(2)} s with ${report.threads} thread${report.threads === 1 ? "" : "s"}`,
    );
  },
};

/**
 * llama-quantize's forms: `in [out] TYPE [threads]`. As llama-quantize does, the argument after the
 * input is tried as a TYPE first; only if it is not one is it the output file.
 */
function parsePositionals(positionals: readonly string[]): { input: string; output: string; type: string; threads?: number } {
  const [input, second, ...rest] = positionals;
  if (input === undefined || second === undefined) throw new UsageError("give the input model, optionally the output file, and the TYPE");
  let output: string;
  let type: string;
  let extra: string[];
  if (isPreset(second)) {
    type = second;
    output = join(dirname(input), `${basename(input).replace(/\.gguf$/i, "")}-${presetByName(second).name}.gguf`);
    extra = rest;
  } else {
    if (rest[0] === undefined) throw new UsageError(`'${second}' is not a quantization type; give the output file and then the TYPE`);
    output = second;
    type = rest[0];
    extra = rest.slice(1);
  }
  if (extra.length > 1) throw new UsageError(`unexpected argument '${extra[1]}'`);
  if (extra[0] === undefined) return { input, output, type };
  const threads = Number(extra[0]);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS_OPTION) throw new UsageError(`threads must be a whole number from 1 to ${MAX_THREADS_OPTION} (got '${extra[0]}')`);
  return { input, output, type, threads };
}


function isPreset(name: string): boolean {
  try {
    presetByName(name);
    return true;
  } catch {
    return false;
  }
}

/** One self-updating line on a terminal: tensor, percentage, speed, time left. */
export function progressLine(): { update: (progress: QuantizeProgress) => void; clear: () => void } {
  const started = performance.now();
  let last = 0;
  return {
    update(progress) {
      const now = performance.now();
      if (now - last < 100 && progress.bytesDone < progress.bytesTotal) return;
      last = now;
      const seconds = (now - started) / 1000;
      const rate = progress.bytesDone / Math.max(seconds, 1e-3);
      const left = rate > 0 ? (progress.bytesTotal - progress.bytesDone) / rate : 0;
      const percent = ((progress.bytesDone / Math.max(progress.bytesTotal, 1)) * 100).toFixed(1);
      const line =
        `[${String(progress.tensorIndex + 1).padStart(String(progress.tensorCount).length)}/${progress.tensorCount}] ` +
        `${progress.tensor} ${progress.from}→${progress.to}  ${percent}%  ${formatBytes(rate)}/s  ETA ${Math.ceil(left)} s`;
      process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 100) - 1)}`);
    },
    clear() {
      process.stderr.write("\r\x1b[K");
    },
  };
}
