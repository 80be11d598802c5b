import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bf16ToFp32, fp16ToFp32, fp32ToBf16, fp32ToFp16 } from "./float16.js";

describe("F16 and BF16 conversion", () => {
  it("round-trips every F16 value exactly", () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fp16ToFp32(bits);
      if (Number.isNaN(value)) assert.ok(Number.isNaN(fp16ToFp32(fp32ToFp16(value))));
      else assert.equal(fp32ToFp16(value), bits, `0x${bits.toString(16)}`);
    }
  });

  it("rounds to nearest, ties to even, including subnormals and overflow", () => {
    // Halfway between 1 and the next half (1 + 2^-10): ties to even (1).
    assert.equal(fp32ToFp16(1 + 2 ** -11), 0x3c00);
    // Halfway between 1 + 2^-10 and 1 + 2^-9: ties to even (1 + 2^-9).
    assert.equal(fp32ToFp16(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(fp32ToFp16(1 + 2 ** -11 + 2 ** -20), 0x3c01, "just above halfway rounds up");
    assert.equal(fp32ToFp16(2 ** -25), 0x0000, "half the smallest subnormal ties to zero");
    assert.equal(fp32ToFp16(3 * 2 ** -25), 0x0002, "1.5 × the smallest subnormal ties to even (2)");
    assert.equal(fp32ToFp16(65520), 0x7c00, "rounds up to infinity");
    assert.equal(fp32ToFp16(65519), 0x7bff);
    assert.equal(fp32ToFp16(-0), 0x8000);
    assert.equal(fp32ToFp16(-Infinity), 0xfc00);
    assert.equal(fp32ToFp16(1e-10), 0);
  });

  it("converts BF16 by rounding the top half to nearest even", () => {
    for (let bits = 0; bits < 0x10000; bits += 7) {
      const value = bf16ToFp32(bits);
      if (!Number.isNaN(value)) assert.equal(fp32ToBf16(value), bits);
    }
    assert.equal(fp32ToBf16(1 + 2 ** -8), 0x3f80, "tie to even");
    assert.equal(fp32ToBf16(1 + 3 * 2 ** -8), 0x3f82, "tie to even, upwards");
    assert.equal(fp32ToBf16(NaN) & 0x7fc0, 0x7fc0, "NaN stays a quiet NaN");
  });
});
