/**
 * `slmkit pull` and the store against a local stand-in for the Hugging Face Hub (test/hub-standin.ts):
 * verified downloads named after their file, resume by Range after a dropped connection and after
 * kill -9, retries on 429, rejection of a wrong hash, tokens for gated repos, one download for two
 * concurrent pulls, no network for a model already present, and store names usable by `run`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { ModelStore, pull, type PullEvent, RegistryError } from "../src/registry/index.js";
import { HubStandIn } from "./hub-standin.js";
import { CLI, makeModel, runCli, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("pull");
const TOKEN = "hf_test_token";
const REPO = "owner/tiny-GGUF";
let hub: HubStandIn;
let q8: { sha256: string; size: number };
let q8Bytes: Buffer;
let storeCount = 0;

/** A fresh, empty store for each test. */
let store: ModelStore;
beforeEach(() => {
  store = new ModelStore(join(directory.path, `store-${storeCount++}`));
  hub.clearLog();
});

before(async () => {
  hub = await HubStandIn.start({ token: TOKEN });
  q8Bytes = readFileSync(await makeModel(directory.path, "tiny-q8", { architecture: "llama", seed: 61, vocabularySize: 4096 }));
  q8 = hub.addFile({ repo: REPO, path: "tiny-Q8_0.gguf", content: q8Bytes });
  hub.addFile({ repo: REPO, path: "tiny-Q4_0.gguf", content: readFileSync(await makeModel(directory.path, "tiny-q4", { architecture: "llama", seed: 62 })) });
  hub.addRepo("owner/gated", { gated: true });
  hub.addFile({ repo: "owner/gated", path: "secret-Q8_0.gguf", content: q8Bytes });
});

after(async () => {
  await hub?.close();
  directory.remove();
});

const contentGets = (): number => hub.requests.filter((request) => request.method === "GET" && request.path.startsWith("/cdn/")).length;

describe("pull from the Hub stand-in", () => {
  it("pulls a file, verified and named after it; pulling it again makes no request", async () => {
    const events: PullEvent[] = [];
    const { manifest, downloaded } = await pull(store, `hf:${REPO}/tiny-Q8_0.gguf`, { endpoint: hub.url, onEvent: (event) => events.push(event) });
    assert.equal(downloaded, true);
    assert.equal(manifest.name, `hf.co/${REPO}:tiny-Q8_0`);
    assert.equal(manifest.digest, `sha256:${q8.sha256}`);
    assert.ok(readFileSync(store.resolve(manifest.name).path).equals(q8Bytes));
    assert.deepEqual(store.list().map((model) => model.name), [manifest.name]);
    assert.ok(events.some((event) => event.type === "verified"));

    hub.clearLog();
    const again = await pull(store, `hf:${REPO}/tiny-Q8_0.gguf`, { endpoint: hub.url });
    assert.equal(again.downloaded, false);
    assert.deepEqual(hub.requests, [], "no request at all for a model already in the store");
  });

  it("resumes after a dropped connection with a Range request and ends with the right hash", async () => {
    hub.fault(REPO, "tiny-Q8_0.gguf", { dropAfterBytes: Math.floor(q8.size / 2) });
    const { manifest } = await pull(store, `hf:${REPO}/tiny-Q8_0.gguf`, { endpoint: hub.url });
    // The range is asked of the resolve URL and carried through its redirect: count it where the bytes come from.
    const ranges = hub.requests.filter((request) => request.range && request.path.startsWith("/cdn/"));
    assert.equal(ranges.length, 1, JSON.stringify(hub.requests));
    // From where the partial file ended: at most what the server sent before the drop (bytes in flight are lost with the socket).
    const from = Number(/^bytes=(\d+)-$/.exec(ranges[0]!.range!)?.[1]);
    assert.ok(from > 0 && from <= Math.floor(q8.size / 2), ranges[0]!.range);
    assert.equal(ranges[0]!.status, 206);
    assert.equal(manifest.digest, `sha256:${q8.sha256}`);
  });

  it("retries a 429 after its Retry-After, and a 500", async () => {
    hub.fault(REPO, "tiny-Q8_0.gguf", { tooManyRequests: 1, serverErrors: 1 });
    const retries: string[] = [];
    const started = performance.now();
    await pull(store, `hf:${REPO}/tiny-Q8_0.gguf`, { endpoint: hub.url, onEvent: (event) => event.type === "retry" && retries.push(event.reason) });
    assert.deepEqual(hub.requests.filter((request) => request.path.startsWith("/cdn/")).map((request) => request.status), [429, 500, 200]);
    assert.equal(retries.length, 2);
    assert.ok(performance.now() - started >= 1000, "waited the Retry-After second");
  });

  it("rejects a file whose bytes do not match the Hub's sha256: not stored, not listed, no partial left", async () => {
    hub.fault(REPO, "tiny-Q8_0.gguf", { wrongContent: true });
    try {
      await assert.rejects(pull(store, `hf:${REPO}/tiny-Q8_0.gguf`, { endpoint: hub.url }), (error: unknown) => error instanceof RegistryError && error.code === "VERIFY_FAILED");
    } finally {
      hub.fault(REPO, "tiny-Q8_0.gguf", { wrongContent: false });
    }
    assert.deepEqual(store.list(), []);
    assert.equal(store.hasBlob(q8.sha256), false);
    assert.deepEqual(readdirSync(join(store.root, "partial")), []);
  });

  it("answers 401 for a gated repo without HF_TOKEN, and pulls it with the token", async () => {
    await assert.rejects(pull(store, "hf:owner/gated/secret-Q8_0.gguf", { endpoint: hub.url }), (error: unknown) => {
      assert.ok(error instanceof RegistryError && error.code === "UNAUTHORIZED");
      assert.match(error.message, /HF_TOKEN/);
      return true;
    });
    const { manifest } = await pull(store, "hf:owner/gated/secret-Q8_0.gguf", { endpoint: hub.url, token: TOKEN });
    assert.equal(manifest.digest, `sha256:${q8.sha256}`);
    assert.ok(hub.requests.some((request) => request.authorization === `Bearer ${TOKEN}`));
  });

  it("downloads a file once for two concurrent pulls of it", async () => {
    hub.fault(REPO, "tiny-Q8_0.gguf", { delayMs: 300 });
    try {
      const [first, second] = await Promise.all([
        pull(store, `hf:${REPO}/tiny-Q8_0.gguf`, { endpoint: hub.url }),
        pull(store, `hf:${REPO}/tiny-Q8_0.gguf`, { endpoint: hub.url, name: "second:copy" }),
      ]);
      assert.equal(first.manifest.digest, second.manifest.digest);
    } finally {
      hub.fault(REPO, "tiny-Q8_0.gguf", { delayMs: 0 });
    }
    assert.equal(contentGets(), 1);
    assert.deepEqual(store.list().map((model) => model.name).sort(), [`hf.co/${REPO}:tiny-Q8_0`, "second:copy"]);
  });

  it("picks a quantization's file from the repo listing, verified by the listing's sha256", async () => {
    const { manifest } = await pull(store, `hf:${REPO}:q8_0`, { endpoint: hub.url });
    assert.equal(manifest.name, `hf.co/${REPO}:tiny-Q8_0`);
    assert.equal(manifest.file, "tiny-Q8_0.gguf");
    await assert.rejects(pull(store, `hf:${REPO}:Q5_K_M`, { endpoint: hub.url }), /has no single-file GGUF for Q5_K_M; its GGUF files: tiny-Q8_0.gguf, tiny-Q4_0.gguf|has no single-file GGUF for Q5_K_M/);
  });

  it("answers a missing file or repository with NOT_FOUND, naming it", async () => {
    await assert.rejects(pull(store, `hf:${REPO}/no-such-Q8_0.gguf`, { endpoint: hub.url }), (error: unknown) => error instanceof RegistryError && error.code === "NOT_FOUND" && /no-such-Q8_0\.gguf/.test(error.message));
    await assert.rejects(pull(store, "hf:owner/nothing-here:Q8_0", { endpoint: hub.url }), (error: unknown) => error instanceof RegistryError && error.code === "NOT_FOUND");
    assert.ok(hub.requests.every((request) => request.status === 404));
  });

  it("offline: refuses a model that is not in the store without a request", async () => {
    await assert.rejects(pull(store, `hf:${REPO}/tiny-Q8_0.gguf`, { endpoint: hub.url, offline: true }), (error: unknown) => error instanceof RegistryError && error.code === "OFFLINE");
    assert.deepEqual(hub.requests, []);
  });
});

describe("slmkit pull, list, check and run as processes", () => {
  it("resumes after kill -9 mid-download, and list and check agree with the files", async () => {
    const home = join(directory.path, "home-kill");
    const env = { SLMKIT_HOME: home, SLMKIT_HF_ENDPOINT: hub.url };
    const half = Math.floor(q8.size / 2);
    hub.fault(REPO, "tiny-Q8_0.gguf", { stallAfterBytes: half });
    const child = spawn(process.execPath, [CLI, "pull", `hf:${REPO}/tiny-Q8_0.gguf`, "--json"], { env: { ...process.env, ...env }, stdio: "ignore" });
    const partialDirectory = join(home, "models", "partial");
    const partialSize = (): number =>
      existsSync(partialDirectory) ? readdirSync(partialDirectory).filter((name) => name.endsWith(".partial")).reduce((sum, name) => sum + statSync(join(partialDirectory, name)).size, 0) : 0;
    const deadline = Date.now() + 20_000;
    while (partialSize() < half && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("close", resolve));
    assert.equal(partialSize(), half, "half the file was on disk when the process died");
    hub.fault(REPO, "tiny-Q8_0.gguf", { stallAfterBytes: undefined });
    hub.clearLog();

    const again = await runCli(["pull", `hf:${REPO}/tiny-Q8_0.gguf`, "--json"], { env });
    assert.equal(again.code, 0, again.stderr);
    const done = again.stdout.trim().split("\n").map((line) => JSON.parse(line) as PullEvent).at(-1)!;
    assert.equal(done.type === "done" && done.digest, `sha256:${q8.sha256}`);
    assert.deepEqual(hub.requests.filter((request) => request.range && request.path.startsWith("/cdn/")).map((request) => request.range), [`bytes=${half}-`]);

    const listed = await runCli(["list", "--json"], { env });
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ name: string }>).map((model) => model.name), [`hf.co/${REPO}:tiny-Q8_0`]);
    const checked = await runCli(["check", "--json"], { env });
    assert.equal(checked.code, 0, checked.stdout);
    assert.deepEqual(JSON.parse(checked.stdout), { models: 1, problems: [] });
    const blobs = readdirSync(join(home, "models", "blobs"));
    assert.deepEqual(blobs, [`sha256-${q8.sha256}`]);

    const ran = await runCli(["run", `hf.co/${REPO}:tiny-Q8_0`, "Once", "--max-tokens", "3", "--temperature", "0"], { env });
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^Once/);
  });
});

describe("split models", () => {
  it("pulls every part of a split GGUF, verified, and llama.cpp runs it from the store", async () => {
    const { splitGguf } = await import("./split-gguf.js");
    const whole = await makeModel(directory.path, "splittable", { architecture: "llama", seed: 63 });
    const parts = await splitGguf(whole, directory.path, 3);
    for (const path of parts) hub.addFile({ repo: "owner/split-GGUF", path: `Q8_0/${path.split("/").pop()!}`, content: readFileSync(path) });
    const home = join(directory.path, "home-split");
    const env = { SLMKIT_HOME: home, SLMKIT_HF_ENDPOINT: hub.url };
    const pulled = await runCli(["pull", "hf:owner/split-GGUF/Q8_0/splittable-00001-of-00003.gguf", "--name", "split:test", "--json"], { env });
    assert.equal(pulled.code, 0, pulled.stderr);
    const shown = JSON.parse((await runCli(["show", "split:test", "--json"], { env })).stdout) as { parts: Array<{ file: string }>; path: string; size: number };
    assert.deepEqual(shown.parts.map((part) => part.file), parts.map((path) => path.split("/").pop()));
    assert.equal(shown.size, parts.reduce((sum, path) => sum + statSync(path).size, 0));
    const reference = await runCli(["run", whole, "Once", "--max-tokens", "6", "--temperature", "0"]);
    const ran = await runCli(["run", "split:test", "Once", "--max-tokens", "6", "--temperature", "0"], { env });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, reference.stdout, "the split model generates what the whole file does");
    const checked = await runCli(["check", "--json"], { env });
    assert.deepEqual(JSON.parse(checked.stdout), { models: 1, problems: [] });
  });
});
