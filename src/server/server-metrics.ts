/**
 * What GET /metrics reports: requests by route and status, tokens in and out, time to first token
 * and between tokens, and the state of every loaded model (sequences busy, requests queued, memory).
 */
import type { GenerateResult } from "../engine/index.js";
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, Registry, TOKEN_INTERVAL_BUCKETS } from "./metrics.js";
import type { ModelPool } from "./model-pool.js";

export class ServerMetrics {
  private readonly registry = new Registry();
  private readonly requests = this.registry.add(new Counter("slmkit_http_requests_total", "HTTP requests answered, by route, method and status."));
  private readonly requestSeconds = this.registry.add(new Histogram("slmkit_http_request_duration_seconds", "Time to answer an HTTP request, by route.", LATENCY_BUCKETS));
  private readonly promptTokens = this.registry.add(new Counter("slmkit_prompt_tokens_total", "Prompt tokens of generation requests, by model."));
  private readonly reusedTokens = this.registry.add(new Counter("slmkit_prompt_tokens_reused_total", "Prompt tokens whose evaluation was reused from the cache, by model."));
  private readonly generatedTokens = this.registry.add(new Counter("slmkit_generated_tokens_total", "Tokens generated, by model."));
  private readonly firstToken = this.registry.add(new Histogram("slmkit_time_to_first_token_seconds", "From a generation request to its first token, by model.", LATENCY_BUCKETS));
  private readonly tokenInterval = this.registry.add(new Histogram("slmkit_inter_token_seconds", "Time between two generated tokens of one request, by model.", TOKEN_INTERVAL_BUCKETS));
  readonly modelLoads = this.registry.add(new Counter("slmkit_model_loads_total", "Models loaded, by model."));
  readonly modelUnloads = this.registry.add(new Counter("slmkit_model_unloads_total", "Models unloaded, by model and reason (idle, evicted, requested)."));

  constructor(pool: ModelPool) {
    const running = (): ReturnType<ModelPool["running"]> => pool.running();
    this.registry.add(new Gauge("slmkit_loaded_models", "Models in memory now.", () => [[{}, new Set(running().map(({ model }) => model)).size]]));
    this.registry.add(new Gauge("slmkit_sequences", "Sequences (requests decoded at once) of each loaded model.", () => running().map(({ served, model }) => [{ model: served.name }, model.parallel])));
    this.registry.add(new Gauge("slmkit_busy_sequences", "Sequences generating now, by model.", () => running().map(({ served, model }) => [{ model: served.name }, model.busySequences])));
    this.registry.add(new Gauge("slmkit_queue_depth", "Requests waiting for a sequence, by model.", () => running().map(({ served, model }) => [{ model: served.name }, model.waitingRequests])));
    this.registry.add(
      new Gauge("slmkit_model_memory_bytes", "Memory a loaded model and its context take, by model and kind (ram, vram).", () =>
        running().flatMap(({ served, model }) => [
          [{ model: served.name, kind: "ram" }, model.memory.ram],
          [{ model: served.name, kind: "vram" }, model.memory.vram],
        ]),
      ),
    );
  }

  observeRequest(route: string, method: string, status: number | string, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.requestSeconds.observe(seconds, { route });
  }

  /** A token was generated for `model` `seconds` after the previous one. */
  observeTokenInterval(model: string, seconds: number): void {
    this.tokenInterval.observe(seconds, { model });
  }

  observeGeneration(model: string, result: GenerateResult): void {
    this.promptTokens.inc({ model }, result.promptTokens);
    this.reusedTokens.inc({ model }, result.reusedPromptTokens);
    this.generatedTokens.inc({ model }, result.completionTokens);
    if (result.completionTokens > 0) this.firstToken.observe(result.promptMs / 1000, { model });
  }

  render(): string {
    return this.registry.render();
  }
}
