/**
 * What GET /metrics reports: requests by route and status, tokens in and out, time to first token
 * and between tokens, and the state of every loaded model (sequences busy, requests queued, memory).
 */
import type { GenerateResult } from "../engine/index.js";
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, Registry, TOKEN_INTERVAL_BUCKETS } from "./metrics.js";
import type { ModelPool, PoolObserver, UnloadReason } from "./model-pool.js";

/** What generation routes report, per request: the gaps between tokens and the finished result. */
export interface GenerationObserver {
  /** Records the time between two generated tokens of one request; made once per request. */
  tokenIntervalObserver(model: string): (seconds: number) => void;
  observeGeneration(model: string, result: GenerateResult): void;
}

export class ServerMetrics implements GenerationObserver, PoolObserver {
  private readonly registry = new Registry();
  private readonly requests = this.registry.add(new Counter("slmkit_http_requests_total", "HTTP requests answered, by route, method and status."));
  private readonly requestSeconds = this.registry.add(new Histogram("slmkit_http_request_duration_seconds", "Time to answer an HTTP request, by route.", LATENCY_BUCKETS));
  private readonly promptTokens = this.registry.add(new Counter("slmkit_prompt_tokens_total", "Prompt tokens of generation requests, by model."));
  private readonly reusedTokens = this.registry.add(new Counter("slmkit_prompt_tokens_reused_total", "Prompt tokens whose evaluation was reused from the cache, by model."));
  private readonly generatedTokens = this.registry.add(new Counter("slmkit_generated_tokens_total", "Tokens generated, by model."));
  private readonly firstToken = this.registry.add(new Histogram("slmkit_time_to_first_token_seconds", "From a generation request to its first token, by model.", LATENCY_BUCKETS));
  private readonly tokenInterval = this.registry.add(new Histogram("slmkit_inter_token_seconds", "Time between two generated tokens of one request, by model.", TOKEN_INTERVAL_BUCKETS));
  private readonly generations = this.registry.add(new Counter("slmkit_generations_total", "Generations finished, by model and finish reason (stop, length, aborted: the client went away)."));
  private readonly modelLoads = this.registry.add(new Counter("slmkit_model_loads_total", "Model loads, by model and outcome (loaded, failed)."));
  private readonly loadSeconds = this.registry.add(new Histogram("slmkit_model_load_seconds", "Time to load a model, by model.", LATENCY_BUCKETS));
  private readonly speculative = this.registry.add(
    new Counter("slmkit_speculative_tokens_total", "Tokens proposed by speculative decoding (draft model or prompt lookup), by model and outcome (accepted, rejected); acceptance rate = accepted / (accepted + rejected)."),
  );
  private readonly modelUnloads = this.registry.add(new Counter("slmkit_model_unloads_total", "Models unloaded, by model and reason (idle, evicted, requested, removed, shutdown)."));

  /** `running` lists the loaded models when scraped (the pool, made after these metrics). */
  constructor(running: () => ReturnType<ModelPool["running"]>) {
    this.registry.add(new Gauge("slmkit_loaded_models", "Models in memory now.", () => [[{}, new Set(running().map(({ model }) => model)).size]]));
    this.registry.add(new Gauge("slmkit_model_engine_info", "1 per loaded model, labelled with the engine that decodes for it (native or node-llama-cpp).", () => running().map(({ served, model }) => [{ model: served.name, engine: model.engineKind }, 1])));
    this.registry.add(new Gauge("slmkit_sequences", "Sequences (requests decoded at once) of each loaded model.", () => running().map(({ served, model }) => [{ model: served.name }, model.parallel])));
    this.registry.add(new Gauge("slmkit_busy_sequences", "Sequences generating now, by model.", () => running().map(({ served, model }) => [{ model: served.name }, model.busySequences])));
    this.registry.add(new Gauge("slmkit_queue_depth", "Requests waiting for a sequence, by model.", () => running().map(({ served, model }) => [{ model: served.name }, model.waitingRequests])));
    // llama-server's n_decode_total and n_busy_slots_per_decode: rows / steps is how full the batches run.
    const decoding = () => running().flatMap(({ served, model }) => (model.decodeStats === undefined ? [] : [{ model: served.name, ...model.decodeStats }]));
    this.registry.add(new Gauge("slmkit_decode_steps_total", "llama.cpp decodes run by the continuous batcher since the model was loaded, by model (native engine).", () => decoding().map(({ model, steps }) => [{ model }, steps]), "counter"));
    this.registry.add(new Gauge("slmkit_decode_rows_total", "Batch rows (a generated or a prompt token each) in those decodes, by model: rows / steps is the mean batch.", () => decoding().map(({ model, rows }) => [{ model }, rows]), "counter"));
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

  /** Observes the gaps between one request's tokens for `model`, in seconds (its series is found once). */
  tokenIntervalObserver(model: string): (seconds: number) => void {
    return this.tokenInterval.bind({ model });
  }

  loaded(model: string, seconds: number, error?: unknown): void {
    this.modelLoads.inc({ model, outcome: error === undefined ? "loaded" : "failed" });
    if (error === undefined) this.loadSeconds.observe(seconds, { model });
  }

  unloaded(model: string, reason: UnloadReason): void {
    this.modelUnloads.inc({ model, reason });
  }

  observeGeneration(model: string, result: GenerateResult): void {
    this.generations.inc({ model, finish_reason: result.finishReason });
    this.promptTokens.inc({ model }, result.promptTokens);
    this.reusedTokens.inc({ model }, result.reusedPromptTokens);
    this.generatedTokens.inc({ model }, result.completionTokens);
    if (result.completionTokens > 0) this.firstToken.observe(result.promptMs / 1000, { model });
    if (result.speculation) {
      this.speculative.inc({ model, outcome: "accepted" }, result.speculation.accepted);
      this.speculative.inc({ model, outcome: "rejected" }, result.speculation.rejected);
    }
  }

  render(): string {
    return this.registry.render();
  }
}
