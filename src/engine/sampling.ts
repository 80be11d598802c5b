/** How the next token is picked. Defaults are llama.cpp's (llama-cli and llama-server). */
export interface SamplingOptions {
  /** 0 picks the most likely token every time (greedy). */
  readonly temperature: number;
  /** Keep only the K most likely tokens; 0 keeps all. */
  readonly topK: number;
  /** Keep the smallest set of tokens whose probabilities add up to P; 1 keeps all. */
  readonly topP: number;
  /** Drop tokens less likely than minP × the top token's probability; 0 keeps all. */
  readonly minP: number;
  /** Same seed, same prompt, same settings: same output. Random when not given. */
  readonly seed?: number;
}

export const DEFAULT_SAMPLING: SamplingOptions = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 };

/**
 * Allowed ranges, one row per option: the engine refuses values outside them, and the CLI's flags use
 * them. The OpenAI routes are stricter where OpenAI's API is (temperature up to 2).
 */
export const SAMPLING_LIMITS = {
  temperature: { min: 0, max: 100 },
  topK: { min: 0, max: 1_000_000 },
  topP: { min: 0, max: 1 },
  minP: { min: 0, max: 1 },
  seed: { min: 0, max: 2 ** 32 - 1 },
} as const;

/** The problem with a sampling option, or undefined when all are in range. */
export function checkSampling(options: Partial<SamplingOptions>): string | undefined {
  for (const [name, limit] of Object.entries(SAMPLING_LIMITS)) {
    const value = options[name as keyof SamplingOptions];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < limit.min || value > limit.max) return `${name} must be between ${limit.min} and ${limit.max} (got ${value})`;
  }
  if (options.topK !== undefined && !Number.isInteger(options.topK)) return `topK must be a whole number (got ${options.topK})`;
  if (options.seed !== undefined && !Number.isInteger(options.seed)) return `seed must be a whole number (got ${options.seed})`;
  return undefined;
}
