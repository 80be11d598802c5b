import assert from "node:assert/strict";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { BufferByteSource } from "./byte-source.js";
import { GgufError } from "./errors.js";
import { type GgufValue, GgufMetadata, str, u32 } from "./metadata.js";
import { parseGgufHeader, readGgufHeader } from "./reader.js";
import { streamTensorData } from "./tensor-data.js";
import { tensorTypeByName } from "./tensor-types.js";
import { layoutGguf, writeGgufFile } from "./writer.js";

const directory = mkdtempSync(join(tmpdir(), "slmkit-gguf-"));
after(() => rmSync(directory, { recursive: true, force: true }));

/** One value of every GGUF type, nested arrays, empty arrays and a string that is not valid UTF-8. */
function everyValueType(): GgufMetadata {
  const entries: Array<[string, GgufValue]> = [
    ["general.architecture", str("llama")],
    ["t.uint8", { type: "uint8", value: 255 }],
    ["t.int8", { type: "int8", value: -128 }],
    ["t.uint16", { type: "uint16", value: 65535 }],
    ["t.int16", { type: "int16", value: -32768 }],
    ["t.uint32", { type: "uint32", value: 4294967295 }],
    ["t.int32", { type: "int32", value: -2147483648 }],
    ["t.float32", { type: "float32", value: Math.fround(3.14159) }],
    ["t.float64", { type: "float64", value: Math.PI }],
    ["t.uint64", { type: "uint64", value: 18446744073709551615n }],
    ["t.int64", { type: "int64", value: -9223372036854775808n }],
    ["t.bool", { type: "bool", value: true }],
    ["t.string", str("héllo, wörld 🙂")],
    ["t.empty_string", str("")],
    ["t.bad_utf8", { type: "string", value: "\ufffd", raw: Uint8Array.of(0xff, 0xfe) }],
    ["t.u8s", { type: "array", itemType: "uint8", values: Uint8Array.of(1, 2, 3) }],
    ["t.i16s", { type: "array", itemType: "int16", values: Int16Array.of(-1, 2) }],
    ["t.f32s", { type: "array", itemType: "float32", values: Float32Array.of(0.5, -2) }],
    ["t.f64s", { type: "array", itemType: "float64", values: Float64Array.of(1e300) }],
    ["t.u64s", { type: "array", itemType: "uint64", values: BigUint64Array.of(1n, 2n ** 63n) }],
    ["t.i64s", { type: "array", itemType: "int64", values: BigInt64Array.of(-5n) }],
    ["t.bools", { type: "array", itemType: "bool", values: [true, false, true] }],
    ["t.strings", { type: "array", itemType: "string", values: ["a", "", "ünï"], raw: new Map([[1, Uint8Array.of(0xc3)]]) }],
    ["t.empty", { type: "array", itemType: "int32", values: new Int32Array(0) }],
    [
      "t.nested",
      {
        type: "array",
        itemType: "array",
        values: [
          { type: "array", itemType: "uint16", values: Uint16Array.of(7, 8) },
          { type: "array", itemType: "string", values: ["x"] },
          { type: "array", itemType: "array", values: [{ type: "array", itemType: "bool", values: [false] }] },
        ],
      },
    ],
  ];
  return new GgufMetadata(entries);
}

function tensorBytes(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + fill) & 0xff);
}

describe("GGUF writer", () => {
  it("round-trips every metadata value type, byte for byte", async () => {
    const f32 = tensorTypeByName("F32")!;
    const q8 = tensorTypeByName("Q8_0")!;
    const path = join(directory, "every-type.gguf");
    await writeGgufFile(path, {
      metadata: everyValueType(),
      tensors: [
        { name: "weights", type: q8, shape: [64, 3], data: tensorBytes(34 * 6, 1) },
        { name: "norm", type: f32, shape: [5], data: tensorBytes(20, 2) },
      ],
    });
    const first = readFileSync(path);
    const header = readGgufHeader(path);
    assert.deepEqual([...header.metadata.keys()], [...everyValueType().keys()]);
    assert.deepEqual(header.metadata.get("t.nested"), everyValueType().get("t.nested"));
    assert.deepEqual(header.metadata.get("t.u64s"), everyValueType().get("t.u64s"));
    assert.equal(header.metadata.get("t.bad_utf8")?.type, "string");

    const copy = join(directory, "every-type-copy.gguf");
    await writeGgufFile(copy, {
      version: header.version,
      metadata: header.metadata,
      tensors: header.tensors.map((tensor) => ({ ...tensor, data: () => streamTensorData(path, header, tensor, 7) })),
    });
    assert.ok(first.equals(readFileSync(copy)), "read → write gives the same bytes");
  });

  it("lays tensors out aligned, in order, as llama.cpp expects", () => {
    const f32 = tensorTypeByName("F32")!;
    const { header, headerBytes } = layoutGguf({
      metadata: new GgufMetadata([["general.alignment", u32(64)]]),
      tensors: [
        { name: "a", type: f32, shape: [3], data: new Uint8Array(12) },
        { name: "b", type: f32, shape: [20], data: new Uint8Array(80) },
      ],
    });
    assert.deepEqual(header.tensors.map((t) => t.offset), [0, 64]);
    assert.equal(headerBytes.length % 64, 0);
    assert.equal(header.fileSize, headerBytes.length + 64 + 128);
    const parsed = parseGgufHeader(new BufferByteSource(Buffer.concat([headerBytes, new Uint8Array(192)])));
    assert.deepEqual(parsed.tensors.map((t) => t.offset), [0, 64]);
  });

  it("refuses tensor data of the wrong length and leaves no file behind", async () => {
    const path = join(directory, "short.gguf");
    const write = writeGgufFile(path, {
      metadata: new GgufMetadata(),
      tensors: [{ name: "a", type: tensorTypeByName("F32")!, shape: [4], data: new Uint8Array(15) }],
    });
    await assert.rejects(write, (error: unknown) => error instanceof GgufError && error.code === "INVALID_INPUT");
    assert.deepEqual(readdirSync(directory).filter((name) => name.includes("short")), []);
  });

  it("refuses rows that are not whole blocks and duplicate names", () => {
    const q4 = tensorTypeByName("Q4_0")!;
    assert.throws(() => layoutGguf({ metadata: new GgufMetadata(), tensors: [{ name: "a", type: q4, shape: [48], data: new Uint8Array(0) }] }), /block size 32/);
    const f32 = tensorTypeByName("F32")!;
    const twice = { name: "a", type: f32, shape: [1], data: new Uint8Array(4) };
    assert.throws(() => layoutGguf({ metadata: new GgufMetadata(), tensors: [twice, twice] }), /appears twice/);
  });

  it("reads the header of a 20 GB file and streams its data in constant memory", async () => {
    // A sparse file: the header of a model with a 20 GB tensor, and holes for the data.
    const bf16 = tensorTypeByName("BF16")!;
    const rows = 163840;
    const rowLength = 65536; // 163840 × 65536 × 2 bytes = 20 GiB
    const { headerBytes, header } = layoutGguf({
      metadata: new GgufMetadata([["general.architecture", str("llama")]]),
      tensors: [
        { name: "huge", type: bf16, shape: [rowLength, rows], data: new Uint8Array(0) },
        { name: "tail", type: bf16, shape: [16], data: new Uint8Array(0) },
      ],
    });
    const path = join(directory, "huge.gguf");
    const fd = openSync(path, "w");
    writeSync(fd, headerBytes);
    ftruncateSync(fd, header.fileSize);
    closeSync(fd);

    const before = process.memoryUsage().rss;
    const parsed = readGgufHeader(path);
    assert.equal(parsed.tensors[0]!.byteSize, 20 * 1024 ** 3);
    // Stream the first 512 MiB of the big tensor and all of the last one.
    let streamed = 0;
    for await (const chunk of streamTensorData(path, parsed, parsed.tensors[0]!)) {
      streamed += chunk.length;
      if (streamed >= 512 * 1024 * 1024) break;
    }
    let tail = 0;
    for await (const chunk of streamTensorData(path, parsed, parsed.tensors[1]!)) tail += chunk.length;
    assert.equal(tail, 32);
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 128 * 1024 * 1024, `memory grew by ${(grown / 1048576).toFixed(0)} MiB while streaming 512 MiB`);
  });
});
