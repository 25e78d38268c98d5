/**
 * Delta index (format v2, feature `incremental`; docs/format.md "Chains"): per snapshot, every id it
 * holds a row for, sorted by id bytes, with the row's record digest (or a tombstone) and where the
 * row is (segment position in the manifest, row in the segment). Stored in chunks of at most
 * `INDEX_CHUNK_ENTRIES` entries, content-addressed and sealed like segments, listed in
 * `manifest.deltaIndex`. Folding a chain is a k-way merge of these, newest link first.
 *
 * Chunk bytes:
 *   "VDRDIX01" (8 ASCII bytes) || u32 entry count
 *   per entry: u32 id length || id bytes || u8 op (0 upsert, 1 delete) || 32-byte record digest
 *              (32 zero bytes for a delete) || u32 segment || u32 row
 * All integers big-endian; ids strictly ascending (unsigned bytewise, shorter first on a prefix)
 * within a chunk and across the chunks of one snapshot.
 */
import { IntegrityError } from '../errors.js';
import { compareBytes } from './compare-bytes.js';
import type { SegmentRef } from './manifest.js';

export const INDEX_MAGIC = Buffer.from('VDRDIX01', 'ascii');
export const INDEX_CHUNK_ENTRIES = 65_536;
/** Longest id the index stores; longer ids are refused by engines anyway (Milvus 65,535 bytes, pgvector keys by btree limits). */
export const MAX_ID_BYTES = 65_536;
const VALUE_BYTES = 1 + 32 + 4 + 4;
const ZERO_DIGEST = new Uint8Array(32);

export interface IndexEntry {
  /** Id bytes (docs/format.md "Id bytes"). */
  id: Uint8Array;
  op: 'upsert' | 'delete';
  /** Record digest of the upsert row; 32 zero bytes for a delete. */
  digest: Uint8Array;
  /** Position of the row's segment in the snapshot's `segments[]`. */
  segment: number;
  row: number;
}

/** The fixed-size part of an entry (everything but the id): what a sort carries as the value. */
export function encodeIndexValue(e: Omit<IndexEntry, 'id'>): Uint8Array {
  const out = Buffer.allocUnsafe(VALUE_BYTES);
  out[0] = e.op === 'upsert' ? 0 : 1;
  out.set(e.op === 'upsert' ? e.digest : ZERO_DIGEST, 1);
  out.writeUInt32BE(e.segment, 33);
  out.writeUInt32BE(e.row, 37);
  return out;
}

export function decodeIndexValue(id: Uint8Array, v: Uint8Array): IndexEntry {
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return { id, op: b[0] === 0 ? 'upsert' : 'delete', digest: v.subarray(1, 33), segment: b.readUInt32BE(33), row: b.readUInt32BE(37) };
}

export function encodeIndexChunk(entries: readonly IndexEntry[]): Uint8Array {
  const size = 12 + entries.reduce((n, e) => n + 4 + e.id.length + VALUE_BYTES, 0);
  const out = Buffer.allocUnsafe(size);
  INDEX_MAGIC.copy(out, 0);
  out.writeUInt32BE(entries.length, 8);
  let o = 12;
  for (const e of entries) {
    out.writeUInt32BE(e.id.length, o);
    out.set(e.id, o + 4);
    o += 4 + e.id.length;
    out.set(encodeIndexValue(e), o);
    o += VALUE_BYTES;
  }
  return out;
}

/**
 * A checked chunk kept as its bytes: where each entry starts, fields read on demand. Lookups
 * (`find`, `compareId`) touch only the entries they compare, and allocate nothing.
 */
export class IndexChunk {
  readonly #b: Buffer;
  readonly #starts: Uint32Array;

  constructor(bytes: Buffer, starts: Uint32Array) {
    this.#b = bytes;
    this.#starts = starts;
  }

  get count(): number {
    return this.#starts.length;
  }

  #idRange(i: number): [number, number] {
    const o = this.#starts[i] as number;
    return [o + 4, o + 4 + this.#b.readUInt32BE(o)];
  }

  /** Sign of (id of entry `i`) − `id`, in id order (unsigned bytes, shorter first). */
  compareId(i: number, id: Uint8Array): number {
    const [s, e] = this.#idRange(i);
    return compareBytes(this.#b, s, e, id, 0, id.length);
  }

  /** The first entry at or after `from` whose id is not below `id` (`count` when none). */
  find(id: Uint8Array, from = 0): number {
    let lo = from;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareId(mid, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sign of (id of entry `i`) − (id of entry `j` of `other`). */
  compareWith(i: number, other: IndexChunk, j: number): number {
    const [s, e] = this.#idRange(i);
    const [os, oe] = other.#idRange(j);
    return compareBytes(this.#b, s, e, other.#b, os, oe);
  }

  isUpsert(i: number): boolean {
    return this.#b[this.#idRange(i)[1]] === 0;
  }

  /** The record digest of entry `i` (a view: 32 zero bytes for a delete). */
  digestAt(i: number): Uint8Array {
    const e = this.#idRange(i)[1];
    return this.#b.subarray(e + 1, e + 33);
  }

  segmentAt(i: number): number {
    return this.#b.readUInt32BE(this.#idRange(i)[1] + 33);
  }

  rowAt(i: number): number {
    return this.#b.readUInt32BE(this.#idRange(i)[1] + 37);
  }

  entry(i: number): IndexEntry {
    const [s, e] = this.#idRange(i);
    return decodeIndexValue(this.#b.subarray(s, e), this.#b.subarray(e, e + VALUE_BYTES));
  }

  entries(): IndexEntry[] {
    return Array.from({ length: this.count }, (_, i) => this.entry(i));
  }

  lastId(): Uint8Array | undefined {
    if (this.count === 0) return undefined;
    const [s, e] = this.#idRange(this.count - 1);
    return this.#b.subarray(s, e);
  }
}

/** Checks a chunk (magic, count, lengths, op bytes, strictly ascending ids after `after`, the previous chunk's last id) and indexes its entries. */
export function parseIndexChunk(bytes: Uint8Array, key: string, after?: Uint8Array): IndexChunk {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (why: string): IntegrityError =>
    new IntegrityError('SEGMENT_CORRUPT', `Delta index ${key} is damaged (${why}); run repo.verify() and take a new full snapshot.`, {
      details: { key },
    });
  if (b.length < 12 || !b.subarray(0, 8).equals(INDEX_MAGIC)) throw corrupt('no VDRDIX01 header');
  const count = b.readUInt32BE(8);
  if (count > INDEX_CHUNK_ENTRIES) throw corrupt(`${count} entries, more than ${INDEX_CHUNK_ENTRIES}`);
  const starts = new Uint32Array(count);
  let o = 12;
  let prevStart = -1;
  let prevEnd = -1;
  for (let i = 0; i < count; i++) {
    if (o + 4 > b.length) throw corrupt('truncated');
    const len = b.readUInt32BE(o);
    if (len === 0 || len > MAX_ID_BYTES || o + 4 + len + VALUE_BYTES > b.length) throw corrupt(`entry ${i} has a bad length`);
    const s = o + 4;
    const e = s + len;
    const ascending =
      i === 0 ? after === undefined || compareBytes(b, s, e, after, 0, after.length) > 0 : compareBytes(b, s, e, b, prevStart, prevEnd) > 0;
    if (!ascending) throw corrupt(`ids not strictly ascending at entry ${i}`);
    const op = b[e];
    if (op !== 0 && op !== 1) throw corrupt(`entry ${i} has op byte ${op}`);
    starts[i] = o;
    prevStart = s;
    prevEnd = e;
    o = e + VALUE_BYTES;
  }
  if (o !== b.length) throw corrupt(`${b.length - o} bytes after the last entry`);
  return new IndexChunk(b, starts);
}

/** Decodes and checks a chunk (`parseIndexChunk`), every entry as an object. */
export function decodeIndexChunk(bytes: Uint8Array, key: string, after?: Uint8Array): IndexEntry[] {
  return parseIndexChunk(bytes, key, after).entries();
}

/** Where index chunks go: the repository's content-addressed segment store. */
export type ChunkStore = (bytes: Uint8Array, entries: number) => Promise<SegmentRef>;

/**
 * Writes a delta index from entries given in strictly ascending id order, one chunk per
 * `INDEX_CHUNK_ENTRIES` entries. `add` refuses an id not above the previous one.
 */
export class IndexWriter {
  readonly refs: SegmentRef[] = [];
  /** The chunk being filled, already encoded (entries after the 12-byte header). */
  #buf = Buffer.allocUnsafe(64 * 1024);
  #used = 12;
  #inChunk = 0;
  #last: Uint8Array | undefined;
  #entries = 0;
  readonly #store: ChunkStore;
  readonly #chunkEntries: number;

  constructor(store: ChunkStore, chunkEntries = INDEX_CHUNK_ENTRIES) {
    this.#store = store;
    this.#chunkEntries = chunkEntries;
  }

  get entries(): number {
    return this.#entries;
  }

  async add(e: IndexEntry): Promise<void> {
    if (this.#last && Buffer.compare(this.#last, e.id) >= 0) {
      throw new RangeError(
        `delta index ids must be strictly ascending (${Buffer.from(e.id).toString('hex')} after ${Buffer.from(this.#last).toString('hex')})`,
      );
    }
    this.#last = Uint8Array.prototype.slice.call(e.id);
    const size = 4 + e.id.length + VALUE_BYTES;
    if (this.#used + size > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#used + size));
      this.#buf.copy(grown, 0, 0, this.#used);
      this.#buf = grown;
    }
    const b = this.#buf;
    let o = this.#used;
    b.writeUInt32BE(e.id.length, o);
    b.set(e.id, o + 4);
    o += 4 + e.id.length;
    b[o] = e.op === 'upsert' ? 0 : 1;
    b.set(e.op === 'upsert' ? e.digest : ZERO_DIGEST, o + 1);
    b.writeUInt32BE(e.segment, o + 33);
    b.writeUInt32BE(e.row, o + 37);
    this.#used = o + VALUE_BYTES;
    this.#inChunk++;
    this.#entries++;
    if (this.#inChunk >= this.#chunkEntries) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#inChunk === 0) return;
    const chunk = Buffer.from(this.#buf.subarray(0, this.#used)); // a copy: the buffer is refilled
    INDEX_MAGIC.copy(chunk, 0);
    chunk.writeUInt32BE(this.#inChunk, 8);
    const n = this.#inChunk;
    this.#used = 12;
    this.#inChunk = 0;
    this.refs.push(await this.#store(chunk, n));
  }

  /** Stores the last chunk; returns the refs for `manifest.deltaIndex`. */
  async finish(): Promise<SegmentRef[]> {
    await this.#flush();
    return this.refs;
  }
}
