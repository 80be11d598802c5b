// F16 and BF16 rows to and from float32.
import { fp16ToFp32, fp32ToFp16 } from "./common";

export function decodeF16(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i++) store<f32>(dst + (<usize>i << 2), fp16ToFp32(<u32>load<u16>(src + (<usize>i << 1))));
}

export function encodeF16(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i++) store<u16>(dst + (<usize>i << 1), <u16>fp32ToFp16(load<f32>(src + (<usize>i << 2))));
}

export function decodeBF16(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i++) store<u32>(dst + (<usize>i << 2), <u32>load<u16>(src + (<usize>i << 1)) << 16);
}
