/**
 * A bounded-memory sort of (key, value) byte pairs by key bytes (unsigned, shorter first on a common
 * prefix: `Buffer.compare`). Entries are kept in memory (as bytes in an arena) up to `memoryBytes`, then written as a sorted
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
import { compareBytes } from '../format/compare-bytes.js';
import { MinHeap } from './heap.js';

export interface SortEntry {
  key: Uint8Array;
  value: Uint8Array;
}

export interface ExternalSortOptions {
  /** Bytes of entries held in memory (their bytes and 16 per entry, in an arena) before a run is written. @default 16 MiB (a link holds two sorts at once) */
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

/**
 * Bytes counted per in-memory entry beyond its key and value: its record header and its place in
 * the arena's position arrays (entries live in the arena as bytes, not as objects).
 */
const ENTRY_OVERHEAD = 16;
const READ_BUFFER = 256 * 1024;
/** Arena block size; an entry larger than a block gets a block of its own. */
const BLOCK = 1024 * 1024;

/**
 * The in-memory entries as bytes: each one a run-file record (`u32 keyLength | u32 valueLength |
 * key | value`) in 1 MiB blocks, found by (block, offset). An object and two views per entry cost
 * about 400 bytes of heap (measured); here an entry costs its bytes and 8 bytes of position.
 */
class Arena {
  readonly blocks: Buffer[] = [];
  #used = 0;
  #block: Uint32Array<ArrayBuffer> = new Uint32Array(1024);
  #offset: Uint32Array<ArrayBuffer> = new Uint32Array(1024);
  count = 0;

  add(key: Uint8Array, value: Uint8Array): void {
    const size = 8 + key.length + value.length;
    let b = this.blocks[this.blocks.length - 1];
    if (b === undefined || this.#used + size > b.length) {
      b = Buffer.allocUnsafe(Math.max(BLOCK, size));
      this.blocks.push(b);
      this.#used = 0;
    }
    const o = this.#used;
    b.writeUInt32BE(key.length, o);
    b.writeUInt32BE(value.length, o + 4);
    b.set(key, o + 8);
    b.set(value, o + 8 + key.length);
    this.#used += size;
    if (this.count === this.#block.length) {
      this.#block = grown(this.#block);
      this.#offset = grown(this.#offset);
    }
    this.#block[this.count] = this.blocks.length - 1;
    this.#offset[this.count] = o;
    this.count++;
  }

  /** Entry numbers by key, stable (insertion order among equal keys). */
  sortedOrder(): Uint32Array {
    const order = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) order[i] = i;
    return order.sort((a, c) => {
      const ba = this.blocks[this.#block[a] as number] as Buffer;
      const bc = this.blocks[this.#block[c] as number] as Buffer;
      const oa = this.#offset[a] as number;
      const oc = this.#offset[c] as number;
      return compareBytes(ba, oa + 8, oa + 8 + ba.readUInt32BE(oa), bc, oc + 8, oc + 8 + bc.readUInt32BE(oc)) || a - c;
    });
  }

  /** Entry `i` as its run-file record. */
  record(i: number): Buffer {
    const b = this.blocks[this.#block[i] as number] as Buffer;
    const o = this.#offset[i] as number;
    return b.subarray(o, o + 8 + b.readUInt32BE(o) + b.readUInt32BE(o + 4));
  }

  entry(i: number): SortEntry {
    const r = this.record(i);
    const kl = r.readUInt32BE(0);
    return { key: r.subarray(8, 8 + kl), value: r.subarray(8 + kl) };
  }
}

function grown(a: Uint32Array): Uint32Array<ArrayBuffer> {
  const g = new Uint32Array(a.length * 2);
  g.set(a);
  return g;
}

export class ExternalSorter {
  readonly #o: Required<Omit<ExternalSortOptions, 'onDuplicate' | 'tmpDir'>> & Pick<ExternalSortOptions, 'onDuplicate' | 'tmpDir'>;
  #mem = new Arena();
  #memBytes = 0;
  #dir: string | undefined;
  #runs: string[] = [];
  #count = 0;
  #closed = false;

  constructor(options: ExternalSortOptions) {
    this.#o = { memoryBytes: 16 * 1024 * 1024, ...options };
  }

  /** Entries added so far. */
  get count(): number {
    return this.#count;
  }

  /** Run files written so far (0 while everything fits in memory). */
  get runs(): number {
    return this.#runs.length;
  }

  /** Adds an entry; its bytes are copied, so the caller may reuse `key` and `value`. */
  async add(key: Uint8Array, value: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error('ExternalSorter: add after close');
    this.#mem.add(key, value);
    this.#count++;
    this.#memBytes += key.length + value.length + ENTRY_OVERHEAD;
    if (this.#memBytes >= this.#o.memoryBytes) await this.#spill();
  }

  async #spill(): Promise<void> {
    const mem = this.#mem;
    if (mem.count === 0) return;
    const order = mem.sortedOrder();
    this.#dir ??= await mkdtemp(join(this.#o.tmpDir ?? tmpdir(), 'vectordr-sort-'));
    const path = join(this.#dir, `run-${this.#runs.length}`);
    const fh = await open(path, 'w');
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for (const i of order) {
        const r = mem.record(i);
        chunks.push(r);
        size += r.length;
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
    this.#mem = new Arena();
    this.#memBytes = 0;
  }

  /** Every entry, by key; equal keys as `dedupe` says. Call once, after the last `add`. */
  async *sorted(): AsyncIterable<SortEntry> {
    const sources: AsyncIterator<SortEntry>[] = [];
    if (this.#runs.length === 0) {
      sources.push(arenaEntries(this.#mem));
    } else {
      await this.#spill();
      for (const path of this.#runs) sources.push(readRun(path));
    }
    this.#mem = new Arena();
    yield* dedupe(mergeSorted(sources), this.#o.dedupe, this.#o.onDuplicate);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#mem = new Arena();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

async function* arenaEntries(arena: Arena): AsyncGenerator<SortEntry> {
  for (const i of arena.sortedOrder()) yield arena.entry(i);
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
  const heap = new MinHeap<Head>((a, b) => {
    const c = Buffer.compare(a.entry.key, b.entry.key);
    return c < 0 || (c === 0 && a.source < b.source);
  });
  try {
    for (let s = 0; s < sources.length; s++) {
      const r = await (sources[s] as AsyncIterator<SortEntry>).next();
      if (!r.done) heap.push({ entry: r.value, source: s });
    }
    for (let h = heap.top(); h !== undefined; h = heap.top()) {
      yield h.entry;
      const r = await (sources[h.source] as AsyncIterator<SortEntry>).next();
      if (r.done) heap.pop();
      else {
        h.entry = r.value;
        heap.fixTop();
      }
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
