// The engine stage: loading GGUF models into llama.cpp (through node-llama-cpp) and generating text.
export { type ChatMessage, type ChatRole, ChatTemplate } from "./chat-template.js";
export { type OutputGrammar, type Penalties } from "./constraints.js";
export { EngineError, type EngineErrorCode } from "./errors.js";
export {
  DEFAULT_CONTEXT_SIZE,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  LoadedModel,
  type LoadOptions,
  modelNameOf,
} from "./model.js";
export { type Backend, getRuntime } from "./runtime.js";
export { DEFAULT_SAMPLING, SAMPLING_LIMITS, type SamplingOptions, checkSampling } from "./sampling.js";
