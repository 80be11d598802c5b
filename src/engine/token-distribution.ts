/**
 * The distribution a token is drawn from, computed from the model's logits in JS for log
 * probabilities: logit biases, then top-k, top-p and min-p as llama.cpp's samplers apply them, then a
 * softmax at the request's temperature. At temperature 0 (greedy) it is the model's own distribution
 * (biases applied, no filters). Grammars and repetition penalties are not reflected.
 */
import type { SamplingOptions } from "./sampling.js";

export interface TokenDistribution {
  /** Natural log of the token's probability; -Infinity when the filters removed it. */
  logprobOf(token: number): number;
  /** The `count` most likely tokens, most likely first, with their probabilities. */
  top(count: number): Array<{ token: number; probability: number }>;
}

export function tokenDistribution(logits: Float32Array, sampling: SamplingOptions, bias?: ReadonlyMap<number, number>): TokenDistribution {
  const score = (token: number): number => logits[token]! + (bias?.get(token) ?? 0);
  const vocabulary = logits.length;
  const greedy = sampling.temperature <= 0;
  const temperature = greedy ? 1 : sampling.temperature;
  let max = -Infinity;
  for (let token = 0; token < vocabulary; token++) max = Math.max(max, score(token));
  // The filters run on the untempered distribution (llama.cpp applies temperature after them).
  const relative = (token: number): number => Math.exp(score(token) - max);
  let kept: number[] | undefined;
  if (!greedy && (sampling.topK > 0 || sampling.topP < 1 || sampling.minP > 0)) {
    if (sampling.topK > 0) kept = mostLikely(score, vocabulary, Math.min(sampling.topK, vocabulary));
    else if (sampling.minP > 0) kept = tokensWhere(vocabulary, (token) => relative(token) >= sampling.minP).sort((a, b) => score(b) - score(a));
    else kept = mostLikely(score, vocabulary, vocabulary);
    if (sampling.topP < 1) {
      // The smallest most-likely set whose probabilities reach top-p.
      let total = 0;
      for (const token of kept) total += relative(token);
      let sum = 0;
      let end = 0;
      while (end < kept.length && sum < sampling.topP * total) sum += relative(kept[end++]!);
      kept = kept.slice(0, Math.max(1, end));
    }
    if (sampling.minP > 0) {
      const top = relative(kept[0]!);
      kept = kept.filter((token) => relative(token) >= sampling.minP * top);
    }
  }
  const weight = (token: number): number => Math.exp((score(token) - max) / temperature);
  let total = 0;
  if (kept) for (const token of kept) total += weight(token);
  else for (let token = 0; token < vocabulary; token++) total += weight(token);
  const keptSet = kept ? new Set(kept) : undefined;
  const probability = (token: number): number => (keptSet === undefined || keptSet.has(token) ? weight(token) / total : 0);
  return {
    logprobOf: (token) => {
      const p = probability(token);
      return p > 0 ? Math.log(p) : -Infinity;
    },
    top: (count) => (count <= 0 ? [] : (kept ?? mostLikely(score, vocabulary, count)).slice(0, count).map((token) => ({ token, probability: probability(token) }))),
  };
}

function tokensWhere(vocabulary: number, keep: (token: number) => boolean): number[] {
  const found: number[] = [];
  for (let token = 0; token < vocabulary; token++) if (keep(token)) found.push(token);
  return found;
}

/** The `count` highest-scoring tokens, highest first (a partial selection; a full sort only for the whole vocabulary). */
function mostLikely(score: (token: number) => number, vocabulary: number, count: number): number[] {
  if (count >= vocabulary) {
    const all = Array.from({ length: vocabulary }, (_, token) => token);
    return all.sort((a, b) => score(b) - score(a));
  }
  const best: number[] = [];
  for (let token = 0; token < vocabulary; token++) {
    const value = score(token);
    if (best.length === count && value <= score(best[count - 1]!)) continue;
    let at = best.length;
    while (at > 0 && score(best[at - 1]!) < value) at--;
    best.splice(at, 0, token);
    if (best.length > count) best.pop();
  }
  return best;
}
