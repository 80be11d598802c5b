/**
 * The device a model would run on: memory (total and available), cores, CPU features. GPUs come
 * from node-llama-cpp when asked (loading it takes a moment).
 */
import { readFileSync, statfsSync } from "node:fs";
import { availableParallelism, cpus, freemem, totalmem } from "node:os";
import { dirname } from "node:path";

export interface DeviceProfile {
  readonly totalMemoryBytes: number;
  /** What the kernel says can be used without swapping (MemAvailable), else free memory. */
  readonly availableMemoryBytes: number;
  readonly cores: number;
  readonly cpuModel: string;
  /** The SIMD features llama.cpp's CPU kernels use. */
  readonly cpuFeatures: readonly string[];
  /** The largest CPU cache (usually L3), when the system says. */
  readonly lastLevelCacheBytes?: number;
}

const FEATURES = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8", "neon", "asimd", "sve"];

export function deviceProfile(): DeviceProfile {
  return {
    totalMemoryBytes: totalmem(),
    availableMemoryBytes: memAvailable() ?? freemem(),
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? "unknown",
    cpuFeatures: cpuFeatures(),
    ...lastLevelCache(),
  };
}

/** Linux: the size of the highest-level cache of CPU 0 (/sys/devices/system/cpu/cpu0/cache). */
function lastLevelCache(): { lastLevelCacheBytes?: number } {
  let best: { level: number; bytes: number } | undefined;
  for (let index = 0; index < 8; index++) {
    try {
      const directory = `/sys/devices/system/cpu/cpu0/cache/index${index}`;
      const level = Number(readFileSync(`${directory}/level`, "utf8"));
      const size = /^(\d+)([KMG]?)/.exec(readFileSync(`${directory}/size`, "utf8").trim());
      if (!size) continue;
      const bytes = Number(size[1]) * ({ "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[size[2] ?? ""]!;
      if (!best || level > best.level || (level === best.level && bytes > best.bytes)) best = { level, bytes };
    } catch {
      break;
    }
  }
  return best ? { lastLevelCacheBytes: best.bytes } : {};
}

function memAvailable(): number | undefined {
  return procKilobytes("/proc/meminfo", "MemAvailable");
}

/** A "<key>: N kB" line of a /proc file, in bytes (undefined off Linux). */
export function procKilobytes(file: string, key: string): number | undefined {
  try {
    const kib = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(file, "utf8"))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

function cpuFeatures(): string[] {
  try {
    const flags = new Set((/^(?:flags|Features)\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "").split(/\s+/));
    return FEATURES.filter((feature) => flags.has(feature));
  } catch {
    return [];
  }
}

/** Free space on the file system holding `path` (or its nearest existing parent), for the user. */
export function freeDiskBytes(path: string): number | undefined {
  let directory = path;
  for (;;) {
    try {
      const stats = statfsSync(directory);
      return stats.bavail * stats.bsize;
    } catch {
      const parent = dirname(directory);
      if (parent === directory) return undefined;
      directory = parent;
    }
  }
}
