// The WebAssembly kernels' exports. Names: quantize<Type>(src, dst, count) and dequantize<Type>(...).
export { decodeBF16, decodeF16, encodeF16 } from "./float";
export {
  dequantizeQ4_0,
  dequantizeQ4_1,
  dequantizeQ5_0,
  dequantizeQ5_1,
  dequantizeQ8_0,
  quantizeQ4_0,
  quantizeQ4_1,
  quantizeQ5_0,
  quantizeQ5_1,
  quantizeQ8_0,
} from "./legacy";
export { dequantizeTQ1_0, dequantizeTQ2_0, quantizeTQ1_0, quantizeTQ2_0 } from "./ternary";
export { dequantizeQ2_K, quantizeQ2_K } from "./q2-k";
export { dequantizeQ4_K, dequantizeQ5_K, quantizeQ4_K, quantizeQ5_K } from "./q4-q5-k";
export { dequantizeQ3_K, quantizeQ3_K } from "./q3-k";
export { dequantizeQ6_K, quantizeQ6_K } from "./q6-k";

/** Where the JavaScript side may place its buffers: after the module's static data. */
export function heapBase(): usize {
  return __heap_base;
}
