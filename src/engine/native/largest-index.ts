/**
 * The index of the largest logit (greedy decoding's argmax), the first of equals. It runs once per
 * generated token on the JS thread, between one decode and the next, over the whole vocabulary
 * (151,936 entries for qwen3): in plain JS that was 0.18–0.3 ms a token on this machine. A WebAssembly
 * SIMD kernel (four floats per instruction) does it in ~0.035 ms with the copy into its memory
 * (bench/argmax.ts, caches warm), taking the row in L1-sized chunks (see CHUNK_FLOATS).
 *
 * The kernel is assembled here from its instructions (no toolchain, no binary blob; the quantizer's
 * kernels are AssemblyScript, built into a file that engine code does not load). Where WebAssembly SIMD
 * is unavailable (--jitless, say) or SLMKIT_NO_WASM=1, the plain scan answers.
 */

/** Floats the kernel's main loop takes per iteration (four 4-lane vectors). */
const FLOATS_PER_STEP = 16;

/** The kernel's export: the first index of the largest of the `count` floats at address 0 (a multiple of 16), or -1 (NaNs only). */
type LargestKernel = (count: number) => number;

interface Kernel {
  readonly largest: LargestKernel;
  /** The kernel's memory, one chunk long. */
  readonly floats: Float32Array;
}

let kernel: Kernel | null | undefined;

/** Index of the largest value, the first of equals; NaNs are never the largest unless all are NaN (then 0). */
export function largestIndex(values: Float32Array): number {
  const length = values.length;
  const whole = length - (length % FLOATS_PER_STEP);
  const found = whole > 0 ? runKernel(values, whole) : undefined;
  if (found === undefined) return largestIndexScalar(values);
  // The few values after the last whole step: a later equal does not win, a number beats NaN.
  let best = found;
  let bestValue = found === -1 ? NaN : values[found]!;
  for (let index = whole; index < length; index++) {
    const value = values[index]!;
    if (value > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(value))) {
      bestValue = value;
      best = index;
    }
  }
  return best === -1 ? 0 : best;
}

/**
 * The kernel alone, on a whole number of steps (16 values): the first index of the largest value, -1
 * when all are NaN, undefined where WebAssembly SIMD is unavailable.
 */
export function largestIndexSimd(values: Float32Array): number | undefined {
  if (values.length % FLOATS_PER_STEP !== 0) throw new RangeError(`the kernel takes whole steps of ${FLOATS_PER_STEP} values, not ${values.length}`);
  return runKernel(values, values.length);
}

/**
 * Floats copied into the kernel's memory and scanned at a time: 16 KiB, which stays in the core's L1
 * cache between the copy and the scan. Copying the whole row (600 KB for qwen3) and then scanning it
 * read it twice from further out: with the logits just written by another core, 157–175 µs a row
 * against 114–121 µs in chunks of 2–16K floats (scratch measurement, caches flushed before each call).
 */
const CHUNK_FLOATS = 4096;

/**
 * The first index of the largest of the first `count` values (a multiple of 16), -1 when all are NaN,
 * undefined where WebAssembly SIMD is unavailable: chunk by chunk, a later chunk's maximum winning only
 * when strictly larger (so the first of equals stays the answer) and a number beating a chunk of NaNs.
 */
function runKernel(values: Float32Array, count: number): number | undefined {
  const simd = kernel === undefined ? (kernel = loadKernel()) : kernel;
  if (simd === null) return undefined;
  let best = -1;
  let bestValue = -Infinity;
  for (let start = 0; start < count; start += CHUNK_FLOATS) {
    const length = Math.min(CHUNK_FLOATS, count - start);
    simd.floats.set(values.subarray(start, start + length));
    const found = simd.largest(length);
    if (found !== -1 && (best === -1 || simd.floats[found]! > bestValue)) {
      best = start + found;
      bestValue = simd.floats[found]!;
    }
  }
  return best;
}

/**
 * The plain-JS scan, the reference the kernel is tested against. Four running maxima over interleaved
 * lanes let the CPU compare independently (1.5× faster than one at 32k-152k entries); then they merge.
 */
export function largestIndexScalar(values: Float32Array): number {
  const length = values.length;
  if (length < 8) {
    let best = 0;
    for (let index = 1; index < length; index++) if (values[index]! > values[best]!) best = index;
    return best;
  }
  let index0 = 0, index1 = 1, index2 = 2, index3 = 3;
  let value0 = values[0]!, value1 = values[1]!, value2 = values[2]!, value3 = values[3]!;
  let index = 4;
  for (; index + 3 < length; index += 4) {
    const a = values[index]!, b = values[index + 1]!, c = values[index + 2]!, d = values[index + 3]!;
    if (a > value0) { value0 = a; index0 = index; }
    if (b > value1) { value1 = b; index1 = index + 1; }
    if (c > value2) { value2 = c; index2 = index + 2; }
    if (d > value3) { value3 = d; index3 = index + 3; }
  }
  let best = index0, bestValue = value0;
  if (value1 > bestValue || (value1 === bestValue && index1 < best)) { best = index1; bestValue = value1; }
  if (value2 > bestValue || (value2 === bestValue && index2 < best)) { best = index2; bestValue = value2; }
  if (value3 > bestValue || (value3 === bestValue && index3 < best)) { best = index3; bestValue = value3; }
  for (; index < length; index++) {
    if (values[index]! > bestValue) { bestValue = values[index]!; best = index; }
  }
  return best;
}

function loadKernel(): Kernel | null {
  // The same switch as the quantizer's kernels (src/quant/wasm-kernels.ts): plain JS everywhere.
  if (process.env["SLMKIT_NO_WASM"] === "1") return null;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(kernelModule()));
    const memory = instance.exports["memory"] as WebAssembly.Memory;
    return { largest: instance.exports["largest"] as LargestKernel, floats: new Float32Array(memory.buffer, 0, CHUNK_FLOATS) };
  } catch {
    return null;
  }
}

// ---- The kernel's instructions (WebAssembly 2.0 binary format, SIMD proposal opcodes) ----

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b, NO_RESULT = 0x40;
const op = {
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f,
  localGet: 0x20, localSet: 0x21, f32Load: 0x2a, i32Const: 0x41, f32Const: 0x43,
  i32GeU: 0x4f, i32LtU: 0x49, f32Eq: 0x5b, f32Gt: 0x5e,
  i32Add: 0x6a, i32Shl: 0x74, i32ShrU: 0x76,
} as const;
/** SIMD instructions: the 0xfd prefix, then the opcode as unsigned LEB128. */
const simd = {
  v128Load: [0xfd, 0x00], f32x4Splat: [0xfd, 0x13], f32x4ExtractLane: [0xfd, 0x1f],
  f32x4Eq: [0xfd, 0x41], v128AnyTrue: [0xfd, 0x53], f32x4Pmax: [0xfd, 0xeb, 0x01],
} as const;

/** Parameter 0 and the locals after it, by index. */
const count = 0, address = 1, end = 2, max0 = 3, max1 = 4, max2 = 5, max3 = 6, best = 7, bestSplat = 8;

/**
 * largest(count): pass one keeps four vectors of running maxima (pmax ignores a NaN read) over the
 * `count` floats from address 0; their largest lane is the maximum. Pass two finds the first vector holding a lane equal to it, then the first such float.
 */
function kernelBody(): number[] {
  const get = (local: number) => [op.localGet, local];
  const set = (local: number) => [op.localSet, local];
  const i32 = (value: number) => [op.i32Const, ...signedLeb128(value)];
  const load = (offset: number) => [...simd.v128Load, 4, ...unsignedLeb128(offset)];
  const pmaxInto = (local: number, offset: number) => [...get(local), ...get(address), ...load(offset), ...simd.f32x4Pmax, ...set(local)];
  const lane = (index: number) => [...get(max0), ...simd.f32x4ExtractLane, index];
  const takeLaneIfLarger = (index: number) => [...lane(index), ...get(best), op.f32Gt, op.if, NO_RESULT, ...lane(index), ...set(best), op.end];
  const minusInfinity = [op.f32Const, 0x00, 0x00, 0x80, 0xff];
  return [
    // end = count * 4 (bytes); the maxima start at -Infinity
    ...get(count), ...i32(2), op.i32Shl, ...set(end),
    ...minusInfinity, ...simd.f32x4Splat, ...set(max0),
    ...minusInfinity, ...simd.f32x4Splat, ...set(max1),
    ...minusInfinity, ...simd.f32x4Splat, ...set(max2),
    ...minusInfinity, ...simd.f32x4Splat, ...set(max3),
    op.loop, NO_RESULT,
    ...pmaxInto(max0, 0), ...pmaxInto(max1, 16), ...pmaxInto(max2, 32), ...pmaxInto(max3, 48),
    ...get(address), ...i32(FLOATS_PER_STEP * 4), op.i32Add, ...set(address),
    ...get(address), ...get(end), op.i32LtU, op.brIf, 0,
    op.end,
    ...get(max0), ...get(max1), ...simd.f32x4Pmax, ...get(max2), ...get(max3), ...simd.f32x4Pmax, ...simd.f32x4Pmax, ...set(max0),
    ...lane(0), ...set(best), ...takeLaneIfLarger(1), ...takeLaneIfLarger(2), ...takeLaneIfLarger(3),
    ...get(best), ...simd.f32x4Splat, ...set(bestSplat),
    // Pass two: the first vector with a lane equal to the maximum (none: NaNs only, answer -1).
    ...i32(0), ...set(address),
    op.block, NO_RESULT, op.loop, NO_RESULT,
    ...get(address), ...get(end), op.i32GeU, op.if, NO_RESULT, ...i32(-1), op.return, op.end,
    ...get(bestSplat), ...get(address), ...load(0), ...simd.f32x4Eq, ...simd.v128AnyTrue, op.brIf, 1,
    ...get(address), ...i32(16), op.i32Add, ...set(address),
    op.br, 0,
    op.end, op.end,
    // ... and the first float in it that equals the maximum (one does).
    op.loop, NO_RESULT,
    ...get(address), op.f32Load, 2, 0, ...get(best), op.f32Eq, op.if, NO_RESULT,
    ...get(address), ...i32(2), op.i32ShrU, op.return, op.end,
    ...get(address), ...i32(4), op.i32Add, ...set(address),
    op.br, 0,
    op.end,
    ...i32(-1),
  ];
}

function kernelModule(): Uint8Array {
  const locals = [[2, I32], [4, V128], [1, F32], [1, V128]]; // address, end; max0-3; best; bestSplat
  const body = [...unsignedLeb128(locals.length), ...locals.flat(), ...kernelBody(), op.end];
  const section = (id: number, content: number[]) => [id, ...unsignedLeb128(content.length), ...content];
  const name = (text: string) => [text.length, ...Array.from(text, (character) => character.charCodeAt(0))];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [1, 0x60, 1, I32, 1, I32]), // one type: (i32) -> i32
    ...section(3, [1, 0]), // one function, of that type
    ...section(5, [1, 0x00, 1]), // one memory of one page (64 KiB): a chunk (16 KiB) fits
    ...section(7, [2, ...name("memory"), 0x02, 0, ...name("largest"), 0x00, 0]),
    ...section(10, [1, ...unsignedLeb128(body.length), ...body]),
  ]);
}

function unsignedLeb128(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function signedLeb128(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}
