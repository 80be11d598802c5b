// CPU-only install: skips the ~680 MB of CUDA, Vulkan and other platforms' prebuilt llama.cpp
// binaries that node-llama-cpp pulls in as optional dependencies, and installs only this
// platform's CPU build. GPU users keep using the plain `npm install`.
//
//   node scripts/install-cpu-only.mjs        (instead of npm install / npm ci)
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";

const platforms = { linux: "linux", darwin: "mac", win32: "win" };
const platform = platforms[process.platform];
if (platform === undefined) throw new Error(`no prebuilt llama.cpp for ${process.platform}`);
// On Apple silicon the CPU package is the Metal one: Metal is part of the OS, nothing extra to skip.
const name = process.platform === "darwin" && process.arch === "arm64" ? "mac-arm64-metal" : `${platform}-${process.arch}`;
const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8"));
const version = lock.packages["node_modules/node-llama-cpp"].version;
const env = { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true" };
const run = (command) => {
  console.log(`> ${command}`);
  execSync(command, { stdio: "inherit", env });
};
run("npm ci --omit=optional");
run(`npm install --no-save --omit=optional @node-llama-cpp/${name}@${version}`);
