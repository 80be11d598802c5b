/** What went wrong while reading or writing a GGUF file; one code per kind of problem. */
export type GgufErrorCode =
  | "NOT_FOUND"
  | "IO"
  | "BAD_MAGIC"
  | "UNSUPPORTED_VERSION"
  | "BIG_ENDIAN"
  | "TRUNCATED"
  | "ABSURD_COUNT"
  | "ABSURD_LENGTH"
  | "HEADER_TOO_LARGE"
  | "BAD_VALUE_TYPE"
  | "NESTING_TOO_DEEP"
  | "DUPLICATE_KEY"
  | "BAD_ALIGNMENT"
  | "BAD_TENSOR_NAME"
  | "DUPLICATE_TENSOR"
  | "BAD_DIMENSIONS"
  | "SHAPE_OVERFLOW"
  | "UNKNOWN_TENSOR_TYPE"
  | "BAD_ROW_SIZE"
  | "MISALIGNED_TENSOR"
  | "OFFSET_PAST_END"
  | "OVERLAPPING_TENSORS"
  | "INVALID_INPUT";

/**
 * A GGUF file that cannot be read or written. The message is one line: the problem, the byte
 * offset where it was found (when there is one) and the file.
 */
export class GgufError extends Error {
  override readonly name = "GgufError";

  constructor(
    readonly code: GgufErrorCode,
    readonly detail: string,
    readonly offset?: number,
    readonly file?: string,
  ) {
    super(formatMessage(detail, offset, file));
  }

  /** The same error, told which file it came from (unless it already names one). */
  inFile(file: string): GgufError {
    return this.file !== undefined ? this : new GgufError(this.code, this.detail, this.offset, file);
  }
}

function formatMessage(detail: string, offset?: number, file?: string): string {
  const where = offset === undefined ? "" : ` at byte ${offset}`;
  const source = file === undefined ? "" : ` (${file})`;
  return `GGUF error${where}: ${printable(detail)}${source}`;
}

const MAX_DETAIL_LENGTH = 400;

/** Names in a broken file can hold anything: keep the message on one line and of sane length. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const escaped = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped.length > MAX_DETAIL_LENGTH ? `${escaped.slice(0, MAX_DETAIL_LENGTH)}…` : escaped;
}
