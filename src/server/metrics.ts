/**
 * Counters, gauges and histograms, written in Prometheus' text exposition format for GET /metrics
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Small on purpose: one registry per
 * server, label sets as sorted key=value strings.
 */

type Labels = Readonly<Record<string, string>>;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return "";
  const escape = (value: string): string => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
  return `{${entries.map(([key, value]) => `${key}="${escape(value)}"`).join(",")}}`;
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: "counter" | "gauge" | "histogram",
  ) {}

  abstract lines(): string[];

  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`, ...this.lines()].join("\n");
  }
}

export class Counter extends Metric {
  private readonly values = new Map<string, number>();

  constructor(name: string, help: string) {
    super(name, help, "counter");
  }

  inc(labels: Labels = {}, amount = 1): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + amount);
  }

  lines(): string[] {
    return [...this.values].map(([labels, value]) => `${this.name}${labels} ${value}`);
  }
}

/**
 * A gauge read when scraped, from a function that lists the current values; or, as `counter`, a running
 * total kept elsewhere (it starts again from 0 when its owner does, which Prometheus takes as a reset).
 */
export class Gauge extends Metric {
  constructor(
    name: string,
    help: string,
    private readonly read: () => ReadonlyArray<[Labels, number]>,
    kind: "gauge" | "counter" = "gauge",
  ) {
    super(name, help, kind);
  }

  lines(): string[] {
    return this.read().map(([labels, value]) => `${this.name}${labelText(labels)} ${value}`);
  }
}

interface HistogramSeries {
  readonly labels: Labels;
  /** Observations per bucket (not cumulative: each lands in the first bucket that holds it; the last is +Inf). */
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    name: string,
    help: string,
    /** Upper bounds of the buckets, ascending; +Inf is implied. */
    private readonly bounds: readonly number[],
  ) {
    super(name, help, "histogram");
  }

  observe(value: number, labels: Labels = {}): void {
    this.add(this.seriesOf(labels), value);
  }

  /** An observer for one label set, for hot paths (one per generated token): no label work per call. */
  bind(labels: Labels): (value: number) => void {
    const series = this.seriesOf(labels);
    return (value) => this.add(series, value);
  }

  lines(): string[] {
    return [...this.series.values()].flatMap(({ labels, counts, sum, count }) => {
      let cumulative = 0;
      return [
        ...this.bounds.map((bound, index) => `${this.name}_bucket${labelText({ ...labels, le: String(bound) })} ${(cumulative += counts[index]!)}`),
        `${this.name}_bucket${labelText({ ...labels, le: "+Inf" })} ${count}`,
        `${this.name}_sum${labelText(labels)} ${sum}`,
        `${this.name}_count${labelText(labels)} ${count}`,
      ];
    });
  }

  private seriesOf(labels: Labels): HistogramSeries {
    const key = labelText(labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    return series;
  }

  private add(series: HistogramSeries, value: number): void {
    let bucket = 0;
    while (bucket < this.bounds.length && value > this.bounds[bucket]!) bucket++;
    series.counts[bucket]!++;
    series.sum += value;
    series.count++;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  render(): string {
    return `${this.metrics.map((metric) => metric.render()).join("\n")}\n`;
  }
}

/** Seconds, from 1 ms to a minute: time to first token and whole requests. */
export const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds, from 0.5 ms to 1 s: the time between two generated tokens. */
export const TOKEN_INTERVAL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
