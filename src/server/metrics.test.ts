import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Gauge, Histogram, Registry } from "./metrics.js";

describe("Prometheus text format", () => {
  it("writes counters, gauges and cumulative histogram buckets with escaped labels", () => {
    const registry = new Registry();
    const counter = registry.add(new Counter("x_total", "Things."));
    counter.inc({ route: "/v1/a", status: "200" });
    counter.inc({ status: "200", route: "/v1/a" }, 2);
    counter.inc({ route: 'q"uote\\n' });
    registry.add(new Gauge("y", "Now.", () => [[{ model: "m" }, 3]]));
    const histogram = registry.add(new Histogram("z_seconds", "Times.", [0.1, 1]));
    histogram.observe(0.05);
    histogram.observe(0.5);
    histogram.observe(5);
    const text = registry.render();
    assert.match(text, /^# HELP x_total Things\.\n# TYPE x_total counter\n/);
    assert.match(text, /\nx_total\{route="\/v1\/a",status="200"\} 3\n/, "label order does not split a series");
    assert.match(text, /\nx_total\{route="q\\"uote\\\\n"\} 1\n/);
    assert.match(text, /\n# TYPE y gauge\ny\{model="m"\} 3\n/);
    assert.match(text, /\nz_seconds_bucket\{le="0.1"\} 1\nz_seconds_bucket\{le="1"\} 2\nz_seconds_bucket\{le="\+Inf"\} 3\nz_seconds_sum 5.55\nz_seconds_count 3\n/);
  });

  it("counts a value equal to a bound in that bucket; a bound observer adds to the same series as observe", () => {
    const histogram = new Histogram("t_seconds", "Times.", [0.1, 1]);
    const observe = histogram.bind({ model: "m" });
    observe(0.1);
    observe(1);
    histogram.observe(2, { model: "m" });
    histogram.observe(0.01, { model: "other" });
    assert.deepEqual(histogram.lines(), [
      't_seconds_bucket{le="0.1",model="m"} 1',
      't_seconds_bucket{le="1",model="m"} 2',
      't_seconds_bucket{le="+Inf",model="m"} 3',
      't_seconds_sum{model="m"} 3.1',
      't_seconds_count{model="m"} 3',
      't_seconds_bucket{le="0.1",model="other"} 1',
      't_seconds_bucket{le="1",model="other"} 1',
      't_seconds_bucket{le="+Inf",model="other"} 1',
      't_seconds_sum{model="other"} 0.01',
      't_seconds_count{model="other"} 1',
    ]);
  });
});
