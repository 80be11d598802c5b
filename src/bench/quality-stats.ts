/**
 * Quality statistics of a model against the text (perplexity) and against a baseline's token
 * distributions (KL-divergence, top-token agreement, Δp), accumulated position by position with the
 * same definitions llama-perplexity uses, so the numbers compare directly with its output.
 */
import { type RowSummary, storedLogProb, summarizeRow } from "./log-probs.js";

/** Mean and standard error of a per-position quantity. */
export interface Estimate {
  readonly value: number;
  readonly uncertainty: number;
}

export interface Percentiles {
  readonly mean: number;
  readonly uncertainty: number;
  readonly max: number;
  readonly p99_9: number;
  readonly p99: number;
  readonly p95: number;
  readonly p90: number;
  readonly median: number;
  readonly p10: number;
  readonly p5: number;
  readonly p1: number;
  readonly p0_1: number;
  readonly min: number;
}

export interface PerplexityResult {
  readonly perplexity: number;
  readonly perplexityUncertainty: number;
  /** Positions scored. */
  readonly tokens: number;
}

export interface DivergenceResult extends PerplexityResult {
  readonly baselinePerplexity: number;
  /** PPL(model) / PPL(baseline). */
  readonly pplRatio: number;
  readonly pplRatioUncertainty: number;
  /** KL(baseline ‖ model) per position, in nats. */
  readonly kld: Percentiles;
  /** Share of positions where model and baseline rank the same token first (0–1). */
  readonly sameTopP: number;
  readonly sameTopPUncertainty: number;
  /** Root mean square of p(model) − p(baseline) for the text's next token (0–1). */
  readonly rmsDeltaP: number;
  /** Distribution of p(model) − p(baseline) for the text's next token. */
  readonly deltaP: Percentiles;
}

function meanAndUncertainty(sum: number, sumOfSquares: number, count: number): Estimate {
  if (count < 1) return { value: 0, uncertainty: 0 };
  const value = sum / count;
  const variance = sumOfSquares / count - value * value;
  return { value, uncertainty: variance > 0 && count > 10 ? Math.sqrt(variance / (count - 1)) : 0 };
}

/** Linear interpolation between order statistics, as llama-perplexity reports its percentiles. */
export function percentile(sorted: Float64Array | Float32Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  if (fraction <= 0) return sorted[0]!;
  if (fraction >= 1) return sorted[sorted.length - 1]!;
  const position = fraction * (sorted.length - 1);
  const below = Math.floor(position);
  const weight = position - below;
  return (1 - weight) * sorted[below]! + weight * sorted[Math.min(below + 1, sorted.length - 1)]!;
}

function percentilesOf(values: Float64Array, estimate: Estimate): Percentiles {
  const sorted = values.slice().sort();
  const middle = sorted.length >> 1;
  const median = sorted.length === 0 ? NaN : sorted.length % 2 === 0 ? 0.5 * (sorted[middle]! + sorted[middle - 1]!) : sorted[middle]!;
  return {
    mean: estimate.value,
    uncertainty: estimate.uncertainty,
    max: sorted[sorted.length - 1] ?? NaN,
    p99_9: percentile(sorted, 0.999),
    p99: percentile(sorted, 0.99),
    p95: percentile(sorted, 0.95),
    p90: percentile(sorted, 0.9),
    median,
    p10: percentile(sorted, 0.1),
    p5: percentile(sorted, 0.05),
    p1: percentile(sorted, 0.01),
    p0_1: percentile(sorted, 0.001),
    min: sorted[0] ?? NaN,
  };
}

/** Negative log-likelihood of the text's perplexity, position by position. */
export class PerplexityAccumulator {
  private sum = 0;
  private sumOfSquares = 0;
  private count = 0;

  /** Scores one position: `logits` predicted `token`. Returns the row summary for reuse. */
  add(logits: Float32Array, token: number): RowSummary {
    const summary = summarizeRow(logits);
    this.addNll(summary.max + summary.logSumExp - logits[token]!);
    return summary;
  }

  addNll(nll: number): void {
    this.sum += nll;
    this.sumOfSquares += nll * nll;
    this.count++;
  }

  get tokens(): number {
    return this.count;
  }

  result(): PerplexityResult {
    const logPerplexity = meanAndUncertainty(this.sum, this.sumOfSquares, this.count);
    const perplexity = Math.exp(logPerplexity.value);
    return { perplexity, perplexityUncertainty: perplexity * logPerplexity.uncertainty, tokens: this.count };
  }
}

/** Everything KL-divergence mode reports, from model logits against compressed baseline rows. */
export class DivergenceAccumulator {
  private readonly model = new PerplexityAccumulator();
  private readonly baseline = new PerplexityAccumulator();
  private sumNllProduct = 0;
  private sumKld = 0;
  private sumKldSquares = 0;
  private sumDeltaP = 0;
  private sumDeltaPSquares = 0;
  private sumDeltaPFourth = 0;
  private sameTop = 0;
  private kldValues = new Float64Array(1024);
  private deltaPValues = new Float64Array(1024);
  private count = 0;

  /**
   * One position: the model's `logits`, the baseline's compressed `baselineRow`, the text's next `token`.
   * Baseline log-probabilities below −16 nats are left out of the sum, as in llama-perplexity.
   */
  add(logits: Float32Array, baselineRow: Uint16Array, token: number): void {
    const summary = summarizeRow(logits);
    const nll = summary.max + summary.logSumExp - logits[token]!;
    const baselineNll = -storedLogProb(baselineRow, token);
    this.model.addNll(nll);
    this.baseline.addNll(baselineNll);
    this.sumNllProduct += nll * baselineNll;

    const header = new Float32Array(baselineRow.buffer, baselineRow.byteOffset, 2);
    const scale = header[0]!;
    const floor = header[1]!;
    const normalizer = summary.max + summary.logSumExp;
    let kld = 0;
    let baselineTop = 0;
    let baselineTopLogProb = -Infinity;
    for (let index = 0; index < logits.length; index++) {
      const baselineLogProb = scale * baselineRow[4 + index]! + floor;
      if (baselineLogProb > baselineTopLogProb) {
        baselineTopLogProb = baselineLogProb;
        baselineTop = index;
      }
      if (baselineLogProb > -16) kld += Math.exp(baselineLogProb) * (baselineLogProb - logits[index]! + normalizer);
    }
    if (baselineTop === summary.top) this.sameTop++;
    this.sumKld += kld;
    this.sumKldSquares += kld * kld;
    const deltaP = Math.exp(-nll) - Math.exp(-baselineNll);
    this.sumDeltaP += deltaP;
    this.sumDeltaPSquares += deltaP * deltaP;
    this.sumDeltaPFourth += deltaP ** 4;
    this.record(kld, deltaP);
  }

  get tokens(): number {
    return this.count;
  }

  result(): DivergenceResult {
    const count = this.count;
    const model = this.model.result();
    const base = this.baseline.result();
    const logModel = Math.log(model.perplexity);
    const logBase = Math.log(base.perplexity);
    const modelSpread = model.perplexity > 0 ? model.perplexityUncertainty / model.perplexity : 0;
    const baseSpread = base.perplexity > 0 ? base.perplexityUncertainty / base.perplexity : 0;
    const covariance = count < 10 ? 0 : (this.sumNllProduct / count - (logModel * logBase)) / (count - 1);
    const ratioSpread = Math.sqrt(Math.max(0, modelSpread ** 2 + baseSpread ** 2 - 2 * covariance));
    const pplRatio = Math.exp(logModel - logBase);
    const deltaPSquared = meanAndUncertainty(this.sumDeltaPSquares, this.sumDeltaPFourth, count);
    const rmsDeltaP = Math.sqrt(deltaPSquared.value);
    const sameTopP = count > 0 ? this.sameTop / count : 0;
    return {
      ...model,
      baselinePerplexity: base.perplexity,
      pplRatio,
      pplRatioUncertainty: pplRatio * ratioSpread,
      kld: percentilesOf(this.kldValues.subarray(0, count), meanAndUncertainty(this.sumKld, this.sumKldSquares, count)),
      sameTopP,
      sameTopPUncertainty: count > 1 ? Math.sqrt((sameTopP * (1 - sameTopP)) / (count - 1)) : 0,
      rmsDeltaP,
      deltaP: percentilesOf(this.deltaPValues.subarray(0, count), meanAndUncertainty(this.sumDeltaP, this.sumDeltaPSquares, count)),
    };
  }

  private record(kld: number, deltaP: number): void {
    if (this.count === this.kldValues.length) {
      const grownKld = new Float64Array(this.count * 2);
      grownKld.set(this.kldValues);
      this.kldValues = grownKld;
      const grownDeltaP = new Float64Array(this.count * 2);
      grownDeltaP.set(this.deltaPValues);
      this.deltaPValues = grownDeltaP;
    }
    this.kldValues[this.count] = kld;
    this.deltaPValues[this.count] = deltaP;
    this.count++;
  }
}
