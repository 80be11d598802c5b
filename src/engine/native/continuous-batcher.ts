/**
 * Continuous batching on llama.cpp's C API: every step is one llama_decode carrying one row for every
 * generating sequence plus as many prompt tokens of newly admitted requests as the batch holds; each
 * sequence samples from its own row with its own llama.cpp sampler chain. A request that finishes or
 * is aborted frees its sequence at once for the next one waiting.
 *
 * Why: node-llama-cpp's batching gave 4 sequences only 1.07× the tokens/s of one on a qwen3-0.6b-shaped
 * Q4_0 model (issue 4); this loop gave 2.05×, llama.cpp's own scaling (BENCHMARKS.md, "Prototype").
 *
 * A sequence keeps its cache after its request ends; the next request goes to the free sequence that
 * holds the longest beginning of its prompt and evaluates only the rest, so a growing conversation is
 * not evaluated again from the start.
 */
import { EngineError } from "../errors.js";
import { commonPrefixLength } from "../sequence-pool.js";
import type { SamplerSettings } from "./llama-library.js";
import type { BatchRow, NativeModel, NativeSampler } from "./native-model.js";

export interface BatchedRequest {
  /** The prompt's tokens (BOS included when the model wants one). */
  readonly prompt: Int32Array;
  readonly maxTokens: number;
  readonly sampling: SamplerSettings;
  /**
   * Told of each generated token as it is drawn (never an end-of-generation token), with the logits it
   * was drawn from when `wantLogits` is set (a copy: the call comes while the next step decodes). Returning true ends
   * the request with finish reason "stop" (a stop string, say).
   */
  readonly onToken?: (token: number, logits?: Float32Array) => boolean | void;
  readonly wantLogits?: boolean;
  readonly signal?: AbortSignal;
}

export interface BatchedResult {
  readonly tokens: readonly number[];
  /** "stop": an end-of-generation token (not in `tokens`) or onToken asked to stop; "length": maxTokens reached. */
  readonly finishReason: "stop" | "length" | "aborted";
  readonly promptTokens: number;
  /** Prompt tokens already in the sequence's cache from an earlier request, not evaluated again. */
  readonly reusedPromptTokens: number;
}

export interface BatcherOptions {
  /** Requests that may wait for a sequence; one more is refused with BUSY at once. Default: no limit. */
  readonly maxQueue?: number;
  /** Named in errors. */
  readonly name?: string;
}

interface Slot {
  readonly sequence: number;
  readonly request: BatchedRequest;
  readonly sampler: NativeSampler;
  readonly tokens: number[];
  readonly reused: number;
  /** Prompt tokens already decoded. */
  promptDone: number;
  /** The token to feed next (the last one drawn), once the prompt is in. */
  next: number;
  /** Ended: nothing more is decoded for it (it may still await its last delivery). */
  finishing: boolean;
  /** Its sequence went back to the free ones (at the end, or as soon as its last token was drawn). */
  released: boolean;
  done: boolean;
  /** Tokens told to the request so far (a drawn token waits for the next decode to start). */
  delivered: number;
  resolve(result: BatchedResult): void;
  reject(error: unknown): void;
}

/** A drawn token waiting to be told to its request (while the next decode runs). */
interface Delivery {
  readonly slot: Slot;
  readonly token: number;
  readonly logits: Float32Array | undefined;
  /** The request ends with this token: "length" unless onToken asks to stop. */
  readonly last: "length" | undefined;
}

/** One-row steps slower than this run on a worker thread, so HTTP is not held up for longer. */
const SYNCHRONOUS_STEP_LIMIT_MS = 10;

interface Waiting {
  readonly request: BatchedRequest;
  readonly resolve: (result: BatchedResult) => void;
  readonly reject: (error: unknown) => void;
}

export class ContinuousBatcher {
  private readonly free: number[];
  /** The tokens each sequence holds in the KV cache, in position order. */
  private readonly cached: number[][];
  private readonly active = new Map<number, Slot>();
  /** Requests whose sequence was freed at their last token, which is not told yet. */
  private readonly ending = new Set<Slot>();
  private readonly waiting: Waiting[] = [];
  private running = false;
  private closed = false;
  private stopped: Promise<void> = Promise.resolve();
  /** Cells one sequence may use: the context shared out evenly. */
  readonly cellsPerSequence: number;
  /** Steps decoded, the rows they carried, and how many ran on the JS thread, for tests and metrics. */
  readonly stats = { steps: 0, rows: 0, largestStep: 0, stepsOnThisThread: 0 };
  /** How long the last one-row step took (ms): Infinity until one was measured. */
  private singleRowMs = Infinity;

  /**
   * `model` must have been opened with `sequences` ≥ `slots` and room for every slot's context. Serving
   * uses one KV stream per sequence (see NativeGeneration); an early version of this loop, without
   * prefix reuse, measured the opposite (4-row steps of sequences at different positions 95–101 ms with
   * separate streams vs 65–68 ms unified on the qwen3-0.6b twin) — measure again when this changes.
   */
  constructor(
    private readonly model: NativeModel,
    readonly slots: number,
    private readonly options: BatcherOptions = {},
  ) {
    this.free = Array.from({ length: slots }, (_, index) => index);
    this.cached = Array.from({ length: slots }, () => []);
    this.cellsPerSequence = Math.floor(model.contextSize / slots);
  }

  /** Sequences generating now (requests about to take a free one at the next step included). */
  get busy(): number {
    return this.active.size + Math.min(this.free.length, this.waiting.length);
  }

  /** Requests waiting for a sequence. */
  get queued(): number {
    return Math.max(0, this.waiting.length - this.free.length);
  }

  generate(request: BatchedRequest): Promise<BatchedResult> {
    const name = this.options.name ?? "the model";
    if (this.closed) return Promise.reject(new EngineError("DISPOSED", `${name} was unloaded`));
    if (request.signal?.aborted) return Promise.reject(new EngineError("ABORTED", "the request was cancelled before it started"));
    if (request.prompt.length === 0) return Promise.reject(new EngineError("BAD_OPTION", "the prompt has no tokens"));
    if (request.prompt.length + request.maxTokens > this.cellsPerSequence) {
      return Promise.reject(new EngineError("PROMPT_TOO_LONG", `a prompt of ${request.prompt.length} tokens and ${request.maxTokens} more do not fit a sequence of ${this.cellsPerSequence} cells`));
    }
    if (this.waiting.length - this.free.length >= (this.options.maxQueue ?? Infinity)) {
      return Promise.reject(new EngineError("BUSY", `${name} is busy: ${this.waiting.length} requests are already waiting`));
    }
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { request, resolve, reject };
      this.waiting.push(waiting);
      request.signal?.addEventListener(
        "abort",
        () => {
          const at = this.waiting.indexOf(waiting);
          if (at === -1) return;
          this.waiting.splice(at, 1);
          reject(new EngineError("ABORTED", "the request was cancelled while it waited for a free sequence"));
        },
        { once: true },
      );
      if (!this.running) {
        // Started on the next turn, so requests made together go into one first step.
        this.running = true;
        this.stopped = new Promise((resolve) => setImmediate(() => void this.run().finally(resolve)));
      }
    });
  }

  /**
   * Stops taking requests; running ones end as aborted, waiting ones fail with DISPOSED. Resolves once
   * no decode runs any more: only then may the model be closed.
   */
  close(): Promise<void> {
    this.closed = true;
    for (const waiting of this.waiting.splice(0)) waiting.reject(new EngineError("DISPOSED", `${this.options.name ?? "the model"} was unloaded`));
    for (const slot of [...this.active.values()]) this.finish(slot, "aborted");
    return this.stopped;
  }

  private admit(): void {
    while (this.free.length > 0 && this.waiting.length > 0) {
      const waiting = this.waiting.shift()!;
      const request = waiting.request;
      const at = this.bestFreeSequenceFor(request.prompt);
      const sequence = this.free[at]!;
      let sampler: NativeSampler;
      try {
        sampler = this.model.sampler(request.sampling);
      } catch (error) {
        waiting.reject(error);
        continue;
      }
      this.free.splice(at, 1);
      // The last prompt token is always decoded again: its logits pick the first new token.
      const cached = this.cached[sequence]!;
      const reused = Math.min(commonPrefixLength(cached, request.prompt), request.prompt.length - 1);
      if (reused < cached.length) {
        this.model.removeSequence(sequence, reused);
        cached.length = reused;
      }
      this.active.set(sequence, {
        sequence,
        request,
        sampler,
        tokens: [],
        reused,
        promptDone: reused,
        next: -1,
        finishing: false,
        released: false,
        done: false,
        delivered: 0,
        resolve: waiting.resolve,
        reject: waiting.reject,
      });
    }
  }

  /** The free sequence whose cache shares the longest beginning with `prompt` (an index into `free`). */
  private bestFreeSequenceFor(prompt: Int32Array): number {
    let best = 0;
    let bestLength = -1;
    this.free.forEach((sequence, index) => {
      const length = commonPrefixLength(this.cached[sequence]!, prompt);
      if (length > bestLength) {
        best = index;
        bestLength = length;
      }
    });
    return best;
  }

  /** Gives the slot's sequence to the next request; nothing more is decoded for it. */
  private release(slot: Slot): void {
    if (slot.released) return;
    slot.released = true;
    this.active.delete(slot.sequence);
    slot.sampler.free();
    this.free.push(slot.sequence);
  }

  private finish(slot: Slot, reason: BatchedResult["finishReason"]): void {
    this.release(slot);
    this.ending.delete(slot);
    slot.done = true;
    // A token drawn but not yet told to the request (it was aborted meanwhile) is not part of the result.
    slot.resolve({ tokens: slot.tokens.slice(0, slot.delivered), finishReason: reason, promptTokens: slot.request.prompt.length, reusedPromptTokens: slot.reused });
  }

  /**
   * The loop: end what was aborted or stopped, admit waiting requests, start a decode on a worker
   * thread, and while it runs tell the requests the tokens drawn after the previous one (their text goes
   * out over HTTP meanwhile, as llama-server's HTTP threads do), then draw from the new logits. A lone
   * generating sequence decodes on the JS thread instead (see decodesOnThisThread).
   */
  private async run(): Promise<void> {
    let deliveries: Delivery[] = [];
    try {
      for (;;) {
        this.reap();
        this.admit();
        const batch = this.nextBatch();
        if (batch.rows.length === 0) {
          if (deliveries.length === 0) return;
          this.deliver(deliveries);
          deliveries = [];
          continue;
        }
        if (this.decodesOnThisThread(batch.rows.length)) {
          // Tell first: the previous token's text leaves before the thread is given to llama.cpp.
          this.deliver(deliveries);
          const started = performance.now();
          this.model.decode(batch.rows);
          this.singleRowMs = performance.now() - started;
          this.count(batch.rows.length, true);
          deliveries = this.draw(batch.sampled);
          // One turn of the event loop between steps: sockets are read and written, aborts arrive.
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        // While the decode runs on a worker thread, the KV cache and the batch are left alone.
        const started = performance.now();
        const decoded = this.model.decodeAsync(batch.rows);
        this.deliver(deliveries);
        await decoded;
        if (batch.rows.length === 1) this.singleRowMs = performance.now() - started;
        this.count(batch.rows.length, false);
        deliveries = this.draw(batch.sampled);
      }
    } catch (error) {
      // A failed decode leaves the cache in an unknown state: every sequence starts over.
      for (const slot of [...this.active.values(), ...this.ending]) {
        this.release(slot);
        slot.done = true;
        slot.reject(error);
      }
      this.ending.clear();
      this.model.clear();
      for (const cached of this.cached) cached.length = 0;
      for (const waiting of this.waiting.splice(0)) waiting.reject(error);
    } finally {
      this.running = false;
      // A request may have arrived after the last step.
      if (this.waiting.length > 0 && !this.closed) {
        this.running = true;
        this.stopped = new Promise((resolve) => setImmediate(() => void this.run().finally(resolve)));
      }
    }
  }

  /**
   * Whether this step's llama_decode runs on the JS thread instead of a worker thread: a step of one
   * row (one client generating) with nobody waiting, while such a step takes under
   * SYNCHRONOUS_STEP_LIMIT_MS. Handing a decode to a worker thread and taking its result back costs
   * two thread wake-ups and koffi's async machinery every token, and on a machine whose cores all run
   * llama.cpp's threads the HTTP work done meanwhile is not free either. Measured on the 100M model
   * (~3 ms a token, 1 client, 2 cores, BENCHMARKS.md "Serving"): 1.03–1.07× the tokens/s of the worker
   * thread. With 4 clients the worker thread won (sync 0.90–0.93×), hence one row only; and a slow
   * decode would hold every HTTP request for its duration, hence the limit.
   */
  private decodesOnThisThread(rows: number): boolean {
    return rows === 1 && this.waiting.length === 0 && this.singleRowMs < SYNCHRONOUS_STEP_LIMIT_MS;
  }

  private count(rows: number, onThisThread: boolean): void {
    this.stats.steps++;
    this.stats.rows += rows;
    this.stats.largestStep = Math.max(this.stats.largestStep, rows);
    if (onThisThread) this.stats.stepsOnThisThread++;
  }

  /** Ends the requests that were aborted. */
  private reap(): void {
    for (const slot of [...this.active.values()]) if (slot.request.signal?.aborted) this.finish(slot, "aborted");
  }

  /** Generating sequences first (one row each), then prompt tokens while the batch has room. */
  private nextBatch(): { rows: BatchRow[]; sampled: Array<{ slot: Slot; row: number }> } {
    const rows: BatchRow[] = [];
    const sampled: Array<{ slot: Slot; row: number }> = [];
    for (const slot of this.active.values()) {
      if (slot.finishing || slot.promptDone < slot.request.prompt.length) continue;
      sampled.push({ slot, row: rows.length });
      rows.push({ token: slot.next, position: this.cached[slot.sequence]!.length, sequence: slot.sequence, output: true });
      this.cached[slot.sequence]!.push(slot.next);
    }
    for (const slot of this.active.values()) {
      const prompt = slot.request.prompt;
      const cached = this.cached[slot.sequence]!;
      while (!slot.finishing && slot.promptDone < prompt.length && rows.length < this.model.batchSize) {
        const last = slot.promptDone === prompt.length - 1;
        if (last) sampled.push({ slot, row: rows.length });
        const token = prompt[slot.promptDone]!;
        rows.push({ token, position: cached.length, sequence: slot.sequence, output: last });
        cached.push(token);
        slot.promptDone++;
      }
    }
    return { rows, sampled };
  }

  /** Draws each sampled row's token; an end-of-generation token ends its request at once. */
  private draw(sampled: ReadonlyArray<{ slot: Slot; row: number }>): Delivery[] {
    const deliveries: Delivery[] = [];
    // Samplers take the batch row; logits are numbered by output, in batch order (the order of `sampled`).
    sampled.forEach(({ slot, row }, output) => {
      if (slot.done) return;
      const token = slot.sampler.sample(row);
      if (this.model.isEndOfGeneration(token)) {
        this.finish(slot, "stop");
        return;
      }
      slot.tokens.push(token);
      slot.next = token;
      const last = slot.tokens.length >= slot.request.maxTokens ? "length" : undefined;
      if (last) {
        // Its sequence is not decoded again: the next request takes it in the very next step (llama-server
        // frees a slot at its last token too), not one step later, after the token is told.
        slot.finishing = true;
        this.release(slot);
        this.ending.add(slot);
      }
      // The logits are overwritten by the next decode: a request that wants them gets a copy.
      // One shape for every delivery (spreading optional fields in cost V8's slow path every token).
      deliveries.push({ slot, token, logits: slot.request.wantLogits === true ? this.model.logitsOf(output).slice() : undefined, last });
    });
    return deliveries;
  }

  private deliver(deliveries: readonly Delivery[]): void {
    for (const { slot, token, logits, last } of deliveries) {
      if (slot.done) continue;
      // A released slot is out of `active`, where reap() looks for aborts.
      if (slot.released && slot.request.signal?.aborted) {
        this.finish(slot, "aborted");
        continue;
      }
      slot.delivered++;
      const stop = slot.request.onToken?.(token, logits) === true;
      // On a stop its next token may be in the running decode already: that row goes to waste.
      if (stop) this.finish(slot, "stop");
      else if (last !== undefined) this.finish(slot, last);
    }
  }
}
