/**
 * The catalog (catalog.json, data; sources in catalog.md): the seed's models with their Hugging
 * Face GGUF files per quantization, licence, size and shape. `slmkit pull <alias>` resolves through
 * it; with no quantization asked, it picks the best one that fits this device's free memory with
 * room for a 4k context, by a simple rule (the fit stage will refine it).
 */
import type { PublishedShapes } from "../synth/index.js";
import { freemem } from "node:os";
import catalogData from "./catalog.json" with { type: "json" };
import { RegistryError } from "./errors.js";

export interface CatalogModel {
  readonly id: string;
  readonly family: string;
  readonly displayName: string;
  readonly parameters: number;
  readonly class: string;
  readonly license: string;
  readonly gated: boolean;
  readonly contextLength: number;
  readonly architecture: PublishedShapes;
  readonly sourceRepo: string;
  readonly gguf: ReadonlyArray<{ readonly repo: string; readonly files: Readonly<Record<string, string>> }>;
}

export const CATALOG: readonly CatalogModel[] = (catalogData as { models: CatalogModel[] }).models;

/** Quantizations from the most faithful to the smallest, with their average bits per weight in llama.cpp. */
const QUALITY_ORDER: ReadonlyArray<readonly [string, number]> = [
  ["F32", 32],
  ["BF16", 16],
  ["F16", 16],
  ["Q8_0", 8.5],
  ["Q6_K", 6.56],
  ["Q5_K_M", 5.69],
  ["Q5_K_S", 5.54],
  ["Q5_1", 6],
  ["Q5_0", 5.5],
  ["Q4_K_M", 4.89],
  ["Q4_K_S", 4.58],
  ["Q4_1", 5],
  ["Q4_0", 4.5],
  ["Q3_K_L", 4.27],
  ["Q3_K_M", 3.91],
  ["IQ4_XS", 4.25],
  ["Q3_K_S", 3.5],
  ["Q2_K", 3.35],
  ["I2_S", 2],
  ["TQ2_0", 2.06],
  ["TQ1_0", 1.69],
];

/** llama.cpp's average bits per weight of a quantization's mixture on typical models (undefined: not known). */
export function averageBitsPerWeight(quant: string): number | undefined {
  return QUALITY_ORDER.find(([name]) => name === quant.toUpperCase())?.[1];
}

/** The quantizations averageBitsPerWeight knows, most faithful first. */
export const KNOWN_QUANTS: readonly string[] = QUALITY_ORDER.map(([quant]) => quant);

/** Context the automatic choice leaves room for. */
export const CHOICE_CONTEXT = 4096;
/** Share of free memory the automatic choice may plan to use. */
const FREE_MEMORY_SHARE = 0.8;

export function findCatalogModel(alias: string): CatalogModel | undefined {
  const wanted = alias.trim().toLowerCase();
  return CATALOG.find((model) => model.id === wanted);
}

/** Bytes a quantization of a catalog model needs: weights, 16-bit KV cache for the context, 10% for the rest. */
export function estimateBytes(model: CatalogModel, bitsPerWeight: number, context = CHOICE_CONTEXT): number {
  const { layers, kvHeads, headDim } = model.architecture;
  const weights = (model.parameters * bitsPerWeight) / 8;
  const kvCache = layers * context * kvHeads * headDim * 2 * 2;
  return Math.round((weights + kvCache) * 1.1);
}

/**
 * Bytes a quantization of a model takes with a context, from a better source than the average bits
 * per weight (slmkit fit's footprint from the shapes); undefined where it has no answer.
 */
export type QuantSize = (model: CatalogModel, quant: string, contextTokens: number) => number | undefined;

export interface QuantChoice {
  readonly quant: string;
  readonly repo: string;
  readonly file: string;
  readonly estimatedBytes: number;
  /** Why this one, in a sentence. */
  readonly reason: string;
}

/** The quantizations of a model that have a file, most faithful first. */
export function availableQuants(model: CatalogModel): string[] {
  const present = new Set(model.gguf.flatMap((repo) => Object.keys(repo.files)));
  return QUALITY_ORDER.map(([quant]) => quant).filter((quant) => present.has(quant));
}

/** The file for a quantization: the first repo that has it (the catalog lists official repos first). */
export function fileFor(model: CatalogModel, quant: string): { repo: string; file: string } | undefined {
  const wanted = quant.toUpperCase();
  for (const repo of model.gguf) {
    const file = Object.entries(repo.files).find(([key]) => key.toUpperCase() === wanted)?.[1];
    if (file) return { repo: repo.repo, file };
  }
  return undefined;
}

/**
 * The quantization to pull: the one asked for, or the most faithful whose estimate fits in 80% of
 * `freeBytes`; when none fits, the smallest, with a reason that says so.
 */
export function chooseQuant(model: CatalogModel, asked?: string, freeBytes = freemem(), sizeOf?: QuantSize): QuantChoice {
  const bits = new Map(QUALITY_ORDER);
  const estimate = (quant: string): number => sizeOf?.(model, quant, CHOICE_CONTEXT) ?? estimateBytes(model, bits.get(quant) ?? 8);
  const available = availableQuants(model);
  if (asked !== undefined) {
    const found = fileFor(model, asked);
    if (!found) throw new RegistryError("NOT_FOUND", `${model.id} has no ${asked.toUpperCase()} file in the catalog; it has ${available.join(", ")}`);
    const estimatedBytes = estimate(asked.toUpperCase());
    return { quant: asked.toUpperCase(), ...found, estimatedBytes, reason: `${asked.toUpperCase()} as asked (about ${gib(estimatedBytes)} with a ${CHOICE_CONTEXT}-token context)` };
  }
  if (available.length === 0) throw new RegistryError("NOT_FOUND", `${model.id} has no GGUF file in the catalog`);
  const budget = freeBytes * FREE_MEMORY_SHARE;
  // Unquantized files are pulled only when asked: Q8_0 is near-original at half their size.
  const candidates = available.filter((quant) => quant !== "F32" && quant !== "F16" && quant !== "BF16");
  for (const quant of candidates.length > 0 ? candidates : available) {
    const estimatedBytes = estimate(quant);
    if (estimatedBytes <= budget) {
      const better = candidates.slice(0, candidates.indexOf(quant));
      const why = better.length > 0 ? `; ${better.join(", ")} would need more` : " (the most faithful available)";
      return { quant, ...fileFor(model, quant)!, estimatedBytes, reason: `${quant}: about ${gib(estimatedBytes)} with a ${CHOICE_CONTEXT}-token context fits in 80% of the ${gib(freeBytes)} free${why}` };
    }
  }
  const smallest = available.at(-1)!;
  const estimatedBytes = estimate(smallest);
  return { quant: smallest, ...fileFor(model, smallest)!, estimatedBytes, reason: `${smallest}, the smallest: even it (about ${gib(estimatedBytes)}) exceeds 80% of the ${gib(freeBytes)} free; it may not run well here` };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
