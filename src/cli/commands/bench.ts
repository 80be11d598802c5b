import { type LlamaBenchRecord, llamaBenchRecords, measureSpeed, toCsv, toMarkdown } from "../../bench/index.js";
import { llamaLibrary } from "../../engine/index.js";
import { type Command, UsageError } from "../args.js";
import { formatBytes } from "../format.js";
import { interruptible } from "../interrupt.js";
import { resolveModelArgument } from "../model-argument.js";

export const benchCommand: Command = {
  name: "bench",
  summary: "Measure prompt-processing (pp) and generation (tg) speed as llama-bench does, with its output formats.",
  positionals: "<model>",
  details:
    "Random tokens, a warm-up, then -r repetitions of each test with the cache cleared; generation decodes one\n" +
    "token at a time without sampling, so the numbers compare with llama-bench's on the same model and threads.\n" +
    "--json prints an array of records with llama-bench's field names (model_type, model_size, n_threads,\n" +
    "n_prompt, n_gen, avg_ts, stddev_ts, samples_ts, ...) plus load_ms and peak_rss_bytes. Runs on the CPU.",
  options: [
    { name: "prompt", short: "p", kind: "integer", description: "prompt tokens of the pp test; 0 skips it (default 512)", min: 0, max: 1 << 20 },
    { name: "gen", short: "n", kind: "integer", description: "generated tokens of the tg test; 0 skips it (default 128)", min: 0, max: 1 << 20 },
    { name: "threads", short: "t", kind: "integer", description: "CPU threads (default: all cores)", min: 1, max: 512 },
    { name: "reps", short: "r", kind: "integer", description: "repetitions of each test (default 5)", min: 1, max: 1000 },
    { name: "batch", short: "b", kind: "integer", description: "logical batch size (default 2048)", min: 1, max: 1 << 20 },
    { name: "ubatch", kind: "integer", description: "physical batch size (default 512)", min: 1, max: 1 << 20 },
    { name: "ctx", kind: "integer", description: "context cells (default prompt + gen, as llama-bench)", min: 1, max: 1 << 22 },
    { name: "no-warmup", kind: "boolean", description: "skip the unmeasured warm-up run" },
    { name: "json", kind: "boolean", description: "llama-bench's JSON records" },
    { name: "csv", kind: "boolean", description: "CSV, one line per test" },
    { name: "md", kind: "boolean", description: "llama-bench's Markdown table (the default)" },
  ],
  examples: ["slmkit bench model.gguf", "slmkit bench qwen3:0.6b -p 512 -n 128 -t 4 --json", "slmkit bench model.gguf -p 0 -n 64 -r 3 --csv"],
  async run({ positionals, values }) {
    if (positionals.length !== 1) throw new UsageError("give one model (a GGUF file or a store name)");
    const formats = ["json", "csv", "md"].filter((format) => values[format] === true);
    if (formats.length > 1) throw new UsageError(`choose one output format, not --${formats.join(" and --")}`);
    const model = resolveModelArgument(positionals[0]!);
    const showProgress = process.stderr.isTTY;
    const result = await interruptible((signal) =>
        measureSpeed(model.path, {
          ...(values.prompt === undefined ? {} : { prompt: values.prompt as number }),
          ...(values.gen === undefined ? {} : { generate: values.gen as number }),
          ...(values.threads === undefined ? {} : { threads: values.threads as number }),
          ...(values.reps === undefined ? {} : { repetitions: values.reps as number }),
          ...(values.batch === undefined ? {} : { batchSize: values.batch as number }),
          ...(values.ubatch === undefined ? {} : { microBatchSize: values.ubatch as number }),
          ...(values.ctx === undefined ? {} : { contextSize: values.ctx as number }),
          warmup: values["no-warmup"] !== true,
          signal,
          ...(showProgress ? { onProgress: (message: string) => process.stderr.write(`\r\x1b[2K${message}`) } : {}),
        }),
    );
    if (showProgress) process.stderr.write("\r\x1b[2K");
    if (result === "interrupted") {
      process.stderr.write("interrupted: nothing measured is printed\n");
      return 130;
    }
    const records: LlamaBenchRecord[] = llamaBenchRecords(result, { commit: llamaLibrary().release, number: 0 });
    if (values.json === true) console.log(JSON.stringify(records, null, 2));
    else if (values.csv === true) process.stdout.write(toCsv(records));
    else {
      process.stdout.write(toMarkdown(records));
      console.log(`\nload ${result.loadMs.toFixed(0)} ms · peak RSS ${formatBytes(result.peakRssBytes)} · llama.cpp ${llamaLibrary().release}`);
    }
    return 0;
  },
};
