// The synth stage: random-weight models of real architectures, with working tokenizers, for tests,
// demos and (later) measuring a model's speed and memory without downloading it.
export { ARCHITECTURES, type ArchitectureSpec, type ModelShape, architectureByName } from "./architectures.js";
export { plannedHeader, SYNTH_WEIGHT_TYPES, SynthError, type SynthOptions, type SynthResult, type SynthWeightType, synthesizeModel } from "./synthesize.js";
export { type PublishedShapes, type TwinOptions, twinOptions } from "./twin.js";
