/** Shared pieces of the end-to-end tests: temporary folders, test models, the CLI as a process. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type SynthOptions, synthesizeModel } from "../src/synth/index.js";
import { getLlama } from "node-llama-cpp";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = join(REPO_ROOT, "dist/src/cli/main.js");
/** The fixtures outside the repo; present on developer machines and CI, absent on a fresh clone elsewhere. */
export const SHARED = resolve(REPO_ROOT, "../shared");

export function temporaryDirectory(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `slmkit-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function makeModel(directory: string, name: string, options: Omit<SynthOptions, "output">): Promise<string> {
  const output = join(directory, `${name}.gguf`);
  await synthesizeModel({ ...options, output });
  return output;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `slmkit <args>` as a separate process, as a user would. */
export function runCli(args: readonly string[], options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`slmkit ${args.join(" ")} did not finish in ${options.timeoutMs ?? 60_000} ms\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Token counts computed with node-llama-cpp directly, independently of slmkit's engine code. */
export async function countTokens(path: string, text: string, options: { special: boolean; bos: boolean }): Promise<number> {
  const llama = await getLlama({ build: "never", gpu: false });
  const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  try {
    return model.tokenize(text, options.special).length + (options.bos ? 1 : 0);
  } finally {
    await model.dispose();
  }
}
