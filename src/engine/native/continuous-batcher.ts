/**
 * Continuous batching on llama.cpp's C API: every step is one llama_decode carrying one row for every
 * generating sequence plus as many prompt tokens of newly admitted requests as the batch holds; each
 * sequence samples from its own row with its own llama.cpp sampler chain. A request that finishes or
 * is aborted frees its sequence at once for the next one waiting.
 *
 * Why: node-llama-cpp's batching gave 4 sequences only 1.07× the tokens/s of one on a qwen3-0.6b-shaped
 * Q4_0 model (issue 4); this loop gave 2.05×, llama.cpp's own scaling (BENCHMARKS.md, "Prototype").
 * Not used by `slmkit serve` yet: grammars, stop strings, logprobs and prefix reuse are still the
 * node-llama-cpp engine's (see BENCHMARKS.md for what a native serving engine needs).
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { EngineError } from "../errors.js";
import type { SamplerSettings } from "./llama-library.js";
import type { BatchRow, NativeModel, NativeSampler } from "./native-model.js";

export interface BatchedRequest {
  /** The prompt's tokens (BOS included when the model wants one). */
  readonly prompt: Int32Array;
  readonly maxTokens: number;
  readonly sampling: SamplerSettings;
  /** Told of each generated token as it is drawn. */
  readonly onToken?: (token: number) => void;
  readonly signal?: AbortSignal;
}

export interface BatchedResult {
  readonly tokens: readonly number[];
  /** "stop": an end-of-generation token (not included in `tokens`); "length": maxTokens reached. */
  readonly finishReason: "stop" | "length" | "aborted";
  readonly promptTokens: number;
}

interface Slot {
  readonly sequence: number;
  readonly request: BatchedRequest;
  readonly sampler: NativeSampler;
  readonly tokens: number[];
  /** Prompt tokens already decoded. */
  promptDone: number;
  /** The token to feed next (the last one drawn), once the prompt is in. */
  next: number;
  resolve(result: BatchedResult): void;
}

interface Waiting {
  readonly request: BatchedRequest;
  readonly resolve: (result: BatchedResult) => void;
  readonly reject: (error: unknown) => void;
}

export class ContinuousBatcher {
  private readonly free: number[];
  private readonly active = new Map<number, Slot>();
  private readonly waiting: Waiting[] = [];
  private running = false;
  private closed = false;
  /** Steps decoded and the rows they carried, for tests and metrics. */
  readonly stats = { steps: 0, rows: 0, largestStep: 0 };

  /**
   * `model` must have been opened with `sequences` ≥ `slots` and room for every slot's context, and
   * should use one unified KV cache (`unifiedCache: true`): with one stream per sequence, a step whose
   * sequences stand at different positions (every step, in real serving) took 95–101 ms for 4 rows on
   * the qwen3-0.6b twin, against 65–68 ms unified (40 vs 59 tokens/s aggregate, measured).
   */
  constructor(
    private readonly model: NativeModel,
    readonly slots: number,
  ) {
    this.free = Array.from({ length: slots }, (_, index) => index);
  }

  generate(request: BatchedRequest): Promise<BatchedResult> {
    if (this.closed) return Promise.reject(new EngineError("DISPOSED", "the batcher is closed"));
    if (request.prompt.length === 0) return Promise.reject(new EngineError("BAD_OPTION", "the prompt has no tokens"));
    if (request.prompt.length + request.maxTokens > this.model.contextSize / this.slots) {
      return Promise.reject(new EngineError("PROMPT_TOO_LONG", `a prompt of ${request.prompt.length} tokens and ${request.maxTokens} more do not fit a slot of ${Math.floor(this.model.contextSize / this.slots)} cells`));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      if (!this.running) {
        // Started on the next turn, so requests made together are admitted together.
        this.running = true;
        setImmediate(() => void this.run());
      }
    });
  }

  /** Stops taking requests; running ones end as aborted. */
  close(): void {
    this.closed = true;
    for (const waiting of this.waiting.splice(0)) waiting.reject(new EngineError("DISPOSED", "the batcher was closed"));
    for (const slot of [...this.active.values()]) this.finish(slot, "aborted");
  }

  private admit(): void {
    while (this.free.length > 0 && this.waiting.length > 0) {
      const waiting = this.waiting.shift()!;
      const sequence = this.free.shift()!;
      const request = waiting.request;
      this.active.set(sequence, { sequence, request, sampler: this.model.sampler(request.sampling), tokens: [], promptDone: 0, next: -1, resolve: (result) => waiting.resolve(result) });
    }
  }

  private finish(slot: Slot, reason: BatchedResult["finishReason"]): void {
    this.active.delete(slot.sequence);
    slot.sampler.free();
    this.model.removeSequence(slot.sequence);
    this.free.push(slot.sequence);
    slot.resolve({ tokens: slot.tokens, finishReason: reason, promptTokens: slot.request.prompt.length });
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        for (const slot of [...this.active.values()]) if (slot.request.signal?.aborted) this.finish(slot, "aborted");
        this.admit();
        if (this.active.size === 0) return;
        this.step();
        // Let the event loop run (HTTP, new requests, aborts) between steps.
        await nextTurn();
      }
    } catch (error) {
      for (const slot of [...this.active.values()]) this.finish(slot, "aborted");
      for (const waiting of this.waiting.splice(0)) waiting.reject(error);
    } finally {
      this.running = false;
    }
  }

  /** One decode: generating sequences first (one row each), then prompt tokens while the batch has room. */
  private step(): void {
    const rows: BatchRow[] = [];
    const sampled: Array<{ slot: Slot; row: number }> = [];
    for (const slot of this.active.values()) {
      if (slot.promptDone < slot.request.prompt.length) continue;
      sampled.push({ slot, row: rows.length });
      rows.push({ token: slot.next, position: slot.request.prompt.length + slot.tokens.length - 1, sequence: slot.sequence, output: true });
    }
    for (const slot of this.active.values()) {
      const prompt = slot.request.prompt;
      while (slot.promptDone < prompt.length && rows.length < this.model.batchSize) {
        const last = slot.promptDone === prompt.length - 1;
        if (last) sampled.push({ slot, row: rows.length });
        rows.push({ token: prompt[slot.promptDone]!, position: slot.promptDone, sequence: slot.sequence, output: last });
        slot.promptDone++;
      }
    }
    this.model.decode(rows);
    this.stats.steps++;
    this.stats.rows += rows.length;
    this.stats.largestStep = Math.max(this.stats.largestStep, rows.length);
    for (const { slot, row } of sampled) {
      const token = slot.sampler.sample(row);
      if (this.model.isEndOfGeneration(token)) {
        this.finish(slot, "stop");
        continue;
      }
      slot.tokens.push(token);
      slot.next = token;
      slot.request.onToken?.(token);
      if (slot.tokens.length >= slot.request.maxTokens) this.finish(slot, "length");
    }
  }
}
