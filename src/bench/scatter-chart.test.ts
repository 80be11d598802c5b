import { test } from "node:test";
import assert from "node:assert/strict";
import { scatterChartSvg, type ScatterChart, type ScatterPoint } from "./scatter-chart.js";

const base: ScatterChart = {
  title: "Size against KLD",
  xLabel: "size (GB)",
  yLabel: "KLD",
  points: [],
  formatX: (value) => `${value}`,
  formatY: (value) => `${value}`,
};

const points: ScatterPoint[] = [
  { label: "Q8_0", x: 8.5, y: 0.001, kind: "front" },
  { label: "Q4_K_M", x: 4.9, y: 0.02, kind: "chosen" },
  { label: "Q5_K_S", x: 5.6, y: 0.03, kind: "other" },
  { label: "Q2_K", x: 3.1, y: 0.4, kind: "front" },
  { label: "Q3_K_L", x: 4.2, y: 0.5, kind: "other" },
];

/** Checks that every opened element is closed, in order, and that the document is one <svg> element. */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  let roots = 0;
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)\b[^<>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing === "/") continue;
    if (closing === "/") assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else {
      if (stack.length === 0) roots++;
      stack.push(name!);
    }
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.equal(roots, 1);
  // Nothing outside a tag may hold a raw "<" or ">": text is escaped.
  assert.doesNotMatch(svg.replace(/<\/?[a-zA-Z]+\b[^<>]*>/g, ""), /[<>]/);
}

function ticks(svg: string, axis: "x" | "y"): number[] {
  return [...svg.matchAll(new RegExp(`<text class="tick-${axis}"[^>]*>([^<]*)</text>`, "g"))].map((match) => Number(match[1]));
}

/** Whole marker elements (with their tooltip) of one kind. */
function circles(svg: string, kind: ScatterPoint["kind"]): string[] {
  return [...svg.matchAll(new RegExp(`<circle class="point ${kind}"[^>]*>.*?</circle>`, "g"))].map((match) => match[0]);
}

const attribute = (element: string, name: string): string => new RegExp(`\\s${name}="([^"]*)"`).exec(element)?.[1] ?? "";

test("the output is a standalone SVG document with balanced tags", () => {
  const svg = scatterChartSvg({ ...base, points, xLimit: { label: "8 GB free", value: 8 }, yLimit: { label: "max KLD", value: 0.1 } });
  assert.ok(svg.startsWith("<svg "));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, /viewBox="0 0 \d+ \d+"/);
  assertBalanced(svg);
  assert.ok(svg.includes("max KLD") && svg.includes("8 GB free"), "limit labels drawn");
  assert.equal((svg.match(/class="limit"[^>]*stroke-dasharray/g) ?? []).length, 2, "two dashed limit lines");
});

test("all text is escaped", () => {
  const svg = scatterChartSvg({
    ...base,
    title: `Tom & Jerry's <model>`,
    xLabel: `"size"`,
    points: [{ label: `<b>"Q4" & 'K'</b>`, x: 1, y: 2, kind: "chosen" }],
  });
  assertBalanced(svg);
  assert.ok(svg.includes("Tom &amp; Jerry&#39;s &lt;model&gt;"));
  assert.ok(svg.includes("&quot;size&quot;"));
  assert.ok(svg.includes("&lt;b&gt;&quot;Q4&quot; &amp; &#39;K&#39;&lt;/b&gt;"));
  assert.ok(!svg.includes("<b>") && !svg.includes("<model>"));
});

test("one marker per finite point; NaN and infinite points are skipped", () => {
  const withBad: ScatterPoint[] = [
    ...points,
    { label: "nan-x", x: Number.NaN, y: 1, kind: "front" },
    { label: "inf-y", x: 1, y: Number.POSITIVE_INFINITY, kind: "other" },
    { label: "neg-inf", x: Number.NEGATIVE_INFINITY, y: 1, kind: "chosen" },
  ];
  const svg = scatterChartSvg({ ...base, points: withBad });
  assert.equal((svg.match(/<circle class="point /g) ?? []).length, points.length);
  assert.equal(circles(svg, "chosen").length, 1);
  assert.equal(circles(svg, "front").length, 2);
  assert.equal(circles(svg, "other").length, 2);
  for (const label of ["nan-x", "inf-y", "neg-inf"]) assert.ok(!svg.includes(label), label);
  assert.ok(!svg.includes("NaN") && !svg.includes("Infinity"));
});

test("log ticks are powers of ten within the range of the data", () => {
  const svg = scatterChartSvg({ ...base, points, yLog: true });
  const yTicks = ticks(svg, "y");
  assert.deepEqual(yTicks, [0.001, 0.01, 0.1, 1]);
  for (const tick of yTicks) assert.ok(Math.abs(Math.log10(tick) - Math.round(Math.log10(tick))) < 1e-9, `${tick} is a power of ten`);
});

test("log ticks under two decades add 2 and 5 between the powers of ten", () => {
  const svg = scatterChartSvg({ ...base, points: [{ label: "a", x: 3, y: 1, kind: "front" }, { label: "b", x: 40, y: 2, kind: "front" }], xLog: true });
  assert.deepEqual(ticks(svg, "x"), [2, 5, 10, 20, 50]);
});

test("a non-positive value on a log axis is clamped and still drawn", () => {
  const svg = scatterChartSvg({ ...base, points: [...points, { label: "F16", x: 16, y: 0, kind: "front" }], yLog: true });
  assert.equal(circles(svg, "front").length, 3);
  const f16 = circles(svg, "front").find((circle) => circle.includes("<title>F16:"));
  const q8 = circles(svg, "front").find((circle) => circle.includes("<title>Q8_0:"));
  assert.ok(f16 && q8);
  assert.equal(attribute(f16, "cy"), attribute(q8, "cy"), "clamped to the smallest positive value (Q8_0's)");
  assert.ok(!svg.includes("NaN") && !svg.includes("Infinity"));
});

test("linear ticks are evenly spaced round numbers covering the data", () => {
  const svg = scatterChartSvg({ ...base, points: [{ label: "a", x: 0.13, y: 17, kind: "front" }, { label: "b", x: 0.87, y: 1234, kind: "other" }] });
  assert.deepEqual(ticks(svg, "x"), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const yTicks = ticks(svg, "y");
  assert.ok(yTicks.length >= 3 && yTicks.length <= 8, `${yTicks.length} ticks`);
  assert.ok(yTicks[0]! <= 17 && yTicks.at(-1)! >= 1234);
  const step = yTicks[1]! - yTicks[0]!;
  for (let index = 1; index < yTicks.length; index++) assert.equal(yTicks[index]! - yTicks[index - 1]!, step);
  const mantissa = step / 10 ** Math.floor(Math.log10(step));
  assert.ok([1, 2, 5].includes(mantissa), `step ${step}`);
});

test("the chosen point is drawn largest in its own colour", () => {
  const svg = scatterChartSvg({ ...base, points });
  const [chosen] = circles(svg, "chosen");
  assert.ok(chosen?.includes("<title>Q4_K_M: 4.9, 0.02</title>"));
  const others = [...circles(svg, "front"), ...circles(svg, "other")];
  for (const other of others) {
    assert.ok(Number(attribute(chosen!, "r")) > Number(attribute(other, "r")));
    assert.notEqual(attribute(chosen!, "fill"), attribute(other, "fill"));
  }
  // Drawn last, so nothing covers it.
  assert.ok(svg.lastIndexOf('<circle class="point chosen"') > svg.lastIndexOf('<circle class="point front"'));
});

test("front and chosen points are joined by one line sorted by x", () => {
  const svg = scatterChartSvg({ ...base, points });
  const line = /<polyline class="front" points="([^"]*)"/.exec(svg);
  assert.ok(line);
  const xs = line[1]!.split(" ").map((pair) => Number(pair.split(",")[0]));
  assert.equal(xs.length, 3, "two front points and the chosen one");
  assert.deepEqual(xs, [...xs].sort((a, b) => a - b));
});

test("a single point and all-equal values draw without NaN", () => {
  for (const chart of [
    { ...base, points: [{ label: "only", x: 5, y: 0.2, kind: "chosen" as const }] },
    { ...base, points: [{ label: "zero", x: 0, y: 0, kind: "front" as const }] },
    { ...base, points: [{ label: "zero", x: 0, y: 0, kind: "front" as const }], xLog: true, yLog: true },
    { ...base, points: [1, 2, 3].map((index) => ({ label: `p${index}`, x: 4, y: 4, kind: "other" as const })), xLog: true },
    { ...base, points: [] },
  ]) {
    const svg = scatterChartSvg(chart);
    assert.ok(!svg.includes("NaN"), JSON.stringify(chart.points));
    assert.ok(!svg.includes("Infinity"), JSON.stringify(chart.points));
    assertBalanced(svg);
    assert.equal((svg.match(/<circle class="point /g) ?? []).length, chart.points.length);
    assert.ok(ticks(svg, "x").length >= 2 && ticks(svg, "y").length >= 2);
  }
});
