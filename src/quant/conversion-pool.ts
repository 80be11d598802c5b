/**
 * Spreads chunk conversions over worker threads. Each job goes to the least busy worker; results
 * come back as promises, so the caller keeps output order by awaiting them in order.
 */
import { Worker } from "node:worker_threads";
import { type ConversionJob, closeFiles, convertChunk } from "./convert.js";

interface Pending {
  resolve(output: Uint8Array): void;
  reject(error: Error): void;
}

export class ConversionPool {
  private readonly workers: Array<{ worker: Worker; busy: number }> = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  /** With one thread, conversions run inline on the calling thread. */
  constructor(readonly threads: number) {
    if (threads <= 1) return;
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL("./convert-worker.js", import.meta.url));
      const slot = { worker, busy: 0 };
      worker.on("message", (message: { id: number; output?: Uint8Array; error?: string }) => {
        slot.busy--;
        const waiting = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error !== undefined) waiting?.reject(new Error(message.error));
        else waiting?.resolve(message.output!);
      });
      worker.on("error", (error) => {
        for (const waiting of this.pending.values()) waiting.reject(error);
        this.pending.clear();
      });
      this.workers.push(slot);
    }
  }

  convert(job: ConversionJob): Promise<Uint8Array> {
    if (this.workers.length === 0) return convertChunk(job);
    const slot = this.workers.reduce((least, candidate) => (candidate.busy < least.busy ? candidate : least));
    slot.busy++;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, job });
    });
  }

  async close(): Promise<void> {
    if (this.workers.length === 0) closeFiles();
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
    this.workers.length = 0;
  }
}
