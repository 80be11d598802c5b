import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "./logger.js";

const at = new Date("2026-11-26T12:00:00.000Z");

describe("logger", () => {
  it("writes one JSON object per record, fields after time, level and msg, undefined fields left out", () => {
    const lines: string[] = [];
    const logger = createLogger({ format: "json", write: (line) => lines.push(line), now: () => at });
    logger.info("POST /v1/chat/completions", { request_id: "r1", status: 200, client_closed: undefined, msg: "cannot overwrite" });
    assert.deepEqual(JSON.parse(lines[0]!), { time: "2026-11-26T12:00:00.000Z", level: "info", msg: "POST /v1/chat/completions", request_id: "r1", status: 200 });
  });

  it("drops records below its level", () => {
    const lines: string[] = [];
    const logger = createLogger({ format: "json", level: "warn", write: (line) => lines.push(line), now: () => at });
    logger.debug("a");
    logger.info("b");
    logger.warn("c");
    logger.error("d");
    assert.deepEqual(lines.map((line) => (JSON.parse(line) as { msg: string }).msg), ["c", "d"]);
    assert.equal(logger.enabled("info"), false);
    assert.equal(logger.enabled("error"), true);
  });

  it("writes readable lines, quoting values with spaces, quotes or newlines, one line per record", () => {
    const lines: string[] = [];
    const logger = createLogger({ format: "pretty", level: "debug", write: (line) => lines.push(line), now: () => at });
    logger.error("internal error", { status: 500, stack: "Error: x\n    at y", empty: "" });
    assert.equal(lines[0], '2026-11-26T12:00:00.000Z ERROR internal error status=500 stack="Error: x\\n    at y" empty=""');
  });
});
