/**
 * What both engines do with each generated token: keep it, tell the request (onToken, then its text
 * once final, with the log probabilities of the tokens that text came from), watch for stop strings,
 * and at the end assemble the GenerateResult.
 */
import type { LlamaModel, Token } from "node-llama-cpp";
import { SCHEMA_GRAMMAR_END } from "./constraints.js";
import type { FinishReason, GenerateRequest, GenerateResult, TokenLogprob } from "./model.js";
import { OutputText } from "./output-text.js";

export class GenerationOutput {
  readonly generated: Token[] = [];
  readonly logprobs: TokenLogprob[] = [];
  private readonly text: OutputText;
  private reported = 0;
  private firstTokenAt: number | undefined;

  constructor(
    vocabulary: LlamaModel,
    private readonly request: GenerateRequest,
    private readonly started: number,
  ) {
    // node-llama-cpp's JSON-schema grammars end with SCHEMA_GRAMMAR_END: the output stops before it.
    const stop = request.grammar?.kind === "json_schema" ? [...(request.stop ?? []), SCHEMA_GRAMMAR_END] : (request.stop ?? []);
    this.text = new OutputText(vocabulary, request.prompt, stop);
  }

  get wantsLogprobs(): boolean {
    return this.request.logprobs !== undefined;
  }

  /** A stop string has been produced: generation should end. */
  get hitStop(): boolean {
    return this.text.hitStop;
  }

  /** Marks the moment the first token (or the end) came: the prompt's time ends there. */
  firstToken(): void {
    this.firstTokenAt ??= performance.now();
  }

  /** Records a generated token (not an end-of-generation one) and tells the request. */
  push(token: Token, logprob?: TokenLogprob): void {
    this.firstToken();
    if (logprob) this.logprobs.push(logprob);
    this.generated.push(token);
    this.request.onToken?.();
    this.emit(this.text.push(token));
  }

  /** Releases held-back text and builds the result. */
  finish(finishReason: FinishReason, extra: { reusedPromptTokens: number; speculation?: GenerateResult["speculation"] }): GenerateResult {
    this.emit(this.text.finish());
    const ended = performance.now();
    return {
      text: this.text.text,
      finishReason,
      promptTokens: this.request.prompt.length,
      reusedPromptTokens: extra.reusedPromptTokens,
      completionTokens: this.generated.length,
      outputTokens: this.generated,
      ...(this.wantsLogprobs && { logprobs: this.logprobs }),
      ...(extra.speculation && { speculation: extra.speculation }),
      promptMs: (this.firstTokenAt ?? ended) - this.started,
      generationMs: ended - (this.firstTokenAt ?? ended),
    };
  }

  private emit(text: string): void {
    if (text.length === 0) return;
    this.request.onText?.(text, this.wantsLogprobs ? this.logprobs.slice(this.reported) : undefined);
    this.reported = this.logprobs.length;
  }
}
