/**
 * A grouped, stacked bar chart as a standalone SVG document: one group per model, one bar per
 * quantization, one segment per part of the memory. No dependencies; text is escaped.
 */

export interface BarSegment {
  readonly label: string;
  readonly value: number;
}

export interface Bar {
  readonly label: string;
  readonly segments: readonly BarSegment[];
}

export interface BarGroup {
  readonly label: string;
  readonly bars: readonly Bar[];
}

export interface BarChart {
  readonly title: string;
  readonly unit: string;
  readonly groups: readonly BarGroup[];
  /** A horizontal line, such as the memory this device has available. */
  readonly limit?: { readonly label: string; readonly value: number };
  /** Formats an axis or bar value (values are in display units: the axis is rounded in them). */
  readonly format: (value: number) => string;
}

const COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"];
const BAR = 34;
const GAP = 10;
const GROUP_GAP = 36;
const PLOT_HEIGHT = 320;
const LEFT = 80;
const TOP = 56;

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function barChartSvg(chart: BarChart): string {
  const segmentLabels = [...new Set(chart.groups.flatMap((group) => group.bars.flatMap((bar) => bar.segments.map((segment) => segment.label))))];
  const colour = (label: string): string => COLOURS[segmentLabels.indexOf(label) % COLOURS.length]!;
  const totals = chart.groups.flatMap((group) => group.bars.map((bar) => bar.segments.reduce((sum, segment) => sum + segment.value, 0)));
  const highest = Math.max(...totals, Number.MIN_VALUE);
  // The limit line is drawn only when it is near the bars; far above, it would flatten them.
  const limit = chart.limit && chart.limit.value <= 2 * highest ? chart.limit : undefined;
  const top = niceCeiling(Math.max(highest, limit?.value ?? 0));
  const y = (value: number): number => TOP + PLOT_HEIGHT - (value / top) * PLOT_HEIGHT;
  const groupWidths = chart.groups.map((group) => Math.max(group.bars.length * (BAR + GAP) - GAP, group.label.length * 7));
  const width = LEFT + groupWidths.reduce((sum, groupWidth) => sum + groupWidth + GROUP_GAP, 0) + 170;
  const height = TOP + PLOT_HEIGHT + 70;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(`<text x="${LEFT}" y="24" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`);
  for (let tick = 0; tick <= 4; tick++) {
    const value = (top * tick) / 4;
    parts.push(`<line x1="${LEFT}" x2="${width - 170}" y1="${y(value)}" y2="${y(value)}" stroke="#dddddd"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${y(value) + 4}" text-anchor="end">${escapeXml(chart.format(value))}</text>`);
  }
  let x = LEFT + GROUP_GAP / 2;
  chart.groups.forEach((group, groupIndex) => {
    const groupStart = x;
    x += (groupWidths[groupIndex]! - (group.bars.length * (BAR + GAP) - GAP)) / 2;
    for (const bar of group.bars) {
      let base = 0;
      for (const segment of bar.segments) {
        if (segment.value <= 0) continue;
        const y0 = y(base + segment.value);
        parts.push(`<rect x="${x}" y="${y0.toFixed(1)}" width="${BAR}" height="${(y(base) - y0).toFixed(1)}" fill="${colour(segment.label)}"><title>${escapeXml(`${group.label} ${bar.label} ${segment.label}: ${chart.format(segment.value)}`)}</title></rect>`);
        base += segment.value;
      }
      parts.push(`<text x="${x + BAR / 2}" y="${y(base) - 4}" text-anchor="middle" font-size="10">${escapeXml(chart.format(base))}</text>`);
      parts.push(`<text x="${x + BAR / 2}" y="${TOP + PLOT_HEIGHT + 16}" text-anchor="middle" font-size="10">${escapeXml(bar.label)}</text>`);
      x += BAR + GAP;
    }
    const groupWidth = groupWidths[groupIndex]!;
    parts.push(`<text x="${groupStart + groupWidth / 2}" y="${TOP + PLOT_HEIGHT + 36}" text-anchor="middle" font-weight="bold">${escapeXml(group.label)}</text>`);
    x = groupStart + groupWidth + GROUP_GAP;
  });
  if (limit) {
    parts.push(`<line x1="${LEFT}" x2="${width - 170}" y1="${y(limit.value)}" y2="${y(limit.value)}" stroke="#c00000" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${width - 166}" y="${y(limit.value) + 4}" fill="#c00000">${escapeXml(limit.label)}</text>`);
  }
  segmentLabels.forEach((label, index) => {
    const legendY = TOP + index * 20;
    parts.push(`<rect x="${width - 160}" y="${legendY}" width="12" height="12" fill="${colour(label)}"/>`);
    parts.push(`<text x="${width - 142}" y="${legendY + 10}">${escapeXml(label)}</text>`);
  });
  parts.push(`<text x="${LEFT}" y="${height - 8}" fill="#666666">${escapeXml(chart.unit)}</text>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** A round number at least `value`: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
