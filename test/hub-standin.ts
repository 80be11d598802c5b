/**
 * A stand-in for the parts of the Hugging Face Hub that the model puller talks to: a real HTTP server on
 * 127.0.0.1, so pulls are tested over real sockets (redirects, ranges, dropped connections), not mocks.
 * Point `SLMKIT_HF_ENDPOINT` at `url`.
 *
 * It models the Hub's two hops for an LFS file (every file here is one, as GGUF weights always are):
 * `/{owner}/{repo}/resolve/{revision}/{path}` answers 302 to a content-addressed CDN URL and names the blob
 * in `X-Linked-Etag` / `X-Linked-Size`; the CDN URL serves the bytes with ranges and checks no token, like
 * the Hub's signed CDN links. Faults are injected on the CDN hop, which is where real downloads fail.
 */
import { createHash } from "node:crypto";
import { type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface HubFile {
  /** "owner/name". */
  readonly repo: string;
  /** The file's path inside the repo, e.g. "model-Q4_0.gguf" or "sub/dir/x.gguf". */
  readonly path: string;
  readonly content: Buffer;
}

export interface HubRepoOptions {
  /** Every request for a gated repo (resolve and model info, not the CDN) needs `Authorization: Bearer <token>`. */
  readonly gated?: boolean;
}

export interface HubFaults {
  /** The next N requests for the file's content (the CDN URL) answer 429 with Retry-After: 1. */
  tooManyRequests?: number;
  /** The next N requests for the file's content answer 500. */
  serverErrors?: number;
  /** The next GET of the file's content sends this many body bytes, then destroys the socket (a dropped connection). */
  dropAfterBytes?: number;
  /** Serve content whose bytes differ from the advertised sha256 (flip one byte in the middle), until cleared. */
  wrongContent?: boolean;
  /** Delay in ms before each content response starts (to let tests start concurrent pulls). */
  delayMs?: number;
  /** Every GET of the content sends this many body bytes, then stalls (the socket stays open) until cleared: a process to kill mid-pull. */
  stallAfterBytes?: number;
}

export interface HubRequest {
  readonly method: string;
  /** The path with its query string, as the client sent it. */
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
  /** The status answered; a dropped response still shows the 200 or 206 it started with. */
  readonly status: number;
}

/** One stored content blob. Faults live here, not on the path: the CDN is content-addressed, so files with identical bytes share a blob. */
interface Blob {
  readonly content: Buffer;
  readonly faults: HubFaults;
}

interface StoredFile {
  readonly path: string;
  readonly sha256: string;
  /** What the Hub sends as `ETag` on resolve: the git object id of the LFS pointer file. */
  readonly gitObjectId: string;
  readonly blob: Blob;
}

interface StoredRepo {
  gated: boolean;
  /** A fake 40-hex commit id that changes whenever the repo's files change, as a real commit would. */
  commit: string;
  readonly files: Map<string, StoredFile>;
}

/** One in-flight request, with what the log needs. */
interface Exchange {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly isHead: boolean;
}

interface Route {
  readonly pattern: RegExp;
  readonly handle: (exchange: Exchange, parts: (string | undefined)[]) => void | Promise<void>;
}

export class HubStandIn {
  readonly requests: HubRequest[] = [];
  private readonly server: Server;
  private readonly repos = new Map<string, StoredRepo>();
  private readonly blobs = new Map<string, Blob>();
  private port = 0;

  /** Path patterns with their handlers; the captured groups arrive URL-decoded. Only GET and HEAD are routed. */
  private readonly routes: readonly Route[] = [
    { pattern: /^\/api\/models\/([^/]+)\/([^/]+)(?:\/revision\/([^/]+))?$/, handle: (exchange, [owner, name, revision]) => this.modelInfo(exchange, `${owner}/${name}`, revision ?? "main") },
    { pattern: /^\/cdn\/([0-9a-f]{64})$/, handle: (exchange, [sha256]) => this.serveBlob(exchange, sha256 ?? "") },
    { pattern: /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/, handle: (exchange, [owner, name, revision, path]) => this.resolve(exchange, `${owner}/${name}`, revision ?? "", path ?? "") },
  ];

  private constructor(private readonly token: string | undefined) {
    this.server = createServer((request, response) => this.handle(request, response));
  }

  /** Listens on 127.0.0.1 on a free port. Without a token, gated repos refuse every request. */
  static async start(options: { token?: string } = {}): Promise<HubStandIn> {
    const hub = new HubStandIn(options.token);
    await new Promise<void>((resolve, reject) => {
      hub.server.once("error", reject);
      hub.server.listen(0, "127.0.0.1", resolve);
    });
    hub.port = (hub.server.address() as AddressInfo).port;
    return hub;
  }

  /** e.g. "http://127.0.0.1:43123", without a trailing slash. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Creates the repo, or changes the options of an existing one (keeping its files). */
  addRepo(repo: string, options: HubRepoOptions = {}): void {
    const existing = this.repos.get(repo);
    if (existing) existing.gated = options.gated ?? false;
    else this.createRepo(repo, options.gated ?? false);
  }

  /** Adds or replaces a file, creating its repo (not gated) if needed. */
  addFile(file: HubFile): { sha256: string; size: number } {
    const repo = this.repos.get(file.repo) ?? this.createRepo(file.repo, false);
    const sha256 = createHash("sha256").update(file.content).digest("hex");
    const blob = this.blobs.get(sha256) ?? { content: Buffer.from(file.content), faults: {} };
    this.blobs.set(sha256, blob);
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${file.content.length}\n`;
    repo.files.set(file.path, { path: file.path, sha256, gitObjectId: sha1(`blob ${pointer.length}\0${pointer}`), blob });
    repo.commit = sha1([file.repo, ...[...repo.files.values()].map((stored) => `${stored.path}:${stored.sha256}`).sort()].join("\n"));
    return { sha256, size: file.content.length };
  }

  /** Merges into the file's current faults; pass `{ wrongContent: false }` and the like to clear one. */
  fault(repo: string, path: string, faults: HubFaults): void {
    const file = this.repos.get(repo)?.files.get(path);
    if (!file) throw new Error(`HubStandIn has no file "${path}" in "${repo}"; add it with addFile before injecting faults`);
    Object.assign(file.blob.faults, faults);
  }

  clearLog(): void {
    this.requests.length = 0;
  }

  /** Stops listening and cuts every open connection, including keep-alive ones, so tests can end. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
    this.server.closeAllConnections();
    await closed;
  }

  private createRepo(repoId: string, gated: boolean): StoredRepo {
    const repo: StoredRepo = { gated, commit: sha1(repoId), files: new Map() };
    this.repos.set(repoId, repo);
    return repo;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    // A client that hangs up mid-response makes these emit errors; the stand-in just carries on.
    request.on("error", () => {});
    response.on("error", () => {});
    const exchange: Exchange = { request, response, isHead: request.method === "HEAD" };
    const answered = this.route(exchange);
    void Promise.resolve(answered).catch((error: unknown) => {
      if (!response.headersSent) this.answerError(exchange, 500, "InternalError", String(error));
      else response.destroy();
    });
  }

  private route(exchange: Exchange): void | Promise<void> {
    const pathname = (exchange.request.url ?? "/").split("?")[0] ?? "/";
    if (exchange.request.method === "GET" || exchange.request.method === "HEAD") {
      for (const route of this.routes) {
        const match = route.pattern.exec(pathname);
        if (!match) continue;
        let parts: (string | undefined)[];
        try {
          parts = match.slice(1).map((part) => (part === undefined ? undefined : decodeURIComponent(part)));
        } catch {
          return this.answerError(exchange, 400, "BadRequest", `Malformed percent-encoding in ${pathname}`);
        }
        return route.handle(exchange, parts);
      }
    }
    this.answerError(exchange, 404, undefined, `Cannot ${exchange.request.method} ${pathname}`);
  }

  private resolve(exchange: Exchange, repoId: string, revision: string, path: string): void {
    const repo = this.openRepo(exchange, repoId, revision);
    if (!repo) return;
    const file = repo.files.get(path);
    if (!file) return this.answerError(exchange, 404, "EntryNotFound", `${path} does not exist on "${revision}"`);
    this.answer(exchange, 302, {
      Location: `/cdn/${file.sha256}`,
      "X-Linked-Etag": `"${file.sha256}"`,
      "X-Linked-Size": String(file.blob.content.length),
      ETag: `"${file.gitObjectId}"`,
      "X-Repo-Commit": repo.commit,
      "Content-Length": 0,
    });
    exchange.response.end();
  }

  private modelInfo(exchange: Exchange, repoId: string, revision: string): void {
    const repo = this.openRepo(exchange, repoId, revision);
    if (!repo) return;
    const siblings = [...repo.files.values()].map((file) => {
      const size = file.blob.content.length;
      return { rfilename: file.path, size, lfs: { sha256: file.sha256, size } };
    });
    this.answerJson(exchange, 200, { id: repoId, sha: repo.commit, private: false, gated: repo.gated ? "auto" : false, siblings });
  }

  private async serveBlob(exchange: Exchange, sha256: string): Promise<void> {
    const blob = this.blobs.get(sha256);
    if (!blob) return this.answerError(exchange, 404, undefined, `No blob ${sha256}`);
    const faults = blob.faults;
    if (faults.delayMs) await sleep(faults.delayMs);
    if (faults.tooManyRequests) {
      faults.tooManyRequests -= 1;
      return this.answerError(exchange, 429, undefined, "Too Many Requests (injected)", { "Retry-After": "1" });
    }
    if (faults.serverErrors) {
      faults.serverErrors -= 1;
      return this.answerError(exchange, 500, undefined, "Internal Server Error (injected)");
    }
    const content = faults.wrongContent ? withMiddleByteFlipped(blob.content) : blob.content;
    const total = content.length;
    const range = parseRange(exchange.request.headers.range, total);
    if (range === "unsatisfiable") {
      this.answer(exchange, 416, { "Content-Range": `bytes */${total}`, "Content-Length": 0 });
      exchange.response.end();
      return;
    }
    const { start, end } = range ?? { start: 0, end: total - 1 };
    const body = content.subarray(start, end + 1);
    this.answer(exchange, range ? 206 : 200, {
      "Accept-Ranges": "bytes",
      ETag: `"${sha256}"`,
      "Content-Type": "application/octet-stream",
      "Content-Length": body.length,
      ...(range ? { "Content-Range": `bytes ${start}-${end}/${total}` } : {}),
    });
    if (!exchange.isHead && faults.stallAfterBytes !== undefined) {
      exchange.response.flushHeaders();
      exchange.response.write(body.subarray(0, faults.stallAfterBytes));
      return;
    }
    const dropAfterBytes = faults.dropAfterBytes;
    if (exchange.isHead || dropAfterBytes === undefined) {
      exchange.response.end(exchange.isHead ? undefined : body);
      return;
    }
    delete faults.dropAfterBytes;
    // The headers promise the whole body; cutting the socket once part of it is flushed is what a dropped connection looks like.
    exchange.response.flushHeaders();
    exchange.response.write(body.subarray(0, dropAfterBytes), () => exchange.response.destroy());
  }

  /** The repo, if it exists, the client may read it and it knows the revision; otherwise answers the error and returns undefined. */
  private openRepo(exchange: Exchange, repoId: string, revision: string): StoredRepo | undefined {
    const repo = this.repos.get(repoId);
    if (!repo) {
      this.answerError(exchange, 404, "RepoNotFound", `Repository ${repoId} not found`);
      return undefined;
    }
    const authorized = this.token !== undefined && exchange.request.headers.authorization === `Bearer ${this.token}`;
    if (repo.gated && !authorized) {
      this.answerError(exchange, 401, "GatedRepo", `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it.`);
      return undefined;
    }
    if (revision !== "main" && revision !== repo.commit) {
      this.answerError(exchange, 404, "RevisionNotFound", `Invalid rev id: ${revision}`);
      return undefined;
    }
    return repo;
  }

  private answerError(exchange: Exchange, status: number, code: string | undefined, message: string, headers: OutgoingHttpHeaders = {}): void {
    const codeHeaders = code === undefined ? {} : { "X-Error-Code": code, "X-Error-Message": message };
    this.answerJson(exchange, status, { error: message }, { ...codeHeaders, ...headers });
  }

  private answerJson(exchange: Exchange, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
    const text = JSON.stringify(body);
    this.answer(exchange, status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), ...headers });
    exchange.response.end(exchange.isHead ? undefined : text);
  }

  /** Logs the request with its status, then writes the head: logging before any byte leaves means a client never sees a response its log entry lacks. */
  private answer(exchange: Exchange, status: number, headers: OutgoingHttpHeaders): void {
    const { method = "", url = "", headers: requestHeaders } = exchange.request;
    this.requests.push({ method, path: url, range: requestHeaders.range, authorization: requestHeaders.authorization, status });
    exchange.response.writeHead(status, headers);
  }
}

/**
 * Reads a single `bytes=` range (RFC 9110 §14.1.2) as inclusive offsets. A header it cannot read (or a
 * multi-range one) is ignored and the whole body is sent, which the RFC allows.
 */
function parseRange(header: string | undefined, total: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffixLength = Number(last);
    if (suffixLength === 0 || total === 0) return "unsatisfiable";
    return { start: Math.max(0, total - suffixLength), end: total - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return undefined;
  if (start >= total) return "unsatisfiable";
  return { start, end: last === "" ? total - 1 : Math.min(Number(last), total - 1) };
}

function withMiddleByteFlipped(content: Buffer): Buffer {
  const altered = Buffer.from(content);
  const middle = Math.floor(altered.length / 2);
  if (middle < altered.length) altered[middle] = (altered[middle] ?? 0) ^ 0xff;
  return altered;
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}
