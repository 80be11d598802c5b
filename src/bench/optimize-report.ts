/**
 * The optimization report as people read it: a Markdown table of every variant with the front and the
 * choice marked, and two SVG charts (size vs KL-divergence, speed vs KL-divergence).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { OptimizeReport, VariantResult } from "./optimize.js";
import { type ScatterPoint, scatterChartSvg } from "./scatter-chart.js";

export const REPORT_FILES = { markdown: "report.md", sizeChart: "size-vs-kld.svg", speedChart: "speed-vs-kld.svg" } as const;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 2 : 1)} MiB`;
}

function rate(value: number | null): string {
  return value === null ? "-" : value.toFixed(1);
}

/** Tick labels with as many digits as the ticks need (0.125, 0.15, 20, 1500). */
function tickText(value: number): string {
  return String(Number(value.toPrecision(3)));
}

function kindOf(report: OptimizeReport, variant: VariantResult): ScatterPoint["kind"] {
  if (variant.name === report.chosen) return "chosen";
  return report.front.includes(variant.name) ? "front" : "other";
}

export function reportMarkdown(report: OptimizeReport): string {
  const { recipe } = report;
  const constraints = [
    recipe.constraints.maxSizeBytes === undefined ? undefined : `size ≤ ${mib(recipe.constraints.maxSizeBytes)}`,
    recipe.constraints.minTokensPerSecond === undefined ? undefined : `generation ≥ ${recipe.constraints.minTokensPerSecond} tokens/s`,
    recipe.constraints.maxKld === undefined ? undefined : `mean KLD ≤ ${recipe.constraints.maxKld}`,
  ].filter((entry) => entry !== undefined);
  const lines = [
    `# Optimization report: ${recipe.source}`,
    "",
    report.complete ? "" : "**Partial report: the run did not finish. Run the same command again to resume.**\n",
    `Machine: ${report.machine.cpu}, ${report.machine.cores} cores; engine ${report.machine.engine}; started ${report.startedAt}.`,
    `Speed: pp${recipe.bench.prompt} / tg${recipe.bench.generate}, ${recipe.bench.repetitions} repetitions${recipe.bench.threads === undefined ? "" : `, ${recipe.bench.threads} threads`} (as \`slmkit bench\`).`,
    `Quality: ${recipe.eval.text ?? "slmkit's evaluation text"}, chunks of ${recipe.eval.context} tokens${recipe.eval.chunks === undefined ? "" : ` (at most ${recipe.eval.chunks})`}; KLD is from the source's distributions (as \`slmkit eval --baseline\`).`,
    `Constraints: ${constraints.length === 0 ? "none (the smallest variant is chosen)" : constraints.join(", ")}.`,
    "",
    report.chosen === null
      ? "**No variant meets the constraints.** See the last column for why; relax a constraint or add types."
      : `**Chosen: ${report.chosen}** — ${report.variants.find((variant) => variant.name === report.chosen)?.path ?? ""}`,
    "",
    "| variant | size | bits/weight | pp t/s | tg t/s | PPL | PPL ratio | mean KLD | KLD p99 | same top | front | fails |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---|",
  ];
  for (const variant of report.variants) {
    const failures = report.constraintFailures[variant.name] ?? [];
    lines.push(
      `| ${variant.name === report.chosen ? `**${variant.name}**` : variant.name} | ${mib(variant.sizeBytes)} | ${variant.bitsPerWeight.toFixed(2)} | ${rate(variant.promptTokensPerSecond)} | ${rate(variant.generationTokensPerSecond)} | ${variant.perplexity.toFixed(4)} | ${variant.pplRatio.toFixed(4)} | ${variant.kld.toFixed(6)} | ${variant.kldP99.toFixed(5)} | ${(100 * variant.sameTopP).toFixed(1)} % | ${report.front.includes(variant.name) ? "●" : ""} | ${failures.join("; ")} |`,
    );
  }
  lines.push("", `![size vs KLD](${REPORT_FILES.sizeChart}) ![speed vs KLD](${REPORT_FILES.speedChart})`, "");
  return lines.filter((line, index) => line !== "" || lines[index - 1] !== "").join("\n");
}

/**
 * The two charts; the source (KLD 0, which a log axis cannot place) is left out of them. The front is
 * over size, speed and KLD together, so its points are marked but not joined in either plane.
 */
export function reportCharts(report: OptimizeReport): { sizeChart: string; speedChart: string } {
  const variants = report.variants.filter((variant) => variant.name !== "source");
  const maxKld = report.recipe.constraints.maxKld;
  const kldLimit = maxKld === undefined ? {} : { yLimit: { label: `max KLD ${maxKld}`, value: maxKld } };
  const formatKld = (value: number) => (value >= 0.01 ? value.toFixed(2) : value.toExponential(0));
  const sizeChart = scatterChartSvg({
    title: "Size vs KL-divergence from the source",
    frontLine: false,
    xLabel: "file size (MiB)",
    yLabel: "mean KLD (nats)",
    yLog: true,
    points: variants.map((variant) => ({ label: variant.name, x: variant.sizeBytes / 2 ** 20, y: variant.kld, kind: kindOf(report, variant) })),
    formatX: tickText,
    formatY: formatKld,
    ...(report.recipe.constraints.maxSizeBytes === undefined ? {} : { xLimit: { label: "max size", value: report.recipe.constraints.maxSizeBytes / 2 ** 20 } }),
    ...kldLimit,
  });
  const speedChart = scatterChartSvg({
    title: "Generation speed vs KL-divergence from the source",
    frontLine: false,
    xLabel: "generation (tokens/s)",
    yLabel: "mean KLD (nats)",
    yLog: true,
    points: variants.map((variant) => ({ label: variant.name, x: variant.generationTokensPerSecond ?? NaN, y: variant.kld, kind: kindOf(report, variant) })),
    formatX: tickText,
    formatY: formatKld,
    ...(report.recipe.constraints.minTokensPerSecond === undefined ? {} : { xLimit: { label: "min speed", value: report.recipe.constraints.minTokensPerSecond } }),
    ...kldLimit,
  });
  return { sizeChart, speedChart };
}

/** Writes report.md and the two charts beside report.json. */
export function writeReportFiles(report: OptimizeReport): void {
  const out = report.recipe.out;
  writeFileSync(join(out, REPORT_FILES.markdown), reportMarkdown(report));
  const { sizeChart, speedChart } = reportCharts(report);
  writeFileSync(join(out, REPORT_FILES.sizeChart), sizeChart);
  writeFileSync(join(out, REPORT_FILES.speedChart), speedChart);
}
