// A worker thread of the quantizer: converts the chunks the main thread sends, one at a time.
import { parentPort } from "node:worker_threads";
import { type ConversionJob, convertChunk } from "./convert.js";

parentPort!.on("message", (message: { id: number; job: ConversionJob }) => {
  convertChunk(message.job).then(
    (output) => parentPort!.postMessage({ id: message.id, output }, [output.buffer as ArrayBuffer]),
    (error: unknown) => parentPort!.postMessage({ id: message.id, error: (error as Error).message }),
  );
});
