import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { EngineError } from "./errors.js";

interface Waiter {
  readonly prompt: readonly Token[];
  readonly resolve: (sequence: LlamaContextSequence) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The sequences of one context, lent to one request at a time. A request gets the free sequence that
 * already holds the longest part of its prompt (so a growing conversation is not evaluated again);
 * when none is free it waits, first come first served, until one is returned or its signal aborts.
 */
export class SequencePool {
  private readonly free: LlamaContextSequence[];
  private readonly waiting: Waiter[] = [];
  private closed = false;

  constructor(
    sequences: readonly LlamaContextSequence[],
    private readonly name: string,
    /** Requests allowed to wait; one more is refused with BUSY at once. */
    private readonly maxWaiting = Infinity,
  ) {
    this.free = [...sequences];
  }

  get freeCount(): number {
    return this.free.length;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  acquire(prompt: readonly Token[], signal?: AbortSignal): Promise<LlamaContextSequence> {
    if (this.closed) return Promise.reject(new EngineError("DISPOSED", `model ${this.name} was unloaded`));
    if (signal?.aborted) return Promise.reject(new EngineError("ABORTED", "the request was cancelled before it started"));
    if (this.free.length > 0) return Promise.resolve(this.takeBestFor(prompt));
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(new EngineError("BUSY", `model ${this.name} is busy: ${this.waiting.length} requests are already waiting`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { prompt, resolve, reject };
      this.waiting.push(waiter);
      signal?.addEventListener(
        "abort",
        () => {
          const at = this.waiting.indexOf(waiter);
          if (at === -1) return;
          this.waiting.splice(at, 1);
          reject(new EngineError("ABORTED", "the request was cancelled while it waited for a free sequence"));
        },
        { once: true },
      );
    });
  }

  release(sequence: LlamaContextSequence): void {
    this.free.push(sequence);
    const next = this.waiting.shift();
    if (next) next.resolve(this.takeBestFor(next.prompt));
  }

  /** Refuses new requests and fails the waiting ones; sequences still lent out stay with their requests. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new EngineError("DISPOSED", `model ${this.name} was unloaded`));
  }

  private takeBestFor(prompt: readonly Token[]): LlamaContextSequence {
    let best = 0;
    let bestLength = -1;
    this.free.forEach((sequence, index) => {
      const length = commonPrefixLength(sequence.contextTokens, prompt);
      if (length > bestLength) {
        best = index;
        bestLength = length;
      }
    });
    return this.free.splice(best, 1)[0]!;
  }
}

/** How many leading tokens two token lists share. */
export function commonPrefixLength(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a[i] === b[i]) i++;
  return i;
}
