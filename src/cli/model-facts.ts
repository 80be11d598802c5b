/**
 * What slmkit knows of a model named on the command line, for fit, footprint, compare and recommend: its
 * attention shape, its weights at a type, what one token costs and the accelerator copy. From the
 * file (a path or a store name) or a remote file's header, else from a catalog entry's shapes, else
 * from its parameter count.
 */
import { existsSync } from "node:fs";
import { acceleratorCopyBytes, type AttentionShape, attentionShapeOf, publishedHeader, type TokenWork, tokenWork, weightsBytes } from "../fit/index.js";
import { type GgufHeader, readGgufHeader, summarizeModel } from "../gguf/index.js";
import { averageBitsPerWeight, type CatalogModel, findCatalogModel, KNOWN_QUANTS, ModelStore, readRemoteHeader } from "../registry/index.js";
import { UsageError } from "./args.js";
import { resolveModelArgument } from "./model-argument.js";

export interface ModelFacts {
  readonly shape: AttentionShape;
  /** What a token costs (undefined when there is no tensor list: catalog models). */
  readonly work?: TokenWork;
  readonly weights: number;
  readonly weightsExact: boolean;
  /** Computed from a catalog model's shapes through the quantizer plan (not from its file). */
  readonly weightsFromShapes?: boolean;
  readonly name: string;
  readonly copy: number;
  /** The file, when there is one. */
  readonly path?: string;
  /** The catalog entry, when the model was named by it. */
  readonly catalog?: CatalogModel;
  readonly about: ModelAbout;
}

/** What `compare` shows of a model beside its memory and speed. */
export interface ModelAbout {
  readonly parameters: number;
  readonly modelClass: string;
  readonly license: string | undefined;
  readonly contextLength: number | undefined;
  readonly architecture: string | undefined;
}

function aboutCatalog(model: CatalogModel): ModelAbout {
  return { parameters: model.parameters, modelClass: model.class, license: model.license, contextLength: model.contextLength, architecture: model.architecture.arch };
}

function aboutHeader(header: GgufHeader): ModelAbout {
  const summary = summarizeModel(header);
  return { parameters: summary.parameters, modelClass: summary.modelClass, license: header.metadata.string("general.license"), contextLength: summary.contextLength, architecture: summary.architecture };
}

/** A Hugging Face ref or URL: its header is read over HTTP (Range requests), not downloaded whole. */
export const isRemoteRef = (target: string): boolean => /^(hf:|https?:\/\/)/.test(target);

const remoteHeaders = new Map<string, Promise<GgufHeader>>();

/** modelFacts, and for a remote ref the header fetched once per process. */
export async function modelFactsOf(target: string, type: string | undefined, cpuFeatures: readonly string[]): Promise<ModelFacts> {
  if (!isRemoteRef(target)) return modelFacts(target, type, cpuFeatures);
  let header = remoteHeaders.get(target);
  if (!header) {
    header = readRemoteHeader(target, { token: process.env.HF_TOKEN || undefined }).then((remote) => remote.header);
    remoteHeaders.set(target, header);
  }
  return headerFacts(await header, type, cpuFeatures, target);
}

export function modelFacts(target: string, type: string | undefined, cpuFeatures: readonly string[]): ModelFacts {
  const catalog = existsSync(target) ? undefined : findCatalogModel(target);
  if (catalog && !new ModelStore().read(target)) return catalogFacts(catalog, cpuFeatures, type);
  const { path, name } = resolveModelArgument(target);
  return { ...headerFacts(readGgufHeader(path), type, cpuFeatures, name), path };
}

function headerFacts(header: GgufHeader, type: string | undefined, cpuFeatures: readonly string[], name: string): ModelFacts {
  return { shape: attentionShapeOf(header), work: tokenWork(header, type), weights: weightsBytes(header, type), weightsExact: true, name, copy: acceleratorCopyBytes(header, cpuFeatures, type), about: aboutHeader(header) };
}

function catalogFacts(model: CatalogModel, cpuFeatures: readonly string[], type = "Q4_K_M"): ModelFacts {
  const header = publishedHeader(model.architecture, model.contextLength, model.displayName);
  if (header) {
    // An architecture slmkit can describe: the header of the model's twin, planned as the F16 file would be quantized.
    const name = `${model.id} (catalog: computed from its shapes)`;
    return { shape: attentionShapeOf(header), work: tokenWork(header, type), weights: weightsBytes(header, type), weightsExact: false, weightsFromShapes: true, name, copy: acceleratorCopyBytes(header, cpuFeatures, type), catalog: model, about: aboutCatalog(model) };
  }
  const bits = averageBitsPerWeight(type);
  if (bits === undefined) throw new UsageError(`no bits-per-weight figure for ${type}; give one of ${KNOWN_QUANTS.join(", ")}`);
  const { layers, kvHeads, headDim, embeddingWidth, feedForwardWidth, vocabularySize, slidingWindow, slidingWindowPattern } = model.architecture;
  const sliding = slidingWindow === undefined ? {} : { slidingWindow, slidingPattern: slidingWindowPattern ?? 6 };
  const shape = { layers, kvHeads, keyWidth: headDim, valueWidth: headDim, embeddingWidth, feedForwardWidth, vocabularySize, ...sliding };
  const weights = Math.round((model.parameters * bits) / 8);
  // AMX takes F16 and the 4-to-8-bit types (K-quants by their base type): a copy of about the weights.
  const amx = cpuFeatures.includes("amx_int8") && /^(F16|Q4_0|Q4_1|Q8_0|Q4_K|Q5_K|Q6_K)/.test(type) ? weights * (type === "Q8_0" ? 1.12 : 1) : 0;
  return { shape, weights, weightsExact: false, name: `${model.id} (catalog)`, copy: Math.round(amx), catalog: model, about: aboutCatalog(model) };
}
