// The serving stage: an HTTP server speaking OpenAI's and Ollama's APIs over the engine's loaded models.
export { AccessControl, presentedKey, type Principal } from "./access/access-control.js";
export { type Authentication, type KeyInfo, type KeyLimits, KeyError, KeyStore, parseDuration, type Role, ROLES } from "./access/keys.js";
export { type Permission, PERMISSIONS, ROLE_PERMISSIONS, roleAllows } from "./access/permissions.js";
export { ApiError } from "./api-error.js";
export { type AuditFilter, type AuditLine, AuditError, AuditLog, type AuditRecord, type AuditVerification, parseSince, readAudit, verifyAudit } from "./audit/audit-log.js";
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
