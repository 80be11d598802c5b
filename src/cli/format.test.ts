import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseByteSize } from "./format.js";

describe("parseByteSize", () => {
  it("reads decimal and binary units, case-insensitive, and plain byte counts", () => {
    assert.equal(parseByteSize("8GB"), 8e9);
    assert.equal(parseByteSize("512MiB"), 512 * 2 ** 20);
    assert.equal(parseByteSize("1.5g"), 1.5e9);
    assert.equal(parseByteSize("4096"), 4096);
    assert.equal(parseByteSize(" 2 TiB "), 2 * 2 ** 40);
  });

  it("refuses what is not a size", () => {
    for (const text of ["", "GB", "-1GB", "8 parsecs", "1e9", "8GB free"]) assert.equal(parseByteSize(text), undefined, text);
  });
});
