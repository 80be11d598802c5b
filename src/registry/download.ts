/**
 * Resumable, verified HTTP downloads. Bytes go to a partial file; a dropped connection or a killed
 * process resumes with a Range request from where the partial file ends (If-Range guards against the
 * file having changed at the source); 429 and 5xx answers are retried with backoff, honouring
 * Retry-After. The finished file is hashed and must match the expected SHA-256 before anyone uses it.
 */
import { createWriteStream, existsSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { writeFileAtomic } from "./atomic-file.js";
import { RegistryError } from "./errors.js";
import { sha256OfFile } from "./hashing.js";

export interface DownloadProgress {
  readonly bytes: number;
  /** Undefined when the server does not say. */
  readonly total: number | undefined;
  /** Bytes that were already there from an earlier attempt. */
  readonly resumedFrom: number;
}

export interface DownloadOptions {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Where the bytes go until verified; `<partialPath>.json` remembers what they are of. */
  readonly partialPath: string;
  readonly expectedSha256?: string;
  readonly expectedSize?: number;
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Told before each retry, with why and how long it waits. */
  readonly onRetry?: (reason: string, waitMs: number) => void;
  /** Attempts after the first (default 6). */
  readonly retries?: number;
  readonly signal?: AbortSignal;
}

interface PartialInfo {
  readonly url: string;
  readonly etag?: string;
  readonly total?: number;
}

const MAX_BACKOFF_MS = 30_000;

/** Downloads `url` into the partial file; resolves with its SHA-256 once complete and verified. */
export async function download(options: DownloadOptions): Promise<{ sha256: string; size: number }> {
  const infoPath = `${options.partialPath}.json`;
  // Bytes left by an attempt at another URL (or with no record of what they are) are not resumed.
  let info = readInfo(infoPath, options.url);
  if (info === undefined) {
    rmSync(options.partialPath, { force: true });
    info = { url: options.url };
  }
  const retries = options.retries ?? 6;
  let failures = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const have = existsSync(options.partialPath) ? statSync(options.partialPath).size : 0;
    if (info.total !== undefined && have === info.total) break;
    // Identity encoding: Range offsets and lengths must count the file's own bytes, not compressed ones.
    const headers: Record<string, string> = { "Accept-Encoding": "identity", ...options.headers };
    if (have > 0) {
      headers.Range = `bytes=${have}-`;
      if (info.etag) headers["If-Range"] = info.etag;
    }
    let response: Response;
    try {
      response = await fetch(options.url, { headers, redirect: "follow", signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      failures = await retryOrThrow(failures, retries, `could not connect: ${(error as Error).message}`, undefined, options);
      continue;
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new RegistryError("UNAUTHORIZED", `${response.status} from ${hostOf(options.url)}: this repository needs a token; set HF_TOKEN to a Hugging Face token that has accepted its licence`);
    }
    if (response.status === 404) {
      await response.body?.cancel();
      throw new RegistryError("NOT_FOUND", `404 from ${hostOf(options.url)}: no such file (${options.url})`);
    }
    if (response.status === 416 && have > 0) {
      // Asked past the end: what we have is either all of it or from another version; verify decides.
      await response.body?.cancel();
      const total = Number(/\/(\d+)$/.exec(response.headers.get("content-range") ?? "")?.[1]);
      if (total === have) break;
      truncateSync(options.partialPath, 0);
      continue;
    }
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel();
      failures = await retryOrThrow(failures, retries, `${response.status} from ${hostOf(options.url)}`, response.headers.get("retry-after"), options);
      continue;
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      throw new RegistryError("HTTP", `${response.status} ${response.statusText} from ${options.url}`);
    }
    let start: number = have;
    if (response.status === 200 && have > 0) start = 0; // the server sent the whole file: start over
    if (response.status === 206 && !(response.headers.get("content-range") ?? "").startsWith(`bytes ${have}-`)) {
      await response.body?.cancel();
      throw new RegistryError("HTTP", `the server answered a range other than the one asked (${response.headers.get("content-range")})`);
    }
    // The whole size: from Content-Range on a 206 (a server may send less than the rest), else Content-Length.
    const length = Number(response.headers.get("content-length"));
    const rangeTotal = Number(/\/(\d+)$/.exec(response.headers.get("content-range") ?? "")?.[1]);
    const total: number | undefined =
      response.status === 206 && Number.isFinite(rangeTotal) ? rangeTotal : Number.isFinite(length) && response.headers.has("content-length") ? start + length : undefined;
    info = { url: options.url, etag: response.headers.get("etag") ?? undefined, total };
    writeFileAtomic(infoPath, JSON.stringify(info));
    if (start === 0 && have > 0) truncateSync(options.partialPath, 0);
    try {
      await saveBody(response, options.partialPath, start, total, options);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      if (statSync(options.partialPath).size > have) failures = 0;
      failures = await retryOrThrow(failures, retries, `the connection dropped: ${(error as Error).message}`, undefined, options);
      continue;
    }
    const now = statSync(options.partialPath).size;
    if (total === undefined || now >= total) break;
    if (now > have) failures = 0; // progress was made: a flaky link may drop many times over a long download
    failures = await retryOrThrow(failures, retries, `the body ended at ${now} of ${total} bytes`, undefined, options);
  }
  const size = statSync(options.partialPath).size;
  const sha256 = await sha256OfFile(options.partialPath);
  const wrongSize = options.expectedSize !== undefined && size !== options.expectedSize;
  if ((options.expectedSha256 && sha256 !== options.expectedSha256) || wrongSize) {
    rmSync(options.partialPath, { force: true });
    rmSync(infoPath, { force: true });
    throw new RegistryError(
      "VERIFY_FAILED",
      `the file from ${hostOf(options.url)} does not match: sha256 ${sha256} (${size} bytes), expected ${options.expectedSha256 ?? "any"}${options.expectedSize !== undefined ? ` (${options.expectedSize} bytes)` : ""}; it was discarded`,
    );
  }
  rmSync(infoPath, { force: true });
  return { sha256, size };
}

async function saveBody(response: Response, path: string, start: number, total: number | undefined, options: DownloadOptions): Promise<void> {
  let bytes = start;
  let reported = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      // At most every 256 KiB: progress is for eyes and logs.
      if (bytes - reported >= 1 << 18 || bytes === total) {
        reported = bytes;
        options.onProgress?.({ bytes, total, resumedFrom: start });
      }
      done(null, chunk);
    },
  });
  const body = Readable.fromWeb(response.body! as import("node:stream/web").ReadableStream<Uint8Array>);
  await pipeline(body, counter, createWriteStream(path, { flags: start === 0 ? "w" : "a" }));
}

async function retryOrThrow(failures: number, retries: number, reason: string, retryAfter: string | null | undefined, options: DownloadOptions): Promise<number> {
  if (failures >= retries) throw new RegistryError("HTTP", `${reason}; gave up after ${retries + 1} attempts (run the same pull again to resume)`);
  const waitMs = retryAfterMs(retryAfter) ?? Math.min(MAX_BACKOFF_MS, 500 * 2 ** failures);
  options.onRetry?.(reason, waitMs);
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  return failures + 1;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Math.min(MAX_BACKOFF_MS, Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.min(MAX_BACKOFF_MS, Math.max(0, at - Date.now()));
}

function readInfo(path: string, url: string): PartialInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, "utf8")) as PartialInfo;
    return info.url === url ? info : undefined;
  } catch {
    return undefined;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
