import { affineSearchEdgeBlocks, describeKernelChecks } from "./kernel-check.testkit.js";

/** Upper bounds on relative RMS round-trip error, about 1.5× the measured 0.0512 and 0.0255. */
const ERROR_BOUNDS: Record<string, number> = { Q4_K: 0.077, Q5_K: 0.038 };

for (const [name, bound] of Object.entries(ERROR_BOUNDS)) {
  describeKernelChecks(name, bound, [
    { values: "overflowing, wide-ranging and tied values", data: () => affineSearchEdgeBlocks(-600) },
  ]);
}
