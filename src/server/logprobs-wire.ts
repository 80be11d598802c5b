/**
 * Token log probabilities in each API's shape: OpenAI's chat (`logprobs.content`), OpenAI's legacy
 * completions (parallel arrays), Ollama's (a list beside the reply). A token that could not be drawn
 * (probability 0) is given OpenAI's floor of -9999 rather than a JSON-less -Infinity.
 */
import type { TokenAlternative, TokenLogprob } from "../engine/index.js";

const FLOOR = -9999;

const finite = (logprob: number): number => (Number.isFinite(logprob) ? logprob : FLOOR);

interface WireAlternative {
  token: string;
  logprob: number;
  bytes: number[];
}

function wireAlternative(alternative: TokenAlternative): WireAlternative {
  return { token: alternative.text, logprob: finite(alternative.logprob), bytes: [...Buffer.from(alternative.text, "utf8")] };
}

/** OpenAI chat: `{content: [{token, logprob, bytes, top_logprobs}], refusal: null}`. */
export function openAiChatLogprobs(logprobs: readonly TokenLogprob[]): { content: Array<WireAlternative & { top_logprobs: WireAlternative[] }>; refusal: null } {
  return { content: logprobs.map((entry) => ({ ...wireAlternative(entry), top_logprobs: entry.top.map(wireAlternative) })), refusal: null };
}

/** OpenAI completions: tokens, their logprobs, a token → logprob object per position, and each token's offset in the text. */
export function openAiCompletionLogprobs(
  logprobs: readonly TokenLogprob[],
  startOffset = 0,
): { tokens: string[]; token_logprobs: number[]; top_logprobs: Array<Record<string, number>>; text_offset: number[] } {
  const textOffset: number[] = [];
  let offset = startOffset;
  for (const entry of logprobs) {
    textOffset.push(offset);
    offset += entry.text.length;
  }
  return {
    tokens: logprobs.map((entry) => entry.text),
    token_logprobs: logprobs.map((entry) => finite(entry.logprob)),
    top_logprobs: logprobs.map((entry) => Object.fromEntries(entry.top.map((alternative) => [alternative.text, finite(alternative.logprob)]))),
    text_offset: textOffset,
  };
}

/** Ollama: `[{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]`. */
export function ollamaLogprobs(logprobs: readonly TokenLogprob[]): Array<WireAlternative & { top_logprobs: WireAlternative[] }> {
  return openAiChatLogprobs(logprobs).content;
}
