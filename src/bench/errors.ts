/** A measurement that cannot run as asked (too short a text, a baseline of another model, nothing to time). */
export class BenchError extends Error {
  override readonly name = "BenchError";
}
