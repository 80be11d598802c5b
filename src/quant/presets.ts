/**
 * The quantization presets `slmkit quantize` accepts: llama-quantize's file types (llama_ftype), one
 * row each, with the tensor type most weights get and the llama.cpp ftype id written to
 * general.file_type. Names are matched case-insensitively, as llama-quantize does; so are its
 * aliases and numeric ids.
 */

export interface QuantPreset {
  /** Name as llama-quantize prints it. */
  readonly name: string;
  /** The llama_ftype value written to general.file_type. */
  readonly fileType: number;
  /** The type most 2-D weight tensors get (before the mixture's per-tensor choices). */
  readonly defaultType: string;
  readonly description: string;
}

export const QUANT_PRESETS: readonly QuantPreset[] = [
  { name: "F32", fileType: 0, defaultType: "F32", description: "32-bit floats, no quantization" },
  { name: "F16", fileType: 1, defaultType: "F16", description: "16-bit floats" },
  { name: "BF16", fileType: 32, defaultType: "BF16", description: "bfloat16" },
  { name: "Q8_0", fileType: 7, defaultType: "Q8_0", description: "8.5 bits per weight: near-original quality" },
  { name: "Q4_0", fileType: 2, defaultType: "Q4_0", description: "4.5 bits per weight: maximum compression of the classic types" },
  { name: "Q4_1", fileType: 3, defaultType: "Q4_1", description: "5.0 bits per weight" },
  { name: "Q5_0", fileType: 8, defaultType: "Q5_0", description: "5.5 bits per weight" },
  { name: "Q5_1", fileType: 9, defaultType: "Q5_1", description: "6.0 bits per weight: balanced" },
  { name: "Q2_K", fileType: 10, defaultType: "Q2_K", description: "K-quant mixture around 2.6 bits per weight" },
  { name: "Q3_K_S", fileType: 11, defaultType: "Q3_K", description: "K-quant mixture, 3.4 bits per weight" },
  { name: "Q3_K_M", fileType: 12, defaultType: "Q3_K", description: "K-quant mixture, 3.9 bits per weight" },
  { name: "Q3_K_L", fileType: 13, defaultType: "Q3_K", description: "K-quant mixture, 4.3 bits per weight" },
  { name: "Q4_K_S", fileType: 14, defaultType: "Q4_K", description: "K-quant mixture, 4.6 bits per weight" },
  { name: "Q4_K_M", fileType: 15, defaultType: "Q4_K", description: "K-quant mixture, 4.9 bits per weight: the usual choice" },
  { name: "Q5_K_S", fileType: 16, defaultType: "Q5_K", description: "K-quant mixture, 5.5 bits per weight" },
  { name: "Q5_K_M", fileType: 17, defaultType: "Q5_K", description: "K-quant mixture, 5.7 bits per weight" },
  { name: "Q6_K", fileType: 18, defaultType: "Q6_K", description: "6.6 bits per weight" },
  { name: "TQ1_0", fileType: 36, defaultType: "TQ1_0", description: "1.69 bits per weight ternary, for BitNet b1.58 models" },
  { name: "TQ2_0", fileType: 37, defaultType: "TQ2_0", description: "2.06 bits per weight ternary, for BitNet b1.58 models" },
];

/** llama-quantize's aliases. */
const ALIASES: Record<string, string> = { Q3_K: "Q3_K_M", Q4_K: "Q4_K_M", Q5_K: "Q5_K_M" };

/** llama-quantize presets slmkit does not offer, and why. */
export const UNSUPPORTED_PRESETS: Record<string, string> = {
  Q2_K_S: "needs an importance matrix (imatrix), which slmkit does not compute yet",
  IQ1_S: "needs an importance matrix",
  IQ1_M: "needs an importance matrix",
  IQ2_XXS: "needs an importance matrix",
  IQ2_XS: "needs an importance matrix",
  IQ2_S: "needs an importance matrix",
  IQ2_M: "needs an importance matrix",
  IQ3_XXS: "IQ types are not implemented yet",
  IQ3_XS: "IQ types are not implemented yet",
  IQ3_S: "IQ types are not implemented yet",
  IQ3_M: "IQ types are not implemented yet",
  IQ4_NL: "IQ types are not implemented yet",
  IQ4_XS: "IQ types are not implemented yet",
  MXFP4_MOE: "MXFP4 is not implemented yet",
  Q1_0: "not implemented yet",
  Q2_0: "not implemented yet",
};

export class UnknownPresetError extends Error {
  override readonly name = "UnknownPresetError";
}

/** The preset for a name, alias or numeric ftype id; throws with the list of valid names otherwise. */
export function presetByName(input: string): QuantPreset {
  const upper = input.trim().toUpperCase();
  const name = ALIASES[upper] ?? upper;
  const found = QUANT_PRESETS.find((preset) => preset.name === name) ?? (/^\d+$/.test(upper) ? QUANT_PRESETS.find((preset) => preset.fileType === Number(upper)) : undefined);
  if (found) return found;
  const why = UNSUPPORTED_PRESETS[name];
  const valid = `valid types: ${QUANT_PRESETS.map((preset) => preset.name).join(", ")} (and the aliases ${Object.keys(ALIASES).join(", ")})`;
  throw new UnknownPresetError(why ? `${name} ${why}; ${valid}` : `unknown quantization type '${input}'; ${valid}`);
}
