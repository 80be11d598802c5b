/**
 * A scatter plot as a standalone SVG document: one marker per point, the Pareto front joined by a thin line,
 * optional dashed limit lines, linear or logarithmic axes with round ticks. No dependencies; text is escaped.
 */

export interface ScatterPoint {
  /** Drawn next to the point. */
  readonly label: string;
  readonly x: number;
  readonly y: number;
  /** "chosen" (drawn largest, distinct colour), "front" (on the Pareto front: filled), "other" (hollow). */
  readonly kind: "chosen" | "front" | "other";
}

export interface ScatterChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Points with a NaN or infinite coordinate are skipped, not drawn. */
  readonly points: readonly ScatterPoint[];
  /** Logarithmic axes (values must be > 0; non-positive points are clamped to the smallest positive value and still drawn). */
  readonly xLog?: boolean;
  readonly yLog?: boolean;
  /** Formats tick labels. */
  readonly formatX: (value: number) => string;
  readonly formatY: (value: number) => string;
  /** Optional limit lines, e.g. a max-KLD constraint: a dashed line with a label. The axis is widened to show it. */
  readonly xLimit?: { readonly label: string; readonly value: number };
  readonly yLimit?: { readonly label: string; readonly value: number };
  /**
   * Join the front points with a line (default). Off when the front was found over more objectives than
   * the two drawn: joined, its points would suggest a trade-off curve that the plane does not show.
   */
  readonly frontLine?: boolean;
}

const WIDTH = 720;
const HEIGHT = 440;
const LEFT = 84;
const RIGHT = WIDTH - 24;
const TOP = 64;
const BOTTOM = HEIGHT - 64;
const LIMIT_COLOUR = "#c00000";

interface MarkerStyle {
  readonly kind: ScatterPoint["kind"];
  readonly legend: string;
  readonly radius: number;
  readonly fill: string;
  readonly stroke: string;
}

/** How each kind of point is drawn, in legend order; markers are drawn in the reverse, so the chosen one is on top. */
const MARKERS: readonly MarkerStyle[] = [
  { kind: "chosen", legend: "chosen", radius: 7, fill: "#e15759", stroke: "#8c2d2f" },
  { kind: "front", legend: "Pareto front", radius: 4.5, fill: "#4e79a7", stroke: "#4e79a7" },
  { kind: "other", legend: "other", radius: 4, fill: "#ffffff", stroke: "#8c8c8c" },
];

interface Axis {
  readonly min: number;
  readonly max: number;
  readonly ticks: readonly number[];
  /** Where a value falls between min (0) and max (1). */
  readonly fraction: (value: number) => number;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

export function scatterChartSvg(chart: ScatterChart): string {
  const finite = chart.points.filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y));
  const xs = clampForLog(finite.map((point) => point.x), chart.xLog === true);
  const ys = clampForLog(finite.map((point) => point.y), chart.yLog === true);
  const xLimit = usableLimit(chart.xLimit, chart.xLog === true);
  const yLimit = usableLimit(chart.yLimit, chart.yLog === true);
  const xAxis = axisFor(xLimit ? [...xs, xLimit.value] : xs, chart.xLog === true);
  const yAxis = axisFor(yLimit ? [...ys, yLimit.value] : ys, chart.yLog === true);
  const px = (value: number): number => tenths(LEFT + xAxis.fraction(value) * (RIGHT - LEFT));
  const py = (value: number): number => tenths(BOTTOM - yAxis.fraction(value) * (BOTTOM - TOP));
  const placed = finite.map((point, index) => ({ point, x: xs[index]!, y: ys[index]! }));

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(`<text x="${LEFT}" y="24" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`);
  MARKERS.forEach((marker, index) => {
    const legendX = LEFT + index * 110;
    parts.push(`<circle cx="${legendX + 6}" cy="42" r="${marker.radius}" fill="${marker.fill}" stroke="${marker.stroke}" stroke-width="1.5"/>`);
    parts.push(`<text x="${legendX + 16}" y="46">${escapeXml(marker.legend)}</text>`);
  });
  for (const tick of xAxis.ticks) {
    parts.push(`<line x1="${px(tick)}" x2="${px(tick)}" y1="${TOP}" y2="${BOTTOM}" stroke="#e4e4e4"/>`);
    parts.push(`<text class="tick-x" x="${px(tick)}" y="${BOTTOM + 16}" text-anchor="middle">${escapeXml(chart.formatX(tick))}</text>`);
  }
  for (const tick of yAxis.ticks) {
    parts.push(`<line x1="${LEFT}" x2="${RIGHT}" y1="${py(tick)}" y2="${py(tick)}" stroke="#e4e4e4"/>`);
    parts.push(`<text class="tick-y" x="${LEFT - 6}" y="${tenths(py(tick) + 4)}" text-anchor="end">${escapeXml(chart.formatY(tick))}</text>`);
  }
  parts.push(`<rect x="${LEFT}" y="${TOP}" width="${RIGHT - LEFT}" height="${BOTTOM - TOP}" fill="none" stroke="#999999"/>`);
  parts.push(`<text x="${(LEFT + RIGHT) / 2}" y="${BOTTOM + 40}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  parts.push(`<text transform="translate(18 ${(TOP + BOTTOM) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`);
  if (xLimit) {
    parts.push(`<line class="limit" x1="${px(xLimit.value)}" x2="${px(xLimit.value)}" y1="${TOP}" y2="${BOTTOM}" stroke="${LIMIT_COLOUR}" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${tenths(px(xLimit.value) + 4)}" y="${TOP + 14}" fill="${LIMIT_COLOUR}">${escapeXml(xLimit.label)}</text>`);
  }
  if (yLimit) {
    parts.push(`<line class="limit" x1="${LEFT}" x2="${RIGHT}" y1="${py(yLimit.value)}" y2="${py(yLimit.value)}" stroke="${LIMIT_COLOUR}" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${RIGHT - 4}" y="${tenths(py(yLimit.value) - 5)}" text-anchor="end" fill="${LIMIT_COLOUR}">${escapeXml(yLimit.label)}</text>`);
  }
  // The chosen point is normally on the front itself, so the line runs through it too.
  const front = placed.filter((entry) => entry.point.kind !== "other").sort((a, b) => a.x - b.x || a.y - b.y);
  if (front.length > 1 && chart.frontLine !== false) {
    parts.push(`<polyline class="front" points="${front.map((entry) => `${px(entry.x)},${py(entry.y)}`).join(" ")}" fill="none" stroke="#4e79a7" stroke-width="1"/>`);
  }
  for (const marker of [...MARKERS].reverse()) {
    for (const { point, x, y } of placed.filter((entry) => entry.point.kind === marker.kind)) {
      const cx = px(x);
      const cy = py(y);
      // Labels near the right edge go on the left of their point, so they stay inside the document.
      const onLeft = cx > RIGHT - 90;
      const labelX = onLeft ? cx - marker.radius - 4 : cx + marker.radius + 4;
      const tooltip = `${point.label}: ${chart.formatX(point.x)}, ${chart.formatY(point.y)}`;
      parts.push(`<circle class="point ${marker.kind}" cx="${cx}" cy="${cy}" r="${marker.radius}" fill="${marker.fill}" stroke="${marker.stroke}" stroke-width="1.5"><title>${escapeXml(tooltip)}</title></circle>`);
      parts.push(`<text x="${tenths(labelX)}" y="${tenths(cy + 4)}"${onLeft ? ` text-anchor="end"` : ""} font-size="11">${escapeXml(point.label)}</text>`);
    }
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** On a log axis, non-positive values move to the smallest positive one (or 1 when there is none). */
function clampForLog(values: readonly number[], log: boolean): number[] {
  if (!log) return [...values];
  const positive = values.filter((value) => value > 0);
  const smallest = positive.length > 0 ? Math.min(...positive) : 1;
  return values.map((value) => (value > 0 ? value : smallest));
}

function usableLimit(limit: ScatterChart["xLimit"], log: boolean): ScatterChart["xLimit"] {
  return limit && Number.isFinite(limit.value) && (!log || limit.value > 0) ? limit : undefined;
}

function axisFor(values: readonly number[], log: boolean): Axis {
  if (values.length === 0) return log ? logAxis(1, 10) : linearAxis(0, 1);
  return log ? logAxis(Math.min(...values), Math.max(...values)) : linearAxis(Math.min(...values), Math.max(...values));
}

/** Ticks every 1, 2 or 5 times a power of ten, about five of them; the axis ends on a tick. */
function linearAxis(low: number, high: number): Axis {
  if (low === high) {
    const pad = low === 0 ? 1 : Math.abs(low) / 10;
    low -= pad;
    high += pad;
  }
  const rough = (high - low) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((multiple) => multiple * power).find((candidate) => candidate >= rough) ?? 10 * power;
  // The small tolerances keep a value that is a tick already (0.3 is 2.9999… steps of 0.1) from adding a step.
  const first = Math.floor(low / step + 1e-9);
  const last = Math.ceil(high / step - 1e-9);
  const ticks: number[] = [];
  for (let index = first; index <= last; index++) ticks.push(round(index * step));
  const min = ticks[0]!;
  const max = ticks[ticks.length - 1]!;
  return { min, max, ticks, fraction: (value) => (value - min) / (max - min) };
}

/** Ticks at powers of ten, with 2 and 5 between them when the values span under two decades. */
function logAxis(low: number, high: number): Axis {
  if (low === high) {
    low /= 2;
    high *= 2;
  }
  const multiples = Math.log10(high) - Math.log10(low) < 2 ? [1, 2, 5] : [1];
  const candidates: number[] = [];
  for (let exponent = Math.floor(Math.log10(low)) - 1; exponent <= Math.ceil(Math.log10(high)) + 1; exponent++) {
    for (const multiple of multiples) candidates.push(round(multiple * 10 ** exponent));
  }
  const min = candidates.filter((candidate) => candidate <= low * (1 + 1e-9)).at(-1)!;
  const max = candidates.find((candidate) => candidate >= high * (1 - 1e-9))!;
  const within = candidates.filter((candidate) => candidate >= min && candidate <= max);
  // Over many decades, label every second or third one so the labels do not run into each other.
  const stride = multiples.length === 1 ? Math.ceil(within.length / 9) : 1;
  const ticks = within.filter((tick) => Math.round(Math.log10(tick)) % stride === 0);
  const span = Math.log10(max) - Math.log10(min);
  return { min, max, ticks, fraction: (value) => (Math.log10(value) - Math.log10(min)) / span };
}

/** A pixel coordinate to one decimal, so the document stays short. */
function tenths(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Removes the binary noise of multiplying decimals (0.30000000000000004 becomes 0.3). */
function round(value: number): number {
  return Number(value.toPrecision(12));
}
