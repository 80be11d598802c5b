import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferByteSource } from "./byte-source.js";
import { GgufError, type GgufErrorCode } from "./errors.js";
import { type RawKv, type RawTensor, rawGguf, stringValue, u32Value } from "./raw-gguf.testkit.js";
import { parseGgufHeader } from "./reader.js";

const F32 = 0;
const Q4_0 = 2;

function parse(bytes: Uint8Array) {
  return parseGgufHeader(new BufferByteSource(bytes, "test.gguf"));
}

/** Asserts the bytes fail with this code, a one-line message and (when given) this offset. */
function assertFails(bytes: Uint8Array, code: GgufErrorCode, offset?: number): GgufError {
  let caught: unknown;
  try {
    parse(bytes);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof GgufError, `expected a GgufError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(!caught.message.includes("\n"), "the message is one line");
  if (offset !== undefined) assert.equal(caught.offset, offset, caught.message);
  assert.match(caught.message, /^GGUF error( at byte \d+)?: .+ \(test\.gguf\)$/);
  return caught;
}

const arch: RawKv = { key: "general.architecture", type: 8, value: stringValue("llama") };
const twoTensors: RawTensor[] = [
  { name: "a", dims: [32, 2], type: F32, offset: 0 },
  { name: "b", dims: [64], type: Q4_0, offset: 256 },
];

describe("GGUF header parsing", () => {
  it("reads a well-formed file: metadata, tensors, data offset", () => {
    const bytes = rawGguf({ kvs: [arch], tensors: twoTensors, dataBytes: 256 + 36 });
    const header = parse(bytes);
    assert.equal(header.version, 3);
    assert.equal(header.metadata.string("general.architecture"), "llama");
    assert.deepEqual(
      header.tensors.map((t) => [t.name, t.type.name, t.shape, t.byteSize, t.elements]),
      [
        ["a", "F32", [32, 2], 256, 64],
        ["b", "Q4_0", [64], 36, 64],
      ],
    );
    assert.equal(header.dataOffset % 32, 0);
  });

  it("accepts version 2", () => {
    assert.equal(parse(rawGguf({ version: 2, kvs: [arch] })).version, 2);
  });

  it("honours general.alignment", () => {
    const kvs = [arch, { key: "general.alignment", type: 4, value: u32Value(64) }];
    const bytes = rawGguf({ kvs, tensors: [{ name: "a", dims: [32], type: F32, offset: 0 }], alignment: 64, dataBytes: 128 });
    const header = parse(bytes);
    assert.equal(header.alignment, 64);
    assert.equal(header.dataOffset % 64, 0);
  });

  it("refuses a bad magic, naming what it found", () => {
    const bytes = rawGguf({ kvs: [arch] });
    bytes.set(Buffer.from("GGML"), 0);
    const error = assertFails(bytes, "BAD_MAGIC", 0);
    assert.match(error.message, /"GGML"/);
  });

  it("refuses GGUF version 1 and future versions as unsupported", () => {
    assert.match(assertFails(rawGguf({ version: 1 }), "UNSUPPORTED_VERSION", 4).message, /version 1 is no longer supported/);
    assertFails(rawGguf({ version: 4 }), "UNSUPPORTED_VERSION", 4);
  });

  it("refuses big-endian files", () => {
    const bytes = rawGguf({ kvs: [arch] });
    bytes.set([0, 0, 0, 3], 4);
    assert.match(assertFails(bytes, "BIG_ENDIAN", 4).message, /big-endian/);
  });

  it("refuses absurd tensor and key-value counts before allocating anything", () => {
    assertFails(rawGguf({ tensorCount: 1n << 62n }), "ABSURD_COUNT", 8);
    assertFails(rawGguf({ kvCount: (1n << 64n) - 1n }), "ABSURD_COUNT", 16);
  });

  it("refuses absurd string and array lengths", () => {
    const longString: RawKv = { key: "x", type: 8, value: new Uint8Array(Buffer.from("ffffffffffffff7f", "hex")) };
    assertFails(rawGguf({ kvs: [longString] }), "ABSURD_LENGTH", 24 + 8 + 1 + 4);
    const hugeArray: RawKv = { key: "y", type: 9, value: Buffer.concat([Buffer.from(u32Value(4)), Buffer.from("0000000000000040", "hex")]) };
    assertFails(rawGguf({ kvs: [hugeArray] }), "ABSURD_COUNT");
  });

  it("refuses unknown value types, duplicate keys and bools that are not 0 or 1", () => {
    assertFails(rawGguf({ kvs: [{ key: "x", type: 13, value: new Uint8Array(4) }] }), "BAD_VALUE_TYPE", 24 + 8 + 1);
    assertFails(rawGguf({ kvs: [arch, arch] }), "DUPLICATE_KEY");
    assertFails(rawGguf({ kvs: [{ key: "b", type: 7, value: Uint8Array.of(2) }] }), "BAD_VALUE_TYPE");
  });

  it("refuses arrays nested too deep", () => {
    let value: Buffer = Buffer.concat([Buffer.from(u32Value(4)), Buffer.alloc(8)]); // empty uint32 array
    for (let depth = 0; depth < 12; depth++) {
      const count = Buffer.alloc(8);
      count.writeBigUInt64LE(1n);
      value = Buffer.concat([Buffer.from(u32Value(9)), count, value]);
    }
    assertFails(rawGguf({ kvs: [{ key: "deep", type: 9, value }] }), "NESTING_TOO_DEEP");
  });

  it("refuses a general.alignment that is not a power of two", () => {
    assertFails(rawGguf({ kvs: [{ key: "general.alignment", type: 4, value: u32Value(48) }] }), "BAD_ALIGNMENT");
  });

  it("refuses unknown and removed tensor types", () => {
    assertFails(rawGguf({ tensors: [{ name: "t", dims: [32], type: 999, offset: 0 }], dataBytes: 128 }), "UNKNOWN_TENSOR_TYPE");
    assertFails(rawGguf({ tensors: [{ name: "t", dims: [32], type: 4, offset: 0 }], dataBytes: 128 }), "UNKNOWN_TENSOR_TYPE");
  });

  it("refuses dimensions whose product overflows", () => {
    const tensors = [{ name: "t", dims: [1n << 40n, 1n << 40n], type: F32, offset: 0 }];
    assertFails(rawGguf({ tensors }), "SHAPE_OVERFLOW");
    assertFails(rawGguf({ tensors: [{ name: "t", dims: [(1n << 64n) - 1n], type: F32, offset: 0 }] }), "SHAPE_OVERFLOW");
  });

  it("refuses too many dimensions and rows that do not fill whole blocks", () => {
    assertFails(rawGguf({ tensors: [{ name: "t", dims: [1, 1, 1, 1, 1], type: F32, offset: 0 }], dataBytes: 64 }), "BAD_DIMENSIONS");
    assertFails(rawGguf({ tensors: [{ name: "t", dims: [33], type: Q4_0, offset: 0 }], dataBytes: 64 }), "BAD_ROW_SIZE");
  });

  it("refuses tensor data past the end of the file, pointing at the offset field", () => {
    const bytes = rawGguf({ kvs: [arch], tensors: twoTensors, dataBytes: 256 + 35 });
    const error = assertFails(bytes, "OFFSET_PAST_END");
    const view = Buffer.from(bytes);
    assert.equal(view.readBigUInt64LE(error.offset!), 256n, "the error offset points at tensor b's offset field");
    assertFails(rawGguf({ tensors: [{ name: "t", dims: [32], type: F32, offset: 1n << 60n }], dataBytes: 128 }), "OFFSET_PAST_END");
  });

  it("refuses overlapping and misaligned tensors", () => {
    const overlapping = [
      { name: "a", dims: [64], type: F32, offset: 0 },
      { name: "b", dims: [64], type: F32, offset: 128 },
    ];
    assertFails(rawGguf({ tensors: overlapping, dataBytes: 512 }), "OVERLAPPING_TENSORS");
    const hiddenBehindEmpty = [
      { name: "a", dims: [256], type: F32, offset: 0 },
      { name: "empty", dims: [0], type: F32, offset: 512 },
      { name: "c", dims: [32], type: F32, offset: 768 },
    ];
    assertFails(rawGguf({ tensors: hiddenBehindEmpty, dataBytes: 1024 }), "OVERLAPPING_TENSORS");
    assertFails(rawGguf({ tensors: [{ name: "a", dims: [8], type: F32, offset: 4 }], dataBytes: 64 }), "MISALIGNED_TENSOR");
  });

  it("refuses duplicate and empty tensor names", () => {
    const same = [
      { name: "a", dims: [8], type: F32, offset: 0 },
      { name: "a", dims: [8], type: F32, offset: 32 },
    ];
    assertFails(rawGguf({ tensors: same, dataBytes: 64 }), "DUPLICATE_TENSOR");
    assertFails(rawGguf({ tensors: [{ name: "", dims: [8], type: F32, offset: 0 }], dataBytes: 64 }), "BAD_TENSOR_NAME");
  });

  it("fails cleanly with TRUNCATED (or a placement error) wherever the file is cut", () => {
    const bytes = rawGguf({ kvs: [arch, { key: "general.name", type: 8, value: stringValue("cut me anywhere") }], tensors: twoTensors, dataBytes: 256 + 36 });
    for (let length = 0; length < bytes.length; length++) {
      let caught: unknown;
      try {
        parse(bytes.subarray(0, length));
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof GgufError, `cut at ${length}: expected a GgufError, got ${String(caught)}`);
      // A cut inside a count's items can also read as a count the rest of the file cannot hold.
      assert.ok(["TRUNCATED", "OFFSET_PAST_END", "ABSURD_COUNT", "ABSURD_LENGTH"].includes(caught.code), `cut at ${length}: ${caught.message}`);
      assert.ok(caught.offset! <= length, `cut at ${length}: offset ${caught.offset} lies within the file`);
    }
  });
});
