/** Reading a remote GGUF's header with Range requests (against the Hub stand-in), and `slmkit fit` on an hf: ref. */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { weightsBytes } from "../src/fit/index.js";
import { readGgufHeader } from "../src/gguf/index.js";
import { readRemoteHeader } from "../src/registry/index.js";
import { makeModel, runCli, temporaryDirectory } from "./helpers.js";
import { HubStandIn } from "./hub-standin.js";

const directory = temporaryDirectory("remote-header");
const REPO = "owner/remote-GGUF";
let hub: HubStandIn;
let local: string;

before(async () => {
  hub = await HubStandIn.start({ token: "hf_remote" });
  local = await makeModel(directory.path, "remote", { architecture: "qwen3", type: "F16", seed: 71, vocabularySize: 4000 });
  hub.addFile({ repo: REPO, path: "remote-F16.gguf", content: readFileSync(local) });
  hub.addRepo("owner/gated-remote", { gated: true });
  hub.addFile({ repo: "owner/gated-remote", path: "g.gguf", content: readFileSync(local) });
});
after(async () => {
  await hub.close();
  directory.remove();
});

const contentRequests = (): Array<{ range?: string; status: number }> => hub.requests.filter((request) => request.method === "GET" && request.path.startsWith("/cdn/"));

describe("remote GGUF headers", () => {
  it("reads the header with Range requests only, asking for more while it reaches further", async () => {
    hub.clearLog();
    const size = statSync(local).size;
    const expected = readGgufHeader(local);
    const remote = await readRemoteHeader(`hf:${REPO}/remote-F16.gguf`, { endpoint: hub.url, firstBytes: 1024 });
    assert.deepEqual(remote.header.tensors.map((tensor) => [tensor.name, tensor.offset, tensor.byteSize]), expected.tensors.map((tensor) => [tensor.name, tensor.offset, tensor.byteSize]));
    assert.equal(remote.header.dataOffset, expected.dataOffset);
    const gets = contentRequests();
    assert.ok(gets.length >= 2, "the first 1 KiB does not hold the header");
    let next = 0;
    for (const get of gets) {
      assert.equal(get.status, 206);
      const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(get.range ?? "") ?? [];
      assert.equal(Number(start), next, "each request continues where the last ended");
      next = Number(end) + 1;
    }
    assert.equal(remote.fetchedBytes, next);
    assert.ok(remote.fetchedBytes <= 2 * expected.dataOffset + 1024 && remote.fetchedBytes < size / 4, `${remote.fetchedBytes} bytes fetched for a ${expected.dataOffset}-byte header of a ${size}-byte file`);
  });

  it("asks for the token of a gated repository", async () => {
    await assert.rejects(readRemoteHeader("hf:owner/gated-remote/g.gguf", { endpoint: hub.url }), /HF_TOKEN/);
    const remote = await readRemoteHeader("hf:owner/gated-remote/g.gguf", { endpoint: hub.url, token: "hf_remote" });
    assert.equal(remote.header.tensors.length, readGgufHeader(local).tensors.length);
  });

  it("slmkit fit plans a remote model's weights to the byte, without downloading it", async () => {
    hub.clearLog();
    const result = await runCli(["fit", `hf:${REPO}/remote-F16.gguf`, "--type", "Q4_0", "--json", "--no-speed"], { env: { SLMKIT_HF_ENDPOINT: hub.url } });
    assert.equal(result.code, 0, result.stderr);
    const fit = JSON.parse(result.stdout) as { memory: { weightsBytes: number }; exact: { weights: boolean } };
    assert.equal(fit.memory.weightsBytes, weightsBytes(readGgufHeader(local), "Q4_0"));
    assert.equal(fit.exact.weights, true);
    assert.ok(contentRequests().every((get) => get.range !== undefined), "every content request was a range");
  });
});
