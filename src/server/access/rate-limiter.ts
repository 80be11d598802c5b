/**
 * Per-key limits: requests per minute, tokens per minute (prompt + output, counted when a request
 * ends) and concurrent generations, over a sliding 60-second window. A request past a limit gets 429
 * with Retry-After: the seconds until the window has room again.
 */
import { ApiError } from "../api-error.js";
import type { KeyInfo } from "./keys.js";

const WINDOW_MS = 60_000;

interface KeyUsage {
  readonly requests: number[];
  readonly tokens: Array<{ readonly at: number; readonly count: number }>;
  active: number;
}

const tooMany = (message: string, retryAfterSeconds: number): ApiError =>
  new ApiError(429, message, "rate_limit_error", "rate_limit_exceeded", null, { "Retry-After": String(Math.max(1, Math.ceil(retryAfterSeconds))) });

export class RateLimiter {
  private readonly usage = new Map<string, KeyUsage>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Admits a request of `key` or throws 429. `generation` requests also take a concurrency slot;
   * call the returned function when the request ends.
   */
  admit(key: KeyInfo, generation: boolean): () => void {
    const limits = key.limits;
    const now = this.now();
    const usage = this.usageOf(key.id, now);
    if (limits.requestsPerMinute !== undefined && usage.requests.length >= limits.requestsPerMinute) {
      const wait = (usage.requests[usage.requests.length - limits.requestsPerMinute]! + WINDOW_MS - now) / 1000;
      throw tooMany(`The key '${key.name}' is limited to ${limits.requestsPerMinute} requests per minute`, wait);
    }
    if (limits.tokensPerMinute !== undefined) {
      let used = usage.tokens.reduce((sum, entry) => sum + entry.count, 0);
      if (used >= limits.tokensPerMinute) {
        // Wait until enough of the window's tokens have aged out to go below the limit.
        let wait = 0;
        for (const entry of usage.tokens) {
          used -= entry.count;
          wait = (entry.at + WINDOW_MS - now) / 1000;
          if (used < limits.tokensPerMinute) break;
        }
        throw tooMany(`The key '${key.name}' is limited to ${limits.tokensPerMinute} tokens per minute`, wait);
      }
    }
    if (generation && limits.concurrentStreams !== undefined && usage.active >= limits.concurrentStreams) {
      throw tooMany(`The key '${key.name}' may run ${limits.concurrentStreams} generations at once; wait for one to finish`, 1);
    }
    usage.requests.push(now);
    if (!generation) return () => undefined;
    usage.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      usage.active--;
    };
  }

  /** Counts a finished request's prompt and output tokens against the key's tokens per minute. */
  addTokens(key: KeyInfo, count: number): void {
    if (count <= 0 || key.limits.tokensPerMinute === undefined) return;
    this.usageOf(key.id, this.now()).tokens.push({ at: this.now(), count });
  }

  private usageOf(id: string, now: number): KeyUsage {
    let usage = this.usage.get(id);
    if (usage === undefined) {
      usage = { requests: [], tokens: [], active: 0 };
      this.usage.set(id, usage);
    }
    while (usage.requests.length > 0 && usage.requests[0]! <= now - WINDOW_MS) usage.requests.shift();
    while (usage.tokens.length > 0 && usage.tokens[0]!.at <= now - WINDOW_MS) usage.tokens.shift();
    return usage;
  }
}
