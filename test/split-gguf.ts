/**
 * Splits a GGUF file the way llama.cpp's gguf-split does, for tests of split models: part 1 keeps the
 * metadata and some tensors, every part carries split.no / split.count / split.tensors.count, and the
 * parts are named <stem>-0000i-of-0000N.gguf so that llama.cpp finds them beside the first.
 */
import { basename, join } from "node:path";
import { GgufMetadata, type GgufValue, i32, readGgufHeader, readTensorData, writeGgufFile } from "../src/gguf/index.js";

const u16 = (value: number): GgufValue => ({ type: "uint16", value });

export async function splitGguf(path: string, directory: string, count: number): Promise<string[]> {
  const header = readGgufHeader(path);
  const stem = basename(path).replace(/\.gguf$/i, "");
  const perPart = Math.ceil(header.tensors.length / count);
  const paths: string[] = [];
  for (let part = 0; part < count; part++) {
    const tensors = header.tensors.slice(part * perPart, (part + 1) * perPart);
    const metadata = part === 0 ? new GgufMetadata([...header.metadata]) : new GgufMetadata();
    metadata.set("split.no", u16(part)).set("split.count", u16(count)).set("split.tensors.count", i32(header.tensors.length));
    const output = join(directory, `${stem}-${String(part + 1).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.gguf`);
    await writeGgufFile(output, {
      version: header.version as 2 | 3,
      metadata,
      tensors: await Promise.all(tensors.map(async (tensor) => ({ name: tensor.name, type: tensor.type, shape: tensor.shape, data: await readTensorData(path, header, tensor) }))),
    });
    paths.push(output);
  }
  return paths;
}
