/**
 * bench/llama-bench: `slmkit bench --json` against `llama-bench -o json` on the same models and settings,
 * alternating the two tools round by round (the machine is shared and its speed drifts), and comparing
 * the medians of their avg_ts for pp and tg.
 *
 * llama-bench is not part of slmkit: build it from the llama.cpp source node-llama-cpp bundles and point
 * --llama-bench or LLAMA_BENCH at it. slmkit runs on node-llama-cpp's prebuilt CPU libraries, which
 * choose kernels for this CPU at run time (AMX, AVX-512 ...); a llama-bench built with GGML_NATIVE=OFF
 * runs generic kernels (Q4_0 ran 1.7× slower in it here), and one built with GGML_NATIVE=ON died of an
 * illegal instruction on this VM. To compare the same kernels, run llama-bench on node-llama-cpp's
 * libraries: put the llama-bench binary and its libllama-bench-impl.so and libllama-common.so.0 in a
 * directory with links named libllama.so.0, libggml.so.0 and libggml-base.so.0 to node-llama-cpp's
 * libllama.v0.4.0.so, libggml.v0.4.0.so and libggml-base.so (plus links to all its .so files, the CPU
 * variants included), and run this script with LD_LIBRARY_PATH set to that directory. BENCHMARKS.md
 * records which way a table was made.
 *
 *   npm run build && node dist/bench/llama-bench.js [--models a.gguf,b.gguf] [-p 512] [-n 128] [-t 2] [-r 3]
 *       [--rounds 3] [--llama-bench PATH]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median } from "./statistics.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const defaultModels = [join(root, "../shared/models/stories260K.gguf"), join(root, "bench/out/bench-llama-100m-q4_0.gguf"), join(root, "bench/out/bench-llama-100m-f16.gguf"), join(root, "bench/out/twin-qwen3-0.6b-q4_0.gguf")];
const { values: flags } = parseArgs({
  options: {
    models: { type: "string" },
    prompt: { type: "string", short: "p", default: "512" },
    gen: { type: "string", short: "n", default: "128" },
    threads: { type: "string", short: "t", default: "2" },
    reps: { type: "string", short: "r", default: "3" },
    rounds: { type: "string", default: "3" },
    "llama-bench": { type: "string" },
  },
});
const llamaBench = flags["llama-bench"] ?? process.env.LLAMA_BENCH ?? "/tmp/llama.cpp/build-host/bin/llama-bench";
if (!existsSync(llamaBench)) throw new Error(`llama-bench not found at ${llamaBench}; build it from the bundled llama.cpp source or pass --llama-bench`);
const models = (flags.models?.split(",") ?? defaultModels).filter((model) => {
  if (existsSync(model)) return true;
  console.error(`skipping ${model}: not found (bench/fit.js and bench/serve.js make the bench/out models)`);
  return false;
});
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const cli = join(root, "dist/src/cli/main.js");
const settings = ["-p", flags.prompt, "-n", flags.gen, "-t", flags.threads, "-r", flags.reps];

interface Record {
  n_prompt: number;
  n_gen: number;
  avg_ts: number;
  model_type: string;
}

function records(command: string, args: string[]): Record[] {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stderr.slice(-2000)}`);
  return JSON.parse(result.stdout) as Record[];
}


const rows: Array<{ model: string; type: string; test: string; slmkit: number[]; llamaBench: number[] }> = [];
for (const model of models) {
  const samples = { slmkit: { pp: [] as number[], tg: [] as number[] }, llamaBench: { pp: [] as number[], tg: [] as number[] } };
  let type = "";
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const tool of round % 2 === 0 ? (["llamaBench", "slmkit"] as const) : (["slmkit", "llamaBench"] as const)) {
      const found = tool === "slmkit" ? records(process.execPath, [cli, "bench", model, ...settings, "--json"]) : records(llamaBench, ["-m", model, ...settings, "-o", "json"]);
      for (const record of found) {
        samples[tool][record.n_gen === 0 ? "pp" : "tg"].push(record.avg_ts);
        type = record.model_type;
      }
    }
    process.stderr.write(`${basename(model)}: round ${round + 1}/${flags.rounds}\n`);
  }
  rows.push({ model: basename(model), type, test: `pp${flags.prompt}`, slmkit: samples.slmkit.pp, llamaBench: samples.llamaBench.pp });
  rows.push({ model: basename(model), type, test: `tg${flags.gen}`, slmkit: samples.slmkit.tg, llamaBench: samples.llamaBench.tg });
}

const lines = [
  `-p ${flags.prompt} -n ${flags.gen} -t ${flags.threads} -r ${flags.reps}, ${flags.rounds} rounds alternating; medians of avg_ts (tokens/s)`,
  "",
  "| model | type | test | llama-bench | slmkit bench | slmkit / llama-bench |",
  "|---|---|---|---:|---:|---:|",
  ...rows.map((row) => `| ${row.model} | ${row.type} | ${row.test} | ${median(row.llamaBench).toFixed(1)} | ${median(row.slmkit).toFixed(1)} | ${(median(row.slmkit) / median(row.llamaBench)).toFixed(2)} |`),
];
console.log(lines.join("\n"));
writeFileSync(join(out, "llama-bench.md"), lines.join("\n") + "\n");
writeFileSync(join(out, "llama-bench.json"), JSON.stringify({ settings: flags, rows }, null, 2) + "\n");
