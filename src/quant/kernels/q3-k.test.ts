import { blocksOnLevelBoundaries, describeKernelChecks, nonFiniteAndExtremeBlocks } from "./kernel-check.testkit.js";

/** About 1.5× the measured relative RMS round-trip error (0.122): a broken kernel lands far above. */
const ERROR_BOUND = 0.18;

describeKernelChecks("Q3_K", ERROR_BOUND, [
  { values: "non-finite, huge, tiny and tied values", data: nonFiniteAndExtremeBlocks },
  { values: "values exactly on level boundaries", data: () => blocksOnLevelBoundaries(8192) },
]);
