/**
 * `slmkit pull`: resolves a ref to a file and its expected SHA-256 (the Hub's X-Linked-Etag or its
 * listing's lfs.sha256, or a digest in the ref), downloads it resumably under a store lock (a second
 * pull of the same file waits and reuses it), verifies it, and only then writes the blob and the
 * manifest. Offline-first: a model already in the store is answered without touching the network.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { basename } from "node:path";
import { download } from "./download.js";
import { RegistryError } from "./errors.js";
import { moveIntoPlace } from "./atomic-file.js";
import { formatModelName, parseModelName } from "./names.js";
import { CATALOG, chooseQuant, findCatalogModel, type QuantSize } from "./catalog.js";
import { filesForQuant, type ModelRef, parseModelRef } from "./refs.js";
import { type Manifest, MANIFEST_VERSION, type ModelStore, nameFromFile } from "./store.js";

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

export type PullEvent =
  | { readonly type: "chosen"; readonly model: string; readonly quant: string; readonly reason: string }
  | { readonly type: "present"; readonly name: string }
  | { readonly type: "resolved"; readonly url: string; readonly file: string; readonly size?: number; readonly sha256?: string }
  | { readonly type: "waiting"; readonly reason: string }
  | { readonly type: "progress"; readonly bytes: number; readonly total?: number; readonly resumedFrom: number }
  | { readonly type: "retry"; readonly reason: string; readonly waitMs: number }
  | { readonly type: "verified"; readonly sha256: string; readonly size: number }
  | { readonly type: "done"; readonly name: string; readonly digest: string; readonly size: number; readonly downloaded: boolean };

export interface PullOptions {
  /** The store name; default: from the ref (`hf.co/<owner>/<repo>:<file stem>`, or the URL's file stem). */
  readonly name?: string;
  /** For a catalog alias: the quantization to pull (default: the best that fits this device). */
  readonly quant?: string;
  /** How big each quantization of a catalog model is when running (default: from average bits per weight). */
  readonly quantSize?: QuantSize;
  /** Forbid the network: only models already in the store. */
  readonly offline?: boolean;
  /** A Hugging Face token (HF_TOKEN) for gated repositories. */
  readonly token?: string;
  /** The Hub (SLMKIT_HF_ENDPOINT / HF_ENDPOINT); default huggingface.co. */
  readonly endpoint?: string;
  readonly onEvent?: (event: PullEvent) => void;
  readonly signal?: AbortSignal;
}

/** The Hub endpoint from the environment: SLMKIT_HF_ENDPOINT, then HF_ENDPOINT. */
export function hubEndpoint(environment: NodeJS.ProcessEnv = process.env): string {
  return (environment.SLMKIT_HF_ENDPOINT || environment.HF_ENDPOINT || DEFAULT_HF_ENDPOINT).replace(/\/+$/, "");
}

export interface RemoteFile {
  readonly url: string;
  readonly file: string;
  /** The path in the Hub repo (for Hub files). */
  readonly path?: string;
  readonly sha256?: string;
  readonly size?: number;
  readonly headers: Record<string, string>;
}

export async function pull(store: ModelStore, given: string, options: PullOptions = {}): Promise<{ manifest: Manifest; downloaded: boolean }> {
  // A catalog alias (qwen3:4b) becomes the ref of the quantization asked for, or of the one that fits.
  const alias = /^(hf:|https?:\/\/)/.test(given) ? undefined : findCatalogModel(given);
  let refText = given;
  let aliasName: string | undefined;
  if (alias) {
    const choice = chooseQuant(alias, options.quant, undefined, options.quantSize);
    options.onEvent?.({ type: "chosen", model: alias.id, quant: choice.quant, reason: choice.reason });
    refText = `hf:${choice.repo}/${choice.file}`;
    aliasName = `${alias.id}-${choice.quant.toLowerCase()}`;
  } else if (options.quant !== undefined) {
    throw new RegistryError("BAD_REF", `--quant picks a quantization of a catalog model (${CATALOG.map((model) => model.id).join(", ")}); '${given}' is not one: for a Hugging Face repo use hf:<owner>/<repo>:<QUANT>`);
  }
  const ref = parseModelRef(refText);
  const endpoint = (options.endpoint ?? hubEndpoint()).replace(/\/+$/, "");
  const emit = options.onEvent ?? (() => undefined);
  // The name is known without the network unless the ref names a quantization to look up.
  const knownName = options.name ?? (ref.kind === "hf-quant" ? undefined : defaultName(ref));
  if (knownName !== undefined) {
    const present = presentModel(store, knownName);
    if (present) {
      emit({ type: "present", name: present.name });
      emit({ type: "done", name: present.name, digest: present.digest, size: present.size, downloaded: false });
      return { manifest: present, downloaded: false };
    }
  }
  if (options.offline) {
    throw new RegistryError("OFFLINE", `'${knownName ?? refText}' is not in the store and the network is off (--offline or SLMKIT_OFFLINE=1); pull it while online`);
  }
  const remote = await resolveRemote(ref, endpoint, options);
  const name = formatModelName(parseModelName(options.name ?? (ref.kind === "hf-quant" ? `hf.co/${ref.repo}:${stem(remote.file)}` : knownName!)));
  if (ref.kind === "hf-quant" && options.name === undefined) {
    const present = presentModel(store, name);
    if (present) {
      emit({ type: "present", name });
      emit({ type: "done", name, digest: present.digest, size: present.size, downloaded: false });
      return { manifest: present, downloaded: false };
    }
  }
  // A split model (name-00001-of-00003.gguf) is all its parts: each fetched and verified like a file.
  const remotes = [remote, ...(await otherSplitParts(ref, remote, endpoint, options))];
  let downloaded = false;
  const parts: Array<{ digest: string; size: number; file: string }> = [];
  for (const part of remotes) {
    const fetched = await fetchBlob(store, part, options, emit);
    downloaded ||= fetched.downloaded;
    parts.push({ digest: `sha256:${fetched.sha256}`, size: statSync(store.blobPath(fetched.sha256)).size, file: part.file });
  }
  const manifest: Manifest = {
    schemaVersion: MANIFEST_VERSION,
    name,
    digest: parts[0]!.digest,
    size: parts.reduce((sum, part) => sum + part.size, 0),
    file: remote.file,
    ...(parts.length > 1 && { parts }),
    source: { kind: ref.kind === "url" ? "url" : "hf", ref: refText },
    createdAt: new Date().toISOString(),
  };
  store.writeManifest(manifest);
  // A catalog pull is also found by its short name (qwen3:4b-q8_0), besides the one with the file's stem.
  if (aliasName && options.name === undefined) store.copy(manifest.name, aliasName);
  emit({ type: "done", name, digest: manifest.digest, size: manifest.size, downloaded });
  return { manifest, downloaded };
}

/** Downloads one remote file into the store's blobs under a lock (a second pull of it waits, then reuses it). */
async function fetchBlob(store: ModelStore, remote: RemoteFile, options: PullOptions, emit: (event: PullEvent) => void): Promise<{ sha256: string; downloaded: boolean }> {
  emit({ type: "resolved", url: remote.url, file: remote.file, ...(remote.size !== undefined && { size: remote.size }), ...(remote.sha256 && { sha256: remote.sha256 }) });
  const key = remote.sha256 ?? createHash("sha256").update(remote.url).digest("hex");
  let downloaded = false;
  const sha256 = await store.withLock(
    key,
    async () => {
      // Another pull may have brought the same file while this one waited for the lock (a blob of the wrong size is removed).
      if (remote.sha256 && store.hasBlob(remote.sha256, remote.size)) return remote.sha256;
      const partial = store.partialPath(`dl-${key}`);
      const result = await download({
        url: remote.url,
        headers: remote.headers,
        partialPath: partial,
        expectedSha256: remote.sha256,
        expectedSize: remote.size,
        onProgress: (progress) => emit({ type: "progress", ...progress }),
        onRetry: (reason, waitMs) => emit({ type: "retry", reason, waitMs }),
        signal: options.signal,
      });
      emit({ type: "verified", sha256: result.sha256, size: result.size });
      checkGgufMagic(partial, remote.url);
      if (!store.hasBlob(result.sha256, result.size)) moveIntoPlace(partial, store.blobPath(result.sha256));
      else rmSync(partial, { force: true });
      downloaded = true;
      return result.sha256;
    },
    { onWait: () => emit({ type: "waiting", reason: "another pull of this file is running; waiting for it" }), signal: options.signal },
  );
  return { sha256, downloaded };
}

const SPLIT_FIRST = /^(.*)-00001-of-(\d{5})\.gguf$/i;

/** For the first part of a split model on the Hub, the other parts, resolved the same way. */
async function otherSplitParts(ref: ModelRef, first: RemoteFile, endpoint: string, options: PullOptions): Promise<RemoteFile[]> {
  if (ref.kind === "url") return [];
  const firstPath = ref.kind === "hf-file" ? ref.path : first.path;
  const match = SPLIT_FIRST.exec(firstPath ?? "");
  if (!match) return [];
  const count = Number(match[2]);
  const parts: RemoteFile[] = [];
  for (let index = 2; index <= count; index++) {
    const path = `${match[1]}-${String(index).padStart(5, "0")}-of-${match[2]}.gguf`;
    parts.push(await resolveRemote({ kind: "hf-file", repo: ref.repo, path }, endpoint, options));
  }
  return parts;
}

/** A download that is not a GGUF file (an HTML error page, a .bin) never enters the store. */
function checkGgufMagic(path: string, url: string): void {
  const handle = openSync(path, "r");
  const magic = Buffer.alloc(4);
  try {
    readSync(handle, magic, 0, 4, 0);
  } finally {
    closeSync(handle);
  }
  if (magic.toString("latin1") !== "GGUF") {
    rmSync(path, { force: true });
    throw new RegistryError("VERIFY_FAILED", `${url} is not a GGUF file (it starts with ${JSON.stringify(magic.toString("latin1"))}); it was discarded`);
  }
}

/** A model in the store whose file is there: then pull needs no network. */
function presentModel(store: ModelStore, name: string): Manifest | undefined {
  try {
    return store.resolve(name).manifest;
  } catch (error) {
    if (error instanceof RegistryError && (error.code === "NOT_FOUND" || error.code === "VERIFY_FAILED")) return undefined;
    throw error;
  }
}

function defaultName(ref: Exclude<ModelRef, { kind: "hf-quant" }>): string {
  if (ref.kind === "hf-file") return `hf.co/${ref.repo}:${stem(ref.path)}`;
  return nameFromFile(new URL(ref.url).pathname.split("/").pop() || "model");
}

function stem(file: string): string {
  return basename(file).replace(/\.gguf$/i, "");
}

export async function resolveRemote(ref: ModelRef, endpoint: string, options: PullOptions): Promise<RemoteFile> {
  if (ref.kind === "url") {
    // A URL on the Hub itself gets the token, as an hf: ref would.
    const onHub = new URL(ref.url).origin === new URL(endpoint).origin;
    const headers: Record<string, string> = onHub && options.token ? { Authorization: `Bearer ${options.token}` } : {};
    return { url: ref.url, file: basename(new URL(ref.url).pathname) || "model.gguf", headers, ...(ref.sha256 && { sha256: ref.sha256 }) };
  }
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  let path: string;
  let listed: { sha256?: string; size?: number } = {};
  if (ref.kind === "hf-quant") {
    const listing = await hubJson<{ siblings?: Array<{ rfilename: string; size?: number; lfs?: { sha256?: string; size?: number } }> }>(`${endpoint}/api/models/${ref.repo}?blobs=true`, headers, ref.repo, options.signal);
    const files = (listing.siblings ?? []).map((sibling) => sibling.rfilename);
    const matches = filesForQuant(files, ref.quant);
    if (matches.length === 0) {
      const quants = files.filter((file) => /\.gguf$/i.test(file)).join(", ") || "none";
      throw new RegistryError("NOT_FOUND", `${ref.repo} has no single-file GGUF for ${ref.quant}; its GGUF files: ${quants}`);
    }
    path = matches.sort((a, b) => a.length - b.length)[0]!;
    const sibling = listing.siblings!.find((entry) => entry.rfilename === path)!;
    listed = { sha256: sibling.lfs?.sha256, size: sibling.lfs?.size ?? sibling.size };
  } else {
    path = ref.path;
  }
  const url = `${endpoint}/${ref.repo}/resolve/main/${path.split("/").map(encodeURIComponent).join("/")}`;
  // The resolve endpoint's redirect carries the file's sha256 (X-Linked-Etag) and size. A renamed repo
  // first redirects to its new name without them: follow such hops (HEAD, manually) until they appear.
  let head = await fetch(url, { method: "HEAD", headers, redirect: "manual", signal: options.signal });
  for (let hop = 0; hop < 5 && head.status >= 300 && head.status < 400 && !head.headers.has("x-linked-etag"); hop++) {
    const location = head.headers.get("location");
    if (!location) break;
    const next = new URL(location, url);
    // Only hops on the Hub itself: a CDN's answer carries no X-Linked headers, and it need not see the token.
    if (next.origin !== new URL(url).origin) break;
    head = await fetch(next, { method: "HEAD", headers, redirect: "manual", signal: options.signal });
  }
  if (head.status === 401 || head.status === 403) {
    throw new RegistryError("UNAUTHORIZED", `${ref.repo} needs a Hugging Face token${options.token ? " that has access (the one given was refused)" : ""}: set HF_TOKEN${options.token ? " to a token that accepted the repo's licence" : ""}`);
  }
  if (head.status === 404) throw new RegistryError("NOT_FOUND", `${ref.repo} has no file ${path} (or the repository does not exist)`);
  if (head.status >= 400) throw new RegistryError("HTTP", `${head.status} from ${url}`);
  const linkedEtag = (head.headers.get("x-linked-etag") ?? "").replace(/^W\//, "").replace(/"/g, "");
  // Content-Length is the file's only on a 200; on a redirect it is the redirect's own body.
  const linkedSize = Number(head.headers.get("x-linked-size") ?? (head.status === 200 ? head.headers.get("content-length") : null) ?? NaN);
  const sha256 = ref.kind === "hf-file" && ref.sha256 ? ref.sha256 : (listed.sha256 ?? (/^[0-9a-f]{64}$/.test(linkedEtag) ? linkedEtag : undefined));
  if (ref.kind === "hf-file" && ref.sha256 && /^[0-9a-f]{64}$/.test(linkedEtag) && linkedEtag !== ref.sha256) {
    throw new RegistryError("VERIFY_FAILED", `the Hub says ${path} has sha256 ${linkedEtag}, not the ${ref.sha256} the ref asks for`);
  }
  const size = listed.size ?? (Number.isFinite(linkedSize) ? linkedSize : undefined);
  return { url, file: basename(path), path, headers, ...(sha256 && { sha256 }), ...(size !== undefined && { size }) };
}

async function hubJson<T>(url: string, headers: Record<string, string>, repo: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, { headers, signal });
  if (response.status === 401 || response.status === 403) throw new RegistryError("UNAUTHORIZED", `${repo} needs a Hugging Face token: set HF_TOKEN`);
  if (response.status === 404) throw new RegistryError("NOT_FOUND", `no repository ${repo} on ${new URL(url).host}`);
  if (!response.ok) throw new RegistryError("HTTP", `${response.status} from ${url}`);
  return (await response.json()) as T;
}
