import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { slmkitHome } from "../registry/index.js";
import { synthesizeModel } from "../synth/index.js";
import { CliError } from "./args.js";

/**
 * The model `slmkit serve` offers when given none: a small qwen3-shaped model with random weights,
 * made on first use (well under a second) so that `npm start` needs no download. Its name says what
 * it is; bump the version in the file name when its recipe changes.
 */
export const DEMO_MODEL_NAME = "slmkit-demo-random-weights";
const DEMO_FILE = `${DEMO_MODEL_NAME}.gguf`;
const DEMO_RECIPE_VERSION = "v1";

export async function ensureDemoModel(): Promise<string> {
  const directory = join(slmkitHome(), "demo", DEMO_RECIPE_VERSION);
  const path = join(directory, DEMO_FILE);
  if (existsSync(path)) return path;
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    throw new CliError(`cannot create ${directory} for the demo model (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); set SLMKIT_HOME to a writable directory`);
  }
  await synthesizeModel({
    architecture: "qwen3",
    shape: { layers: 4, width: 128, feedForward: 384, heads: 4, kvHeads: 2, headDim: 32, contextLength: 4096 },
    type: "F16",
    seed: 1,
    name: DEMO_MODEL_NAME,
    output: path,
  });
  return path;
}
