/** A registry operation that cannot be done as asked; the message says what to do instead. */
export class RegistryError extends Error {
  override readonly name = "RegistryError";

  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type RegistryErrorCode =
  | "BAD_NAME"
  | "BAD_REF"
  | "NOT_FOUND"
  | "EXISTS"
  | "OFFLINE"
  | "UNAUTHORIZED"
  | "HTTP"
  | "VERIFY_FAILED"
  | "IO";
