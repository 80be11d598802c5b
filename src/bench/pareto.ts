/**
 * The Pareto front of a set of candidates (quantizations of one model, say): those no other candidate beats
 * on every objective at once. Every objective is minimised; a quantity to maximise, such as tokens per second,
 * is given by the caller as its negation: `{ name: "speed", value: (run) => -run.tokensPerSecond }`.
 */

/** One objective to minimise: a name (for reports) and how to read it from an item. */
export interface Objective<T> {
  readonly name: string;
  readonly value: (item: T) => number;
}

/**
 * Items no other item beats on every objective (ties on all objectives: both kept). Order of input kept.
 * An item with a NaN objective is never on the front, and it does not push any other item off it: a
 * measurement that failed says nothing about which candidate is better.
 */
export function paretoFront<T>(items: readonly T[], objectives: readonly Objective<T>[]): T[] {
  // Each objective is read once per item, not once per comparison.
  const scores = items.map((item) => objectives.map((objective) => objective.value(item)));
  return items.filter((_, index) => {
    const score = scores[index]!;
    if (score.some(Number.isNaN)) return false;
    return !scores.some((other) => beats(other, score));
  });
}

/**
 * True when a is at least as good as b on every objective and strictly better on one. Always false when
 * either has a NaN objective.
 */
export function dominates<T>(a: T, b: T, objectives: readonly Objective<T>[]): boolean {
  return beats(
    objectives.map((objective) => objective.value(a)),
    objectives.map((objective) => objective.value(b)),
  );
}

function beats(a: readonly number[], b: readonly number[]): boolean {
  let strictlyBetter = false;
  for (let index = 0; index < a.length; index++) {
    const mine = a[index]!;
    const theirs = b[index]!;
    // Written as a negation so that a NaN on either side fails the comparison.
    if (!(mine <= theirs)) return false;
    if (mine < theirs) strictlyBetter = true;
  }
  return strictlyBetter;
}
