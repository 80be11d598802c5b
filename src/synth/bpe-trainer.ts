/**
 * A small byte-pair-encoding trainer: repeatedly merges the most frequent adjacent pair of symbols
 * in a bag of words. Deterministic (ties go to the alphabetically first pair), which the synthetic
 * tokenizers rely on to make the same vocabulary every time.
 */

export interface TrainedMerges {
  /** Merged pairs, most frequent first. */
  readonly merges: ReadonlyArray<readonly [string, string]>;
  /** Every single symbol that occurs in the words, sorted. */
  readonly alphabet: readonly string[];
}

/** `words` maps each word, already split into initial symbols, to how often it occurs. */
export function trainMerges(words: ReadonlyMap<string, { symbols: string[]; count: number }>, mergeCount: number): TrainedMerges {
  const bag = [...words.values()].map((word) => ({ symbols: [...word.symbols], count: word.count }));
  const alphabet = [...new Set(bag.flatMap((word) => word.symbols))].sort();
  const merges: Array<[string, string]> = [];
  for (let round = 0; round < mergeCount; round++) {
    const best = mostFrequentPair(bag);
    if (best === undefined) break;
    merges.push(best);
    const [left, right] = best;
    for (const word of bag) word.symbols = mergePair(word.symbols, left, right);
  }
  return { merges, alphabet };
}

function mostFrequentPair(bag: ReadonlyArray<{ symbols: string[]; count: number }>): [string, string] | undefined {
  const counts = new Map<string, number>();
  for (const word of bag) {
    for (let i = 0; i + 1 < word.symbols.length; i++) {
      const key = `${word.symbols[i]}\u0000${word.symbols[i + 1]}`;
      counts.set(key, (counts.get(key) ?? 0) + word.count);
    }
  }
  let bestKey: string | undefined;
  let bestCount = 1; // a pair seen once teaches nothing
  for (const [key, count] of counts) {
    if (count > bestCount || (count === bestCount && bestKey !== undefined && key < bestKey)) {
      bestKey = key;
      bestCount = count;
    }
  }
  if (bestKey === undefined) return undefined;
  const [left, right] = bestKey.split("\u0000") as [string, string];
  return [left, right];
}

function mergePair(symbols: string[], left: string, right: string): string[] {
  const merged: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i] === left && symbols[i + 1] === right) {
      merged.push(left + right);
      i++;
    } else {
      merged.push(symbols[i]!);
    }
  }
  return merged;
}

/** Counts the pieces `split` cuts a text into; each piece becomes a word for the trainer. */
export function countPieces(text: string, split: (text: string) => string[], toSymbols: (piece: string) => string[]) {
  const words = new Map<string, { symbols: string[]; count: number }>();
  for (const piece of split(text)) {
    const entry = words.get(piece);
    if (entry) entry.count++;
    else words.set(piece, { symbols: toSymbols(piece), count: 1 });
  }
  return words;
}
