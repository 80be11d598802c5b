/**
 * bench/serve: streaming load on `slmkit serve` and on llama-server in the same run, same model, same
 * slots and threads. At each concurrency level, a fixed number of requests (/v1/completions, stream,
 * ignore_eos, greedy) is sent by that many concurrent clients; reported: aggregate generated tokens/s,
 * time to first token p50/p99, inter-token gap p50/p99, errors. Both servers stay up and take turns,
 * level by level, for several rounds (the order flipped each round); tokens/s is the median of the
 * rounds, the latencies are over all of them. On a shared machine whose speed drifts by ±30% over
 * minutes, measuring one server after the other compared two different machines. Each server first
 * answers --warmup requests (4 at a time) that are not measured, and each turn starts after --settle ms
 * of quiet.
 *
 *   npm run build && node dist/bench/serve.js [--model FILE] [--clients 1,4,16] [--requests 32]
 *       [--rounds 3] [--max-tokens 64] [--slots 4] [--threads 2] [--llama-server PATH]
 *       [--servers slmkit,llama-server,slmkit-node-llama-cpp] [--llama-server-libs DIR] [--warmup 32] [--settle 500]
 *       [--attach slmkit=PORT,llama-server=PORT]
 *
 * --llama-server-libs DIR runs llama-server with LD_LIBRARY_PATH=DIR: a directory of links to
 * node-llama-cpp's libllama/libggml* (and llama-server's own helper libraries) makes both servers run
 * the same CPU kernels, so the table compares serving loops and not compilers.
 *
 * --attach measures servers that are already running (started by hand, any build or flags) instead of
 * starting them: the same client and turns, and the servers are left running. --model still names the
 * file (slmkit serves it under its base name).
 *
 * slmkit-node-llama-cpp is `slmkit serve --engine node-llama-cpp`: node-llama-cpp's sequences instead of
 * slmkit's batcher, for the comparison in BENCHMARKS.md.
 *
 * Run nothing else on the machine meanwhile: llama.cpp's threads spin, and two busy processes slow
 * each other by an order of magnitude. llama-server is not part of slmkit: build it from the llama.cpp
 * source node-llama-cpp bundles, or point LLAMA_SERVER at one.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Agent, request as httpRequest } from "node:http";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { quantizeFile } from "../src/quant/index.js";
import { synthesizeModel } from "../src/synth/index.js";
import { type Interval, bootstrapInterval, median } from "./statistics.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "bench/out");
const { values } = parseArgs({
  options: {
    model: { type: "string" },
    clients: { type: "string", default: "1,4,16" },
    requests: { type: "string", default: "32" },
    "max-tokens": { type: "string", default: "64" },
    slots: { type: "string", default: "4" },
    threads: { type: "string", default: "2" },
    ctx: { type: "string", default: "512" },
    "llama-server": { type: "string" },
    rounds: { type: "string", default: "3" },
    "llama-server-libs": { type: "string" },
    servers: { type: "string", default: "slmkit,llama-server" },
    warmup: { type: "string", default: "32" },
    settle: { type: "string", default: "500" },
    attach: { type: "string" },
  },
});
const clientLevels = values.clients!.split(",").map(Number);
const requestsPerLevel = Number(values.requests);
const maxTokens = Number(values["max-tokens"]);
const slots = Number(values.slots);
const threads = Number(values.threads);
const contextPerSlot = Number(values.ctx);
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);
/**
 * Milliseconds of quiet before each turn: after its last request a server's llama.cpp threads poll for
 * work for 100-170 ms (measured on both servers) before they sleep, and that core is taken from whichever
 * server goes next. With short turns the server that opened a round was the faster one in most rounds.
 */
const settleMs = Number(values.settle);
const llamaServerLibs = values["llama-server-libs"];
const llamaServer = values["llama-server"] ?? process.env.LLAMA_SERVER ?? "/tmp/llama.cpp/build/bin/llama-server";

mkdirSync(out, { recursive: true });
async function defaultModel(): Promise<string> {
  const f16 = join(out, "bench-llama-100m-f16.gguf");
  const q4 = join(out, "bench-llama-100m-q4_0.gguf");
  if (!existsSync(f16)) {
    await synthesizeModel({
      architecture: "llama",
      output: f16,
      type: "F16",
      seed: 100,
      vocabularySize: 32000,
      shape: { layers: 12, width: 768, feedForward: 2048, heads: 12, kvHeads: 4, headDim: 64, tiedEmbeddings: true },
    });
  }
  if (!existsSync(q4)) await quantizeFile(f16, q4, { preset: "Q4_0" });
  return q4;
}
const model = values.model ?? (await defaultModel());
/** The name slmkit serves the file under (llama-server ignores the field). */
const servedName = basename(model).replace(/\.gguf$/i, "");
const PROMPT = "Once upon a time, in a small town by the sea, there lived a girl who liked to build boats. Every morning she walked to the harbor";

interface Server {
  readonly name: string;
  readonly url: string;
  /** The server this run started (none when attached to a running one). */
  readonly process?: ChildProcess;
}

/** --attach's servers: "slmkit=18090,llama-server=18091" → kind and port. */
function attachedServers(list: string): Array<{ kind: ServerKind; port: number }> {
  return list.split(",").map((entry) => {
    const [kind, port] = entry.split("=");
    if (!isServerKind(kind) || !Number.isInteger(Number(port))) throw new Error(`--attach takes kind=PORT pairs (slmkit, llama-server, slmkit-node-llama-cpp), not ${entry}`);
    return { kind, port: Number(port) };
  });
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode})`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) {
        const body = (await response.json()) as { status?: string };
        if (body.status === "ok") return;
      }
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not come up`);
}

type ServerKind = "slmkit" | "llama-server" | "slmkit-node-llama-cpp";

async function start(name: ServerKind, port: number): Promise<Server> {
  const slmkit = [join(root, "bin/slmkit.cjs"), "serve", model, "--port", String(port), "--parallel", String(slots), "--threads", String(threads), "--ctx", String(contextPerSlot), "--quiet", "--no-audit"];
  const args =
    name === "llama-server"
      ? ["-m", model, "--port", String(port), "-np", String(slots), "-t", String(threads), "-c", String(contextPerSlot * slots), "--no-webui", "-lv", "0"]
      : name === "slmkit"
        ? slmkit
        : [...slmkit, "--engine", "node-llama-cpp"];
  // --llama-server-libs: run llama-server on other ggml/llama libraries (node-llama-cpp's, for the same kernels as slmkit).
  const env = name === "llama-server" && llamaServerLibs !== undefined ? { ...process.env, LD_LIBRARY_PATH: llamaServerLibs } : process.env;
  const child = spawn(name === "llama-server" ? llamaServer : process.execPath, args, { stdio: ["ignore", "ignore", "ignore"], env });
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, child);
  // Load the model and warm up: one short request.
  await request(url, 8);
  return { name, url, process: child };
}

interface RequestTiming {
  readonly ok: boolean;
  readonly tokens: number;
  readonly firstTokenMs: number;
  readonly gapsMs: number[];
}

/**
 * One streamed completion, timed as its tokens arrive. The client is node:http with a minimal SSE
 * scan: on 2 cores a heavier client (fetch's web streams) takes CPU from the server it measures.
 * One connection per request: llama-server closes kept-alive connections after a few requests, and
 * a request sent on a closing socket would count as an error that is the client's.
 */
const agent = new Agent({ keepAlive: false, maxSockets: 64 });

function request(url: string, tokens = maxTokens): Promise<RequestTiming> {
  const failed: RequestTiming = { ok: false, tokens: 0, firstTokenMs: 0, gapsMs: [] };
  const body = JSON.stringify({ model: servedName, prompt: PROMPT, max_tokens: tokens, temperature: 0, ignore_eos: true, stream: true });
  return new Promise((resolvePromise) => {
    const started = performance.now();
    let count = 0;
    let last = 0;
    let first = 0;
    const gaps: number[] = [];
    let buffer = "";
    const client = httpRequest(`${url}/v1/completions`, { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        resolvePromise(failed);
        return;
      }
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          // A token event carries non-empty text: "text":"<something>" (OpenAI) or "content":"<something>" (llama-server).
          if (!event.startsWith("data: {") || /"(text|content)":""/.test(event)) continue;
          const now = performance.now();
          if (count === 0) first = now - started;
          else gaps.push(now - last);
          last = now;
          count++;
        }
      });
      response.on("end", () => resolvePromise({ ok: count > 0, tokens: count, firstTokenMs: first, gapsMs: gaps }));
      response.on("error", () => resolvePromise(failed));
    });
    client.on("error", () => resolvePromise(failed));
    client.end(body);
  });
}

const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

interface LevelResult {
  server: string;
  clients: number;
  tokensPerSecond: number;
  ttftP50: number;
  ttftP99: number;
  gapP50: number;
  gapP99: number;
  errors: number;
  /** Every request's time to first token and every gap, kept to pool the rounds. */
  ttft: number[];
  gaps: number[];
  /** Tokens/s of each round (in the summary). */
  rounds?: number[];
}

async function runLevel(server: Server, clients: number): Promise<LevelResult> {
  let next = 0;
  const timings: RequestTiming[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requestsPerLevel) {
        next++;
        timings.push(await request(server.url).catch(() => ({ ok: false, tokens: 0, firstTokenMs: 0, gapsMs: [] })));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const ok = timings.filter((timing) => timing.ok);
  return {
    server: server.name,
    clients,
    tokensPerSecond: ok.reduce((sum, timing) => sum + timing.tokens, 0) / seconds,
    ttftP50: percentile(ok.map((t) => t.firstTokenMs), 50),
    ttftP99: percentile(ok.map((t) => t.firstTokenMs), 99),
    gapP50: percentile(ok.flatMap((t) => t.gapsMs), 50),
    gapP99: percentile(ok.flatMap((t) => t.gapsMs), 99),
    errors: timings.length - ok.length,
    ttft: ok.map((t) => t.firstTokenMs),
    gaps: ok.flatMap((t) => t.gapsMs),
  };
}

const isServerKind = (kind: string | undefined): kind is ServerKind => kind === "slmkit" || kind === "llama-server" || kind === "slmkit-node-llama-cpp";
const attached = values.attach === undefined ? undefined : attachedServers(values.attach);
const kinds = attached?.map(({ kind }) => kind) ?? values.servers!.split(",").filter((kind): kind is ServerKind => {
  if (kind === "llama-server" && !existsSync(llamaServer)) {
    console.error(`no llama-server at ${llamaServer}: measuring slmkit alone`);
    return false;
  }
  return isServerKind(kind);
});
const servers: Server[] = [];
const rawResults: LevelResult[] = [];
try {
  if (attached !== undefined) for (const { kind, port } of attached) servers.push({ name: kind, url: `http://127.0.0.1:${port}` });
  else for (const [index, kind] of kinds.entries()) servers.push(await start(kind, 18080 + index));
  // Warm-up, not measured: the first requests a server answers pay for compiling (slmkit's JIT) and for
  // filling caches (both); the table is about the steady state. After 8 requests of 64 tokens slmkit's
  // JS thread still spent 410-460 µs of CPU a token on the 100M model, 270-300 µs after 40 (scratch
  // per-thread CPU from /proc, 1 client): V8 optimizes the per-token path over a few thousand tokens.
  for (const server of servers) {
    await Promise.all(Array.from({ length: Math.min(4, warmup) }, async (_, client) => {
      for (let index = client; index < warmup; index += 4) await request(server.url).catch(() => undefined);
    }));
  }
  for (let round = 1; round <= rounds; round++) {
    for (const clients of clientLevels) {
      for (const server of round % 2 === 1 ? servers : [...servers].reverse()) {
        await new Promise((resolve) => setTimeout(resolve, settleMs));
        const result = await runLevel(server, clients);
        rawResults.push(result);
        console.error(`round ${round}: ${server.name} ${clients} clients: ${result.tokensPerSecond.toFixed(1)} tok/s, TTFT p50 ${result.ttftP50.toFixed(0)} ms, gap p50 ${result.gapP50.toFixed(1)} ms, errors ${result.errors}`);
      }
    }
  }
} finally {
  for (const server of servers) {
    const child = server.process;
    if (child === undefined) continue;
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}
// Per server and level: the median round's tokens/s; latencies over all rounds' requests; all errors.
const results: LevelResult[] = kinds.flatMap((server) =>
  clientLevels.map((clients) => {
    const runs = rawResults.filter((r) => r.server === server && r.clients === clients);
    return {
      server,
      clients,
      tokensPerSecond: median(runs.map((r) => r.tokensPerSecond)),
      ttftP50: percentile(runs.flatMap((r) => r.ttft), 50),
      ttftP99: percentile(runs.flatMap((r) => r.ttft), 99),
      gapP50: percentile(runs.flatMap((r) => r.gaps), 50),
      gapP99: percentile(runs.flatMap((r) => r.gaps), 99),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      ttft: [],
      gaps: [],
      rounds: runs.map((r) => Number(r.tokensPerSecond.toFixed(1))),
    };
  }),
);

const byLevel = (server: string, clients: number): LevelResult | undefined => results.find((r) => r.server === server && r.clients === clients);
// Each round measured the servers back to back: the ratio within a round compares the same minute of a
// drifting machine. Their median is the headline ratio (the ratio of the medians is shown beside it).
// How many rounds the server was ahead in, and the bootstrap interval of the median over the rounds,
// say how much of a small difference is noise.
const pairedRatio = (server: string, clients: number): { median: number; ahead: number; rounds: number; interval: Interval } | undefined => {
  const ours = byLevel(server, clients)?.rounds ?? [];
  const theirs = byLevel("llama-server", clients)?.rounds ?? [];
  if (ours.length === 0 || ours.length !== theirs.length) return undefined;
  const ratios = ours.map((value, round) => value / theirs[round]!);
  return { median: median(ratios), ahead: ratios.filter((ratio) => ratio > 1).length, rounds: ratios.length, interval: bootstrapInterval(ratios) };
};
const range = ({ low, high }: Interval): string => `${low.toFixed(2)}–${high.toFixed(2)}`;
const lines = [
  `Model: ${model.split("/").at(-1)}; ${slots} slots, ${threads} threads, ${contextPerSlot} tokens of context per slot; ${requestsPerLevel} requests per level and round, ${maxTokens} tokens each (ignore_eos, greedy, streamed); ${rounds} rounds, servers taking turns.`,
  "",
  "| clients | server | tokens/s (median) | rounds | TTFT p50 | TTFT p99 | gap p50 | gap p99 | errors | / llama-server (median of rounds' ratios) | ratio of medians |",
  "| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...results.map((r) => {
    const llama = byLevel("llama-server", r.clients);
    const ratio = r.server !== "llama-server" && llama ? `${(r.tokensPerSecond / llama.tokensPerSecond).toFixed(2)}×` : "";
    const paired = r.server !== "llama-server" ? pairedRatio(r.server, r.clients) : undefined;
    return `| ${r.clients} | ${r.server} | ${r.tokensPerSecond.toFixed(1)} | ${(r.rounds ?? []).join(", ")} | ${r.ttftP50.toFixed(0)} ms | ${r.ttftP99.toFixed(0)} ms | ${r.gapP50.toFixed(1)} ms | ${r.gapP99.toFixed(1)} ms | ${r.errors} | ${paired === undefined ? "" : `${paired.median.toFixed(2)}× (ahead in ${paired.ahead}/${paired.rounds}; 95% interval ${range(paired.interval)})`} | ${ratio} |`;
  }),
];
const gain = (server: string): number | undefined => {
  const one = byLevel(server, 1);
  const four = byLevel(server, 4);
  return one && four ? four.tokensPerSecond / one.tokensPerSecond : undefined;
};
const ourGain = gain("slmkit");
const theirGain = gain("llama-server");
if (ourGain !== undefined && theirGain !== undefined) {
  // The same per round: each round's gain of slmkit over that round's gain of llama-server.
  const roundsOf = (server: string, clients: number): number[] => byLevel(server, clients)?.rounds ?? [];
  const [ours1, ours4, theirs1, theirs4] = [roundsOf("slmkit", 1), roundsOf("slmkit", 4), roundsOf("llama-server", 1), roundsOf("llama-server", 4)];
  const gainRatios = ours1.map((one, round) => ours4[round]! / one / (theirs4[round]! / theirs1[round]!));
  lines.push("", `Gain from 1 to 4 clients: slmkit ${ourGain.toFixed(2)}×, llama-server ${theirGain.toFixed(2)}× (ratio ${(ourGain / theirGain).toFixed(2)}; median of the rounds' ratios ${median(gainRatios).toFixed(2)}, 95% interval ${range(bootstrapInterval(gainRatios))}).`);
}
console.log(lines.join("\n"));
const summary = results.map(({ ttft: _ttft, gaps: _gaps, ...rest }) => rest);
writeFileSync(join(out, "serve.json"), JSON.stringify({ model, slots, threads, contextPerSlot, requestsPerLevel, rounds, maxTokens, results: summary, date: new Date().toISOString() }, null, 2));
writeFileSync(join(out, "serve.md"), `${lines.join("\n")}\n`);
