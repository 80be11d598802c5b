/**
 * A published model's memory at a quantization, computed from its shapes alone (no file): the header
 * its twin would have, planned through the quantizer as the F16 file would be quantized.
 */
import type { GgufHeader } from "../gguf/index.js";
import { plannedHeader, type PublishedShapes, twinOptions } from "../synth/index.js";
import { deviceProfile } from "./device.js";
import { acceleratorCopyBytes, attentionShapeOf, type Footprint, footprint, weightsBytes } from "./footprint.js";

/** The header of the model's F16 twin; undefined when slmkit cannot describe the architecture yet. */
export function publishedHeader(shapes: PublishedShapes, contextLength: number, displayName: string): GgufHeader | undefined {
  const twin = twinOptions(shapes, contextLength, displayName);
  return twin && plannedHeader({ ...twin, type: "F16" });
}

/** Resident memory at `type` and `contextTokens`, or undefined for an architecture slmkit cannot describe. */
export function publishedFootprint(shapes: PublishedShapes, type: string, contextTokens: number, cpuFeatures: readonly string[]): Footprint | undefined {
  const header = publishedHeader(shapes, contextTokens, "model");
  if (!header) return undefined;
  return footprint(attentionShapeOf(header), { weightsBytes: weightsBytes(header, type), contextTokens, acceleratorCopyBytes: acceleratorCopyBytes(header, cpuFeatures, type) });
}

/**
 * Running bytes of a quantization of a published model on this device, for the registry's automatic
 * choice; undefined for an architecture or a type slmkit cannot plan (it then falls back to bits per weight).
 */
export function publishedQuantBytes(model: { readonly architecture: PublishedShapes }, quant: string, contextTokens: number): number | undefined {
  try {
    return publishedFootprint(model.architecture, quant, contextTokens, deviceProfile().cpuFeatures)?.totalBytes;
  } catch {
    return undefined; // a type slmkit's quantizer does not make (IQ4_XS, I2_S ...)
  }
}
