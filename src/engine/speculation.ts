/**
 * Speculative decoding through node-llama-cpp's token predictors: a small draft model proposes the
 * next tokens, or the prompt itself does (prompt lookup: the last tokens generated are looked up in
 * the prompt and what followed them there is proposed). The target model checks a proposal in one
 * batch; accepted tokens cost one decode instead of several. The output is what the target alone
 * would sample. On few cores a draft model competes with the target for them: measure before use.
 */
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, TokenPredictor } from "node-llama-cpp";
import { EngineError } from "./errors.js";

export type Speculation =
  | {
      readonly kind: "draft";
      /** A small model with the target's tokenizer. */
      readonly draftModelPath: string;
      /** Most tokens drafted at once (default 8). */
      readonly maxTokens?: number;
      /** Drafting pauses below this draft-token probability (default 0: always draft). */
      readonly minConfidence?: number;
    }
  | {
      readonly kind: "lookup";
      /** Most tokens proposed from the prompt at once (default 8). */
      readonly maxTokens?: number;
    };

/** Makes one predictor per target sequence; owns the draft model when there is one. */
export interface Speculator {
  predictor(): TokenPredictor;
  readonly memory: { ram: number; vram: number };
  dispose(): Promise<void>;
}

const DEFAULT_DRAFT_TOKENS = 8;
const PROBE = "The quick brown fox, 42 times: naïve café!";

export async function createSpeculator(
  llama: Llama,
  target: LlamaModel,
  speculation: Speculation,
  context: { contextSize: number; sequences: number; threads: number },
): Promise<Speculator> {
  const { DraftSequenceTokenPredictor, InputLookupTokenPredictor } = await import("node-llama-cpp");
  if (speculation.kind === "lookup") {
    return {
      predictor: () => new InputLookupTokenPredictor({ patternLength: { min: 2 }, predictionLength: { max: speculation.maxTokens ?? DEFAULT_DRAFT_TOKENS } }),
      memory: { ram: 0, vram: 0 },
      dispose: async () => undefined,
    };
  }
  let draft: LlamaModel;
  try {
    draft = await llama.loadModel({ modelPath: speculation.draftModelPath });
  } catch (error) {
    throw new EngineError("LOAD_FAILED", `llama.cpp could not load the draft model ${speculation.draftModelPath}: ${(error as Error).message.split("\n")[0]}`);
  }
  // A draft's tokens are checked by the target as they are: both must read text the same way, and
  // have the same vocabulary (a larger draft vocabulary could propose ids the target does not have).
  const vocabulary = (model: LlamaModel): number | undefined => model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length;
  if (draft.tokenize(PROBE, true).join() !== target.tokenize(PROBE, true).join() || draft.tokens.eos !== target.tokens.eos || vocabulary(draft) !== vocabulary(target)) {
    await draft.dispose();
    throw new EngineError("LOAD_FAILED", `the draft model ${speculation.draftModelPath} does not share the target model's tokenizer; use a smaller model of the same family`);
  }
  let draftContext: LlamaContext;
  try {
    draftContext = await draft.createContext(context);
  } catch (error) {
    await draft.dispose();
    throw new EngineError("LOAD_FAILED", `could not create the draft model's context: ${(error as Error).message.split("\n")[0]}`);
  }
  const free: LlamaContextSequence[] = Array.from({ length: context.sequences }, () => draftContext.getSequence());
  return {
    predictor: () =>
      new DraftSequenceTokenPredictor(free.pop()!, {
        // The model never waits for the draft (minTokens 0): with node-llama-cpp 3.21.1 a wait for
        // drafted tokens could hang for ever when the draft's evaluation ended first (seen under load
        // in CI: the event loop emptied with the generation pending). A lagging draft costs speed only.
        minTokens: 0,
        maxTokens: speculation.maxTokens ?? DEFAULT_DRAFT_TOKENS,
        minConfidence: speculation.minConfidence ?? 0,
        // Logit biases are made for the target model; node-llama-cpp refuses them on the draft's
        // context. The draft proposes without them, and the target rejects what they forbid.
        evaluateOptions: { tokenBias: undefined },
      }),
    get memory() {
      return { ram: draft.memoryUsage.ram + draftContext.memoryUsage.ram, vram: draft.memoryUsage.vram + draftContext.memoryUsage.vram };
    },
    dispose: async () => {
      await draftContext.dispose();
      await draft.dispose();
    },
  };
}
