/**
 * What a tensor type's quantizer provides. Every reference quantizer in ggml treats its input as a
 * run of independent blocks, so a kernel works on `count` elements (a multiple of the block size)
 * and does not need to know where rows begin.
 */
export interface QuantKernel {
  /** Encodes `count` floats from `src` into `dst` (exactly count / blockSize × bytesPerBlock bytes). */
  readonly quantize: (src: Float32Array, dst: Uint8Array, count: number) => void;
  /** Decodes `count` elements from `src` into `dst`. */
  readonly dequantize: (src: Uint8Array, dst: Float32Array, count: number) => void;
}
