/** Small helpers shared by the core and the adapters: the one abortable sleep, a bounded pool of workers, byte-budgeted chunks. */
import { AbortedError, throwIfAborted } from './errors.js';

/** Resolves after `ms`; rejects with `AbortedError` when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError(undefined, { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new AbortedError(undefined, { cause: signal?.reason }));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `run` on every item with at most `limit` in flight. The first failure stops new items from
 * starting and is what the returned promise rejects with (items already running finish).
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      throwIfAborted(signal);
      const item = items[next++] as T;
      try {
        await run(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Splits `items` into consecutive chunks of about `budget` bytes for write requests: a chunk ends
 * after the row that brings it to `budget` or more (`sizes[i]` is row i's estimated size), the
 * rest is the last chunk. `offset` is the chunk's first index in `items`.
 */
export function chunksByBytes<T>(items: readonly T[], sizes: readonly number[], budget: number): { offset: number; items: T[] }[] {
  const out: { offset: number; items: T[] }[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    bytes += sizes[i] ?? 0;
    if (bytes >= budget) {
      out.push({ offset: start, items: items.slice(start, i + 1) });
      start = i + 1;
      bytes = 0;
    }
  }
  if (start < items.length) out.push({ offset: start, items: items.slice(start) });
  return out;
}
