// The serving stage: an HTTP server speaking OpenAI's and Ollama's APIs over the engine's loaded models.
export { ApiError } from "./api-error.js";
export { parseKeepAlive } from "./duration.js";
export { DEFAULT_KEEP_ALIVE_MS, describeModelFile, ModelPool, type PoolOptions, type ServedModel } from "./model-pool.js";
export { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger, type LogLevel } from "./logger.js";
export {
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  ListenError,
  type RunningServer,
  type ServerOptions,
  type ShutdownReport,
  startServer,
} from "./server.js";
