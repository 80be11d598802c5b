import { affineSearchEdgeBlocks, describeKernelChecks } from "./kernel-check.testkit.js";

/** Upper bound on relative RMS round-trip error, about 1.5× the measured 0.210. */
const ERROR_BOUND = 0.31;

describeKernelChecks("Q2_K", ERROR_BOUND, [
  { values: "overflowing, wide-ranging and tied values", data: () => affineSearchEdgeBlocks(-1500) },
]);
