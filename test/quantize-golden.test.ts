/**
 * Bit-identity with llama-quantize on its recorded outputs: for every `<src>.<TYPE>.manifest.json`,
 * quantizing `<src>.gguf` to TYPE gives the same tensors (names, order, types, data sha256) and the
 * same scalar metadata. Runs on the cases copied into test/fixtures/golden always, and on all of
 * ../shared/golden when that folder exists.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readGgufHeader, streamTensorData, toPlain } from "../src/gguf/index.js";
import { quantizeFile } from "../src/quant/index.js";
import { REPO_ROOT, SHARED, temporaryDirectory } from "./helpers.js";

interface Manifest {
  tensors: Array<{ name: string; type: string; shape: number[]; bytes: number; sha256: string }>;
  metadata: Record<string, unknown>;
}

const directory = temporaryDirectory("golden");
after(() => directory.remove());

function cases(folder: string): Array<{ source: string; type: string; manifest: string }> {
  return readdirSync(folder)
    .filter((name) => /^src-.+\.[A-Z0-9_]+\.manifest\.json$/.test(name))
    .map((name) => {
      const [, stem, type] = /^(src-.+)\.([A-Z0-9_]+)\.manifest\.json$/.exec(name)!;
      return { source: join(folder, `${stem}.gguf`), type: type!, manifest: join(folder, name) };
    })
    .filter(({ source }) => existsSync(source));
}

async function assertMatchesManifest(source: string, type: string, manifestPath: string): Promise<void> {
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
  const output = join(directory.path, `${type}.gguf`);
  await quantizeFile(source, output, { preset: type, threads: 2 });
  const header = readGgufHeader(output);
  assert.deepEqual(
    header.tensors.map((tensor) => tensor.name),
    manifest.tensors.map((tensor) => tensor.name),
    "same tensors in the same order",
  );
  for (const [index, expected] of manifest.tensors.entries()) {
    const tensor = header.tensors[index]!;
    assert.equal(tensor.type.name, expected.type, `${expected.name}: type`);
    assert.equal(tensor.byteSize, expected.bytes, `${expected.name}: bytes`);
    const hash = createHash("sha256");
    for await (const chunk of streamTensorData(output, header, tensor)) hash.update(chunk);
    assert.equal(hash.digest("hex"), expected.sha256, `${expected.name} (${expected.type}): data differs from llama-quantize's`);
  }
  for (const [key, value] of Object.entries(manifest.metadata)) {
    const mine = header.metadata.get(key);
    assert.ok(mine, `metadata ${key} present`);
    const plain = toPlain(mine);
    if (typeof value === "number" && typeof plain === "number" && !Number.isInteger(value)) assert.equal(Math.fround(value), plain, key);
    else assert.deepEqual(typeof plain === "bigint" ? Number(plain) : plain, value, key);
  }
}

const fixtureCases = cases(join(REPO_ROOT, "test/fixtures/golden"));

describe("quantization matches llama-quantize's golden outputs", () => {
  it("has the golden cases copied into the repo", () => {
    assert.ok(fixtureCases.length >= 35, `${fixtureCases.length} fixture cases (stories260K and qwen3, every type)`);
  });
  for (const { source, type, manifest } of fixtureCases) {
    it(`${source.split("/").at(-1)} → ${type} (fixture in the repo)`, () => assertMatchesManifest(source, type, manifest));
  }
  const shared = join(SHARED, "golden");
  const sharedCases = existsSync(shared) ? cases(shared) : [];
  for (const { source, type, manifest } of sharedCases) {
    it(`${source.split("/").at(-1)} → ${type} (../shared)`, () => assertMatchesManifest(source, type, manifest));
  }
  it("covers ../shared/golden when it exists", { skip: existsSync(shared) ? false : `no ${shared} on this machine` }, () => {
    assert.ok(sharedCases.length >= 70, `${sharedCases.length} shared cases`);
  });
});
