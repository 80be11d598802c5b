/**
 * The model store under `$SLMKIT_HOME/models`: content-addressed blobs (`blobs/sha256-<hex>`), one
 * manifest per `name:tag` (`manifests/<scope>/<model>/<tag>.json`), downloads in progress under
 * `partial/`, locks under `locks/`. A blob enters only once its hash is verified; a manifest is written
 * only after its blob is in place; every write is atomic. A model can also be linked: its manifest
 * points at a GGUF file outside the store, which is then never copied.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { moveIntoPlace, writeFileAtomic } from "./atomic-file.js";
import { RegistryError } from "./errors.js";
import { sha256OfFile, SHA256_HEX } from "./hashing.js";
import { slmkitHome } from "./home.js";
import { type LockOptions, withFileLock } from "./lock.js";
import type { ModelConfig } from "./model-config.js";
import { type ModelName, formatModelName, parseModelName } from "./names.js";

export const MANIFEST_VERSION = 1;

export interface ModelSource {
  /** `hf`: a Hugging Face file; `url`: any https URL; `file`: added from disk; `create`: made by `slmkit create` from another model. */
  readonly kind: "hf" | "url" | "file" | "create";
  /** The ref or path it came from, as the user gave it. */
  readonly ref: string;
}

export interface Manifest {
  readonly schemaVersion: typeof MANIFEST_VERSION;
  /** Canonical `scope/model:tag`. */
  readonly name: string;
  /** `sha256:<hex>` of the GGUF file. */
  readonly digest: string;
  readonly size: number;
  /** The file name it had at its source. */
  readonly file: string;
  readonly source: ModelSource;
  /** Set for linked models: the file lives here, outside the store. */
  readonly linkedPath?: string;
  /**
   * A split model's parts in order (the first is `digest`, `size` is their sum). llama.cpp finds the
   * parts by name beside the first, so they are served from `views/<first digest>/` by symbolic links.
   */
  readonly parts?: ReadonlyArray<{ readonly digest: string; readonly size: number; readonly file: string }>;
  /** System prompt, default parameters, template, messages (from a Modelfile or /api/create). */
  readonly config?: ModelConfig;
  readonly createdAt: string;
}

export interface GcReport {
  readonly removedBlobs: readonly string[];
  readonly freedBytes: number;
  readonly removedPartials: number;
}

export class ModelStore {
  readonly root: string;

  constructor(root = join(slmkitHome(), "models")) {
    this.root = resolve(root);
  }

  blobPath(hex: string): string {
    if (!SHA256_HEX.test(hex)) throw new RegistryError("VERIFY_FAILED", `'${hex}' is not a sha256 digest`);
    return join(this.root, "blobs", `sha256-${hex}`);
  }

  /**
   * Whether the blob is there; with `size`, also whether it has that size. A blob of another size is
   * damaged (its name is its hash): it is removed, so that a pull or add can put the right one back.
   */
  hasBlob(hex: string, size?: number): boolean {
    const stats = statSync(this.blobPath(hex), { throwIfNoEntry: false });
    if (stats === undefined) return false;
    if (size === undefined || stats.size === size) return true;
    rmSync(this.blobPath(hex), { force: true });
    return false;
  }

  partialPath(key: string): string {
    return join(this.root, "partial", `${key}.partial`);
  }

  /** Runs `work` holding the store-wide lock for `key` (a blob's hash, a download's name). */
  withLock<T>(key: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    return withFileLock(join(this.root, "locks", `${key}.lock`), work, options);
  }

  private manifestPath(name: ModelName): string {
    return join(this.root, "manifests", ...name.scope, name.model, `${name.tag}.json`);
  }

  /** The manifest of a name, or undefined when the store has no such model. */
  read(name: string): Manifest | undefined {
    const path = this.manifestPath(parseModelName(name));
    if (!existsSync(path)) return undefined;
    return parseManifest(readFileSync(path, "utf8"), path);
  }

  /** Manifests the last list() could not read, with why. */
  private unreadable: string[] = [];

  list(): Manifest[] {
    this.unreadable = [];
    const directory = join(this.root, "manifests");
    if (!existsSync(directory)) return [];
    const found: Manifest[] = [];
    for (const entry of readdirSync(directory, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".json") || entry.name.startsWith(".")) continue;
      // Dirent.parentPath is Node 20.12+; .path is its older name.
      const path = join((entry as { parentPath?: string }).parentPath ?? (entry as unknown as { path: string }).path, entry.name);
      try {
        found.push(parseManifest(readFileSync(path, "utf8"), path));
      } catch (error) {
        // One damaged manifest must not hide the others: `check` names it.
        this.unreadable.push((error as Error).message);
      }
    }
    return found.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The GGUF file behind a name; NOT_FOUND when absent, with what to do. */
  resolve(name: string): { manifest: Manifest; path: string } {
    const manifest = this.read(name);
    if (manifest === undefined) throw new RegistryError("NOT_FOUND", `no model '${formatModelName(parseModelName(name))}' in the store (${this.root}); 'slmkit list' shows what is there, 'slmkit pull' fetches one`);
    if (manifest.parts) return { manifest, path: this.splitView(manifest, manifest.parts) };
    const path = manifest.linkedPath ?? this.blobPath(digestHex(manifest.digest));
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats === undefined) {
      throw new RegistryError("NOT_FOUND", manifest.linkedPath ? `'${manifest.name}' is linked to ${path}, which is gone; add it again` : `the file of '${manifest.name}' is missing from the store; pull it again`);
    }
    if (stats.size !== manifest.size) throw new RegistryError("VERIFY_FAILED", `${path} is ${stats.size} bytes but '${manifest.name}' was ${manifest.size}: the file changed; add or pull it again`);
    return { manifest, path };
  }

  /** A folder of links named as the split model's parts, to its blobs; returns the first part's link. */
  private splitView(manifest: Manifest, parts: NonNullable<Manifest["parts"]>): string {
    // Named by all the parts: two split models may share a first part.
    const viewKey = createHash("sha256").update(parts.map((part) => part.digest).join(",")).digest("hex");
    const view = join(this.root, "views", viewKey);
    mkdirSync(view, { recursive: true });
    for (const part of parts) {
      const blob = this.blobPath(digestHex(part.digest));
      const size = statSync(blob, { throwIfNoEntry: false })?.size;
      if (size === undefined) throw new RegistryError("NOT_FOUND", `part ${part.file} of '${manifest.name}' is missing from the store; pull it again`);
      if (size !== part.size) throw new RegistryError("VERIFY_FAILED", `part ${part.file} of '${manifest.name}' is ${size} bytes, not ${part.size}; pull it again`);
      const link = join(view, basename(part.file));
      const target = relative(view, blob);
      if (readLink(link) !== target) {
        rmSync(link, { force: true });
        try {
          symlinkSync(target, link);
        } catch (error) {
          // Another process made the same link at the same moment.
          if ((error as NodeJS.ErrnoException).code !== "EEXIST" || readLink(link) !== target) throw error;
        }
      }
    }
    return join(view, basename(parts[0]!.file));
  }

  writeManifest(manifest: Manifest): void {
    const path = this.manifestPath(parseModelName(manifest.name));
    this.insideStore(dirname(path));
    writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`);
  }

  /** Names cannot hold `..`, but a symlinked directory could still lead out: refuse that. */
  private insideStore(directory: string): void {
    mkdirSync(directory, { recursive: true });
    const real = realpathSync(directory);
    const root = realpathSync(this.root);
    if (real !== root && !real.startsWith(root + sep)) throw new RegistryError("BAD_NAME", `${directory} leads outside the store (${root}) through a symbolic link; remove that link`);
  }

  /**
   * Registers a GGUF file from disk: copied into the store (through a partial file, then renamed), or
   * with `link` recorded where it is. Either way it is hashed first.
   */
  async add(file: string, options: { name?: string; link?: boolean; onHashed?: (bytes: number) => void } = {}): Promise<Manifest> {
    const path = resolve(file);
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isFile()) throw new RegistryError("NOT_FOUND", `${file} is not a file`);
    const name = formatModelName(parseModelName(options.name ?? nameFromFile(path)));
    const hex = options.link ? await sha256OfFile(path, options.onHashed) : await this.addBlob(path, options.onHashed);
    const manifest: Manifest = {
      schemaVersion: MANIFEST_VERSION,
      name,
      digest: `sha256:${hex}`,
      size: stats.size,
      file: basename(path),
      source: { kind: "file", ref: path },
      ...(options.link && { linkedPath: path }),
      createdAt: new Date().toISOString(),
    };
    this.writeManifest(manifest);
    return manifest;
  }

  /** Copies a file into the blobs (once per content); returns its sha256. */
  async addBlob(path: string, onHashed?: (bytes: number) => void): Promise<string> {
    const hex = await sha256OfFile(path, onHashed);
    const size = statSync(path).size;
    if (this.hasBlob(hex, size)) return hex;
    return this.withLock(hex, async () => {
      if (this.hasBlob(hex, size)) return hex;
      const partial = this.partialPath(`add-${hex}`);
      mkdirSync(join(this.root, "partial"), { recursive: true });
      copyFileSync(path, partial);
      // The copy is what goes in: named by its own hash, in case the file changed after it was hashed.
      const copied = await sha256OfFile(partial);
      if (copied !== hex) {
        rmSync(partial, { force: true });
        throw new RegistryError("VERIFY_FAILED", `${path} changed while it was added (still being written?); add it again once it is complete`);
      }
      moveIntoPlace(partial, this.blobPath(hex));
      return hex;
    });
  }

  /** Removes a name; its blob stays until `gc` finds nothing else using it. */
  remove(name: string): boolean {
    const path = this.manifestPath(parseModelName(name));
    if (!existsSync(path)) return false;
    rmSync(path);
    return true;
  }

  /** A second name for a model: a new manifest over the same blob. */
  copy(source: string, destination: string): Manifest {
    const manifest = this.read(source);
    if (manifest === undefined) throw new RegistryError("NOT_FOUND", `no model '${source}' in the store; 'slmkit list' shows what is there`);
    const copy = { ...manifest, name: formatModelName(parseModelName(destination)), createdAt: new Date().toISOString() };
    this.writeManifest(copy);
    return copy;
  }

  /**
   * Deletes blobs no manifest uses and downloads no process is continuing. Files younger than
   * `graceMs` (default an hour) stay: a pull or create in progress has blobs whose manifest is not
   * written yet (the parts of a split model, a quantization about to be named).
   */
  gc(graceMs = 60 * 60 * 1000): GcReport {
    const young = (path: string): boolean => Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0) < graceMs;
    const manifests = this.list();
    const used = new Set(manifests.flatMap((manifest) => [manifest.digest, ...(manifest.parts ?? []).map((part) => part.digest)].map(digestHex)));
    // Views are remade on use: clearing them all is safe and drops those of removed models.
    rmSync(join(this.root, "views"), { recursive: true, force: true });
    const removedBlobs: string[] = [];
    let freedBytes = 0;
    for (const entry of safeList(join(this.root, "blobs"))) {
      const hex = entry.replace(/^sha256-/, "");
      const path = join(this.root, "blobs", entry);
      if (used.has(hex) || !entry.startsWith("sha256-") || young(path)) continue;
      freedBytes += statSync(path).size;
      rmSync(path, { force: true });
      removedBlobs.push(`sha256:${hex}`);
    }
    let removedPartials = 0;
    const locked = new Set(safeList(join(this.root, "locks")).map((entry) => entry.replace(/\.lock$/, "")));
    for (const entry of safeList(join(this.root, "partial"))) {
      const key = entry.replace(/\.partial(\.json)?$/, "");
      if ([...locked].some((lock) => key.includes(lock)) || young(join(this.root, "partial", entry))) continue;
      rmSync(join(this.root, "partial", entry), { force: true });
      removedPartials++;
    }
    return { removedBlobs, freedBytes, removedPartials };
  }

  /** Problems between manifests and blobs: a manifest whose file is missing or of another size. */
  check(): string[] {
    const manifests = this.list();
    const problems: string[] = [...this.unreadable];
    for (const manifest of manifests) {
      try {
        this.resolve(manifest.name);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    return problems;
  }
}

export function digestHex(digest: string): string {
  const hex = digest.replace(/^sha256:/, "");
  if (!SHA256_HEX.test(hex)) throw new RegistryError("VERIFY_FAILED", `'${digest}' is not a sha256 digest`);
  return hex;
}

/** `Qwen3-0.6B-Q4_0.gguf` → `qwen3-0.6b-q4_0:latest`-style name: the file's stem, lower-cased. */
export function nameFromFile(path: string): string {
  const stem = basename(path).replace(/\.gguf$/i, "").toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^[^a-z0-9]+/, "");
  return stem || "model";
}

function parseManifest(text: string, path: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RegistryError("IO", `${path} is not valid JSON: the store is damaged there; remove that file`);
  }
  const manifest = value as Partial<Manifest>;
  if (manifest.schemaVersion !== MANIFEST_VERSION || typeof manifest.name !== "string" || typeof manifest.digest !== "string" || typeof manifest.size !== "number") {
    throw new RegistryError("IO", `${path} is not an slmkit manifest (version ${MANIFEST_VERSION})`);
  }
  return manifest as Manifest;
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function safeList(directory: string): string[] {
  return existsSync(directory) ? readdirSync(directory) : [];
}
