/** The Hub stand-in over real sockets: it must behave like the Hub where the puller depends on it, faults included. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { HubStandIn } from "./hub-standin.js";

const TOKEN = "hf_test_token";
const content = Buffer.from(Array.from({ length: 1000 }, (_, index) => index % 251));
let hub: HubStandIn;
let sha256: string;

before(async () => {
  hub = await HubStandIn.start({ token: TOKEN });
  ({ sha256 } = hub.addFile({ repo: "owner/tiny", path: "sub/tiny-Q4_0.gguf", content }));
  hub.addRepo("owner/gated", { gated: true });
  hub.addFile({ repo: "owner/gated", path: "gated.gguf", content: Buffer.from("gated bytes") });
});

after(() => hub.close());

const resolveUrl = (repo: string, path: string): string => `${hub.url}/${repo}/resolve/main/${path}`;
const cdnUrl = (): string => `${hub.url}/cdn/${sha256}`;

describe("HubStandIn", () => {
  it("resolves a file to its CDN URL and names the blob in X-Linked-Etag", async () => {
    const redirect = await fetch(resolveUrl("owner/tiny", "sub/tiny-Q4_0.gguf"), { redirect: "manual" });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get("location"), `/cdn/${sha256}`);
    assert.equal(redirect.headers.get("x-linked-etag"), `"${sha256}"`);
    assert.equal(redirect.headers.get("x-linked-size"), "1000");
    assert.match(redirect.headers.get("x-repo-commit") ?? "", /^[0-9a-f]{40}$/);
    const followed = await fetch(resolveUrl("owner/tiny", "sub/tiny-Q4_0.gguf"));
    assert.equal(followed.status, 200);
    assert.deepEqual(Buffer.from(await followed.arrayBuffer()), content);
    const missing = await fetch(resolveUrl("owner/tiny", "nope.gguf"), { redirect: "manual" });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-error-code"), "EntryNotFound");
  });

  it("answers ranges with 206 and the right slice, and 416 past the end", async () => {
    const slice = await fetch(cdnUrl(), { headers: { Range: "bytes=100-199" } });
    assert.equal(slice.status, 206);
    assert.equal(slice.headers.get("content-range"), "bytes 100-199/1000");
    assert.deepEqual(Buffer.from(await slice.arrayBuffer()), content.subarray(100, 200));
    const tail = await fetch(cdnUrl(), { headers: { Range: "bytes=990-" } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), content.subarray(990));
    const beyond = await fetch(cdnUrl(), { headers: { Range: "bytes=1000-" } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get("content-range"), "bytes */1000");
  });

  it("counts down 429 (with Retry-After) and 500 faults, then serves", async () => {
    hub.fault("owner/tiny", "sub/tiny-Q4_0.gguf", { tooManyRequests: 2, serverErrors: 1 });
    const responses = [await fetch(cdnUrl()), await fetch(cdnUrl()), await fetch(cdnUrl()), await fetch(cdnUrl())];
    assert.deepEqual(responses.map((response) => response.status), [429, 429, 500, 200]);
    assert.equal(responses[0]?.headers.get("retry-after"), "1");
    await Promise.all(responses.map((response) => response.arrayBuffer()));
  });

  it("drops the connection once after dropAfterBytes, and serves altered bytes while wrongContent is set", async () => {
    hub.fault("owner/tiny", "sub/tiny-Q4_0.gguf", { dropAfterBytes: 300 });
    const dropped = await fetch(cdnUrl());
    assert.equal(dropped.status, 200);
    await assert.rejects(dropped.arrayBuffer());
    assert.deepEqual(Buffer.from(await (await fetch(cdnUrl())).arrayBuffer()), content);

    hub.fault("owner/tiny", "sub/tiny-Q4_0.gguf", { wrongContent: true });
    const altered = Buffer.from(await (await fetch(cdnUrl())).arrayBuffer());
    assert.equal(altered.length, content.length);
    assert.notEqual(createHash("sha256").update(altered).digest("hex"), sha256);
    hub.fault("owner/tiny", "sub/tiny-Q4_0.gguf", { wrongContent: false });
  });

  it("refuses a gated repo without the right token", async () => {
    const url = resolveUrl("owner/gated", "gated.gguf");
    const anonymous = await fetch(url, { redirect: "manual" });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("x-error-code"), "GatedRepo");
    assert.equal((await fetch(url, { redirect: "manual", headers: { Authorization: "Bearer wrong" } })).status, 401);
    const authorized = await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(authorized.status, 200);
    assert.equal(await authorized.text(), "gated bytes");
  });

  it("lists siblings with their LFS sha256 in /api/models", async () => {
    const info = (await (await fetch(`${hub.url}/api/models/owner/tiny?blobs=true`)).json()) as {
      id: string;
      gated: boolean | string;
      siblings: { rfilename: string; size: number; lfs: { sha256: string; size: number } }[];
    };
    assert.equal(info.id, "owner/tiny");
    assert.equal(info.gated, false);
    assert.deepEqual(info.siblings, [{ rfilename: "sub/tiny-Q4_0.gguf", size: 1000, lfs: { sha256, size: 1000 } }]);
    assert.equal((await fetch(`${hub.url}/api/models/owner/gated`)).status, 401);
    const unknown = await fetch(`${hub.url}/api/models/owner/unknown`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get("x-error-code"), "RepoNotFound");
  });

  it("logs every request with the status it answered", async () => {
    hub.clearLog();
    await (await fetch(resolveUrl("owner/tiny", "sub/tiny-Q4_0.gguf"), { headers: { Range: "bytes=0-9" } })).arrayBuffer();
    await (await fetch(`${hub.url}/nowhere`, { method: "POST" })).arrayBuffer();
    assert.deepEqual(
      hub.requests.map(({ method, path, range, status }) => ({ method, path, range, status })),
      [
        { method: "GET", path: "/owner/tiny/resolve/main/sub/tiny-Q4_0.gguf", range: "bytes=0-9", status: 302 },
        { method: "GET", path: `/cdn/${sha256}`, range: "bytes=0-9", status: 206 },
        { method: "POST", path: "/nowhere", range: undefined, status: 404 },
      ],
    );
  });
});
