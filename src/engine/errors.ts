export type EngineErrorCode =
  | "RUNTIME_UNAVAILABLE"
  | "LOAD_FAILED"
  | "PROMPT_TOO_LONG"
  | "BAD_OPTION"
  | "TEMPLATE_ERROR"
  | "DISPOSED"
  | "ABORTED"
  | "BUSY"
  | "TOKENIZE_FAILED"
  | "DECODE_FAILED";

/** A failure of the inference engine that the caller (CLI or server) can report as is. */
export class EngineError extends Error {
  override readonly name = "EngineError";

  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}
