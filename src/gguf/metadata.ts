/**
 * GGUF metadata values, typed exactly as stored so that a file read and written again is
 * byte-identical: a uint16 stays a uint16, 64-bit integers are bigints, numeric arrays are typed
 * arrays (a 150k-entry score table is one Float32Array, not 150k objects).
 */

/** The value types of the GGUF spec, with their ids and the bytes one element takes. */
export const VALUE_TYPES = [
  { id: 0, name: "uint8", bytes: 1 },
  { id: 1, name: "int8", bytes: 1 },
  { id: 2, name: "uint16", bytes: 2 },
  { id: 3, name: "int16", bytes: 2 },
  { id: 4, name: "uint32", bytes: 4 },
  { id: 5, name: "int32", bytes: 4 },
  { id: 6, name: "float32", bytes: 4 },
  { id: 7, name: "bool", bytes: 1 },
  { id: 8, name: "string", bytes: 8 }, // the length prefix: the least a string can take
  { id: 9, name: "array", bytes: 12 }, // item type + count: the least an array can take
  { id: 10, name: "uint64", bytes: 8 },
  { id: 11, name: "int64", bytes: 8 },
  { id: 12, name: "float64", bytes: 8 },
] as const;

export type ValueTypeName = (typeof VALUE_TYPES)[number]["name"];
export type NumberTypeName = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
export type BigIntTypeName = "uint64" | "int64";

export const valueTypeById = new Map(VALUE_TYPES.map((type) => [type.id as number, type]));
export const valueTypeByName = new Map(VALUE_TYPES.map((type) => [type.name as ValueTypeName, type]));

export interface TypedArrayByItem {
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  uint32: Uint32Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
  uint64: BigUint64Array;
  int64: BigInt64Array;
}
export type NumericItemType = keyof TypedArrayByItem;

export const TYPED_ARRAY_CONSTRUCTORS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
  uint64: BigUint64Array,
  int64: BigInt64Array,
} as const;

export type GgufNumericArray = {
  [K in NumericItemType]: { type: "array"; itemType: K; values: TypedArrayByItem[K] };
}[NumericItemType];

export type GgufArray =
  | GgufNumericArray
  | { type: "array"; itemType: "bool"; values: boolean[] }
  /** `raw` keeps the bytes of the (rare) strings that are not valid UTF-8, by index, so they round-trip. */
  | { type: "array"; itemType: "string"; values: string[]; raw?: Map<number, Uint8Array> }
  | { type: "array"; itemType: "array"; values: GgufArray[] };

export type GgufValue =
  | { type: NumberTypeName; value: number }
  | { type: BigIntTypeName; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string; raw?: Uint8Array }
  | GgufArray;

/** A plain-JavaScript view of a value, for JSON output and quick reads. */
export type PlainValue = number | bigint | boolean | string | PlainValue[];

export function toPlain(value: GgufValue): PlainValue {
  if (value.type !== "array") return value.value;
  if (value.itemType === "array") return value.values.map(toPlain);
  return Array.from(value.values as ArrayLike<PlainValue>);
}

/** Key-value metadata in file order, with typed getters that say which key was missing or mistyped. */
export class GgufMetadata {
  private readonly entries = new Map<string, GgufValue>();

  constructor(entries?: Iterable<[string, GgufValue]>) {
    if (entries) for (const [key, value] of entries) this.entries.set(key, value);
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): GgufValue | undefined {
    return this.entries.get(key);
  }

  /** Adds or replaces a value; a new key goes to the end, a replaced key keeps its place. */
  set(key: string, value: GgufValue): this {
    this.entries.set(key, value);
    return this;
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  [Symbol.iterator](): IterableIterator<[string, GgufValue]> {
    return this.entries[Symbol.iterator]();
  }

  /** A string value, or undefined when the key is absent or not a string. */
  string(key: string): string | undefined {
    const value = this.entries.get(key);
    return value?.type === "string" ? value.value : undefined;
  }

  /** Any integer or float value as a number (64-bit integers converted), or undefined. */
  number(key: string): number | undefined {
    const value = this.entries.get(key);
    if (value === undefined || value.type === "array" || value.type === "string" || value.type === "bool") return undefined;
    return Number(value.value);
  }

  bool(key: string): boolean | undefined {
    const value = this.entries.get(key);
    return value?.type === "bool" ? value.value : undefined;
  }

  array(key: string): GgufArray | undefined {
    const value = this.entries.get(key);
    return value?.type === "array" ? value : undefined;
  }

  /** Number of elements of an array value, or undefined. */
  arrayLength(key: string): number | undefined {
    return this.array(key)?.values.length;
  }
}

/** Shorthands for building values, so writers read as `meta.set("x.y", u32(4))`. */
export const u32 = (value: number): GgufValue => ({ type: "uint32", value });
export const i32 = (value: number): GgufValue => ({ type: "int32", value });
export const f32 = (value: number): GgufValue => ({ type: "float32", value });
export const u64 = (value: number | bigint): GgufValue => ({ type: "uint64", value: BigInt(value) });
export const bool = (value: boolean): GgufValue => ({ type: "bool", value });
export const str = (value: string): GgufValue => ({ type: "string", value });
export const strings = (values: string[]): GgufValue => ({ type: "array", itemType: "string", values });
export const float32s = (values: ArrayLike<number>): GgufValue => ({
  type: "array",
  itemType: "float32",
  values: Float32Array.from(values),
});
export const int32s = (values: ArrayLike<number>): GgufValue => ({
  type: "array",
  itemType: "int32",
  values: Int32Array.from(values),
});
