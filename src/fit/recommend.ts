/**
 * Which model and quantization to run for a use case on this device. The starting point is the
 * seed's guidelines (micro SLMs for mobile chat; Qwen3-1.7B and Gemma 3 for a balanced desktop
 * assistant; Phi-4-mini and Qwen3-4B near large-model quality for code and research; Q4_0 for
 * maximum compression, Q5_1 balanced, Q8_0 near-original); the candidates are then checked against
 * computed memory and estimated speed here, and a quantization is stepped down when the preferred
 * one does not fit.
 */

export const USE_CASES = {
  "mobile-chat": {
    guideline: "micro SLMs (under 1.5B parameters) answer quickly on phones and small boards",
    models: ["qwen3:0.6b", "gemma3:1b", "llama3.2:1b", "smollm2:360m", "smollm2:135m"],
    contextTokens: 2048,
    quality: "max-compression",
    minTokensPerSecond: 8,
  },
  "desktop-assistant": {
    guideline: "Qwen3-1.7B and Gemma 3 balance answer quality and speed on a laptop",
    models: ["qwen3:1.7b", "gemma3:4b", "llama3.2:3b", "smollm2:1.7b", "gemma3:1b", "qwen3:0.6b"],
    contextTokens: 4096,
    quality: "balanced",
    minTokensPerSecond: 5,
  },
  code: {
    guideline: "Qwen3-4B and Phi-4-mini come closest to large models on code and reasoning",
    models: ["qwen3:4b", "phi4-mini:3.8b", "qwen3:8b", "qwen3:1.7b"],
    contextTokens: 8192,
    quality: "near-original",
    minTokensPerSecond: 4,
  },
  "document-analysis": {
    guideline: "long documents need long contexts: Gemma 3 (128k), Llama 3.2 (128k), Qwen3",
    models: ["gemma3:4b", "qwen3:4b", "llama3.2:3b", "gemma3:12b", "qwen3:1.7b", "llama3.2:1b"],
    contextTokens: 16384,
    quality: "balanced",
    minTokensPerSecond: 3,
  },
  research: {
    guideline: "the largest SLM that fits, near-original weights: Qwen3-8B, Phi-4-mini, Llama 3.1 8B",
    models: ["qwen3:8b", "phi4-mini:3.8b", "llama3.1:8b", "gemma3:12b", "qwen3:4b"],
    contextTokens: 8192,
    quality: "near-original",
    minTokensPerSecond: 2,
  },
} as const satisfies Record<string, UseCase>;

export interface UseCase {
  readonly guideline: string;
  /** Candidates in the guideline's order of preference. */
  readonly models: readonly string[];
  readonly contextTokens: number;
  readonly quality: Quality;
  /** Slower than this (estimated) is not a good experience for the use case. */
  readonly minTokensPerSecond: number;
}

export type UseCaseName = keyof typeof USE_CASES;

/** The quantizations of each quality level, preferred first, then the steps down. */
export const QUALITY_TYPES = {
  "max-compression": ["Q4_0", "Q4_K_M", "Q3_K_M", "Q2_K"],
  balanced: ["Q5_1", "Q5_K_M", "Q4_K_M", "Q4_0"],
  "near-original": ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M"],
} as const;
export type Quality = keyof typeof QUALITY_TYPES;

/** One model at one quantization, as computed for this device. */
export interface CandidateFacts {
  readonly model: string;
  readonly type: string;
  readonly memoryBytes: number;
  /** Undefined when it could not be estimated (architectures slmkit cannot describe yet). */
  readonly generationTokensPerSecond?: number;
  /** The file is in the model's published repositories (else: quantize the F16 with slmkit). */
  readonly published: boolean;
  /** The file is in the local store (required with --offline). */
  readonly local: boolean;
}

export interface Recommendation {
  readonly model: string;
  readonly type: string;
  /** A published file exists (`slmkit pull <model> --quant <type>`); else quantize the F16. */
  readonly published: boolean;
  readonly memoryBytes: number;
  readonly generationTokensPerSecond?: number;
  readonly score: number;
  readonly reasons: readonly string[];
}

export interface RecommendOptions {
  readonly useCase: UseCase;
  readonly quality: Quality;
  readonly memoryBudgetBytes: number;
  readonly offline: boolean;
  readonly describeBytes: (bytes: number) => string;
}

/**
 * Ranks the candidates: for each model (in the guideline's order) the best quantization of the
 * quality level that fits the budget (and is local, offline): the level's first type unless it must
 * step down, a published file before one the user must quantize. Models that fit nowhere are left
 * out; models estimated below the use case's speed are ranked after the rest. Lower score is better.
 */
export function recommend(facts: readonly CandidateFacts[], options: RecommendOptions): Recommendation[] {
  const { useCase, quality, memoryBudgetBytes, describeBytes } = options;
  const types: readonly string[] = QUALITY_TYPES[quality];
  const ranked: Recommendation[] = [];
  useCase.models.forEach((model, modelRank) => {
    const refused: string[] = [];
    let best: Recommendation | undefined;
    for (const [typeRank, type] of types.entries()) {
      const fact = facts.find((candidate) => candidate.model === model && candidate.type === type);
      if (!fact) continue;
      if (options.offline && !fact.local) {
        refused.push(`${type} is not in the store (offline)`);
        continue;
      }
      if (fact.memoryBytes > memoryBudgetBytes) {
        refused.push(`${type} would need ${describeBytes(fact.memoryBytes)}, over the ${describeBytes(memoryBudgetBytes)} budget`);
        continue;
      }
      const slow = fact.generationTokensPerSecond !== undefined && fact.generationTokensPerSecond < useCase.minTokensPerSecond;
      // An unpublished file means downloading the F16 and quantizing it: worse than one step down.
      const score = modelRank + typeRank * 0.75 + (slow ? 100 : 0) + (fact.published || options.offline ? 0 : 1);
      if (best !== undefined && best.score <= score) continue;
      const skipped = types.slice(0, typeRank).filter((earlier) => !refused.some((reason) => reason.startsWith(`${earlier} `)));
      const reasons = [
        modelRank === 0 ? `first choice of the guideline: ${useCase.guideline}` : `choice ${modelRank + 1} of the guideline (${useCase.guideline})`,
        typeRank === 0
          ? `${type}: the ${quality} quantization`
          : `${type}: stepped down from ${types[0]} (${[...refused, ...skipped.map((earlier) => `${earlier} has no published file`)].join("; ")})`,
        `${describeBytes(fact.memoryBytes)} at ${useCase.contextTokens} tokens of context, within ${describeBytes(memoryBudgetBytes)}`,
        fact.generationTokensPerSecond === undefined
          ? "speed not estimated (architecture not yet described by slmkit)"
          : `~${fact.generationTokensPerSecond.toFixed(1)} tokens/s estimated on this CPU${slow ? `, below the ${useCase.minTokensPerSecond} tokens/s this use case wants` : ""}`,
        ...(fact.published || options.offline ? [] : [`no published ${type} file: pull the F16 and run \`slmkit quantize --type ${type}\``]),
      ];
      best = { model, type, memoryBytes: fact.memoryBytes, ...(fact.generationTokensPerSecond === undefined ? {} : { generationTokensPerSecond: fact.generationTokensPerSecond }), published: fact.published, score, reasons };
    }
    if (best) ranked.push(best);
  });
  return ranked.sort((a, b) => a.score - b.score);
}
