/**
 * Speed results as llama-bench prints them: one record per test with its field names (so scripts that
 * read `llama-bench -o json` read `slmkit bench --json`), as CSV, or as its Markdown table.
 * Fields that describe llama-bench options slmkit does not have carry llama-bench's defaults.
 */
import { cpus } from "node:os";
import { type SpeedResult, type SpeedTest, meanAndDeviation, samplesPerSecond } from "./speed.js";

export interface LlamaBenchRecord {
  readonly build_commit: string;
  readonly build_number: number;
  readonly cpu_info: string;
  readonly gpu_info: string;
  readonly backends: string;
  readonly model_filename: string;
  readonly model_type: string;
  readonly model_size: number;
  readonly model_n_params: number;
  readonly n_batch: number;
  readonly n_ubatch: number;
  readonly n_threads: number;
  readonly cpu_mask: string;
  readonly cpu_strict: boolean;
  readonly poll: number;
  readonly type_k: string;
  readonly type_v: string;
  readonly n_gpu_layers: number;
  readonly split_mode: string;
  readonly main_gpu: number;
  readonly no_kv_offload: boolean;
  readonly flash_attn: number;
  readonly tensor_split: string;
  readonly use_mmap: boolean;
  readonly embeddings: boolean;
  readonly n_prompt: number;
  readonly n_gen: number;
  readonly n_depth: number;
  readonly test_time: string;
  readonly avg_ns: number;
  readonly stddev_ns: number;
  readonly avg_ts: number;
  readonly stddev_ts: number;
  readonly samples_ns: readonly number[];
  readonly samples_ts: readonly number[];
  /** slmkit's additions, not in llama-bench: model load time and the process's peak resident memory. */
  readonly load_ms: number;
  readonly peak_rss_bytes: number;
}

export interface BuildInfo {
  /** The llama.cpp release the engine was built from. */
  readonly commit: string;
  readonly number: number;
}

export function llamaBenchRecords(result: SpeedResult, build: BuildInfo): LlamaBenchRecord[] {
  return result.tests.map((test) => record(result, test, build));
}

function record(result: SpeedResult, test: SpeedTest, build: BuildInfo): LlamaBenchRecord {
  const rates = samplesPerSecond(test);
  const nanoseconds = meanAndDeviation(test.samplesNs);
  const speed = meanAndDeviation(rates);
  return {
    build_commit: build.commit,
    build_number: build.number,
    cpu_info: cpus()[0]?.model.trim() ?? "unknown",
    gpu_info: "",
    backends: "CPU",
    model_filename: result.path,
    model_type: result.model.type,
    model_size: result.model.sizeBytes,
    model_n_params: result.model.parameterCount,
    n_batch: result.batchSize,
    n_ubatch: result.microBatchSize,
    n_threads: result.threads,
    cpu_mask: "0x0",
    cpu_strict: false,
    poll: 50,
    type_k: "f16",
    type_v: "f16",
    n_gpu_layers: 0,
    split_mode: "layer",
    main_gpu: 0,
    no_kv_offload: false,
    flash_attn: -1,
    tensor_split: "0.00",
    use_mmap: true,
    embeddings: false,
    n_prompt: test.prompt,
    n_gen: test.generate,
    n_depth: 0,
    test_time: result.startedAt.toISOString().replace(/\.\d+Z$/, "Z"),
    avg_ns: Math.round(nanoseconds.mean),
    stddev_ns: Math.round(nanoseconds.deviation),
    avg_ts: speed.mean,
    stddev_ts: speed.deviation,
    samples_ns: test.samplesNs,
    samples_ts: rates,
    load_ms: result.loadMs,
    peak_rss_bytes: result.peakRssBytes,
  };
}

function csvCell(value: unknown): string {
  const text = Array.isArray(value) ? value.join(";") : String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV with a header row, one line per test, columns in llama-bench's order. */
export function toCsv(records: readonly LlamaBenchRecord[]): string {
  if (records.length === 0) return "";
  const fields = Object.keys(records[0]!) as Array<keyof LlamaBenchRecord>;
  return [fields.join(","), ...records.map((entry) => fields.map((field) => csvCell(entry[field])).join(","))].join("\n") + "\n";
}

function sizeText(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(2)} MiB`;
}

function parameterText(count: number): string {
  return count >= 1e9 ? `${(count / 1e9).toFixed(2)} B` : `${(count / 1e6).toFixed(2)} M`;
}

/** llama-bench's Markdown table: model, size, params, backend, threads, test, t/s. */
export function toMarkdown(records: readonly LlamaBenchRecord[]): string {
  const header = ["model", "size", "params", "backend", "threads", "test", "t/s"];
  const rows = records.map((entry) => [
    entry.model_type,
    sizeText(entry.model_size),
    parameterText(entry.model_n_params),
    entry.backends,
    String(entry.n_threads),
    entry.n_gen === 0 ? `pp${entry.n_prompt}` : `tg${entry.n_gen}`,
    `${entry.avg_ts.toFixed(2)} ± ${entry.stddev_ts.toFixed(2)}`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => (column >= 4 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join(" | ")} |`;
  const rule = `| ${widths.map((width, column) => (column >= 4 ? `${"-".repeat(width - 1)}:` : "-".repeat(width))).join(" | ")} |`;
  return [line(header), rule, ...rows.map(line)].join("\n") + "\n";
}
