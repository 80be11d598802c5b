import { statSync } from "node:fs";
import { LoadedModel, type LoadOptions, modelNameOf } from "../engine/index.js";
import { isSynthetic, readGgufHeader } from "../gguf/index.js";
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
    name: modelNameOf(path),
    path,
    created: Math.floor(statSync(path).mtimeMs / 1000),
    randomWeights: isSynthetic(header),
  };
}

/**
 * The models a server offers, loaded on first request. Concurrent first requests share one load.
 * (The memory budget, idle unloading and eviction of the serving-core issue build on this.)
 */
export class ModelPool {
  private readonly byName = new Map<string, ServedModel>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();
  /** Models whose load has finished; a model still loading is in `loading` only. */
  private readonly ready = new Map<string, LoadedModel>();

  constructor(
    models: readonly ServedModel[],
    private readonly loadOptions: LoadOptions,
  ) {
    for (const model of models) {
      if (this.byName.has(model.name)) throw new Error(`two models would both be served as '${model.name}'`);
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
      loaded.then(
        (model) => this.ready.set(name, model),
        // A failed load is forgotten so that the next request tries again.
        () => this.loading.delete(name),
      );
    }
    return loaded;
  }

  /** The model if its load has finished, without waiting for one in progress. */
  loadedModel(name: string): LoadedModel | undefined {
    return this.ready.get(name);
  }

  /** True while the model's first load is in progress. */
  isLoading(name: string): boolean {
    return this.loading.has(name) && !this.ready.has(name);
  }

  async close(): Promise<void> {
    const settled = await Promise.allSettled(this.loading.values());
    this.loading.clear();
    this.ready.clear();
    await Promise.all(settled.map((result) => (result.status === "fulfilled" ? result.value.dispose() : Promise.resolve())));
  }
}
