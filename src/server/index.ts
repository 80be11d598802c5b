// The serving stage: an HTTP server speaking OpenAI's and Ollama's APIs over the engine's loaded models.
export { ApiError } from "./api-error.js";
export { parseKeepAlive } from "./duration.js";
export { DEFAULT_KEEP_ALIVE_MS, describeModelFile, ModelPool, type PoolOptions, type ServedModel } from "./model-pool.js";
export { DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, ListenError, type RunningServer, type ServerOptions, startServer } from "./server.js";
