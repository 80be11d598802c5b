import { type ByteSource, FileByteSource } from "./byte-source.js";
import { Cursor } from "./cursor.js";
import {
  type GgufArray,
  GgufMetadata,
  type GgufValue,
  type NumericItemType,
  TYPED_ARRAY_CONSTRUCTORS,
  type ValueTypeName,
  valueTypeById,
} from "./metadata.js";
import { type TensorTypeLayout, tensorTypeById } from "./tensor-types.js";

export const GGUF_MAGIC = "GGUF";
export const DEFAULT_ALIGNMENT = 32;
/** ggml's limit on tensor dimensions. */
export const MAX_DIMENSIONS = 4;
/** Longest string the parser accepts; chat templates and embedded tokenizer.json files fit easily. */
export const MAX_STRING_BYTES = 64 * 1024 * 1024;
/** Deepest nesting of arrays within arrays the parser follows. */
export const MAX_ARRAY_NESTING = 8;
const MAX_TENSOR_NAME_BYTES = 4096;
/** The least bytes one tensor info and one key-value pair can take: bounds for the header counts. */
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;
const MIN_KV_BYTES = 8 + 4 + 1;

export interface GgufTensorInfo {
  readonly name: string;
  /** Dimensions in ggml order: shape[0] is the row length (ne[0]). */
  readonly shape: readonly number[];
  readonly type: TensorTypeLayout;
  /** Offset of the data from the start of the data section. */
  readonly offset: number;
  readonly byteSize: number;
  readonly elements: number;
}

export interface GgufHeader {
  readonly version: 2 | 3;
  readonly alignment: number;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly GgufTensorInfo[];
  /** Where the data section starts: the end of the tensor infos, padded to the alignment. */
  readonly dataOffset: number;
  readonly fileSize: number;
}

/** Absolute file offset of a tensor's data. */
export function tensorDataStart(header: GgufHeader, tensor: GgufTensorInfo): number {
  return header.dataOffset + tensor.offset;
}

/** Reads and validates the header of a GGUF file (metadata and tensor infos, not tensor data). */
export function readGgufHeader(path: string): GgufHeader {
  const source = new FileByteSource(path);
  try {
    return parseGgufHeader(source);
  } finally {
    source.close();
  }
}

/** Parses and validates a GGUF header from any byte source. Throws GgufError on malformed input. */
export function parseGgufHeader(source: ByteSource): GgufHeader {
  const cursor = new Cursor(source);
  readMagic(cursor);
  const version = readVersion(cursor);
  const tensorCount = cursor.count("tensor count", MIN_TENSOR_INFO_BYTES);
  const kvCount = cursor.count("metadata key-value count", MIN_KV_BYTES);

  const metadata = new GgufMetadata();
  for (let index = 0; index < kvCount; index++) {
    const keyAt = cursor.position;
    const key = cursor.string(`metadata key #${index}`, MAX_STRING_BYTES).value;
    if (key.length === 0) cursor.fail("INVALID_INPUT", `metadata key #${index} is empty`, keyAt);
    if (metadata.has(key)) cursor.fail("DUPLICATE_KEY", `metadata key '${key}' appears twice`, keyAt);
    metadata.set(key, readValue(cursor, `'${key}'`));
  }
  const alignment = readAlignment(metadata, cursor);

  const infoOffsets: number[] = [];
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let index = 0; index < tensorCount; index++) {
    const infoAt = cursor.position;
    const tensor = readTensorInfo(cursor, index);
    if (names.has(tensor.name)) cursor.fail("DUPLICATE_TENSOR", `tensor '${tensor.name}' appears twice`, infoAt);
    names.add(tensor.name);
    tensors.push(tensor);
    infoOffsets.push(infoAt);
  }

  const dataOffset = tensorCount > 0 ? alignUp(cursor.position, alignment) : cursor.position;
  checkTensorPlacement(cursor, tensors, infoOffsets, dataOffset, alignment);
  return { version, alignment, metadata, tensors, dataOffset, fileSize: source.size };
}

export function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

const OLD_GGML_MAGICS: Record<string, string> = { lmgg: "ggml", fmgg: "ggmf", tjgg: "ggjt", algg: "ggla" };

function readMagic(cursor: Cursor): void {
  const bytes = cursor.take(4, "the magic number");
  const magic = bytes.toString("latin1");
  if (magic === GGUF_MAGIC) return;
  const oldFormat = OLD_GGML_MAGICS[magic];
  if (oldFormat !== undefined) {
    cursor.fail("UNSUPPORTED_VERSION", `this is a pre-GGUF '${oldFormat}' file; convert it to GGUF with a current llama.cpp`, 0);
  }
  const shown = JSON.stringify(magic.replace(/[^\x20-\x7e]/g, "."));
  cursor.fail("BAD_MAGIC", `not a GGUF file: it starts with ${shown}, not "GGUF"`, 0);
}

function readVersion(cursor: Cursor): 2 | 3 {
  const version = cursor.u32("the version");
  if (version === 2 || version === 3) return version;
  if (version === 1) {
    cursor.fail("UNSUPPORTED_VERSION", "GGUF version 1 is no longer supported; convert the model again with a current llama.cpp", 4);
  }
  const swapped = Buffer.alloc(4);
  swapped.writeUInt32BE(version);
  if (swapped.readUInt32LE() <= 3) {
    cursor.fail("BIG_ENDIAN", "this is a big-endian GGUF file, which is not supported; use a little-endian conversion of the model", 4);
  }
  cursor.fail("UNSUPPORTED_VERSION", `GGUF version ${version} is not supported (versions 2 and 3 are)`, 4);
}

function readValue(cursor: Cursor, what: string, depth = 0): GgufValue {
  const typeAt = cursor.position;
  const typeId = cursor.u32(`value type of ${what}`);
  const type = valueTypeById.get(typeId);
  if (type === undefined) cursor.fail("BAD_VALUE_TYPE", `value type ${typeId} of ${what} is not a GGUF type (0-12)`, typeAt);
  if (type.name === "array") return readArray(cursor, what, depth);
  return readScalar(cursor, type.name, what);
}

function readScalar(cursor: Cursor, type: Exclude<ValueTypeName, "array">, what: string): GgufValue {
  switch (type) {
    case "uint8":
      return { type, value: cursor.u8(what) };
    case "int8":
      return { type, value: cursor.i8(what) };
    case "uint16":
      return { type, value: cursor.u16(what) };
    case "int16":
      return { type, value: cursor.i16(what) };
    case "uint32":
      return { type, value: cursor.u32(what) };
    case "int32":
      return { type, value: cursor.i32(what) };
    case "float32":
      return { type, value: cursor.f32(what) };
    case "float64":
      return { type, value: cursor.f64(what) };
    case "uint64":
      return { type, value: cursor.u64(what) };
    case "int64":
      return { type, value: cursor.i64(what) };
    case "bool":
      return { type, value: readBool(cursor, what) };
    case "string":
      return { type, ...cursor.string(what, MAX_STRING_BYTES) };
  }
}

function readBool(cursor: Cursor, what: string): boolean {
  const at = cursor.position;
  const byte = cursor.u8(what);
  if (byte > 1) cursor.fail("BAD_VALUE_TYPE", `bool ${what} holds ${byte}; a bool must be 0 or 1`, at);
  return byte === 1;
}

function readArray(cursor: Cursor, what: string, depth: number): GgufArray {
  const typeAt = cursor.position;
  if (depth >= MAX_ARRAY_NESTING) cursor.fail("NESTING_TOO_DEEP", `${what} nests arrays more than ${MAX_ARRAY_NESTING} deep`, typeAt);
  const itemTypeId = cursor.u32(`item type of ${what}`);
  const itemType = valueTypeById.get(itemTypeId);
  if (itemType === undefined) {
    cursor.fail("BAD_VALUE_TYPE", `item type ${itemTypeId} of array ${what} is not a GGUF type (0-12)`, typeAt);
  }
  const length = cursor.count(`length of array ${what}`, itemType.bytes);
  switch (itemType.name) {
    case "string": {
      const values: string[] = [];
      let raw: Map<number, Uint8Array> | undefined;
      for (let index = 0; index < length; index++) {
        const item = cursor.string(`${what}[${index}]`, MAX_STRING_BYTES);
        values.push(item.value);
        if (item.raw) (raw ??= new Map()).set(index, item.raw);
      }
      return raw ? { type: "array", itemType: "string", values, raw } : { type: "array", itemType: "string", values };
    }
    case "bool": {
      const values: boolean[] = [];
      for (let index = 0; index < length; index++) values.push(readBool(cursor, `${what}[${index}]`));
      return { type: "array", itemType: "bool", values };
    }
    case "array": {
      const values: GgufArray[] = [];
      for (let index = 0; index < length; index++) values.push(readArray(cursor, `${what}[${index}]`, depth + 1));
      return { type: "array", itemType: "array", values };
    }
    default:
      return readNumericArray(cursor, itemType.name, length, itemType.bytes, what);
  }
}

function readNumericArray(cursor: Cursor, itemType: NumericItemType, length: number, itemBytes: number, what: string): GgufArray {
  const bytes = cursor.take(length * itemBytes, `array ${what}`);
  // Copy into a fresh, aligned buffer: typed arrays need alignment, and the window is reused.
  const copy = new ArrayBuffer(length * itemBytes);
  new Uint8Array(copy).set(bytes);
  const values = new TYPED_ARRAY_CONSTRUCTORS[itemType](copy);
  return { type: "array", itemType, values } as GgufArray;
}

function readAlignment(metadata: GgufMetadata, cursor: Cursor): number {
  const value = metadata.get("general.alignment");
  if (value === undefined) return DEFAULT_ALIGNMENT;
  if (value.type !== "uint32") cursor.fail("BAD_ALIGNMENT", `general.alignment must be a uint32, not ${value.type}`);
  const alignment = value.value;
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
    cursor.fail("BAD_ALIGNMENT", `general.alignment is ${alignment}; it must be a power of two`);
  }
  return alignment;
}

function readTensorInfo(cursor: Cursor, index: number): GgufTensorInfo {
  const nameAt = cursor.position;
  const name = cursor.string(`name of tensor #${index}`, MAX_TENSOR_NAME_BYTES).value;
  if (name.length === 0) cursor.fail("BAD_TENSOR_NAME", `tensor #${index} has an empty name`, nameAt);
  const dimsAt = cursor.position;
  const dimensionCount = cursor.u32(`dimension count of tensor '${name}'`);
  if (dimensionCount === 0 || dimensionCount > MAX_DIMENSIONS) {
    cursor.fail("BAD_DIMENSIONS", `tensor '${name}' has ${dimensionCount} dimensions; 1 to ${MAX_DIMENSIONS} are allowed`, dimsAt);
  }
  const shapeAt = cursor.position;
  const shape: number[] = [];
  let elements = 1n;
  for (let dim = 0; dim < dimensionCount; dim++) {
    const size = cursor.u64(`dimension ${dim} of tensor '${name}'`);
    elements *= size;
    if (size > BigInt(Number.MAX_SAFE_INTEGER) || elements > BigInt(Number.MAX_SAFE_INTEGER)) {
      cursor.fail("SHAPE_OVERFLOW", `the dimensions of tensor '${name}' multiply to more elements than any file can hold`, shapeAt);
    }
    shape.push(Number(size));
  }
  const typeAt = cursor.position;
  const typeId = cursor.u32(`type of tensor '${name}'`);
  const type = tensorTypeById(typeId);
  if (type === undefined) {
    cursor.fail("UNKNOWN_TENSOR_TYPE", `tensor '${name}' has type id ${typeId}, which ggml does not know`, typeAt);
  }
  if ((shape[0] ?? 0) % type.blockSize !== 0) {
    const detail = `tensor '${name}' (${type.name}) has rows of ${shape[0]} elements, not a multiple of its block size ${type.blockSize}`;
    cursor.fail("BAD_ROW_SIZE", detail, shapeAt);
  }
  const offsetAt = cursor.position;
  const offset = cursor.u64(`data offset of tensor '${name}'`);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) cursor.fail("OFFSET_PAST_END", `tensor '${name}' has data offset ${offset}, past the end of the file`, offsetAt);
  const count = Number(elements);
  return { name, shape, type, offset: Number(offset), byteSize: (count / type.blockSize) * type.bytesPerBlock, elements: count };
}

/** Every tensor's data must be aligned, inside the file, and apart from every other tensor's. */
function checkTensorPlacement(
  cursor: Cursor,
  tensors: readonly GgufTensorInfo[],
  infoOffsets: readonly number[],
  dataOffset: number,
  alignment: number,
): void {
  const fileSize = cursor.source.size;
  // The offset field is the last 8 bytes of a tensor info: point errors at it.
  const offsetFieldAt = (index: number): number => {
    const next = infoOffsets[index + 1] ?? cursor.position;
    return next - 8;
  };
  tensors.forEach((tensor, index) => {
    if (tensor.offset % alignment !== 0) {
      cursor.fail("MISALIGNED_TENSOR", `tensor '${tensor.name}' data offset ${tensor.offset} is not a multiple of the alignment ${alignment}`, offsetFieldAt(index));
    }
    const end = dataOffset + tensor.offset + tensor.byteSize;
    if (end > fileSize) {
      const detail = `tensor '${tensor.name}' data ends at byte ${end}, past the end of the file (${fileSize} bytes); is the file truncated?`;
      cursor.fail("OFFSET_PAST_END", detail, offsetFieldAt(index));
    }
  });
  // In offset order, every tensor with data must start at or after the furthest end seen so far
  // (comparing only neighbours would miss an overlap hidden behind an empty tensor).
  const order = tensors.map((_, index) => index).sort((a, b) => tensors[a]!.offset - tensors[b]!.offset);
  let furthest: GgufTensorInfo | undefined;
  for (const index of order) {
    const current = tensors[index]!;
    if (current.byteSize === 0) continue;
    if (furthest !== undefined && furthest.offset + furthest.byteSize > current.offset) {
      const detail = `the data of tensors '${furthest.name}' and '${current.name}' overlap`;
      cursor.fail("OVERLAPPING_TENSORS", detail, offsetFieldAt(index));
    }
    if (furthest === undefined || current.offset + current.byteSize > furthest.offset + furthest.byteSize) furthest = current;
  }
  if (tensors.length > 0 && dataOffset > fileSize) {
    cursor.fail("TRUNCATED", `the data section should start at byte ${dataOffset}, past the end of the file`, fileSize);
  }
}

