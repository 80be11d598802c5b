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
import { readFileSync, readdirSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { median } from "../dist/bench/statistics.js";

const [rounds, requests, clients] = process.argv.slice(2, 5).map(Number);
const servers = process.argv.slice(5).map((argument) => {
  const [name, address] = argument.split("=");
  const [port, pid] = address.split(":").map(Number);
  return { name, port, pid, tokensPerSecond: [], cpuPerToken: new Map() };
});
const agent = new Agent({ keepAlive: false, maxSockets: 64 });
const PROMPT = "Once upon a time, in a small town by the sea, there lived a girl who liked to build boats. Every morning she walked to the harbor";
const model = process.env.MODEL ?? "twin-qwen3-0.6b-q4_0";

/** One streamed completion; resolves with the number of token events (events with non-empty text). */
function completion(port) {
  const body = JSON.stringify({ model, prompt: PROMPT, max_tokens: 64, temperature: 0, ignore_eos: true, stream: true });
  return new Promise((resolve) => {
    let tokens = 0;
    let buffer = "";
    const headers = { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) };
    const request = httpRequest(`http://127.0.0.1:${port}/v1/completions`, { method: "POST", agent, headers }, (response) => {
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (event.startsWith("data: {") && !/"(text|content)":""/.test(event)) tokens++;
        }
      });
      response.on("end", () => resolve(tokens));
    });
    request.on("error", () => resolve(0));
    request.end(body);
  });
}

/** CPU time (ns) of each thread of `pid`, keyed by "tid:name". */
function threadTimes(pid) {
  const times = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const nanoseconds = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      times.set(`${tid}:${name}`, nanoseconds);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return times;
}

async function turn(server) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = threadTimes(server.pid);
  let sent = 0;
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (sent < requests) {
        sent++;
        const got = await completion(server.port);
        tokens += got;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const [thread, nanoseconds] of threadTimes(server.pid)) {
    const spent = nanoseconds - (before.get(thread) ?? 0);
    server.cpuPerToken.set(thread, (server.cpuPerToken.get(thread) ?? 0) + spent / tokens);
  }
  server.tokensPerSecond.push(tokens / seconds);
}

for (let round = 0; round < rounds; round++) {
  for (const server of round % 2 === 0 ? servers : [...servers].reverse()) await turn(server);
  console.log(`round ${round + 1}: ${servers.map((server) => `${server.name} ${server.tokensPerSecond.at(-1).toFixed(2)}`).join("  ")}`);
}

const sum = (values) => values.reduce((total, value) => total + value, 0);
const [base] = servers;
for (const server of servers) {
  const ratios = server.tokensPerSecond.map((value, round) => value / base.tokensPerSecond[round]);
  console.log(
    `${server.name}: median ${median(server.tokensPerSecond).toFixed(2)} sum ${sum(server.tokensPerSecond).toFixed(1)} ` +
      `sum/base ${(sum(server.tokensPerSecond) / sum(base.tokensPerSecond)).toFixed(3)} median ratio ${median(ratios).toFixed(3)} ` +
      `ratios ${ratios.map((ratio) => ratio.toFixed(2)).join(",")}`,
  );
  const busiest = [...server.cpuPerToken].sort((a, b) => b[1] - a[1]).slice(0, 6);
  console.log(`   cpu/token: ${busiest.map(([thread, nanoseconds]) => `${thread} ${(nanoseconds / rounds / 1000).toFixed(0)}µs`).join(" | ")}`);
}
