// The fit stage: what a model takes in memory on this device, computed from its shapes.
export { deviceProfile, type DeviceProfile, freeDiskBytes } from "./device.js";
export { acceleratorCopyBytes, type AttentionShape, attentionShapeOf, CACHE_TYPES, type CacheType, computeReservedBytes, computeResidentBytes, type Footprint, footprint, type FootprintOptions, kvCacheBytes, MICRO_BATCH, runtimeBytes, weightsBytes } from "./footprint.js";
export { deviceIdentity, keptRates, type KeptRatesOptions, measureModel, measureRates, type ProbeOptions, probeableTypes, readRates, writeRates } from "./probe.js";
export { type DeviceRates, estimateSpeed, type KernelPath, memoryShare, neededRates, type SpeedEstimate, streamKey, type TokenWork, tokenWork, type WeightStream } from "./speed.js";
export { publishedFootprint, publishedHeader, publishedQuantBytes } from "./published.js";
export { type CandidateFacts, type Quality, QUALITY_TYPES, type Recommendation, type RecommendOptions, recommend, type UseCase, USE_CASES, type UseCaseName } from "./recommend.js";
