// Prototype for issue 4 (not used by slmkit serve yet): a continuous-batching decode loop driven from JS through slmkit's koffi binding.
// One llama_decode per step carrying one token per active sequence; sampling greedy argmax in JS
// ("greedy"), or llama.cpp's sampler chain through koffi ("chain": top_k 40 -> temp 0.8 -> dist, or
// "cgreedy": a chain with just llama_sampler_init_greedy).
//
// usage: node bench/native-decode-loop.mjs <model.gguf> <seqs,comma> <mode:greedy|chain|cgreedy> [reps=3] [unified=0|1] [gen=64] [prompt=16]
// Prints one JSON line per (seqs, rep): aggregate generated tokens/s, per-step decode/sample ms.
import { existsSync, statSync } from "node:fs";
import { llamaLibrary } from "../dist/src/engine/index.js";

const [modelPath, seqList = "1,4,16", mode = "greedy", repsArg = "3", unifiedArg = "0", genArg = "64", promptArg = "16"] = process.argv.slice(2);
const reps = Number(repsArg);
const unified = unifiedArg === "1";
const GEN = Number(genArg);
const PROMPT = Number(promptArg);
const THREADS = 2;

const lib = llamaLibrary();
// llama.cpp's sampler chains, as slmkit's binding builds them ("cgreedy": a chain of just greedy).
function makeChain(seed) {
  return lib.samplerChain({ temperature: mode === "cgreedy" ? 0 : 0.8, topK: 40, topP: 1, minP: 0, seed }, vocab);
}
const samplerSample = (chain, ctx, row) => lib.samplerSample(chain, ctx, row);
const samplerFree = (chain) => lib.samplerFree(chain);

const modelParams = lib.modelDefaultParams();
modelParams.n_gpu_layers = 0;
const model = lib.loadModel(modelPath, modelParams);
if (model === null) throw new Error(`cannot load ${modelPath}`);
const vocab = lib.modelVocab(model);
const V = lib.vocabTokenCount(vocab);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// One ggml thread pool for every context (only one decodes at a time); one pool per context made
// decodes take ~1.2 s at times (two pools' workers on 2 cores).
const sharedPool = process.env.POLL === "none" || process.env.POOL === "per" ? null : lib.threadpoolNew(THREADS, Number(process.env.POLL ?? 50));

function openContext(seqs) {
  const p = lib.contextDefaultParams();
  p.n_ctx = seqs * 256;
  p.n_batch = Math.max(512, seqs * PROMPT);
  p.n_ubatch = p.n_batch;
  p.n_seq_max = seqs;
  p.n_threads = THREADS;
  p.n_threads_batch = THREADS;
  p.no_perf = true;
  p.kv_unified = unified;
  const ctx = lib.initContext(model, p);
  if (ctx === null) throw new Error("context failed");
  const pool = process.env.POOL === "per" ? lib.threadpoolNew(THREADS, Number(process.env.POLL ?? 50)) : sharedPool;
  if (pool !== null) lib.attachThreadpool(ctx, pool, pool);
  const rows = p.n_batch;
  const batch = lib.batchInit(rows, 0, 1);
  const tok = new Int32Array(lib.view(batch.token, rows * 4));
  const pos = new Int32Array(lib.view(batch.pos, rows * 4));
  const out = new Int8Array(lib.view(batch.logits, rows));
  new Int32Array(lib.view(batch.n_seq_id, rows * 4)).fill(1);
  const seqPtrs = lib.pointers(batch.seq_id, rows);
  const seqIds = seqPtrs.map((ptr) => new Int32Array(lib.view(ptr, 4)));
  return { ctx, pool, batch, tok, pos, out, seqIds };
}

function closeContext(c) {
  lib.batchFree(c.batch);
  lib.freeContext(c.ctx);
  if (process.env.POOL === "per" && c.pool !== null) lib.threadpoolFree(c.pool);
}

function argmax(view, offset) {
  let best = 0;
  let bestValue = -Infinity;
  const end = offset + V;
  for (let i = offset; i < end; i++) {
    const v = view[i];
    if (v > bestValue) {
      bestValue = v;
      best = i - offset;
    }
  }
  return best;
}

let rngState = 12345;
function rand() {
  rngState = (rngState * 1103515245 + 12345) & 0x7fffffff;
  return rngState;
}

function runOnce(c, seqs, rep) {
  lib.memoryClear(lib.memory(c.ctx), true);
  const chains = mode === "greedy" ? [] : Array.from({ length: seqs }, (_, s) => makeChain(1000 + s + rep * 100));
  // Prompt phase: all sequences' prompts in one batch, logits only at each prompt's last row.
  let n = 0;
  for (let s = 0; s < seqs; s++) {
    for (let i = 0; i < PROMPT; i++) {
      c.tok[n] = 1 + (rand() % (V - 2));
      c.pos[n] = i;
      c.seqIds[n][0] = s;
      c.out[n] = i === PROMPT - 1 ? 1 : 0;
      n++;
    }
  }
  c.batch.n_tokens = n;
  let st = lib.decode(c.ctx, c.batch);
  if (st !== 0) throw new Error(`prompt decode ${st}`);
  const next = new Int32Array(seqs);
  {
    const view = new Float32Array(lib.view(lib.logits(c.ctx), seqs * V * 4));
    for (let s = 0; s < seqs; s++) next[s] = mode === "greedy" ? argmax(view, s * V) : samplerSample(chains[s], c.ctx, s * PROMPT + PROMPT - 1);
  }
  // Generation phase, timed.
  const decodeMs = [];
  const sampleMs = [];
  const wallStart = Date.now();
  const t0 = performance.now();
  for (let step = 0; step < GEN; step++) {
    const a = performance.now();
    for (let s = 0; s < seqs; s++) {
      c.tok[s] = next[s];
      c.pos[s] = PROMPT + step;
      c.seqIds[s][0] = s;
      c.out[s] = 1;
    }
    c.batch.n_tokens = seqs;
    st = lib.decode(c.ctx, c.batch);
    if (st !== 0) throw new Error(`decode ${st} at step ${step}`);
    const b = performance.now();
    if (mode === "greedy") {
      const view = new Float32Array(lib.view(lib.logits(c.ctx), seqs * V * 4));
      for (let s = 0; s < seqs; s++) next[s] = argmax(view, s * V);
    } else {
      for (let s = 0; s < seqs; s++) next[s] = samplerSample(chains[s], c.ctx, s);
    }
    const e = performance.now();
    decodeMs.push(b - a);
    sampleMs.push(e - b);
  }
  const total = performance.now() - t0;
  for (const ch of chains) samplerFree(ch);
  return {
    seqs,
    rep,
    wallStart,
    wallEnd: Date.now(),
    mode,
    unified,
    pool: process.env.POOL ?? "shared",
    tokensPerSecond: +((seqs * GEN) / (total / 1000)).toFixed(1),
    stepMs: +(total / GEN).toFixed(3),
    decodeMsMedian: +median(decodeMs).toFixed(3),
    decodeMsMean: +(decodeMs.reduce((x, y) => x + y, 0) / GEN).toFixed(3),
    sampleMsMedian: +median(sampleMs).toFixed(3),
    sampleMsMean: +(sampleMs.reduce((x, y) => x + y, 0) / GEN).toFixed(3),
    decodeMsP90: +[...decodeMs].sort((x, y) => x - y)[Math.floor(GEN * 0.9)].toFixed(3),
  };
}

// Another session runs tsc/eslint/tests on the same 2 cores; monitor.sh keeps out/busy present while
// they run and stamps out/foreign.txt. Wait for quiet, and redo a run a foreign process overlapped.
const busyFile = new URL("./out/busy", import.meta.url);
const foreignFile = new URL("./out/foreign.txt", import.meta.url);
const sleepMs = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function waitQuiet() {
  const deadline = Date.now() + 120_000;
  while (existsSync(busyFile) && Date.now() < deadline) sleepMs(250);
  sleepMs(300);
}
function touchedSince(t) {
  try {
    return statSync(foreignFile).mtimeMs >= t - 500;
  } catch {
    return false;
  }
}
function cleanRun(c, s, rep) {
  for (let attempt = 0; attempt < 6; attempt++) {
    waitQuiet();
    const r = runOnce(c, s, rep);
    if (!touchedSince(r.wallStart)) return { ...r, attempts: attempt + 1 };
  }
  return null;
}

const seqCounts = seqList.split(",").map(Number);
const contexts = new Map(seqCounts.map((s) => [s, openContext(s)]));
// Warm-up each context once (page in weights, allocate graphs).
for (const s of seqCounts) runOnce(contexts.get(s), s, -1);
// Alternate sequence counts within each repetition so drift in machine speed hits them alike.
for (let rep = 0; rep < reps; rep++) {
  for (const s of seqCounts) {
    const r = cleanRun(contexts.get(s), s, rep);
    if (r !== null) console.log(JSON.stringify({ model: modelPath.split("/").pop(), ...r }));
  }
}
for (const c of contexts.values()) closeContext(c);
if (sharedPool !== null) lib.threadpoolFree(sharedPool);
lib.freeModel(model);
