// The engine stage: loading GGUF models into llama.cpp (through node-llama-cpp) and generating text.
export { type ChatMessage, type ChatRole, ChatTemplate, type ToolCallMessagePart } from "./chat-template.js";
export { type OutputGrammar, type Penalties } from "./constraints.js";
export { EngineError, type EngineErrorCode } from "./errors.js";
export {
  DEFAULT_CONTEXT_SIZE,
  type EngineKind,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  LoadedModel,
  type LoadOptions,
  MAX_TOP_LOGPROBS,
  modelNameOf,
  type TokenAlternative,
  type TokenLogprob,
} from "./model.js";
export { type Backend, getRuntime, gpuState, type GpuState } from "./runtime.js";
export { DEFAULT_SAMPLING, SAMPLING_LIMITS, type SamplingOptions, checkSampling } from "./sampling.js";
export {
  parseToolCalls,
  prepareToolChat,
  templateKnowsTools,
  type ToolCall,
  type ToolCallSyntax,
  ToolCallStreamFilter,
  type ToolChat,
  type ToolChoice,
  type ToolDefinition,
} from "./tool-calls.js";
export { type Speculation } from "./speculation.js";
export { promptOpensThinking, splitThinking, templateSupportsThinking, ThinkingSplitter } from "./thinking.js";
export { type BatchedRequest, type BatchedResult, ContinuousBatcher } from "./native/continuous-batcher.js";
export { type BatchRow, type ModelDescription, NativeModel, type NativeModelOptions, type NativeSampler } from "./native/native-model.js";
export { largestIndex, largestIndexScalar, largestIndexSimd } from "./native/largest-index.js";
export { type SamplerSettings } from "./native/llama-library.js";
export { findPrebuiltDirectory, llamaLibrary } from "./native/llama-library.js";
