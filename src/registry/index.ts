// The registry stage: where models live on this machine (the store), and how they get there (pull).
export { writeFileAtomic } from "./atomic-file.js";
export { RegistryError, type RegistryErrorCode } from "./errors.js";
export { slmkitHome } from "./home.js";
export { canonicalName, DEFAULT_TAG, formatModelName, type ModelName, parseModelName } from "./names.js";
export { DEFAULT_HF_ENDPOINT, hubEndpoint, pull, type PullEvent, type PullOptions } from "./pull.js";
export { type ModelRef, parseModelRef } from "./refs.js";
export { digestHex, type GcReport, type Manifest, ModelStore, nameFromFile } from "./store.js";
export { createModel, type CreateOptions } from "./create.js";
export { CONFIG_PARAMETERS, checkParameter, checkTemplate, type ConfigMessage, mergeConfig, type ModelConfig } from "./model-config.js";
export { type Modelfile, parseModelfile } from "./modelfile.js";
export { availableQuants, averageBitsPerWeight, CATALOG, type CatalogModel, chooseQuant, estimateBytes, fileFor, findCatalogModel, KNOWN_QUANTS, type QuantChoice, type QuantSize } from "./catalog.js";
export { readRemoteHeader, type RemoteHeader } from "./remote-header.js";
