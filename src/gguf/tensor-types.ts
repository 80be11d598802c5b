/**
 * The storage layout of every ggml tensor type a GGUF file may hold: one row per type.
 *
 * This is the byte-level half of the type table. The quantizer (src/quant) adds kernels to these
 * rows; the reader, writer and size estimates only need how many elements a block holds and how
 * many bytes it takes. Ids and sizes follow ggml.h / ggml-common.h of the llama.cpp release that
 * node-llama-cpp 3.21.1 bundles.
 */

export interface TensorTypeLayout {
  /** The ggml type id stored in the GGUF tensor info. */
  readonly id: number;
  /** Upper-case name as llama.cpp prints it in `llama-quantize` / `gguf-dump` (Q4_K, not q4_K). */
  readonly name: string;
  /** Elements per block; a row's length must be a multiple of it. */
  readonly blockSize: number;
  /** Bytes one block takes on disk. */
  readonly bytesPerBlock: number;
  /** True for block-quantized types, false for plain element types (F32, F16, BF16, I8 ...). */
  readonly quantized: boolean;
}

function row(id: number, name: string, blockSize: number, bytesPerBlock: number, quantized = true): TensorTypeLayout {
  return { id, name, blockSize, bytesPerBlock, quantized };
}

const QK_K = 256;

/** Every type id that a current GGUF may contain. Ids 4, 5, 31–33 and 36–38 were removed from ggml. */
export const TENSOR_TYPE_LAYOUTS: readonly TensorTypeLayout[] = [
  row(0, "F32", 1, 4, false),
  row(1, "F16", 1, 2, false),
  row(2, "Q4_0", 32, 18),
  row(3, "Q4_1", 32, 20),
  row(6, "Q5_0", 32, 22),
  row(7, "Q5_1", 32, 24),
  row(8, "Q8_0", 32, 34),
  row(9, "Q8_1", 32, 36),
  row(10, "Q2_K", QK_K, 84),
  row(11, "Q3_K", QK_K, 110),
  row(12, "Q4_K", QK_K, 144),
  row(13, "Q5_K", QK_K, 176),
  row(14, "Q6_K", QK_K, 210),
  row(15, "Q8_K", QK_K, 292),
  row(16, "IQ2_XXS", QK_K, 66),
  row(17, "IQ2_XS", QK_K, 74),
  row(18, "IQ3_XXS", QK_K, 98),
  row(19, "IQ1_S", QK_K, 50),
  row(20, "IQ4_NL", 32, 18),
  row(21, "IQ3_S", QK_K, 110),
  row(22, "IQ2_S", QK_K, 82),
  row(23, "IQ4_XS", QK_K, 136),
  row(24, "I8", 1, 1, false),
  row(25, "I16", 1, 2, false),
  row(26, "I32", 1, 4, false),
  row(27, "I64", 1, 8, false),
  row(28, "F64", 1, 8, false),
  row(29, "IQ1_M", QK_K, 56),
  row(30, "BF16", 1, 2, false),
  row(34, "TQ1_0", QK_K, 54),
  row(35, "TQ2_0", QK_K, 66),
  row(39, "MXFP4", 32, 17),
  row(40, "NVFP4", 64, 36),
  row(41, "Q1_0", 128, 18),
  row(42, "Q2_0", 64, 18),
];

const byId = new Map(TENSOR_TYPE_LAYOUTS.map((layout) => [layout.id, layout]));
const byName = new Map(TENSOR_TYPE_LAYOUTS.map((layout) => [layout.name, layout]));

/** The layout of a type id, or undefined when ggml does not know the id (or removed it). */
export function tensorTypeById(id: number): TensorTypeLayout | undefined {
  return byId.get(id);
}

/** The layout of a type by name, case-insensitive ("q4_k" and "Q4_K" both work). */
export function tensorTypeByName(name: string): TensorTypeLayout | undefined {
  return byName.get(name.toUpperCase());
}

/** Bytes one row of `rowLength` elements takes; the row length must be a multiple of the block size. */
export function rowByteSize(layout: TensorTypeLayout, rowLength: number): number {
  return (rowLength / layout.blockSize) * layout.bytesPerBlock;
}

/**
 * Bytes a tensor of this type and shape takes. `shape[0]` is the row length (ggml's ne[0]).
 * Callers must have checked that the row length is a multiple of the block size.
 */
export function tensorByteSize(layout: TensorTypeLayout, shape: readonly number[]): number {
  const elements = shape.reduce((product, dim) => product * dim, 1);
  return (elements / layout.blockSize) * layout.bytesPerBlock;
}
