import type { LlamaModel, Token } from "node-llama-cpp";

/** Tokens kept as left context when detokenizing: enough for SentencePiece's space handling. */
const CONTEXT_TOKENS = 8;
/** A multi-byte character split over more tokens than this is given up on and emitted as is. */
const MAX_PENDING_TOKENS = 8;

/**
 * Turns generated tokens into text as they arrive: holds back a token whose bytes end inside a
 * UTF-8 character until the rest arrives, and holds back text that might be the start of a stop
 * string until it is clear that it is not. Works in time linear in the output.
 */
export class OutputText {
  private context: Token[];
  private pending: Token[] = [];
  /** Text decoded but not yet released, because it could begin a stop string. */
  private held = "";
  private emitted = "";
  private stopped = false;

  constructor(
    private readonly model: LlamaModel,
    promptTokens: readonly Token[],
    private readonly stopStrings: readonly string[],
  ) {
    this.context = promptTokens.slice(-CONTEXT_TOKENS);
  }

  /** True once a stop string has been produced; the text before it is all that is emitted. */
  get hitStop(): boolean {
    return this.stopped;
  }

  /** All text released so far. */
  get text(): string {
    return this.emitted;
  }

  /** Adds one token; returns the text that can be released now (possibly empty). */
  push(token: Token): string {
    if (this.stopped) return "";
    this.pending.push(token);
    const decoded = this.model.detokenize(this.pending, false, this.context);
    if (decoded.endsWith("\uFFFD") && this.pending.length < MAX_PENDING_TOKENS) return "";
    this.context = [...this.context, ...this.pending].slice(-CONTEXT_TOKENS);
    this.pending = [];
    return this.release(decoded, false);
  }

  /** Ends the output: releases whatever is still held (a held stop-string prefix was not a stop). */
  finish(): string {
    if (this.stopped) return "";
    const decoded = this.pending.length > 0 ? this.model.detokenize(this.pending, false, this.context) : "";
    this.pending = [];
    return this.release(decoded, true);
  }

  private release(decoded: string, final: boolean): string {
    const text = this.held + decoded;
    const stopAt = firstStop(text, this.stopStrings);
    if (stopAt !== undefined) {
      this.stopped = true;
      this.held = "";
      return this.emit(text.slice(0, stopAt));
    }
    const keep = final ? 0 : longestStopPrefixSuffix(text, this.stopStrings);
    this.held = text.slice(text.length - keep);
    return this.emit(text.slice(0, text.length - keep));
  }

  private emit(text: string): string {
    this.emitted += text;
    return text;
  }
}

function firstStop(text: string, stops: readonly string[]): number | undefined {
  let first: number | undefined;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at !== -1 && (first === undefined || at < first)) first = at;
  }
  return first;
}

/** Length of the longest end of `text` that is the beginning of some stop string. */
function longestStopPrefixSuffix(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let length = Math.min(stop.length - 1, text.length); length > longest; length--) {
      if (text.endsWith(stop.slice(0, length))) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}
