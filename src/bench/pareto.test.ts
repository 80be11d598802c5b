import { test } from "node:test";
import assert from "node:assert/strict";
import { dominates, paretoFront, type Objective } from "./pareto.js";

interface Run {
  readonly name: string;
  readonly size: number;
  readonly kld: number;
  readonly speed: number;
}

const run = (name: string, size: number, kld: number, speed = 0): Run => ({ name, size, kld, speed });
const size: Objective<Run> = { name: "size", value: (item) => item.size };
const kld: Objective<Run> = { name: "kld", value: (item) => item.kld };
// Speed is maximised, so it is minimised as its negation.
const speed: Objective<Run> = { name: "speed", value: (item) => -item.speed };
const names = (items: readonly Run[]): string[] => items.map((item) => item.name);

test("two objectives: dominated points drop out, duplicates on the front are both kept", () => {
  const items = [run("a", 1, 5), run("b", 2, 3), run("c", 3, 3), run("d", 2, 4), run("e", 4, 1), run("b2", 2, 3), run("f", 5, 1)];
  // c loses to b on size; d loses to b on kld; f loses to e on size; b and b2 tie and neither beats the other.
  assert.deepEqual(names(paretoFront(items, [size, kld])), ["a", "b", "e", "b2"]);
});

test("a single item is its own front, and no items give an empty front", () => {
  const only = run("only", 7, 0.2);
  assert.deepEqual(paretoFront([only], [size, kld]), [only]);
  assert.deepEqual(paretoFront<Run>([], [size, kld]), []);
});

test("the front keeps the order of the input", () => {
  const items = [run("e", 4, 1), run("c", 3, 3), run("a", 1, 5), run("b", 2, 3)];
  assert.deepEqual(names(paretoFront(items, [size, kld])), ["e", "a", "b"]);
  assert.deepEqual(names(paretoFront([...items].reverse(), [size, kld])), ["b", "a", "e"]);
});

test("three objectives: a point worse on two objectives stays when it is best on the third", () => {
  const items = [run("small", 1, 0.5, 10), run("accurate", 3, 0.01, 12), run("fast", 4, 0.6, 40), run("slow", 4, 0.6, 5)];
  assert.deepEqual(names(paretoFront(items, [size, kld, speed])), ["small", "accurate", "fast"]);
  // Without speed, "fast" is beaten by "small" on both size and kld.
  assert.deepEqual(names(paretoFront(items, [size, kld])), ["small", "accurate"]);
});

test("dominates needs every objective at least as good and one strictly better", () => {
  assert.equal(dominates(run("x", 1, 1), run("y", 2, 1), [size, kld]), true);
  assert.equal(dominates(run("y", 2, 1), run("x", 1, 1), [size, kld]), false);
  assert.equal(dominates(run("x", 1, 1), run("x2", 1, 1), [size, kld]), false, "equal points do not dominate");
  assert.equal(dominates(run("x", 1, 2), run("y", 2, 1), [size, kld]), false, "a trade-off does not dominate");
  assert.equal(dominates(run("fast", 1, 1, 50), run("slow", 1, 1, 20), [size, kld, speed]), true, "negated speed: faster wins");
});

test("an item with a NaN objective is never on the front and pushes nothing off it", () => {
  const broken = run("broken", 0, Number.NaN);
  const items = [run("a", 1, 5), broken, run("b", 2, 3)];
  assert.deepEqual(names(paretoFront(items, [size, kld])), ["a", "b"]);
  assert.deepEqual(paretoFront([broken], [size, kld]), []);
  assert.equal(dominates(broken, run("a", 1, 5), [size, kld]), false);
  assert.equal(dominates(run("a", 1, 5), broken, [size, kld]), false);
});
