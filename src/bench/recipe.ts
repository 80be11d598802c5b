/**
 * An optimization recipe (`optimize.json`): which variants to make from a source model, how to measure
 * them and which constraints the chosen one must meet — the role Olive's workflow configs play. The
 * command line fills the same shape; a file and flags together: flags win.
 */
import { z } from "zod";

export const DEFAULT_TYPES = ["Q8_0", "Q6_K", "Q5_1", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M"] as const;

const RecipeSchema = z
  .object({
    /** The model every variant is made from (F32, F16 or BF16 for honest quality numbers). */
    source: z.string().min(1).optional(),
    /** Quantization presets, one variant each (slmkit quantize names). */
    types: z.array(z.string().min(1)).min(1).optional(),
    constraints: z
      .object({
        /** Largest acceptable file, bytes. */
        maxSizeBytes: z.number().positive().optional(),
        /** Slowest acceptable generation, tokens/s (tg on this machine). */
        minTokensPerSecond: z.number().positive().optional(),
        /** Largest acceptable mean KL-divergence from the source, nats. */
        maxKld: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    eval: z
      .object({
        /** Tokens per perplexity chunk. */
        context: z.number().int().min(8).optional(),
        /** A UTF-8 text file; default slmkit's evaluation text. */
        text: z.string().min(1).optional(),
        chunks: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    bench: z
      .object({
        prompt: z.number().int().min(0).optional(),
        generate: z.number().int().min(0).optional(),
        repetitions: z.number().int().positive().optional(),
        threads: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** Directory for the variants and the report. */
    out: z.string().min(1).optional(),
  })
  .strict();

export type RecipeInput = z.infer<typeof RecipeSchema>;

export interface Recipe {
  readonly source: string;
  readonly types: readonly string[];
  readonly constraints: { readonly maxSizeBytes?: number; readonly minTokensPerSecond?: number; readonly maxKld?: number };
  readonly eval: { readonly context: number; readonly text?: string; readonly chunks?: number };
  readonly bench: { readonly prompt: number; readonly generate: number; readonly repetitions: number; readonly threads?: number };
  readonly out: string;
}

export class RecipeError extends Error {
  override readonly name = "RecipeError";
}

/** Checks a recipe file's JSON; the message names the field that is wrong. */
export function parseRecipe(json: unknown, origin: string): RecipeInput {
  const parsed = RecipeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RecipeError(`${origin}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  return parsed.data;
}

/** Layers a recipe: defaults, then the file, then the command line. */
export function completeRecipe(fromFile: RecipeInput, fromFlags: RecipeInput): Recipe {
  const source = fromFlags.source ?? fromFile.source;
  if (source === undefined) throw new RecipeError("give a source model (argument or the recipe's \"source\")");
  const stem = source.replace(/^.*[/\\]/, "").replace(/\.gguf$/i, "");
  const text = fromFlags.eval?.text ?? fromFile.eval?.text;
  const chunks = fromFlags.eval?.chunks ?? fromFile.eval?.chunks;
  const threads = fromFlags.bench?.threads ?? fromFile.bench?.threads;
  return {
    source,
    types: (fromFlags.types ?? fromFile.types ?? DEFAULT_TYPES).map((type) => type.toUpperCase()),
    constraints: { ...fromFile.constraints, ...fromFlags.constraints },
    eval: {
      context: fromFlags.eval?.context ?? fromFile.eval?.context ?? 512,
      ...(text === undefined ? {} : { text }),
      ...(chunks === undefined ? {} : { chunks }),
    },
    bench: {
      prompt: fromFlags.bench?.prompt ?? fromFile.bench?.prompt ?? 512,
      generate: fromFlags.bench?.generate ?? fromFile.bench?.generate ?? 128,
      repetitions: fromFlags.bench?.repetitions ?? fromFile.bench?.repetitions ?? 3,
      ...(threads === undefined ? {} : { threads }),
    },
    out: fromFlags.out ?? fromFile.out ?? `${stem}-optimized`,
  };
}
