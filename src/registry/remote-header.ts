/**
 * The header of a remote GGUF (metadata and tensor list) without downloading the model: HTTP Range
 * requests for the first bytes, more when the header reaches further (large vocabularies take
 * megabytes). Same refs, endpoint and token as `pull`.
 */
import { type GgufHeader, parseGgufHeader, PrefixByteSource, PrefixExhausted } from "../gguf/index.js";
import { RegistryError } from "./errors.js";
import { hubEndpoint, type PullOptions, resolveRemote } from "./pull.js";
import { parseModelRef } from "./refs.js";

const FIRST_BYTES = 4 * 1024 * 1024;
/** No GGUF header is this large; beyond, the file is not what it claims. */
const MOST_BYTES = 256 * 1024 * 1024;

export interface RemoteHeader {
  readonly header: GgufHeader;
  readonly url: string;
  readonly file: string;
  /** Bytes fetched to read it. */
  readonly fetchedBytes: number;
}

export interface RemoteHeaderOptions extends Pick<PullOptions, "endpoint" | "token" | "signal"> {
  /** Bytes asked for first (default 4 MiB); doubled while the header reaches further. */
  readonly firstBytes?: number;
}

export async function readRemoteHeader(refText: string, options: RemoteHeaderOptions = {}): Promise<RemoteHeader> {
  const ref = parseModelRef(refText);
  const endpoint = (options.endpoint ?? hubEndpoint()).replace(/\/+$/, "");
  const remote = await resolveRemote(ref, endpoint, options);
  const first = options.firstBytes ?? FIRST_BYTES;
  let wanted = first;
  let bytes: Uint8Array = new Uint8Array(0);
  let total: number | undefined;
  for (;;) {
    // Each request asks only for the bytes after those already held.
    const more = await fetchRange(remote.url, remote.headers, bytes.length, wanted, options.signal);
    bytes = Buffer.concat([bytes, more.bytes]);
    total ??= more.total;
    const size = remote.size ?? total ?? bytes.length;
    try {
      return { header: parseGgufHeader(new PrefixByteSource(bytes, size, remote.url)), url: remote.url, file: remote.file, fetchedBytes: bytes.length };
    } catch (error) {
      if (!(error instanceof PrefixExhausted)) throw error;
      if (bytes.length < wanted) throw new RegistryError("HTTP", `${remote.url} ended after ${bytes.length} bytes, inside its GGUF header`);
      if (error.needed > MOST_BYTES) throw new RegistryError("HTTP", `${remote.url}: the GGUF header claims more than ${MOST_BYTES} bytes; not a model header`);
      wanted = Math.min(MOST_BYTES, Math.max(2 * wanted, error.needed + first));
    }
  }
}

/** Bytes `start` to `end` - 1, and the file's total size when the server says it (Content-Range). */
async function fetchRange(url: string, headers: Record<string, string>, start: number, end: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array; total?: number }> {
  const response = await fetch(url, { headers: { ...headers, Range: `bytes=${start}-${end - 1}` }, signal });
  if (response.status === 401 || response.status === 403) throw new RegistryError("UNAUTHORIZED", `${url} needs a Hugging Face token with access: set HF_TOKEN`);
  if (response.status === 404) throw new RegistryError("NOT_FOUND", `${url}: no such file`);
  if (response.status !== 206 && response.status !== 200) throw new RegistryError("HTTP", `${response.status} from ${url}`);
  if (response.status === 200) {
    // No ranges here: the whole file from its start. Read only as far as needed and drop the connection.
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const chunks: Uint8Array[] = [];
    let received = 0;
    while (received < end) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
    }
    await reader.cancel();
    const all = Buffer.concat(chunks);
    const declared = Number(response.headers.get("content-length") ?? NaN);
    return { bytes: all.subarray(start, end), ...(Number.isFinite(declared) ? { total: declared } : {}) };
  }
  const total = Number(/\/(\d+)$/.exec(response.headers.get("content-range") ?? "")?.[1] ?? NaN);
  return { bytes: new Uint8Array(await response.arrayBuffer()), ...(Number.isFinite(total) ? { total } : {}) };
}
