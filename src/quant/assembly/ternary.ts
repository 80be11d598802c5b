// TQ1_0 and TQ2_0 (ternary, for BitNet b1.58 models) in WebAssembly: the arithmetic of
// ../kernels/ternary.ts and ggml's reference quantizers. The F16 scale sits after the codes.
import { absMaxF32, loadHalf, roundAway, storeHalf, truncToInt } from "./common";

/** round(x / amax) + 1 for four lanes: 0, 1 or 2, as i32 lanes. */
@inline function tritsX4(x: usize, scale: v128): v128 {
  const value = f32x4.mul(v128.load(x), scale);
  // C's lroundf: ties away from zero (exact: see roundAwayX4 in legacy.ts).
  const whole = f32x4.trunc(value);
  const fraction = f32x4.abs(f32x4.sub(value, whole));
  const step = v128.or(v128.and(value, i32x4.splat(0x80000000)), f32x4.splat(1.0));
  const rounded = f32x4.add(whole, v128.and(f32x4.ge(fraction, f32x4.splat(0.5)), step));
  return i32x4.add(i32x4.trunc_sat_f32x4_s(rounded), i32x4.splat(1));
}

export function quantizeTQ2_0(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 8) * 66;
    const d = absMaxF32(x, 1024);
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    const scale = f32x4.splat(id);
    const three = i32x4.splat(3);
    for (let group: usize = 0; group < 2; group++) {
      const g = x + group * 512;
      // Byte m holds elements m, m+32, m+64, m+96 of the group, two bits each, lowest first.
      for (let m: usize = 0; m < 32; m += 4) {
        let packed = v128.and(tritsX4(g + (m << 2), scale), three);
        packed = v128.or(packed, i32x4.shl(v128.and(tritsX4(g + ((m + 32) << 2), scale), three), 2));
        packed = v128.or(packed, i32x4.shl(v128.and(tritsX4(g + ((m + 64) << 2), scale), three), 4));
        packed = v128.or(packed, i32x4.shl(v128.and(tritsX4(g + ((m + 96) << 2), scale), three), 6));
        store<u8>(y + group * 32 + m, <u8>i32x4.extract_lane(packed, 0));
        store<u8>(y + group * 32 + m + 1, <u8>i32x4.extract_lane(packed, 1));
        store<u8>(y + group * 32 + m + 2, <u8>i32x4.extract_lane(packed, 2));
        store<u8>(y + group * 32 + m + 3, <u8>i32x4.extract_lane(packed, 3));
      }
    }
    storeHalf(y + 64, d);
  }
}

export function dequantizeTQ2_0(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const q = src + <usize>(block >> 8) * 66;
    let y = dst + (<usize>block << 2);
    const d = loadHalf(q + 64);
    for (let group: usize = 0; group < 2; group++) {
      for (let n: u32 = 0; n < 4; n++) {
        for (let m: usize = 0; m < 32; m++) {
          store<f32>(y, <f32>(<i32>((<u32>load<u8>(q + group * 32 + m) >> (2 * n)) & 3) - 1) * d);
          y += 4;
        }
      }
    }
  }
}

@inline function trit(value: f32, inverseScale: f32): u32 {
  return <u32>(truncToInt(roundAway(value * inverseScale)) + 1);
}

/** ⌈t · 256 / 243⌉ for a base-3 number t of five trits. */
@inline function packTrits(t: u32): u8 {
  return <u8>((t * 256 + 242) / 243);
}

export function quantizeTQ1_0(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const x = src + (<usize>block << 2);
    const y = dst + <usize>(block >> 8) * 54;
    const d = absMaxF32(x, 1024);
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    let at = x;
    for (let m: usize = 0; m < 32; m++) {
      let t: u32 = 0;
      for (let n: usize = 0; n < 5; n++) t = t * 3 + trit(load<f32>(at + ((m + n * 32) << 2)), id);
      store<u8>(y + m, packTrits(t));
    }
    at += 160 << 2;
    for (let m: usize = 0; m < 16; m++) {
      let t: u32 = 0;
      for (let n: usize = 0; n < 5; n++) t = t * 3 + trit(load<f32>(at + ((m + n * 16) << 2)), id);
      store<u8>(y + 32 + m, packTrits(t));
    }
    at += 80 << 2;
    for (let j: usize = 0; j < 4; j++) {
      let t: u32 = 0;
      for (let m: usize = 0; m < 4; m++) t = t * 3 + trit(load<f32>(at + ((j + m * 4) << 2)), id);
      store<u8>(y + 48 + j, packTrits(t * 3));
    }
    storeHalf(y + 52, d);
  }
}

@inline function readTrit(byte: u32, power: u32): f32 {
  return <f32>(<i32>((((byte * power) & 0xff) * 3) >> 8) - 1);
}

export function dequantizeTQ1_0(src: usize, dst: usize, count: i32): void {
  for (let block = 0; block < count; block += 256) {
    const q = src + <usize>(block >> 8) * 54;
    let y = dst + (<usize>block << 2);
    const d = loadHalf(q + 52);
    let power: u32 = 1;
    for (let n = 0; n < 5; n++, power *= 3) {
      for (let m: usize = 0; m < 32; m++, y += 4) store<f32>(y, readTrit(<u32>load<u8>(q + m), power) * d);
    }
    power = 1;
    for (let n = 0; n < 5; n++, power *= 3) {
      for (let m: usize = 0; m < 16; m++, y += 4) store<f32>(y, readTrit(<u32>load<u8>(q + 32 + m), power) * d);
    }
    power = 1;
    for (let n = 0; n < 4; n++, power *= 3) {
      for (let j: usize = 0; j < 4; j++, y += 4) store<f32>(y, readTrit(<u32>load<u8>(q + 48 + j), power) * d);
    }
  }
}
