// The quantization stage: the table of tensor types with their kernels, llama-quantize's presets and
// mixtures, and streaming, multi-threaded quantization of whole files.
export { bf16ToFp32, fp16ToFp32, fp32ToBf16, fp32ToFp16 } from "./float16.js";
export { type QuantKernel } from "./kernels/kernel.js";
export { tensorRole, type TensorRole, useMoreBits } from "./mixture.js";
export { type PlannedTensor, type QuantizationPlan, QuantizeError, type QuantizeOptions, QUANTIZATION_VERSION, planQuantization } from "./plan.js";
export { QUANT_PRESETS, type QuantPreset, UnknownPresetError, presetByName } from "./presets.js";
export { type QuantizeFileOptions, type QuantizeProgress, type QuantizeReport, type TensorReport, quantizeFile } from "./quantize-file.js";
export { QUANT_TYPES, type QuantType, dequantizeElements, quantTypeById, quantTypeByName, quantizeRows } from "./types.js";
