// The GGUF stage: reading, validating and writing GGUF files. Uses nothing else of slmkit's.
export { type ByteSource, BufferByteSource, FileByteSource, PrefixByteSource, PrefixExhausted } from "./byte-source.js";
export { GgufError, type GgufErrorCode } from "./errors.js";
export {
  GgufMetadata,
  type GgufArray,
  type GgufValue,
  type PlainValue,
  toPlain,
  bool,
  f32,
  float32s,
  i32,
  int32s,
  str,
  strings,
  u32,
  u64,
} from "./metadata.js";
export {
  DEFAULT_ALIGNMENT,
  type GgufHeader,
  type GgufTensorInfo,
  parseGgufHeader,
  readGgufHeader,
  tensorDataStart,
} from "./reader.js";
export { classifyModel, isSynthetic, MODEL_CLASSES, SYNTHETIC_SEED_KEY, type ModelClassName, type ModelSummary, summarizeModel } from "./summary.js";
export { readTensorData, streamTensorData } from "./tensor-data.js";
export {
  TENSOR_TYPE_LAYOUTS,
  type TensorTypeLayout,
  rowByteSize,
  tensorByteSize,
  tensorTypeById,
  tensorTypeByName,
} from "./tensor-types.js";
export { type GgufToWrite, layoutGguf, type TensorDataSource, type TensorToWrite, writeGgufFile, type WriteProgress } from "./writer.js";
