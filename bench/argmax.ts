/**
 * bench/argmax: greedy decoding's argmax over one row of logits, the plain-JS scan against the
 * WebAssembly kernel slmkit uses (src/engine/native/largest-index.ts), at the vocabulary sizes of
 * llama 2 (32,000), qwen3 (151,936) and gemma 3 (262,144). Alternating rounds in one process, medians.
 *
 *   npm run build && node dist/bench/argmax.js [--rounds 7] [--calls 2000]
 */
import { parseArgs } from "node:util";
import { largestIndex, largestIndexScalar, largestIndexSimd } from "../src/engine/index.js";
import { median } from "./statistics.js";

const { values: flags } = parseArgs({ options: { rounds: { type: "string", default: "7" }, calls: { type: "string", default: "2000" } } });
const ROUNDS = Number(flags.rounds);
const CALLS = Number(flags.calls);

/** Microseconds a call of `scan` takes over `values`, averaged over CALLS calls. */
function time(scan: (values: Float32Array) => number, values: Float32Array): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let call = 0; call < CALLS; call++) sink += scan(values);
  const microseconds = Number(process.hrtime.bigint() - started) / 1000 / CALLS;
  if (sink < 0) throw new Error("unreachable");
  return microseconds;
}


if (largestIndexSimd(new Float32Array(16)) === undefined) throw new Error("WebAssembly SIMD is not available in this Node: nothing to compare");
let seed = 12345;
const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 20;
console.log(`| vocabulary | plain JS µs | WebAssembly µs (with copy) | speed-up |`);
console.log(`|---:|---:|---:|---:|`);
for (const size of [32000, 151936, 262144]) {
  const values = Float32Array.from({ length: size }, random);
  if (largestIndex(values) !== largestIndexScalar(values)) throw new Error(`the two disagree at ${size} entries`);
  const plain: number[] = [];
  const kernel: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    plain.push(time(largestIndexScalar, values));
    kernel.push(time(largestIndex, values));
  }
  console.log(`| ${size} | ${median(plain).toFixed(1)} | ${median(kernel).toFixed(1)} | ${(median(plain) / median(kernel)).toFixed(1)}× |`);
}
