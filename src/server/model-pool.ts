import { statSync } from "node:fs";
import { basename } from "node:path";
import { LoadedModel, type LoadOptions } from "../engine/index.js";
import { GgufError, readGgufHeader } from "../gguf/index.js";
import { modelNotFound } from "./api-error.js";

/** A model the server offers, whether or not it is loaded yet. */
export interface ServedModel {
  /** The name clients ask for: the file name without `.gguf`. */
  readonly name: string;
  readonly path: string;
  /** Seconds since the epoch: the file's modification time. */
  readonly created: number;
  /** Made by `slmkit synth`: its output is gibberish. */
  readonly randomWeights: boolean;
}

/** Reads a model file's header (so a broken file fails at start-up) and names it for clients. */
export function describeModelFile(path: string): ServedModel {
  const header = readGgufHeader(path);
  return {
    name: basename(path).replace(/\.gguf$/i, ""),
    path,
    created: Math.floor(statSync(path).mtimeMs / 1000),
    randomWeights: header.metadata.has("slmkit.synthetic.seed"),
  };
}

/**
 * The models a server offers, loaded on first request. Concurrent first requests share one load.
 * (The memory budget, idle unloading and eviction of the serving-core issue build on this.)
 */
export class ModelPool {
  private readonly byName = new Map<string, ServedModel>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();

  constructor(
    models: readonly ServedModel[],
    private readonly loadOptions: LoadOptions,
  ) {
    for (const model of models) {
      if (this.byName.has(model.name)) {
        throw new GgufError("INVALID_INPUT", `two models would both be served as '${model.name}'; rename one of the files`);
      }
      this.byName.set(model.name, model);
    }
  }

  list(): ServedModel[] {
    return [...this.byName.values()];
  }

  find(name: string): ServedModel | undefined {
    return this.byName.get(name);
  }

  /** The loaded model, loading it first if needed; 404 for a name that is not served. */
  get(name: string): Promise<LoadedModel> {
    const served = this.byName.get(name);
    if (served === undefined) return Promise.reject(modelNotFound(name));
    let loaded = this.loading.get(name);
    if (loaded === undefined) {
      loaded = LoadedModel.load(served.path, this.loadOptions);
      this.loading.set(name, loaded);
      // A failed load is forgotten so that the next request tries again.
      loaded.catch(() => this.loading.delete(name));
    }
    return loaded;
  }

  /** The models loaded so far (a model still loading is not listed). */
  async loaded(): Promise<LoadedModel[]> {
    const settled = await Promise.allSettled(this.loading.values());
    return settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  }

  async close(): Promise<void> {
    const loaded = await this.loaded();
    this.loading.clear();
    await Promise.all(loaded.map((model) => model.dispose()));
  }
}
