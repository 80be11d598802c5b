/**
 * Access control against a live server and the real engine: every registered route × every role (and
 * no key, a malformed, unknown, expired and revoked key) against the permission table; model-scoped
 * keys; rate limits; the audit trail of what was called; CORS; TLS with a certificate made here.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { AuditLog, KeyStore, type Permission, type Role, type RunningServer, ROLE_PERMISSIONS, ROLES, describeModelFile, readAudit, roleAllows, startServer, verifyAudit } from "../src/server/index.js";
import { makeModel, runCli, temporaryDirectory } from "./helpers.js";

const directory = temporaryDirectory("access");
const keysFile = join(directory.path, "keys.json");
const auditDirectory = join(directory.path, "audit");
let server: RunningServer;
let modelPath = "";
const MODEL = "tiny-llama";
const keys: Record<string, string> = {};

before(async () => {
  modelPath = await makeModel(directory.path, MODEL, { architecture: "llama", seed: 3 });
  const store = new KeyStore(keysFile);
  for (const role of ROLES) keys[role] = store.create({ name: `${role}-key`, role }).key;
  keys.scoped = store.create({ name: "scoped-user", role: "user", models: ["some-other-model"] }).key;
  keys.limited = store.create({ name: "limited", role: "viewer", limits: { requestsPerMinute: 3 } }).key;
  keys.expired = store.create({ name: "expired", role: "admin", expiresInMs: 1000 }, new Date(Date.now() - 60_000)).key;
  keys.revoked = store.create({ name: "revoked", role: "admin" }).key;
  store.revoke("revoked");
  server = await startServer({
    port: 0,
    models: [describeModelFile(modelPath)],
    load: { contextSize: 512 },
    keys: new KeyStore(keysFile),
    audit: new AuditLog(auditDirectory),
    corsOrigins: ["https://app.example.com"],
  });
});

after(async () => {
  await server?.close();
  directory.remove();
});

async function call(method: string, path: string, key?: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { ...(key === undefined ? {} : { Authorization: `Bearer ${key}` }), ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe("every route × every caller", () => {
  it("answers each route as the permission table says: 401 without a usable key, 403 for a role without the permission", async () => {
    assert.ok(server.routes.length >= 20, `${server.routes.length} routes`);
    const checked: string[] = [];
    for (const route of server.routes) {
      const path = route.path.replace(":id", MODEL);
      // An empty JSON object: enough to get past access control to the handler's own 400 or 404.
      const body = route.method === "POST" || route.method === "DELETE" ? {} : undefined;
      const permissions: readonly Permission[] = typeof route.permission === "string" ? [route.permission] : route.permission;
      const isPublic = permissions.includes("public");
      for (const caller of ["none", "malformed", "unknown", "expired", "revoked", ...ROLES]) {
        const key =
          caller === "none" ? undefined : caller === "malformed" ? "not-a-key" : caller === "unknown" ? "slmkit-0123456789ab-" + "A".repeat(43) : keys[caller];
        const response = await call(route.method, path, key, body);
        await response.arrayBuffer();
        const role = (ROLES as readonly string[]).includes(caller) ? (caller as Role) : undefined;
        const allowed = isPublic || (role !== undefined && permissions.some((permission) => roleAllows(role, permission)));
        const label = `${route.method} ${route.path} as ${caller}`;
        if (allowed) assert.ok(response.status !== 401 && response.status !== 403, `${label}: ${response.status}`);
        else assert.equal(response.status, role === undefined ? 401 : 403, label);
        checked.push(label);
      }
    }
    assert.equal(checked.length, server.routes.length * (5 + ROLES.length));
  });

  it("holds the permission table the README documents (so a changed table fails here, not only the matrix)", () => {
    const documented: Record<Role, readonly Permission[]> = {
      admin: ["public", "inference", "embeddings", "models.read", "models.load", "models.manage", "metrics"],
      operator: ["public", "models.read", "models.load", "models.manage", "metrics"],
      user: ["public", "inference", "embeddings", "models.read", "models.load"],
      viewer: ["public", "models.read"],
    };
    for (const role of ROLES) assert.deepEqual([...ROLE_PERMISSIONS[role]].sort(), [...documented[role]].sort(), role);
    const byRoute = Object.fromEntries(server.routes.map((route) => [`${route.method} ${route.path}`, route.permission]));
    assert.deepEqual(byRoute["POST /v1/chat/completions"], "inference");
    assert.deepEqual(byRoute["POST /api/generate"], ["inference", "models.load"]);
    assert.deepEqual(byRoute["DELETE /api/delete"], "models.manage");
    assert.deepEqual(byRoute["GET /metrics"], "metrics");
    assert.deepEqual(byRoute["GET /health"], "public");
  });

  it("answers 401 and 403 in each API's error shape", async () => {
    const openAi = (await (await call("GET", "/v1/models")).json()) as { error: { code: string; message: string } };
    assert.equal(openAi.error.code, "invalid_api_key");
    assert.match(openAi.error.message, /Authorization: Bearer/);
    const ollama = (await (await call("POST", "/api/pull", keys.viewer, { model: "x" })).json()) as { error: string };
    assert.equal(typeof ollama.error, "string");
    assert.match(ollama.error, /role 'viewer'/);
    const viaHeader = await call("GET", "/v1/models", undefined, undefined, { "x-api-key": keys.viewer! });
    assert.equal(viaHeader.status, 200);
    const ollamaClient = new Ollama({ host: server.url, headers: { Authorization: `Bearer ${keys.viewer!}` } });
    assert.equal((await ollamaClient.list()).models[0]!.name, `${MODEL}:latest`);
    await assert.rejects(new Ollama({ host: server.url }).list(), /requires an API key/);
  });

  it("/health stays public, and a route table row without a permission cannot be registered", async () => {
    assert.equal((await call("GET", "/health")).status, 200);
    const { Router } = await import("../src/server/http.js");
    assert.throws(() => new Router([{ method: "GET", path: "/open", handle: async () => undefined } as never]), /declares no known permission/);
  });
});

describe("model-scoped keys and body-dependent permissions", () => {
  it("a user key limited to other models gets 403 for this one; an unlimited user key generates", async () => {
    const scoped = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: keys.scoped!, maxRetries: 0 });
    await assert.rejects(scoped.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 2 }), (error: { status?: number }) => error.status === 403);
    const user = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: keys.user!, maxRetries: 0 });
    const reply = await user.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
    assert.ok(reply.usage!.completion_tokens > 0);
  });

  it("an operator may load and unload a model through /api/generate but not generate with it", async () => {
    const load = await call("POST", "/api/generate", keys.operator, { model: MODEL });
    assert.equal(load.status, 200, await load.text());
    const generate = await call("POST", "/api/generate", keys.operator, { model: MODEL, prompt: "Once", stream: false, options: { num_predict: 2 } });
    assert.equal(generate.status, 403);
    const unload = await call("POST", "/api/generate", keys.operator, { model: MODEL, keep_alive: 0 });
    assert.equal(unload.status, 200, await unload.text());
  });
});

describe("rate limits", () => {
  it("answers 429 with Retry-After at the limit, not before", async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await call("GET", "/v1/models", keys.limited);
      await response.arrayBuffer();
      statuses.push(response.status);
      if (response.status === 429) retryAfter ??= response.headers.get("retry-after");
    }
    // The key (3 requests per minute) is used nowhere else: exactly the fourth request is refused.
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After ${retryAfter}`);
  });
});

describe("the audit trail", () => {
  it("has one chained line per request with the key, route, status and tokens, and no prompt text", async () => {
    const user = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: keys.user!, maxRetries: 0 });
    const secret = "the secret prompt text 4711";
    await user.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: secret }], max_tokens: 3 });
    const lines = readAudit(auditDirectory, { route: "/v1/chat/completions" });
    const last = lines.at(-1)!;
    assert.equal(last.keyName, "user-key");
    assert.equal(last.role, "user");
    assert.equal(last.status, 200);
    assert.equal(last.model, MODEL);
    assert.ok((last.tokensIn ?? 0) > 0 && (last.tokensOut ?? 0) > 0);
    const denied = readAudit(auditDirectory, { status: 401 });
    assert.ok(denied.length > 0 && denied.every((line) => line.keyId === null));
    const files = readFileSync(join(auditDirectory, "audit-000001.jsonl"), "utf8");
    assert.ok(!files.includes(secret), "prompt text stays out of the audit trail");
    const verification = verifyAudit(auditDirectory);
    assert.ok(verification.ok, JSON.stringify(verification));
  });
});

describe("the audit trail with content", () => {
  it("records the request body and the generated text only when asked to", async () => {
    const contentDirectory = join(directory.path, "audit-content");
    const recording = await startServer({ port: 0, models: [describeModelFile(modelPath)], load: { contextSize: 512 }, audit: new AuditLog(contentDirectory), auditContent: true });
    try {
      const client = new OpenAI({ baseURL: `${recording.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const reply = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "remember 4711" }], max_tokens: 4 });
      const line = readAudit(contentDirectory, { route: "/v1/chat/completions" }).at(-1)!;
      assert.deepEqual((line.content?.request as { messages: unknown[] }).messages, [{ role: "user", content: "remember 4711" }]);
      assert.equal(line.content?.output, reply.choices[0]!.message.content);
      assert.ok(verifyAudit(contentDirectory).ok);
    } finally {
      await recording.close();
    }
  });
});

describe("the CLI: keys and audit", () => {
  it("keys create prints the key once and stores only its hash; audit verify names a tampered line", async () => {
    const home = temporaryDirectory("access-cli");
    try {
      const env = { SLMKIT_HOME: home.path };
      const created = await runCli(["keys", "create", "--role", "user", "--name", "ci", "--models", MODEL, "--expires", "30d", "--json"], { env });
      assert.equal(created.code, 0, created.stderr);
      const made = JSON.parse(created.stdout) as { key: string; id: string; role: string; models: string[] };
      assert.match(made.key, /^slmkit-[0-9a-f]{12}-/);
      assert.deepEqual([made.role, made.models], ["user", [MODEL]]);
      const stored = readFileSync(join(home.path, "keys.json"), "utf8");
      // The secret is everything after "slmkit-<12 hex>-" (base64url, which may itself contain "-").
      const secret = made.key.slice("slmkit-".length + 13);
      assert.equal(secret.length, 43);
      assert.ok(!stored.includes(made.key) && !stored.includes(secret), "the key file holds no key in clear");
      const listed = await runCli(["keys", "list", "--json"], { env });
      assert.equal((JSON.parse(listed.stdout) as Array<{ id: string }>)[0]!.id, made.id);

      const verified = await runCli(["audit", "verify", "--dir", auditDirectory]);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /^ok: \d+ lines in 1 file$/m);
      const copy = join(home.path, "audit");
      const { cpSync, writeFileSync } = await import("node:fs");
      cpSync(auditDirectory, copy, { recursive: true });
      const file = join(copy, "audit-000001.jsonl");
      const lines = readFileSync(file, "utf8").split("\n");
      const edited = lines[2]!.replace(/"status":(\d+)/, (_, status: string) => `"status":${status === "200" ? 201 : 200}`);
      assert.notEqual(edited, lines[2]);
      lines[2] = edited;
      writeFileSync(file, lines.join("\n"));
      const tampered = await runCli(["audit", "verify", "--dir", copy]);
      assert.equal(tampered.code, 1);
      assert.match(tampered.stderr, /audit-000001\.jsonl line 3\b/);
    } finally {
      home.remove();
    }
  });
});

describe("CORS", () => {
  it("allows only the listed origin, and answers its preflight", async () => {
    const preflight = await call("OPTIONS", "/v1/chat/completions", undefined, undefined, { Origin: "https://app.example.com", "Access-Control-Request-Method": "POST" });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);
    const other = await call("OPTIONS", "/v1/chat/completions", undefined, undefined, { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" });
    assert.equal(other.status, 403);
    const plain = await call("GET", "/health", undefined, undefined, { Origin: "https://evil.example" });
    assert.equal(plain.headers.get("access-control-allow-origin"), null);
  });
});

describe("TLS", () => {
  it("serves HTTPS with a certificate made for the test", async (context) => {
    const certificate = join(directory.path, "cert.pem");
    const privateKey = join(directory.path, "key.pem");
    const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", privateKey, "-out", certificate, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { encoding: "utf8" });
    if (made.error !== undefined || made.status !== 0 || !existsSync(certificate)) {
      context.skip(`openssl could not make a certificate here (${made.error?.message ?? made.stderr})`);
      return;
    }
    const secure = await startServer({ port: 0, models: [describeModelFile(modelPath)], load: { contextSize: 512 }, tls: { cert: readFileSync(certificate), key: readFileSync(privateKey) } });
    try {
      assert.match(secure.url, /^https:\/\//);
      const body = await new Promise<string>((resolve, reject) => {
        const request = httpsRequest(`${secure.url}/v1/models`, { ca: readFileSync(certificate) }, (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString()));
          response.on("end", () => resolve(text));
        });
        request.on("error", reject);
        request.end();
      });
      assert.equal((JSON.parse(body) as { data: Array<{ id: string }> }).data[0]!.id, MODEL);
      const plain = await fetch(secure.url.replace("https:", "http:") + "/health").then(
        () => "answered",
        () => "refused",
      );
      assert.equal(plain, "refused", "plain HTTP is not spoken on the TLS port");
    } finally {
      await secure.close();
    }
  });
});

describe("binding", () => {
  it("refuses a non-loopback address without keys, and says how to go on", async () => {
    const home = temporaryDirectory("access-home");
    try {
      const result = await runCli(["serve", modelPath, "--host", "0.0.0.0", "--port", "0"], { env: { SLMKIT_HOME: home.path } });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /refusing to listen on 0\.0\.0\.0 without API keys/);
      assert.match(result.stderr, /slmkit keys create/);
      assert.match(result.stderr, /--insecure/);
    } finally {
      home.remove();
    }
  });
});
