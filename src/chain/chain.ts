/**
 * Chains (docs/format.md, "Chains"): a full snapshot with a delta index, then incremental links, each
 * naming its parent. `resolveChain` walks a link back to its full snapshot and checks every link;
 * `readIndex` streams one snapshot's delta index; `mergeIndexes` is the k-way merge of a chain's
 * indexes that folding, restoring a point in time and the fingerprint diff are built on.
 */
import { IntegrityError, NotFoundError, isVectordrError, throwIfAborted } from '../errors.js';
import { BucketDigest } from '../format/digest.js';
import { type IndexChunk, type IndexEntry, parseIndexChunk } from '../format/delta-index.js';
import type { Manifest, SegmentRef } from '../format/manifest.js';
import { filterBatch } from '../format/rows.js';
import { type SegmentRows, decodeSegment, segmentLayout } from '../format/segment-codec.js';
import type { RecordOp } from '../model.js';
import type { ManifestReader, SegmentReader } from '../repository/ports.js';
import { ExternalSorter, type SortEntry } from './external-sort.js';
import { MinHeap } from './heap.js';

/** Most links a chain may have; resolveChain refuses a longer (or cyclic) one. */
export const MAX_CHAIN_LINKS = 10_000;

/** The chain of `head`, full snapshot first, `head` last; every link checked against the next. */
export async function resolveChain(reader: ManifestReader, head: Manifest, signal?: AbortSignal): Promise<Manifest[]> {
  const chain: Manifest[] = [head];
  let m = head;
  while (m.kind === 'incremental') {
    throwIfAborted(signal);
    const parentId = m.parent as string;
    let parent: Manifest;
    try {
      parent = await reader.readManifest(m.collection, parentId);
    } catch (err) {
      if (isVectordrError(err, 'SNAPSHOT_NOT_FOUND')) {
        throw new IntegrityError(
          'CHAIN_INVALID',
          `Snapshot ${head.id} of ${JSON.stringify(head.collection)} builds on ${parentId} (the parent of link ${m.id}), which is ` +
            `missing from the repository: the chain cannot be read past it. Restore a snapshot taken before the gap, or ` +
            `take a new full snapshot.`,
          { cause: err, details: { snapshot: head.id, missing: parentId } },
        );
      }
      throw err;
    }
    checkLink(parent, m, head);
    chain.unshift(parent);
    m = parent;
    if (chain.length > MAX_CHAIN_LINKS) {
      throw new IntegrityError('CHAIN_INVALID', `Snapshot ${head.id} has a chain of more than ${MAX_CHAIN_LINKS} links (or a cycle).`, {
        details: { snapshot: head.id },
      });
    }
  }
  if (!m.deltaIndex && chain.length > 1) {
    throw new IntegrityError('CHAIN_INVALID', `Full snapshot ${m.id} at the start of the chain of ${head.id} has no delta index.`, {
      details: { snapshot: head.id },
    });
  }
  return chain;
}

function checkLink(parent: Manifest, link: Manifest, head: Manifest): void {
  const problems: string[] = [];
  if (parent.collection !== link.collection) problems.push(`it is of collection ${JSON.stringify(parent.collection)}`);
  if (parent.source.engine !== link.source.engine)
    problems.push(`it was taken from ${parent.source.engine}, the link from ${link.source.engine}`);
  if (!parent.deltaIndex) problems.push('it has no delta index');
  if (parent.chain !== link.chain) problems.push(`it belongs to chain ${String(parent.chain)}, the link to ${String(link.chain)}`);
  if ((parent.depth ?? -1) + 1 !== link.depth) problems.push(`it is at depth ${String(parent.depth)}, the link at ${String(link.depth)}`);
  if (parent.digest.buckets !== link.digest.buckets) problems.push('its digest has another bucket count');
  if (problems.length > 0) {
    throw new IntegrityError(
      'CHAIN_INVALID',
      `Link ${link.id} of the chain of ${head.id} names ${parent.id} as its parent, but ${problems.join('; ')}. The manifests were ` +
        `altered or mixed up; restore an older snapshot, or take a new full snapshot.`,
      { details: { snapshot: head.id, link: link.id, parent: parent.id } },
    );
  }
}

/** One snapshot's delta index, chunk by chunk in id order; each chunk checked (hash, size, order, pointers) as it is read. */
export async function* readIndexChunks(reader: SegmentReader, manifest: Manifest, signal?: AbortSignal): AsyncGenerator<IndexEntry[]> {
  const chunks = new IndexChunkReader(reader, manifest, 0, signal);
  for (let chunk = await chunks.next(); chunk !== undefined; chunk = await chunks.next()) {
    for (let i = 0; i < chunk.count; i++) chunks.checkPointer(chunk, i);
    yield chunk.entries();
  }
}

/** One snapshot's delta index, entry by entry, in id order (`readIndexChunks`). */
export async function* readIndex(reader: SegmentReader, manifest: Manifest, signal?: AbortSignal): AsyncGenerator<IndexEntry> {
  for await (const chunk of readIndexChunks(reader, manifest, signal)) yield* chunk;
}

/** One id's entries across a chain, oldest link first (at most one per link). */
export interface IdVersions {
  id: Uint8Array;
  versions: { link: number; entry: IndexEntry }[];
}

/** Ids per batch `mergeIndexBatches` yields. */
const MERGE_BATCH = 4096;

interface IndexCursor {
  link: number;
  chunks: AsyncGenerator<IndexEntry[]>;
  chunk: IndexEntry[];
  pos: number;
}

/**
 * The k-way merge of the delta indexes of `chain` (full snapshot first): every id once, with its
 * entry in each link that has one, in batches of ascending ids. Synchronous between chunk reads (a
 * heap of one cursor per link over its current chunk), so a fold costs a comparison or two per
 * entry rather than a promise. Memory: one decoded chunk per link.
 */
export async function* mergeIndexBatches(
  reader: SegmentReader,
  chain: readonly Manifest[],
  signal?: AbortSignal,
): AsyncGenerator<IdVersions[]> {
  const cursors: IndexCursor[] = chain.map((m, link) => ({ link, chunks: readIndexChunks(reader, m, signal), chunk: [], pos: 0 }));
  const refill = async (c: IndexCursor): Promise<boolean> => {
    const r = await c.chunks.next();
    if (r.done) return false;
    c.chunk = r.value;
    c.pos = 0;
    return true;
  };
  // Equal ids: the older link first, so versions come out oldest first.
  const less = (a: IndexCursor, b: IndexCursor): boolean => {
    const d = Buffer.compare((a.chunk[a.pos] as IndexEntry).id, (b.chunk[b.pos] as IndexEntry).id);
    return d < 0 || (d === 0 && a.link < b.link);
  };
  const heap = new MinHeap(less);
  try {
    for (const c of cursors) if (await refill(c)) heap.push(c);
    let out: IdVersions[] = [];
    let current: IdVersions | undefined;
    for (let c = heap.top(); c !== undefined; c = heap.top()) {
      const entry = c.chunk[c.pos++] as IndexEntry;
      if (current && Buffer.compare(current.id, entry.id) === 0) current.versions.push({ link: c.link, entry });
      else {
        if (current) out.push(current);
        if (out.length >= MERGE_BATCH) {
          yield out;
          out = [];
        }
        current = { id: entry.id, versions: [{ link: c.link, entry }] };
      }
      if (c.pos === c.chunk.length && !(await refill(c))) heap.pop();
      else heap.fixTop();
    }
    if (current) out.push(current);
    if (out.length > 0) yield out;
  } finally {
    await Promise.all(cursors.map((c) => c.chunks.return(undefined)));
  }
}

/** `mergeIndexBatches`, id by id. */
export async function* mergeIndexes(reader: SegmentReader, chain: readonly Manifest[], signal?: AbortSignal): AsyncGenerator<IdVersions> {
  for await (const batch of mergeIndexBatches(reader, chain, signal)) yield* batch;
}

/**
 * One snapshot's delta index read forward as checked `IndexChunk`s (bytes, no object per entry):
 * order across chunks, entry counts, and (`checkPointer`) that an entry points into the snapshot.
 */
class IndexChunkReader {
  readonly manifest: Manifest;
  readonly link: number;
  #next = 0;
  #last: Uint8Array | undefined;
  /** Key of the chunk `next()` returned last. */
  #key = '';

  constructor(
    private readonly reader: SegmentReader,
    manifest: Manifest,
    link: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.manifest = manifest;
    this.link = link;
  }

  async next(): Promise<IndexChunk | undefined> {
    const ref = this.manifest.deltaIndex?.[this.#next];
    if (ref === undefined) return undefined;
    this.#next++;
    throwIfAborted(this.signal);
    const chunk = parseIndexChunk(await this.reader.getSegment(ref, this.signal), ref.key, this.#last);
    if (chunk.count !== ref.rows) {
      throw new IntegrityError(
        'SEGMENT_CORRUPT',
        `Delta index ${ref.key} of snapshot ${this.manifest.id} holds ${chunk.count} entries, the manifest says ${ref.rows}.`,
        { details: { key: ref.key } },
      );
    }
    this.#last = chunk.lastId() ?? this.#last;
    this.#key = ref.key;
    return chunk.count > 0 ? chunk : this.next();
  }

  /** Throws SEGMENT_CORRUPT when entry `i` of `chunk` points past this snapshot's segments. */
  checkPointer(chunk: IndexChunk, i: number): void {
    const segment = chunk.segmentAt(i);
    if (segment >= this.manifest.segments.length || chunk.rowAt(i) >= (this.manifest.segments[segment]?.rows ?? 0)) {
      throw new IntegrityError('SEGMENT_CORRUPT', `Delta index ${this.#key} of snapshot ${this.manifest.id} points past its segments.`, {
        details: { key: this.#key, snapshot: this.manifest.id },
      });
    }
  }
}

/**
 * Finds the newest version of ids in a chain, ids asked for in ascending order: per link a forward
 * cursor over its index chunks with a binary search in the current chunk. For a link of a few
 * thousand changes this reads every index chunk once but compares only O(log n) entries per id,
 * where a full merge of the chain would decode all of them. Memory: one chunk per link.
 */
interface LookupCursor {
  chunks: IndexChunkReader;
  chunk: IndexChunk | undefined;
  pos: number;
  done: boolean;
}

export class ChainLookup {
  readonly #links: LookupCursor[];

  constructor(reader: SegmentReader, chain: readonly Manifest[], signal?: AbortSignal) {
    this.#links = chain.map((m, link) => ({
      chunks: new IndexChunkReader(reader, m, link, signal),
      chunk: undefined,
      pos: 0,
      done: false,
    }));
  }

  /** The newest version of `id` (its link and entry), or undefined when the chain has none. Ids must ascend. */
  async newest(id: Uint8Array): Promise<{ link: number; entry: IndexEntry } | undefined> {
    for (let link = this.#links.length - 1; link >= 0; link--) {
      const c = this.#links[link] as LookupCursor;
      for (;;) {
        if (c.chunk !== undefined) {
          c.pos = c.chunk.find(id, c.pos);
          if (c.pos < c.chunk.count) break;
        }
        if (c.done) break;
        c.chunk = await c.chunks.next();
        c.pos = 0;
        if (c.chunk === undefined) c.done = true;
      }
      const chunk = c.chunk;
      if (chunk === undefined || c.pos >= chunk.count || chunk.compareId(c.pos, id) !== 0) continue;
      c.chunks.checkPointer(chunk, c.pos);
      return { link, entry: chunk.entry(c.pos) };
    }
    return undefined;
  }
}

/** The newest version of an id, or undefined when its newest version is a delete (or it has none). */
export function winner(v: IdVersions): { link: number; entry: IndexEntry } | undefined {
  const newest = v.versions[v.versions.length - 1];
  return newest && newest.entry.op === 'upsert' ? newest : undefined;
}

/**
 * Throws CHAIN_INVALID when a folded state is not the one `head` records. The fold is summed
 * without buckets (a bucket would cost a SHA-256 of every id): its record count and the sum of its
 * record digests must equal those of the head's buckets, and the head's buckets must be the ones
 * its collection digest names. A record digest covers the id, so the sum binds ids to values.
 */
export function checkFoldDigest(head: Manifest, folded: BucketDigest, what: string): void {
  const recorded = BucketDigest.fromJSON(head.digest);
  const whole = recorded.collapsed();
  const fold = folded.collapsed();
  if (
    recorded.collectionDigest() !== head.digest.collection ||
    whole.total() !== fold.total() ||
    Buffer.compare(whole.sumBytes(0), fold.sumBytes(0)) !== 0
  ) {
    throw new IntegrityError(
      'CHAIN_INVALID',
      `${what}: the chain of snapshot ${head.id} folds to ${fold.total()} records whose digest is not the one the snapshot ` +
        `records (${head.rows.upserts} upserts in its last link). A link or its delta index is damaged or missing; run ` +
        `repo.verify() to name it, and restore an older snapshot meanwhile.`,
      { details: { snapshot: head.id } },
    );
  }
}

/** A SNAPSHOT_NOT_FOUND for a point in time before the first snapshot. */
export function beforeFirstSnapshot(collection: string, at: Date, first: string | undefined): NotFoundError {
  return new NotFoundError(
    'SNAPSHOT_NOT_FOUND',
    `No snapshot of ${JSON.stringify(collection)} is complete at ${at.toISOString()}` +
      (first ? `; the first one (${first}) is newer. Pick a later time.` : '; the collection has no snapshot.'),
    { details: { collection, at: at.toISOString() } },
  );
}

/** What restoring a chain needs to know before it touches the engine (`planFold`). */
export interface FoldPlan {
  /** Records of the folded state. */
  rows: number;
  /** Rows of the chain's segments that are not part of the folded state (older versions, deleted ids), as `locationKey`s in location order. */
  superseded: ExternalSorter;
  digest: BucketDigest;
}

/**
 * Which rows of each segment of a chain the folded state holds: upserts that no later link
 * superseded (the plan's superseded rows, walked once in chain order). Ask for the segments in chain
 * order, full snapshot first; segments skipped (a resumed restore) are passed over.
 */
export function keptRowsOf(
  plan: FoldPlan,
): (link: number, segment: number, length: number, ops?: readonly RecordOp[]) => Promise<Uint8Array> {
  const superseded = plan.superseded.sorted()[Symbol.asyncIterator]();
  let next: IteratorResult<SortEntry> | undefined;
  return async (link, segment, length, ops) => {
    next ??= await superseded.next();
    const keep = new Uint8Array(length).fill(1);
    ops?.forEach((op, i) => {
      if (op !== 'upsert') keep[i] = 0;
    });
    while (!next.done) {
      const k = Buffer.from(next.value.key);
      const l = k.readUInt32BE(0);
      const g = k.readUInt32BE(4);
      if (l > link || (l === link && g > segment)) break;
      if (l === link && g === segment) keep[k.readUInt32BE(8)] = 0;
      next = await superseded.next();
    }
    return keep;
  };
}

/** The location of a row in a chain: link, segment in that link, row; big-endian, so bytes order is chain order. */
export function locationKey(link: number, segment: number, row: number): Uint8Array {
  const b = Buffer.allocUnsafe(12);
  b.writeUInt32BE(link, 0);
  b.writeUInt32BE(segment, 4);
  b.writeUInt32BE(row, 8);
  return b;
}

/**
 * Folds a chain's delta indexes: the folded state's digest and size, and the rows a restore skips.
 * The caller checks the digest against the head (`checkFoldDigest`) and closes `superseded`.
 */
export async function planFold(reader: SegmentReader, chain: readonly Manifest[], signal?: AbortSignal): Promise<FoldPlan> {
  // One bucket: checkFoldDigest compares sums, so no id is hashed for its bucket.
  const digest = new BucketDigest(1);
  const superseded = new ExternalSorter({ dedupe: 'error' });
  let rows = 0;
  // A k-way merge over the chunks' bytes (the same order as mergeIndexBatches, without an object
  // per entry): a heap of one cursor per link; equal ids pop older link first.
  interface Cursor {
    chunks: IndexChunkReader;
    chunk: IndexChunk;
    pos: number;
  }
  const less = (a: Cursor, b: Cursor): boolean => {
    const d = a.chunk.compareWith(a.pos, b.chunk, b.pos);
    return d < 0 || (d === 0 && a.chunks.link < b.chunks.link);
  };
  const heap = new MinHeap(less);
  // The versions of the current id, oldest link first.
  const group: { cursor: IndexChunkReader; chunk: IndexChunk; i: number }[] = [];
  const settle = async (): Promise<void> => {
    const newest = group[group.length - 1];
    if (newest === undefined) return;
    const live = newest.chunk.isUpsert(newest.i);
    if (live) {
      rows++;
      digest.add(0, newest.chunk.digestAt(newest.i));
    }
    for (let k = 0; k < group.length - (live ? 1 : 0); k++) {
      const v = group[k] as (typeof group)[number];
      if (v.chunk.isUpsert(v.i)) await superseded.add(locationKey(v.cursor.link, v.chunk.segmentAt(v.i), v.chunk.rowAt(v.i)), EMPTY);
    }
    group.length = 0;
  };
  try {
    for (const [link, m] of chain.entries()) {
      const chunks = new IndexChunkReader(reader, m, link, signal);
      const chunk = await chunks.next();
      if (chunk) heap.push({ chunks, chunk, pos: 0 });
    }
    for (let c = heap.top(); c !== undefined; c = heap.top()) {
      const first = group[0];
      if (first !== undefined && c.chunk.compareWith(c.pos, first.chunk, first.i) !== 0) await settle();
      c.chunks.checkPointer(c.chunk, c.pos);
      group.push({ cursor: c.chunks, chunk: c.chunk, i: c.pos });
      if (++c.pos === c.chunk.count) {
        const next = await c.chunks.next();
        if (next === undefined) {
          heap.pop();
          continue;
        }
        c.chunk = next;
        c.pos = 0;
      }
      heap.fixTop();
    }
    await settle();
  } catch (err) {
    await superseded.close();
    throw err;
  }
  return { rows, superseded, digest };
}

const EMPTY = new Uint8Array(0);

/** The rows of a segment where `keep[i]` is non-zero (digests, payload JSON and previous digests with them). */
export function filterRows(rows: SegmentRows, keep: Uint8Array): SegmentRows {
  const batch = filterBatch(rows.batch, keep);
  if (batch === rows.batch) return rows;
  const idx: number[] = [];
  for (let i = 0; i < rows.batch.length; i++) if (keep[i]) idx.push(i);
  const digests = new Uint8Array(idx.length * 32);
  idx.forEach((r, j) => digests.set(rows.digests.subarray(r * 32, r * 32 + 32), j * 32));
  return { batch, digests, payloadJson: idx.map((r) => rows.payloadJson[r] as string), ops: idx.map((r) => rows.ops[r] as RecordOp) };
}

/**
 * The records of the state a snapshot records, segment by segment: a full snapshot's segments as
 * they are; a link's chain folded (the fold checked against the link's digest first), each segment
 * with only the rows the folded state holds. Bounded memory: one segment and the fold's sorted runs.
 */
export async function* foldedSegments(
  reader: SegmentReader & ManifestReader,
  manifest: Manifest,
  signal?: AbortSignal,
): AsyncGenerator<{ ref: SegmentRef; rows: SegmentRows }> {
  if (manifest.kind !== 'incremental') {
    const layout = segmentLayout(manifest.schema);
    for (const ref of manifest.segments) {
      throwIfAborted(signal);
      yield { ref, rows: decodeSegment(layout, await reader.getSegment(ref, signal), ref.key, { rows: ref.rows }) };
    }
    return;
  }
  const chain = await resolveChain(reader, manifest, signal);
  const plan = await planFold(reader, chain, signal);
  try {
    checkFoldDigest(manifest, plan.digest, `Reading snapshot ${manifest.id}`);
    const keptRows = keptRowsOf(plan);
    for (const [link, m] of chain.entries()) {
      const layout = segmentLayout(m.schema);
      for (const [index, ref] of m.segments.entries()) {
        throwIfAborted(signal);
        const rows = decodeSegment(layout, await reader.getSegment(ref, signal), ref.key, { rows: ref.rows });
        const keep = await keptRows(link, index, rows.batch.length, rows.ops);
        yield { ref, rows: filterRows(rows, keep) };
      }
    }
  } finally {
    await plan.superseded.close();
  }
}

/** Records in the state a snapshot records (a link's counts are of its folded chain, not of its own rows). */
export function recordsIn(m: Manifest): number {
  return m.digest.counts.reduce((a, b) => a + b, 0);
}
