/**
 * Which API's error body a route answers with: OpenAI's `{"error": {message, type, param, code}}`
 * (https://platform.openai.com/docs/guides/error-codes) or Ollama's `{"error": "message"}`. Both
 * carry the HTTP status; each API's clients parse only their own shape.
 */
export type ApiStyle = "openai" | "ollama";

/**
 * An error answered to a client. `type` and `code` follow OpenAI's error object, which OpenAI
 * clients parse; Ollama's shape carries only the message.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? "server_error" : "invalid_request_error",
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  /** The body OpenAI's API sends: `{ "error": { message, type, param, code } }`. */
  toOpenAi(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** The body Ollama's API sends: `{ "error": "message" }`. */
  toOllama(): { error: string } {
    return { error: this.message };
  }

  body(style: ApiStyle): object {
    return style === "ollama" ? this.toOllama() : this.toOpenAi();
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null): ApiError =>
  new ApiError(400, message, "invalid_request_error", code, param);

export const modelNotFound = (model: string): ApiError =>
  new ApiError(404, `The model '${model}' does not exist or is not served here; GET /v1/models lists the models`, "invalid_request_error", "model_not_found", "model");

/** A feature of the API that slmkit does not have yet: 501, so that clients tell it from a bad request. */
export const notImplemented = (message: string): ApiError => new ApiError(501, message, "server_error", "not_implemented");
