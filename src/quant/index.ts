// The quantization stage: tensor type conversions and (coming with issue 3) block quantizers.
export { bf16ToFp32, fp16ToFp32, fp32ToBf16, fp32ToFp16 } from "./float16.js";
