import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError } from "../api-error.js";
import type { KeyInfo } from "./keys.js";
import { RateLimiter } from "./rate-limiter.js";

function key(limits: KeyInfo["limits"]): KeyInfo {
  return { id: "0123456789ab", name: "k", role: "user", models: null, createdAt: "2026-01-01T00:00:00Z", expiresAt: null, revokedAt: null, limits };
}

function limited(work: () => unknown): { status: number; retryAfter: number } {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof ApiError);
    return { status: error.status, retryAfter: Number(error.headers["Retry-After"]) };
  }
  return { status: 200, retryAfter: 0 };
}

test("requests per minute: the limit-th request passes, the next gets 429 until the oldest leaves the window", () => {
  let now = 1_000_000;
  const limiter = new RateLimiter(() => now);
  const k = key({ requestsPerMinute: 3 });
  for (let index = 0; index < 3; index++) {
    assert.equal(limited(() => limiter.admit(k, false)).status, 200);
    now += 10_000;
  }
  const refused = limited(() => limiter.admit(k, false));
  assert.deepEqual(refused, { status: 429, retryAfter: 30 }, "the first request (at 0 s) leaves the window at 60 s; it is 30 s now");
  now += 30_000;
  assert.equal(limited(() => limiter.admit(k, false)).status, 200);
});

test("tokens per minute count when requests end; Retry-After waits for enough of them to age out", () => {
  let now = 0;
  const limiter = new RateLimiter(() => now);
  const k = key({ tokensPerMinute: 100 });
  limiter.admit(k, true)();
  limiter.addTokens(k, 60);
  now = 20_000;
  limiter.admit(k, true)();
  limiter.addTokens(k, 50);
  now = 30_000;
  assert.deepEqual(limited(() => limiter.admit(k, true)), { status: 429, retryAfter: 30 });
  now = 60_001;
  assert.equal(limited(() => limiter.admit(k, true)).status, 200, "60 of the 110 tokens have aged out");
});

test("concurrent generations: a slot frees when a request ends; other requests are not counted", () => {
  const limiter = new RateLimiter(() => 0);
  const k = key({ concurrentStreams: 2 });
  const first = limiter.admit(k, true);
  limiter.admit(k, true);
  assert.equal(limited(() => limiter.admit(k, true)).status, 429);
  assert.equal(limited(() => limiter.admit(k, false)).status, 200, "listing models is not a generation");
  first();
  first();
  assert.equal(limited(() => limiter.admit(k, true)).status, 200, "releasing twice frees one slot, not two");
  assert.equal(limited(() => limiter.admit(k, true)).status, 429);
});

test("keys are limited separately, and a key without limits is never limited", () => {
  const limiter = new RateLimiter(() => 0);
  const one = key({ requestsPerMinute: 1 });
  const other = { ...key({ requestsPerMinute: 1 }), id: "ba9876543210" };
  limiter.admit(one, false);
  assert.equal(limited(() => limiter.admit(other, false)).status, 200);
  const free = { ...key({}), id: "ffffffffffff" };
  for (let index = 0; index < 1000; index++) limiter.admit(free, true);
});
