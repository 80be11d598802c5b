/**
 * bench/alternate: turns between servers that are already up and warm (started by hand, any build or
 * flags), for A/B runs: each turn is REQUESTS streamed 64-token completions from CLIENTS closed-loop
 * clients after 500 ms of quiet, the order flipped each round. Prints each round's tokens/s, the sums
 * and the median of the rounds' ratios against the first server, and each server's CPU per generated
 * token by thread (from /proc/PID/task/TID/schedstat, so PID must be the server process itself).
 *
 *   npm run build && MODEL=<served name> node bench/alternate.mjs ROUNDS REQUESTS CLIENTS name=PORT:PID name=PORT:PID ...
 *
 * Not bench/serve: no warm-up, no table; it measures what is running. Run nothing else meanwhile.
 */
import { Agent, request as httpRequest } from "node:http";
import { readFileSync, readdirSync } from "node:fs";
import { median as med } from "../dist/bench/statistics.js";
const [rounds, requests, clients] = process.argv.slice(2, 5).map(Number);
const servers = process.argv.slice(5).map((s) => { const [name, rest] = s.split("="); const [port, pid] = rest.split(":"); return { name, port: Number(port), pid: Number(pid), tps: [], cpu: new Map() }; });
const agent = new Agent({ keepAlive: false, maxSockets: 64 });
const PROMPT = "Once upon a time, in a small town by the sea, there lived a girl who liked to build boats. Every morning she walked to the harbor";
const model = process.env.MODEL ?? "twin-qwen3-0.6b-q4_0";
function one(port) {
  const body = JSON.stringify({ model, prompt: PROMPT, max_tokens: 64, temperature: 0, ignore_eos: true, stream: true });
  return new Promise((res) => {
    let count = 0, buffer = "";
    const c = httpRequest(`http://127.0.0.1:${port}/v1/completions`, { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } }, (r) => {
      r.setEncoding("utf8");
      r.on("data", (chunk) => { buffer += chunk; let e; while ((e = buffer.indexOf("\n\n")) !== -1) { const ev = buffer.slice(0, e); buffer = buffer.slice(e + 2); if (!ev.startsWith("data: {") || /"(text|content)":""/.test(ev)) continue; count++; } });
      r.on("end", () => res(count));
    });
    c.on("error", () => res(0));
    c.end(body);
  });
}
function threads(pid) {
  const m = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try { const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]); const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim(); m.set(tid, { ns, comm }); } catch {
      // The thread ended between the listing and the read.
    }
  }
  return m;
}
async function turn(s) {
  await new Promise((r) => setTimeout(r, 500));
  const before = threads(s.pid);
  let next = 0, tokens = 0; const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => { while (next < requests) { next++; const got = await one(s.port); tokens += got; } }));
  const secs = (performance.now() - t0) / 1000;
  const after = threads(s.pid);
  for (const [tid, { ns, comm }] of after) { const d = ns - (before.get(tid)?.ns ?? 0); const key = `${tid}:${comm}`; s.cpu.set(key, (s.cpu.get(key) ?? 0) + d / tokens); }
  s.tps.push(tokens / secs);
}
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? servers : [...servers].reverse();
  for (const s of order) await turn(s);
  console.log(`round ${r + 1}: ` + servers.map((s) => `${s.name} ${s.tps.at(-1).toFixed(2)}`).join("  "));
}
const base = servers[0];
for (const s of servers) {
  const sum = s.tps.reduce((a, b) => a + b, 0);
  const ratios = s.tps.map((v, i) => v / base.tps[i]);
  console.log(`${s.name}: median ${med(s.tps).toFixed(2)} sum ${sum.toFixed(1)} sum/base ${(sum / base.tps.reduce((a, b) => a + b, 0)).toFixed(3)} median ratio ${med(ratios).toFixed(3)} ratios ${ratios.map((x) => x.toFixed(2)).join(",")}`);
  const top = [...s.cpu].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${(v / rounds / 1000).toFixed(0)}µs`);
  console.log(`   cpu/token: ${top.join(" | ")}`);
}
