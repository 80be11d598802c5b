// The bench stage: speed as llama-bench measures it, quality as llama-perplexity measures it, and the
// search over quantized variants that picks one.
export { EVALUATION_TEXT } from "./eval-text.js";
export { BenchError } from "./errors.js";
export { type EvaluateOptions, type EvaluateProgress, type EvaluateResult, evaluateModel } from "./evaluate.js";
export { type BuildInfo, type LlamaBenchRecord, llamaBenchRecords, toCsv, toMarkdown } from "./llama-bench-format.js";
export { LogProbsReader } from "./log-probs.js";
export { type Objective, dominates, paretoFront } from "./pareto.js";
export { type DivergenceResult, type Percentiles, type PerplexityResult } from "./quality-stats.js";
export { type ScatterChart, type ScatterPoint, scatterChartSvg } from "./scatter-chart.js";
export { type SpeedOptions, type SpeedResult, type SpeedTest, measureSpeed, meanAndDeviation, samplesPerSecond } from "./speed.js";
export { type OptimizeOptions, type OptimizeReport, type OptimizeStep, type VariantResult, constraintFailures, decide, optimize, REPORT_JSON } from "./optimize.js";
export { REPORT_FILES, reportMarkdown } from "./optimize-report.js";
export { completeRecipe, DEFAULT_TYPES, parseRecipe, type Recipe, RecipeError, type RecipeInput } from "./recipe.js";
