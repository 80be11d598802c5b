/** A published model's shapes as synth options: for twins (`synth --like`) and for footprints computed without the file. */
import { ARCHITECTURES } from "./architectures.js";
import type { SynthOptions } from "./synthesize.js";

/** The shapes a model catalog records (src/registry/catalog.json's `architecture`). */
export interface PublishedShapes {
  readonly arch: string;
  readonly layers: number;
  readonly embeddingWidth: number;
  readonly feedForwardWidth: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocabularySize: number;
  readonly tiedEmbeddings: boolean;
  /** Sliding-window attention (Gemma 3): the local layers' window and the period of local/global layers. */
  readonly slidingWindow?: number;
  readonly slidingWindowPattern?: number;
}

export type TwinOptions = Omit<SynthOptions, "output" | "onProgress"> & { readonly vocabularySize: number };

/** Undefined when slmkit cannot synthesize the architecture yet. */
export function twinOptions(shapes: PublishedShapes, contextLength: number, displayName: string): TwinOptions | undefined {
  const { arch, layers, embeddingWidth, feedForwardWidth, heads, kvHeads, headDim, vocabularySize, tiedEmbeddings, slidingWindow, slidingWindowPattern } = shapes;
  if (!ARCHITECTURES.some((spec) => spec.name === arch)) return undefined;
  // A period other than llama.cpp's default of 6 would need a key synth does not write yet.
  if (slidingWindowPattern !== undefined && slidingWindowPattern !== 6) return undefined;
  return {
    architecture: arch,
    shape: { layers, width: embeddingWidth, feedForward: feedForwardWidth, heads, kvHeads, headDim, tiedEmbeddings, contextLength, ...(slidingWindow === undefined ? {} : { slidingWindow }) },
    vocabularySize,
    name: `twin of ${displayName} (random weights)`,
  };
}
