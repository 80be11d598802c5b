import { randomBytes } from "node:crypto";
import { unlinkSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ioError } from "./byte-source.js";
import { GgufError } from "./errors.js";
import { type GgufArray, GgufMetadata, type GgufValue, valueTypeByName } from "./metadata.js";
import { DEFAULT_ALIGNMENT, GGUF_MAGIC, type GgufHeader, type GgufTensorInfo, MAX_DIMENSIONS, alignUp } from "./reader.js";
import { type TensorTypeLayout, tensorByteSize } from "./tensor-types.js";

/** Tensor data given whole, or as a function that streams it (called once, when its turn comes). */
export type TensorDataSource = Uint8Array | (() => AsyncIterable<Uint8Array>);

export interface TensorToWrite {
  readonly name: string;
  readonly type: TensorTypeLayout;
  /** ggml order: shape[0] is the row length. */
  readonly shape: readonly number[];
  readonly data: TensorDataSource;
}

export interface GgufToWrite {
  readonly version?: 2 | 3;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly TensorToWrite[];
}

export interface WriteProgress {
  readonly tensor: GgufTensorInfo;
  readonly index: number;
  readonly bytesWritten: number;
  readonly totalBytes: number;
}

/**
 * Lays out a file as llama.cpp writes it: tensors in the given order, each starting at the next
 * multiple of the alignment, and returns the serialized header (padded to the data section).
 */
export function layoutGguf(gguf: GgufToWrite): { header: GgufHeader; headerBytes: Uint8Array } {
  const alignmentValue = gguf.metadata.get("general.alignment");
  const alignment = alignmentValue?.type === "uint32" ? alignmentValue.value : DEFAULT_ALIGNMENT;
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
    throw new GgufError("BAD_ALIGNMENT", `general.alignment is ${alignment}; it must be a power of two`);
  }
  const names = new Set<string>();
  let offset = 0;
  const tensors: GgufTensorInfo[] = gguf.tensors.map((tensor) => {
    checkTensor(tensor, names);
    const byteSize = tensorByteSize(tensor.type, tensor.shape);
    const info: GgufTensorInfo = {
      name: tensor.name,
      shape: [...tensor.shape],
      type: tensor.type,
      offset,
      byteSize,
      elements: tensor.shape.reduce((a, b) => a * b, 1),
    };
    offset = alignUp(offset + byteSize, alignment);
    return info;
  });

  const out = new ByteBuilder();
  out.bytes(Buffer.from(GGUF_MAGIC, "latin1"));
  out.u32(gguf.version ?? 3);
  out.u64(BigInt(tensors.length));
  out.u64(BigInt(gguf.metadata.size));
  for (const [key, value] of gguf.metadata) {
    out.string(key);
    writeValue(out, value);
  }
  for (const tensor of tensors) {
    out.string(tensor.name);
    out.u32(tensor.shape.length);
    for (const dim of tensor.shape) out.u64(BigInt(dim));
    out.u32(tensor.type.id);
    out.u64(BigInt(tensor.offset));
  }
  const dataOffset = tensors.length > 0 ? alignUp(out.length, alignment) : out.length;
  out.zeros(dataOffset - out.length);
  const header: GgufHeader = {
    version: gguf.version ?? 3,
    alignment,
    metadata: gguf.metadata,
    tensors,
    dataOffset,
    fileSize: dataOffset + offset,
  };
  return { header, headerBytes: out.finish() };
}

/**
 * Writes a GGUF file. Data is written to a temporary file beside `path` and renamed into place at
 * the end, so a failure or an interrupt never leaves a partial file under the final name.
 */
export async function writeGgufFile(
  path: string,
  gguf: GgufToWrite,
  onProgress?: (progress: WriteProgress) => void,
): Promise<GgufHeader> {
  const { header, headerBytes } = layoutGguf(gguf);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.partial`);
  // File-system failures (a directory in the way, a full disk) become one-line errors naming the file.
  const io = async <T>(step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (error) {
      throw error instanceof GgufError ? error : ioError(error, path);
    }
  };
  pendingFiles.add(temporary);
  try {
    const handle = await io(() => open(temporary, "w"));
    try {
      await io(() => handle.write(headerBytes));
      let written = headerBytes.length;
      for (const [index, tensor] of header.tensors.entries()) {
        const source = gguf.tensors[index]!;
        await writeTensorData(handle, tensor, source.data, io);
        const padded = alignUp(tensor.offset + tensor.byteSize, header.alignment) - tensor.offset - tensor.byteSize;
        if (padded > 0) await io(() => handle.write(new Uint8Array(padded)));
        written += tensor.byteSize + padded;
        onProgress?.({ tensor, index, bytesWritten: written, totalBytes: header.fileSize });
      }
      await io(() => handle.sync());
    } finally {
      await handle.close();
    }
    await io(() => rename(temporary, path));
    return header;
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  } finally {
    pendingFiles.delete(temporary);
  }
}

async function writeTensorData(
  handle: Awaited<ReturnType<typeof open>>,
  tensor: GgufTensorInfo,
  data: TensorDataSource,
  io: <T>(step: () => Promise<T>) => Promise<T>,
): Promise<void> {
  let length = 0;
  const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = data instanceof Uint8Array ? [data] : data();
  for await (const chunk of chunks) {
    length += chunk.length;
    if (length > tensor.byteSize) break;
    await io(() => handle.write(chunk));
  }
  if (length !== tensor.byteSize) {
    const detail = `tensor '${tensor.name}' needs ${tensor.byteSize} bytes of ${tensor.type.name} data for shape [${tensor.shape.join(", ")}], but its source gave ${length}`;
    throw new GgufError("INVALID_INPUT", detail);
  }
}

// Temporary files still being written; removed if the process exits first (Ctrl-C included,
// since the CLI turns SIGINT into process.exit).
const pendingFiles = new Set<string>();
process.on("exit", () => {
  for (const file of pendingFiles) {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
});

function checkTensor(tensor: TensorToWrite, names: Set<string>): void {
  if (tensor.name.length === 0) throw new GgufError("BAD_TENSOR_NAME", "a tensor has an empty name");
  if (names.has(tensor.name)) throw new GgufError("DUPLICATE_TENSOR", `tensor '${tensor.name}' appears twice`);
  names.add(tensor.name);
  if (tensor.shape.length === 0 || tensor.shape.length > MAX_DIMENSIONS) {
    throw new GgufError("BAD_DIMENSIONS", `tensor '${tensor.name}' has ${tensor.shape.length} dimensions; 1 to ${MAX_DIMENSIONS} are allowed`);
  }
  if (tensor.shape.some((dim) => !Number.isSafeInteger(dim) || dim < 0)) {
    throw new GgufError("BAD_DIMENSIONS", `tensor '${tensor.name}' has shape [${tensor.shape.join(", ")}]; dimensions must be whole numbers ≥ 0`);
  }
  if (tensor.shape[0]! % tensor.type.blockSize !== 0) {
    throw new GgufError("BAD_ROW_SIZE", `tensor '${tensor.name}' rows of ${tensor.shape[0]} are not a multiple of the ${tensor.type.name} block size ${tensor.type.blockSize}`);
  }
}

function writeValue(out: ByteBuilder, value: GgufValue): void {
  out.u32(valueTypeByName.get(value.type)!.id);
  if (value.type === "array") {
    writeArray(out, value);
    return;
  }
  switch (value.type) {
    case "uint8":
      return out.scalar(1, (b) => b.writeUInt8(value.value));
    case "int8":
      return out.scalar(1, (b) => b.writeInt8(value.value));
    case "uint16":
      return out.scalar(2, (b) => b.writeUInt16LE(value.value));
    case "int16":
      return out.scalar(2, (b) => b.writeInt16LE(value.value));
    case "uint32":
      return out.scalar(4, (b) => b.writeUInt32LE(value.value));
    case "int32":
      return out.scalar(4, (b) => b.writeInt32LE(value.value));
    case "float32":
      return out.scalar(4, (b) => b.writeFloatLE(value.value));
    case "float64":
      return out.scalar(8, (b) => b.writeDoubleLE(value.value));
    case "uint64":
      return out.scalar(8, (b) => b.writeBigUInt64LE(value.value));
    case "int64":
      return out.scalar(8, (b) => b.writeBigInt64LE(value.value));
    case "bool":
      return out.scalar(1, (b) => b.writeUInt8(value.value ? 1 : 0));
    case "string":
      return out.string(value.raw ?? value.value);
  }
}

function writeArray(out: ByteBuilder, array: GgufArray): void {
  out.u32(valueTypeByName.get(array.itemType)!.id);
  out.u64(BigInt(array.values.length));
  switch (array.itemType) {
    case "string":
      array.values.forEach((item, index) => out.string(array.raw?.get(index) ?? item));
      return;
    case "bool":
      out.bytes(Uint8Array.from(array.values, (item) => (item ? 1 : 0)));
      return;
    case "array":
      for (const item of array.values) writeArray(out, item);
      return;
    default:
      // Typed arrays hold little-endian bytes on every platform Node.js runs on.
      out.bytes(new Uint8Array(array.values.buffer, array.values.byteOffset, array.values.byteLength));
  }
}

/** A growable little-endian byte buffer for serializing headers. */
class ByteBuilder {
  private buffer = Buffer.alloc(64 * 1024);
  length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  scalar(bytes: number, write: (target: Buffer) => void): void {
    this.reserve(bytes);
    write(this.buffer.subarray(this.length, this.length + bytes));
    this.length += bytes;
  }

  u32(value: number): void {
    this.scalar(4, (b) => b.writeUInt32LE(value));
  }

  u64(value: bigint): void {
    this.scalar(8, (b) => b.writeBigUInt64LE(value));
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  string(value: string | Uint8Array): void {
    const data = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    this.u64(BigInt(data.length));
    this.bytes(data);
  }

  zeros(count: number): void {
    this.reserve(count);
    this.buffer.fill(0, this.length, this.length + count);
    this.length += count;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

