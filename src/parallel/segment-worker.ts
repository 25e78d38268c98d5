/**
 * Worker-thread entry of the segment pool (segment-pool.ts): runs segment jobs as they come and
 * transfers the products back. Built as its own file (dist/segment-worker.js, tsup.config.ts).
 */
import { parentPort } from 'node:worker_threads';
import { VectordrError } from '../errors.js';
import { type SegmentJob, runSegmentJob } from './segment-job.js';

export interface JobMessage {
  id: number;
  job: SegmentJob;
}

const port = parentPort;
if (port) {
  port.on('message', ({ id, job }: JobMessage) => {
    try {
      const product = runSegmentJob(job);
      const message = { id, product };
      try {
        port.postMessage(message, transferable(product.bytes, product.digests, product.buckets));
      } catch {
        port.postMessage(message); // a buffer that cannot be detached (WebAssembly memory) is copied
      }
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const vectordr =
        e instanceof VectordrError
          ? { code: e.code, category: e.category, reason: e.reason, plugin: e.plugin, details: e.details }
          : undefined;
      port.postMessage({ id, error: { name: e.name, message: e.message, vectordr } });
    }
  });
  port.postMessage({ ready: true });
}

/** Buffers that can move to the other thread: those a view covers whole (the rest is copied). */
function transferable(...views: ArrayBufferView[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of views) if (v.buffer instanceof ArrayBuffer && v.buffer.byteLength === v.byteLength) out.add(v.buffer);
  return [...out];
}
