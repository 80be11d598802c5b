// A worker thread of the quantizer: converts the chunks the main thread sends, one at a time.
import { parentPort } from "node:worker_threads";
import { type ConversionJob, convertChunk } from "./convert.js";

parentPort!.on("message", (message: { id: number; job: ConversionJob }) => {
  try {
    const output = convertChunk(message.job);
    parentPort!.postMessage({ id: message.id, output }, [output.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({ id: message.id, error: (error as Error).message });
  }
});
