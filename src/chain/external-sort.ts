/**
 * A bounded-memory sort of (key, value) byte pairs by key bytes (unsigned, shorter first on a common
 * prefix: `Buffer.compare`). Entries are kept in memory up to `memoryBytes`, then written as a sorted
 * run to a temporary file; `sorted()` merges the runs with a heap, reading each through a small
 * buffer. Equal keys come out in the order they were added, so "the last change of an id wins" is
 * `dedupe: 'last'`. Used by chains: the delta index of a snapshot, the fingerprint diff, the fold.
 *
 * Run file: records of `u32 keyLength | u32 valueLength | key | value`, nothing else. Files live in
 * one `mkdtemp` directory, removed by `close()` (always call it, also after an error).
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '../errors.js';

export interface SortEntry {
  key: Uint8Array;
  value: Uint8Array;
}

export interface ExternalSortOptions {
  /** Bytes of entries held in memory (with ~400 bytes of heap per entry) before a run is written. @default 32 MiB */
  memoryBytes?: number;
  /**
   * Equal keys: `keep` yields all in insertion order, `last` only the last added, `error` throws
   * `onDuplicate(key)` (a collection whose scan yields one id twice).
   */
  dedupe: 'keep' | 'last' | 'error';
  onDuplicate?: (key: Uint8Array) => Error;
  /** Directory for run files. @default os.tmpdir() */
  tmpDir?: string;
}

/** Heap per in-memory entry beyond its bytes: two Uint8Array views, the entry object, the array slot (measured ~400 bytes with 8-byte keys, bench/incremental.ts). */
const ENTRY_OVERHEAD = 400;
const READ_BUFFER = 256 * 1024;

export class ExternalSorter {
  readonly #o: Required<Omit<ExternalSortOptions, 'onDuplicate' | 'tmpDir'>> & Pick<ExternalSortOptions, 'onDuplicate' | 'tmpDir'>;
  #mem: SortEntry[] = [];
  #memBytes = 0;
  #dir: string | undefined;
  #runs: string[] = [];
  #count = 0;
  #closed = false;

  constructor(options: ExternalSortOptions) {
    this.#o = { memoryBytes: 32 * 1024 * 1024, ...options };
  }

  /** Entries added so far. */
  get count(): number {
    return this.#count;
  }

  /** Run files written so far (0 while everything fits in memory). */
  get runs(): number {
    return this.#runs.length;
  }

  async add(key: Uint8Array, value: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error('ExternalSorter: add after close');
    this.#mem.push({ key, value });
    this.#count++;
    this.#memBytes += key.length + value.length + ENTRY_OVERHEAD;
    if (this.#memBytes >= this.#o.memoryBytes) await this.#spill();
  }

  async #spill(): Promise<void> {
    if (this.#mem.length === 0) return;
    const entries = this.#sortMemory();
    this.#dir ??= await mkdtemp(join(this.#o.tmpDir ?? tmpdir(), 'vectordr-sort-'));
    const path = join(this.#dir, `run-${this.#runs.length}`);
    const fh = await open(path, 'w');
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for (const e of entries) {
        const head = Buffer.allocUnsafe(8);
        head.writeUInt32BE(e.key.length, 0);
        head.writeUInt32BE(e.value.length, 4);
        chunks.push(
          head,
          Buffer.from(e.key.buffer, e.key.byteOffset, e.key.length),
          Buffer.from(e.value.buffer, e.value.byteOffset, e.value.length),
        );
        size += 8 + e.key.length + e.value.length;
        if (size >= 1024 * 1024) {
          await fh.write(Buffer.concat(chunks, size));
          chunks.length = 0;
          size = 0;
        }
      }
      if (size > 0) await fh.write(Buffer.concat(chunks, size));
    } finally {
      await fh.close();
    }
    this.#runs.push(path);
    this.#mem = [];
    this.#memBytes = 0;
  }

  /** The in-memory entries sorted by key, stable (insertion order among equal keys). */
  #sortMemory(): SortEntry[] {
    const indexed = this.#mem.map((e, i) => ({ e, i }));
    indexed.sort((a, b) => Buffer.compare(a.e.key, b.e.key) || a.i - b.i);
    return indexed.map((x) => x.e);
  }

  /** Every entry, by key; equal keys as `dedupe` says. Call once, after the last `add`. */
  async *sorted(): AsyncIterable<SortEntry> {
    const sources: AsyncIterator<SortEntry>[] = [];
    if (this.#runs.length === 0) {
      sources.push(arrayIterator(this.#sortMemory()));
    } else {
      await this.#spill();
      for (const path of this.#runs) sources.push(readRun(path));
    }
    this.#mem = [];
    yield* dedupe(mergeSorted(sources), this.#o.dedupe, this.#o.onDuplicate);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#mem = [];
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

async function* arrayIterator(entries: SortEntry[]): AsyncGenerator<SortEntry> {
  yield* entries;
}

async function* readRun(path: string): AsyncGenerator<SortEntry> {
  const fh: FileHandle = await open(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    let eof = false;
    const fill = async (need: number): Promise<boolean> => {
      while (buf.length < need && !eof) {
        const chunk = Buffer.allocUnsafe(Math.max(READ_BUFFER, need - buf.length));
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) eof = true;
        else buf = buf.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([buf, chunk.subarray(0, bytesRead)]);
      }
      return buf.length >= need;
    };
    for (;;) {
      if (!(await fill(8))) {
        if (buf.length !== 0) throw new Error(`sort run ${path} is truncated`);
        return;
      }
      const kl = buf.readUInt32BE(0);
      const vl = buf.readUInt32BE(4);
      if (!(await fill(8 + kl + vl))) throw new Error(`sort run ${path} is truncated`);
      // Copies: the entry outlives the read buffer.
      const key = Uint8Array.prototype.slice.call(buf, 8, 8 + kl);
      const value = Uint8Array.prototype.slice.call(buf, 8 + kl, 8 + kl + vl);
      buf = buf.subarray(8 + kl + vl);
      yield { key, value };
    }
  } finally {
    await fh.close();
  }
}

/** k-way merge of sorted sources; among equal keys, the lower source index first (runs are in insertion order). */
export async function* mergeSorted(sources: AsyncIterator<SortEntry>[]): AsyncGenerator<SortEntry> {
  type Head = { entry: SortEntry; source: number };
  const heap: Head[] = [];
  const less = (a: Head, b: Head): boolean => {
    const c = Buffer.compare(a.entry.key, b.entry.key);
    return c < 0 || (c === 0 && a.source < b.source);
  };
  const push = (h: Head): void => {
    heap.push(h);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i] as Head, heap[p] as Head)) break;
      [heap[i], heap[p]] = [heap[p] as Head, heap[i] as Head];
      i = p;
    }
  };
  const pop = (): Head => {
    const top = heap[0] as Head;
    const last = heap.pop() as Head;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l] as Head, heap[m] as Head)) m = l;
        if (r < heap.length && less(heap[r] as Head, heap[m] as Head)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as Head, heap[i] as Head];
        i = m;
      }
    }
    return top;
  };
  try {
    for (let s = 0; s < sources.length; s++) {
      const r = await (sources[s] as AsyncIterator<SortEntry>).next();
      if (!r.done) push({ entry: r.value, source: s });
    }
    while (heap.length > 0) {
      const h = pop();
      yield h.entry;
      const r = await (sources[h.source] as AsyncIterator<SortEntry>).next();
      if (!r.done) push({ entry: r.value, source: h.source });
    }
  } finally {
    await Promise.all(sources.map((s) => s.return?.()));
  }
}

async function* dedupe(
  entries: AsyncIterable<SortEntry>,
  mode: ExternalSortOptions['dedupe'],
  onDuplicate: ((key: Uint8Array) => Error) | undefined,
): AsyncGenerator<SortEntry> {
  if (mode === 'keep') {
    yield* entries;
    return;
  }
  let held: SortEntry | undefined;
  for await (const e of entries) {
    if (held && Buffer.compare(held.key, e.key) === 0) {
      if (mode === 'error') {
        throw (
          onDuplicate?.(e.key) ??
          new InvalidInputError(
            'INVALID_ARGUMENT',
            `Key ${Buffer.from(e.key).toString('hex')} was added twice to a sort that refuses duplicates.`,
          )
        );
      }
      held = e;
      continue;
    }
    if (held) yield held;
    held = e;
  }
  if (held) yield held;
}
