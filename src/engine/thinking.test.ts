import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { promptOpensThinking, splitThinking, templateSupportsThinking, ThinkingSplitter } from "./thinking.js";

describe("thinking", () => {
  it("splits a leading think block from the answer", () => {
    assert.deepEqual(splitThinking("<think>\nThe user greets me.\n</think>\n\nHello!"), { thinking: "The user greets me.", content: "Hello!" });
    assert.deepEqual(splitThinking("  <think>a</think>b"), { thinking: "a", content: "b" });
    assert.deepEqual(splitThinking("No thinking here. <think>not at the start</think>"), { thinking: "", content: "No thinking here. <think>not at the start</think>" });
    assert.deepEqual(splitThinking("<think>cut short"), { thinking: "cut short", content: "" });
  });

  it("splits a stream whose tags are cut across pieces, sending nothing twice", () => {
    const pieces = ["<th", "ink>Let me", " see.</th", "ink>", "\n\nIt is ", "42."];
    const splitter = new ThinkingSplitter();
    const out = pieces.map((piece) => splitter.push(piece));
    const rest = splitter.finish();
    assert.equal(out.map((part) => part.thinking).join("") + rest.thinking, "Let me see.");
    assert.equal(out.map((part) => part.content).join("") + rest.content, "It is 42.");
    assert.deepEqual(out[0], { thinking: "", content: "" }, "a possible opening tag is held back");
  });

  it("starts inside the block when the prompt opened it (the reply only closes it)", () => {
    assert.equal(promptOpensThinking("<|im_start|>assistant\n<think>\n"), true);
    assert.equal(promptOpensThinking("<|im_start|>assistant\n"), false);
    assert.deepEqual(splitThinking("The user says hi.\n</think>\n\nHello!", true), { thinking: "The user says hi.", content: "Hello!" });
    const splitter = new ThinkingSplitter(true);
    const parts = ["Hm", "m.</thi", "nk>\nHi"].map((piece) => splitter.push(piece));
    assert.equal(parts.map((part) => part.thinking).join(""), "Hmm.");
    assert.equal(parts.map((part) => part.content).join("") + splitter.finish().content, "Hi");
  });

  it("knows templates with a thinking switch or think blocks", () => {
    assert.equal(templateSupportsThinking("{% if enable_thinking is false %}<think>\\n\\n</think>{% endif %}"), true);
    assert.equal(templateSupportsThinking("{{ messages }}"), false);
    assert.equal(templateSupportsThinking(undefined), false);
  });
});
