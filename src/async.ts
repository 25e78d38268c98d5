/** Small async helpers shared by adapters: an abortable sleep and a bounded pool of workers. */
import { AbortedError, throwIfAborted } from './errors.js';

/** Resolves after `ms`; rejects with `AbortedError` when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new AbortedError());
      },
      { once: true },
    );
  });
}

/**
 * Runs `run` on every item with at most `limit` in flight. The first failure stops new items from
 * starting and is what the returned promise rejects with (items already running finish).
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
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
