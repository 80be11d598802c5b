import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { RegistryError } from "./errors.js";
import { withFileLock } from "./lock.js";
import { canonicalName, parseModelName } from "./names.js";
import { filesForQuant, parseModelRef } from "./refs.js";
import { ModelStore } from "./store.js";

const root = mkdtempSync(join(tmpdir(), "slmkit-store-"));
after(() => rmSync(root, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(root, name);
  writeFileSync(path, content);
  return path;
}

describe("model names", () => {
  it("default the tag to latest and keep scopes", () => {
    assert.equal(canonicalName("qwen3"), "qwen3:latest");
    assert.equal(canonicalName("hf.co/Owner/Repo-GGUF:Q4_K_M"), "hf.co/Owner/Repo-GGUF:Q4_K_M");
    assert.deepEqual(parseModelName("me/model:v2"), { scope: ["me"], model: "model", tag: "v2" });
  });

  it("refuse what could leave the store or hide a separator", () => {
    for (const bad of ["../x", "a/../b", "/etc/passwd", "a//b", ".hidden", "a/b/c/d", "x:../y", "x:", "a\\b", "名前", ""]) {
      assert.throws(() => parseModelName(bad), (error: unknown) => error instanceof RegistryError && error.code === "BAD_NAME", bad);
    }
  });
});

describe("pull refs", () => {
  it("read files, quantizations, URLs and digests", () => {
    assert.deepEqual(parseModelRef("hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf"), { kind: "hf-file", repo: "Qwen/Qwen3-0.6B-GGUF", path: "Qwen3-0.6B-Q8_0.gguf" });
    assert.deepEqual(parseModelRef("hf:unsloth/Qwen3-4B-GGUF:q4_k_m"), { kind: "hf-quant", repo: "unsloth/Qwen3-4B-GGUF", quant: "Q4_K_M" });
    const hex = "a".repeat(64);
    assert.deepEqual(parseModelRef(`https://example.com/m.gguf@sha256:${hex}`), { kind: "url", url: "https://example.com/m.gguf", sha256: hex });
    for (const bad of ["ollama:llama3", "hf:owner/repo/../x.gguf", "hf:owner/repo/file.bin", "hf:owner/repo:Q4_0@sha256:" + hex, `hf:o/r/x.gguf@sha256:zz`]) {
      assert.throws(() => parseModelRef(bad), (error: unknown) => error instanceof RegistryError && error.code === "BAD_REF", bad);
    }
  });
});

describe("files for a quantization", () => {
  it("prefer single files, else the first part of a split set; case-insensitive", () => {
    const files = ["m-Q4_K_M.gguf", "m.Q8_0.gguf", "big-Q8_0-00001-of-00002.gguf", "big-Q8_0-00002-of-00002.gguf", "m-IQ4_K_M.gguf", "README.md"];
    assert.deepEqual(filesForQuant(files, "q4_k_m"), ["m-Q4_K_M.gguf"]);
    assert.deepEqual(filesForQuant(files, "Q8_0"), ["m.Q8_0.gguf"]);
    assert.deepEqual(filesForQuant(["big-Q8_0-00001-of-00002.gguf", "big-Q8_0-00002-of-00002.gguf"], "Q8_0"), ["big-Q8_0-00001-of-00002.gguf"]);
    assert.deepEqual(filesForQuant(files, "Q5_K_M"), []);
  });
});

describe("ModelStore", () => {
  it("adds by copy (content-addressed) or by link, lists, copies names, removes, and collects garbage", async () => {
    const store = new ModelStore(join(root, "models"));
    const copied = await store.add(file("One-Model.gguf", "first model bytes"), {});
    assert.equal(copied.name, "one-model:latest");
    assert.equal(readFileSync(store.resolve("one-model").path, "utf8"), "first model bytes");
    const linkedSource = file("two.gguf", "second model bytes");
    const linked = await store.add(linkedSource, { name: "two:linked", link: true });
    assert.equal(store.resolve("two:linked").path, linkedSource);
    assert.equal(readdirSync(join(store.root, "blobs")).length, 1, "a linked model is not copied");

    store.copy("one-model", "alias:v1");
    assert.deepEqual(store.list().map((model) => model.name), ["alias:v1", "one-model:latest", "two:linked"]);
    assert.equal(store.remove("one-model"), true);
    assert.equal(store.gc(0).removedBlobs.length, 0, "alias:v1 still uses the blob");
    store.remove("alias:v1");
    assert.equal(store.gc().removedBlobs.length, 0, "a blob younger than the grace period stays (a pull may be about to name it)");
    const report = store.gc(0);
    assert.deepEqual(report.removedBlobs, [copied.digest]);
    assert.equal(report.freedBytes, "first model bytes".length);
    assert.equal(linked.linkedPath, linkedSource);

    writeFileSync(linkedSource, "changed");
    assert.throws(() => store.resolve("two:linked"), /the file changed/);
    assert.deepEqual(store.check().length, 1);
  });

  it("refuses a manifest path that leaves the store through a symlink", async () => {
    const store = new ModelStore(join(root, "models-symlink"));
    const outside = join(root, "outside");
    mkdirSync(outside, { recursive: true });
    mkdirSync(join(store.root, "manifests"), { recursive: true });
    symlinkSync(outside, join(store.root, "manifests", "evil"));
    await assert.rejects(store.add(file("x.gguf", "x"), { name: "evil/x" }), /outside the store/);
  });
});

describe("file locks", () => {
  it("lets one waiter at a time take over a dead owner's lock", async () => {
    const path = join(root, "locks", "race.lock");
    mkdirSync(join(root, "locks"), { recursive: true });
    writeFileSync(path, "999999998 " + (await import("node:os")).hostname() + " deadbeef");
    let inside = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3].map(() =>
        withFileLock(path, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 30));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
  });

  it("stops waiting when its signal fires", async () => {
    const path = join(root, "locks", "held.lock");
    const abort = new AbortController();
    await withFileLock(path, async () => {
      const waiting = withFileLock(path, async () => "never", { signal: abort.signal });
      setTimeout(() => abort.abort(), 50);
      await assert.rejects(waiting);
    });
  });

  it("takes over a lock whose owner is dead, and waits for a live one", async () => {
    const path = join(root, "locks", "k.lock");
    mkdirSync(join(root, "locks"), { recursive: true });
    writeFileSync(path, "999999999"); // no such process
    assert.equal(await withFileLock(path, async () => "taken"), "taken");
    const order: string[] = [];
    await Promise.all([
      withFileLock(path, async () => {
        order.push("first in");
        await new Promise((resolve) => setTimeout(resolve, 150));
        order.push("first out");
      }),
      new Promise((resolve) => setTimeout(resolve, 20)).then(() => withFileLock(path, async () => order.push("second"))),
    ]);
    assert.deepEqual(order, ["first in", "first out", "second"]);
  });
});
