import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { ioError } from "./byte-source.js";
import { GgufError } from "./errors.js";
import { type GgufHeader, type GgufTensorInfo, tensorDataStart } from "./reader.js";

const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Streams one tensor's data from the file in chunks of at most `chunkBytes`, so a tensor of any
 * size is read with constant memory.
 */
export async function* streamTensorData(
  path: string,
  header: GgufHeader,
  tensor: GgufTensorInfo,
  chunkBytes = CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  if (tensor.byteSize === 0) return;
  const start = tensorDataStart(header, tensor);
  const stream = createReadStream(path, { start, end: start + tensor.byteSize - 1, highWaterMark: chunkBytes });
  let received = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      received += chunk.length;
      yield chunk;
    }
  } catch (error) {
    throw ioError(error, path);
  }
  if (received !== tensor.byteSize) {
    throw new GgufError("TRUNCATED", `tensor '${tensor.name}' data ended after ${received} of ${tensor.byteSize} bytes`, start + received, path);
  }
}

/**
 * Reads one whole tensor's data into memory. For tensors the caller knows to be small (norms,
 * a test model's weights); large ones should be streamed.
 */
export async function readTensorData(path: string, header: GgufHeader, tensor: GgufTensorInfo): Promise<Uint8Array> {
  const handle = await open(path, "r").catch((error: unknown) => {
    throw ioError(error, path);
  });
  try {
    const data = new Uint8Array(tensor.byteSize);
    const start = tensorDataStart(header, tensor);
    const { bytesRead } = await handle.read(data, 0, tensor.byteSize, start);
    if (bytesRead !== tensor.byteSize) {
      throw new GgufError("TRUNCATED", `tensor '${tensor.name}' data ended after ${bytesRead} of ${tensor.byteSize} bytes`, start + bytesRead, path);
    }
    return data;
  } finally {
    await handle.close();
  }
}
