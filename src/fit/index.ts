// The fit stage: what a model takes in memory on this device, computed from its shapes.
export { deviceProfile, type DeviceProfile } from "./device.js";
export { acceleratorCopyBytes, type AttentionShape, attentionShapeOf, CACHE_TYPES, type CacheType, computeBytes, type Footprint, footprint, kvCacheBytes, RUNTIME_BYTES, weightsBytes } from "./footprint.js";
