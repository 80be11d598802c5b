import { statSync } from "node:fs";
import { totalmem } from "node:os";
import { LoadedModel, type LoadOptions, modelNameOf } from "../engine/index.js";
import { isSynthetic, readGgufHeader } from "../gguf/index.js";
import type { ModelConfig } from "../registry/index.js";
import { ApiError, modelNotFound } from "./api-error.js";
import { estimateResidentBytes } from "./memory-estimate.js";

/** A model the server offers, whether or not it is loaded. Several names may share one file. */
export interface ServedModel {
  /** The name clients ask for: the file name without `.gguf`, or a copy's name. */
  readonly name: string;
  readonly path: string;
  /** Seconds since the epoch: the file's modification time. */
  readonly created: number;
  /** Made by `slmkit synth`: its output is gibberish. */
  readonly randomWeights: boolean;
  readonly fileSize: number;
  /** A store model's settings: system prompt, default parameters, template, messages. */
  readonly config?: ModelConfig;
}

/** Reads a model file's header (so a broken file fails at start-up) and names it for clients. */
export function describeModelFile(path: string, name = modelNameOf(path), config?: ModelConfig): ServedModel {
  const header = readGgufHeader(path);
  const stats = statSync(path);
  return { name, path, created: Math.floor(stats.mtimeMs / 1000), randomWeights: isSynthetic(header), fileSize: stats.size, ...(config && { config }) };
}

/** How long a model stays loaded after a request: milliseconds; 0 unloads at once, Infinity never. */
export type KeepAlive = number;

export const DEFAULT_KEEP_ALIVE_MS = 5 * 60 * 1000;

export interface PoolOptions {
  /** Idle time before a model is unloaded, unless a request asks for another. */
  readonly keepAliveMs?: KeepAlive;
  /** Models kept loaded at once; loading one more unloads the least recently used idle one. */
  readonly maxLoaded?: number;
  /**
   * Bytes the loaded models may take together (default: 90% of the machine's memory). A model that
   * would not fit makes the least recently used idle ones unload first; one larger than the whole
   * budget is refused.
   */
  readonly memoryBudgetBytes?: number;
  /** Told of every load and unload (for /metrics and the log). */
  readonly observer?: PoolObserver;
}

/** Why a model left memory. */
export type UnloadReason = "idle" | "evicted" | "requested" | "removed" | "shutdown";

export interface PoolObserver {
  /** A model finished loading after `seconds` (or failed to, with the error). */
  loaded?(model: string, seconds: number, error?: unknown): void;
  unloaded?(model: string, reason: UnloadReason): void;
}

/** A model file in memory, shared by every name that points at it. */
interface Resident {
  readonly path: string;
  /** The name it was first loaded under: how metrics and the log call it. */
  readonly label: string;
  readonly loading: Promise<LoadedModel>;
  model?: LoadedModel;
  /** Estimated bytes until loaded; then the model's own count is used. */
  readonly estimatedBytes: number;
  /** Requests using it right now: it is never unloaded under them. */
  users: number;
  lastUsed: number;
  /** When it will be unloaded if still idle; null: never, or in use. */
  expiresAt: number | null;
  timer?: NodeJS.Timeout;
  /** Asked to unload while in use: it goes as soon as its last request ends. */
  unloadWhenIdle?: boolean;
}

/**
 * The models a server offers and the ones it holds in memory. A model loads on first use (concurrent
 * first requests share one load), stays for its keep-alive after the last request, and the least
 * recently used idle model makes room when `maxLoaded` is reached.
 */
export class ModelPool {
  private readonly byName = new Map<string, ServedModel>();
  private readonly residents = new Map<string, Resident>();
  /** Idle time before a model is unloaded when a request does not say. */
  readonly keepAliveMs: KeepAlive;
  private readonly maxLoaded: number;
  readonly memoryBudgetBytes: number;
  private readonly observer: PoolObserver;

  constructor(
    models: readonly ServedModel[],
    private readonly loadOptions: LoadOptions,
    options: PoolOptions = {},
  ) {
    for (const model of models) this.add(model);
    this.keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.maxLoaded = options.maxLoaded ?? Infinity;
    this.memoryBudgetBytes = options.memoryBudgetBytes ?? Math.floor(totalmem() * 0.9);
    this.observer = options.observer ?? {};
  }

  list(): ServedModel[] {
    return [...this.byName.values()];
  }

  find(name: string): ServedModel | undefined {
    return this.byName.get(name);
  }

  /** Offers another model (a created one, say); a name already served is refused. */
  add(model: ServedModel): void {
    if (this.byName.has(model.name)) throw new Error(`a model named '${model.name}' is already served`);
    this.byName.set(model.name, model);
  }

  /**
   * Serves a model under its name, replacing what the name served before (a pull or create that
   * remade it). The swap is immediate, so concurrent replacements never collide; the old file is
   * unloaded once no name uses it.
   */
  async replace(model: ServedModel): Promise<void> {
    const previous = this.byName.get(model.name);
    this.byName.set(model.name, model);
    if (previous && previous.path !== model.path && ![...this.byName.values()].some((other) => other.path === previous.path)) {
      await this.unloadPath(previous.path, "removed");
    }
  }

  /** Serves `source`'s file under a second name as well (Ollama's copy). */
  alias(source: string, destination: string): ServedModel {
    const served = this.byName.get(source);
    if (served === undefined) throw modelNotFound(source);
    const copy = { ...served, name: destination };
    this.byName.set(destination, copy);
    return copy;
  }

  /** Stops serving a name; its file is unloaded when no other name uses it. The file itself stays. */
  async remove(name: string): Promise<boolean> {
    const served = this.byName.get(name);
    if (served === undefined) return false;
    this.byName.delete(name);
    if (![...this.byName.values()].some((other) => other.path === served.path)) await this.unloadPath(served.path, "removed");
    return true;
  }

  /**
   * Runs `work` with the loaded model (loading it first if needed); the model is not unloaded while
   * work runs, and stays `keepAliveMs` after (this request's value, or the pool's default).
   */
  async use<T>(name: string, work: (model: LoadedModel) => Promise<T>, keepAliveMs?: KeepAlive): Promise<T> {
    const resident = this.resident(name);
    resident.users++;
    this.cancelExpiry(resident);
    try {
      const model = await resident.loading;
      return await work(model);
    } finally {
      resident.users--;
      resident.lastUsed = Date.now();
      this.scheduleExpiry(resident, keepAliveMs ?? this.keepAliveMs);
    }
  }

  /** The loaded model, loading it if needed (counts as a use with the default keep-alive). */
  get(name: string): Promise<LoadedModel> {
    return this.use(name, async (model) => model);
  }

  /** Loads a model without generating (Ollama's empty prompt), keeping it `keepAliveMs`. */
  async load(name: string, keepAliveMs?: KeepAlive): Promise<void> {
    await this.use(name, async () => undefined, keepAliveMs);
  }

  /**
   * Unloads a name's model (Ollama's keep_alive 0): now if no request is using it, else as soon as
   * the last one ends.
   */
  async unload(name: string): Promise<void> {
    const served = this.byName.get(name);
    if (served === undefined) throw modelNotFound(name);
    const resident = this.residents.get(served.path);
    if (resident === undefined) return;
    if (resident.users > 0) resident.unloadWhenIdle = true;
    else await this.unloadPath(served.path, "requested");
  }

  /** The model if its load has finished, without waiting for one in progress. */
  loadedModel(name: string): LoadedModel | undefined {
    const served = this.byName.get(name);
    return served === undefined ? undefined : this.residents.get(served.path)?.model;
  }

  /** True while the model's load is in progress. */
  isLoading(name: string): boolean {
    const served = this.byName.get(name);
    const resident = served === undefined ? undefined : this.residents.get(served.path);
    return resident !== undefined && resident.model === undefined;
  }

  /** What is in memory now, one entry per served name whose model is loaded. */
  running(): Array<{ served: ServedModel; model: LoadedModel; expiresAt: Date | null; busy: boolean }> {
    return this.list().flatMap((served) => {
      const resident = this.residents.get(served.path);
      if (resident?.model === undefined) return [];
      return [{ served, model: resident.model, expiresAt: resident.expiresAt === null ? null : new Date(resident.expiresAt), busy: resident.users > 0 }];
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.residents.keys()].map((path) => this.unloadPath(path, "shutdown", true)));
  }

  private resident(name: string): Resident {
    const served = this.byName.get(name);
    if (served === undefined) throw modelNotFound(name);
    const existing = this.residents.get(served.path);
    if (existing) return existing;
    const estimatedBytes = estimateResidentBytes(served.path, this.loadOptions);
    if (estimatedBytes > this.memoryBudgetBytes) {
      throw new ApiError(
        503,
        `the model '${name}' needs about ${gibibytes(estimatedBytes)} of memory but the server's budget is ${gibibytes(this.memoryBudgetBytes)}; raise --memory-budget, lower --ctx or --parallel, or use a smaller quantization`,
        "server_error",
        "insufficient_memory",
      );
    }
    const room = this.makeRoom(estimatedBytes);
    const started = performance.now();
    // The load starts once the models making room for it are gone.
    const loading = room.then(() => LoadedModel.load(served.path, this.loadOptions));
    const resident: Resident = { path: served.path, label: served.name, loading, estimatedBytes, users: 0, lastUsed: Date.now(), expiresAt: null };
    this.residents.set(served.path, resident);
    loading.then(
      (model) => {
        resident.model = model;
        this.observer.loaded?.(resident.label, (performance.now() - started) / 1000);
      },
      (error: unknown) => {
        this.observer.loaded?.(resident.label, (performance.now() - started) / 1000, error);
        // A failed load is forgotten so that the next request tries again.
        if (this.residents.get(served.path) === resident) this.residents.delete(served.path);
      },
    );
    return resident;
  }

  /** Bytes the models in memory (or loading) take: their own count once loaded, the estimate before. */
  residentBytes(): number {
    let total = 0;
    for (const resident of this.residents.values()) total += resident.model ? resident.model.memory.ram + resident.model.memory.vram : resident.estimatedBytes;
    return total;
  }

  /**
   * Unloads least recently used idle models until one more fits under maxLoaded and the memory
   * budget; resolves when they are gone. Busy models are never unloaded: with everything busy, the
   * new model loads anyway rather than fail the request.
   */
  private makeRoom(incomingBytes: number): Promise<void> {
    const unloads: Array<Promise<void>> = [];
    while (this.residents.size >= this.maxLoaded || (this.residents.size > 0 && this.residentBytes() + incomingBytes > this.memoryBudgetBytes)) {
      const idle = [...this.residents.values()].filter((resident) => resident.users === 0 && resident.model !== undefined);
      if (idle.length === 0) break;
      idle.sort((a, b) => a.lastUsed - b.lastUsed);
      unloads.push(this.unloadPath(idle[0]!.path, "evicted"));
    }
    return Promise.all(unloads).then(() => undefined);
  }

  private scheduleExpiry(resident: Resident, keepAliveMs: KeepAlive): void {
    if (resident.users > 0) return;
    if (resident.unloadWhenIdle) keepAliveMs = 0;
    if (keepAliveMs === Infinity) {
      resident.expiresAt = null;
      return;
    }
    if (keepAliveMs <= 0) {
      void this.unloadPath(resident.path, resident.unloadWhenIdle ? "requested" : "idle");
      return;
    }
    resident.expiresAt = Date.now() + keepAliveMs;
    resident.timer = setTimeout(() => void this.unloadPath(resident.path, "idle"), keepAliveMs);
    resident.timer.unref();
  }

  private cancelExpiry(resident: Resident): void {
    if (resident.timer) clearTimeout(resident.timer);
    resident.timer = undefined;
    resident.expiresAt = null;
  }

  private async unloadPath(path: string, reason: UnloadReason, evenIfBusy = false): Promise<void> {
    const resident = this.residents.get(path);
    if (resident === undefined || (resident.users > 0 && !evenIfBusy)) return;
    this.residents.delete(path);
    this.cancelExpiry(resident);
    const model = await resident.loading.catch(() => undefined);
    if (model === undefined) return;
    await model.dispose();
    this.observer.unloaded?.(resident.label, reason);
  }
}

function gibibytes(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}
