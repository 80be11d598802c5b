/**
 * Hand-built GGUF bytes for tests, including deliberately broken ones: every field is written as
 * given, with no checks, so a test can put an absurd count or a bad offset exactly where it wants.
 * (Test support only; the product writes files through writer.ts.)
 */

export interface RawTensor {
  name: string;
  dims: Array<number | bigint>;
  type: number;
  offset: number | bigint;
}

export interface RawKv {
  key: string;
  /** GGUF value type id and the already-encoded value bytes. */
  type: number;
  value: Uint8Array;
}

export class RawGgufBuilder {
  private readonly parts: Uint8Array[] = [];

  bytes(data: Uint8Array | number[]): this {
    this.parts.push(data instanceof Uint8Array ? data : Uint8Array.from(data));
    return this;
  }
  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    return this.bytes(b);
  }
  u64(value: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)));
    return this.bytes(b);
  }
  string(value: string): this {
    const data = Buffer.from(value, "utf8");
    return this.u64(data.length).bytes(data);
  }
  get length(): number {
    return this.parts.reduce((sum, part) => sum + part.length, 0);
  }
  padTo(alignment: number): this {
    const padding = (alignment - (this.length % alignment)) % alignment;
    return this.bytes(new Uint8Array(padding));
  }
  build(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

export function stringValue(value: string): RawKv["value"] {
  return new RawGgufBuilder().string(value).build();
}

export function u32Value(value: number): RawKv["value"] {
  return new RawGgufBuilder().u32(value).build();
}

/** A complete file: header, tensor infos, padding, then `dataBytes` bytes of data (zeros by default). */
export function rawGguf(options: { version?: number; kvs?: RawKv[]; tensors?: RawTensor[]; dataBytes?: number; alignment?: number; tensorCount?: bigint; kvCount?: bigint }): Uint8Array {
  const kvs = options.kvs ?? [];
  const tensors = options.tensors ?? [];
  const out = new RawGgufBuilder().bytes(Buffer.from("GGUF", "latin1"));
  out.u32(options.version ?? 3).u64(options.tensorCount ?? BigInt(tensors.length)).u64(options.kvCount ?? BigInt(kvs.length));
  for (const kv of kvs) out.string(kv.key).u32(kv.type).bytes(kv.value);
  for (const tensor of tensors) {
    out.string(tensor.name).u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(dim);
    out.u32(tensor.type).u64(tensor.offset);
  }
  if (tensors.length > 0) out.padTo(options.alignment ?? 32);
  out.bytes(new Uint8Array(options.dataBytes ?? 0));
  return out.build();
}
