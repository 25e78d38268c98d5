/**
 * Incremental links (docs/format.md, "Chains"). A link holds only what changed since its parent:
 * upserts with the id's previous digest, and deletes. How the changes are found depends on what the
 * adapter offers (`planCapture`, `capabilities.changeCapture`):
 *
 * - a change feed (`captureChanges`: PostgreSQL logical decoding): the changes since the parent's
 *   checkpoint, the last per id kept (an external sort), folded with the chain for the previous
 *   digests and for fields the feed did not send (TOAST);
 * - otherwise a fingerprint diff: a scan's (id, record digest) pairs, sorted, merged with the
 *   chain's folded delta index; changed and new ids are fetched, missing ones become deletes.
 *
 * Either way the rows reach `LinkWriter` in id order, so the link's delta index needs no sort, and
 * the chain is folded from indexes alone (never from segments) except to fill unsent fields.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Change, ChangeSession, VectorAdapter } from '../adapter.js';
import { ExternalSorter, type SortEntry } from '../chain/external-sort.js';
import { ChainLookup, checkFoldDigest, locationKey, mergeIndexBatches, resolveChain, winner } from '../chain/chain.js';
import { LinkWriter, type WrittenLink } from '../chain/link-writer.js';
import { IntegrityError, InvalidInputError, UnsupportedOperationError, isVectordrError, throwIfAborted } from '../errors.js';
import { BucketDigest, idBytes, idFromBytes } from '../format/digest.js';
import { FORMAT_VERSION, type Manifest, snapshotFeatures } from '../format/manifest.js';
import { newSnapshotId } from '../format/keys.js';
import { digestBatch, digestVectorOrder } from '../format/rows.js';
import { canonicalPayload, parsePayload } from '../format/canonical-json.js';
import { decodeSegment, segmentLayout } from '../format/segment-codec.js';
import {
  batchFromRecords,
  float32Vector,
  recordAt,
  requireDenseFloat32,
  type AnyVector,
  type CollectionSchema,
  type Id,
  type VectorRecord,
  type Checkpoint,
} from '../model.js';
import { ProgressReporter } from '../progress.js';
import type { RepositoryLock } from '../repository/locks.js';
import type { SnapshotStore } from '../repository/ports.js';
import type { CaptureInfo } from '../adapter.js';
import { confirmBeforeCommit } from './commit.js';
import { type SnapshotOptionsSchema, type SnapshotResult, segmentRowsFor } from './snapshot-options.js';

/** Takes a full snapshot that starts a chain (snapshot.ts): why, and the change feed it starts. */
export type TakeFull = (extras: { autoFull?: string; startCapture?: { captureId: string } }) => Promise<SnapshotResult>;

type Opts = z.output<typeof SnapshotOptionsSchema>;

/** Ids a fetch asks for at once, and rows queued before the fetched ones are written in order. */
const FETCH_IDS = 256;
const QUEUE_ROWS = 4096;

/** The name of vectordr's change feed for one collection of one repository (a slot and publication name part). */
export function captureIdOf(repositoryId: string, collection: string): string {
  return createHash('sha256').update(`${repositoryId}\0${collection}`).digest('hex').slice(0, 24);
}

/** Same fields with the same types: what a link may add to its parent's records. */
export function sameShape(a: CollectionSchema, b: CollectionSchema): boolean {
  const shape = (s: CollectionSchema): string =>
    JSON.stringify({
      idType: s.idType,
      vectors: s.vectors.map((v) => [v.name, v.dims, v.element ?? 'float32']),
      payload: s.payload.map((p) => [p.name, p.type, p.array === true, p.nativeType ?? null]),
    });
  return shape(a) === shape(b);
}

class ChainBroken extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export async function incrementalUnderLock(
  repo: SnapshotStore,
  adapter: VectorAdapter,
  collection: string,
  opts: Opts,
  lock: RepositoryLock,
  takeFull: TakeFull,
): Promise<SnapshotResult> {
  const { signal } = opts;
  const captureId = captureIdOf(repo.repositoryId, collection);
  const plan = (await adapter.planCapture?.(collection)) ?? { mode: adapter.capabilities.changeCapture };
  if (plan.mode === 'none') {
    throw new UnsupportedOperationError(
      `The ${adapter.engine} adapter cannot take incremental snapshots of ${JSON.stringify(collection)}` +
        `${plan.reason ? ` (${plan.reason})` : ''}; take full snapshots (without { incremental: true }).`,
      { plugin: adapter.engine },
    );
  }
  const feed = (plan.mode === 'native' || plan.mode === 'timestamp') && adapter.captureChanges !== undefined;
  const progress = new ProgressReporter('snapshot', opts.onProgress);
  const startFull = async (reason: string, code: 'NO_PARENT' | 'CHAIN_BROKEN'): Promise<SnapshotResult> => {
    if (opts.onNoParent === 'error') {
      throw new InvalidInputError(
        code,
        `No incremental snapshot of ${JSON.stringify(collection)} was taken: ${reason}. Nothing was written; take a full snapshot, or pass onNoParent: 'full'.`,
        {
          details: { collection, reason },
        },
      );
    }
    repo.logger.warn({ collection, reason }, 'incremental snapshot: taking a full snapshot that starts a new chain');
    progress.emit('chain-broken', reason);
    if (feed) await adapter.dropCapture?.(captureId);
    return takeFull({ autoFull: reason, ...(feed ? { startCapture: { captureId } } : {}) });
  };

  let parent: Manifest | undefined;
  if (opts.parent !== undefined) {
    try {
      parent = await repo.readManifest(collection, opts.parent);
    } catch (err) {
      if (isVectordrError(err, 'SNAPSHOT_NOT_FOUND')) {
        throw new InvalidInputError(
          'NO_PARENT',
          `Parent ${opts.parent} is not a snapshot of ${JSON.stringify(collection)}; nothing was written. Name a snapshot of this collection (repo.list({ collection })).`,
          {
            cause: err,
            details: { collection, parent: opts.parent },
          },
        );
      }
      throw err;
    }
    if (parent.source.engine !== adapter.engine) {
      throw new InvalidInputError(
        'NO_PARENT',
        `Parent ${parent.id} was taken from ${parent.source.engine}; an incremental from ${adapter.engine} cannot build on it. Nothing was written.`,
        {
          details: { collection, parent: parent.id },
        },
      );
    }
  } else {
    try {
      parent = await repo.readManifest(collection, 'latest');
    } catch (err) {
      if (!isVectordrError(err, 'SNAPSHOT_NOT_FOUND')) throw err;
      return startFull('the collection has no snapshot yet', 'NO_PARENT');
    }
    if (parent.source.engine !== adapter.engine)
      return startFull(`the latest snapshot was taken from ${parent.source.engine}`, 'NO_PARENT');
  }
  if (!parent.deltaIndex)
    return startFull(`snapshot ${parent.id} has no delta index (taken with deltaIndex: false, or by an older vectordr)`, 'NO_PARENT');
  if ((parent.depth ?? 0) >= opts.maxChainLinks)
    return startFull(`the chain has reached maxChainLinks (${opts.maxChainLinks})`, 'NO_PARENT');
  const chain = await resolveChain(repo, parent, signal);
  const base = chain[0] as Manifest;
  if (opts.maxChainAgeMs !== undefined && Date.now() - Date.parse(base.createdAt) > opts.maxChainAgeMs) {
    return startFull(`the chain's full snapshot ${base.id} is older than maxChainAgeMs`, 'NO_PARENT');
  }

  const createdAt = new Date().toISOString();
  try {
    if (feed && parent.checkpoint) {
      let session: ChangeSession | undefined;
      let noFeed = `snapshot ${parent.id} started no change feed: take a full snapshot with { incremental: true } to start one`;
      try {
        session = await adapter.captureChanges?.(collection, parent.checkpoint, { captureId, signal });
      } catch (err) {
        if (!isVectordrError(err, 'CHAIN_BROKEN') || err.details?.reason !== 'no-feed') throw err;
        noFeed = err.reason;
      }
      if (session) return await feedLink(repo, adapter, collection, opts, lock, { parent, chain, createdAt, session, progress });
      return await fingerprintLink(repo, adapter, collection, opts, lock, {
        parent,
        chain,
        createdAt,
        progress,
        reason: noFeed,
      });
    }
    const reason = feed ? `snapshot ${parent.id} has no checkpoint to continue a change feed from` : plan.reason;
    return await fingerprintLink(repo, adapter, collection, opts, lock, {
      parent,
      chain,
      createdAt,
      progress,
      ...(reason ? { reason } : {}),
    });
  } catch (err) {
    if (err instanceof ChainBroken) return startFull(`the chain broke: ${err.reason}`, 'CHAIN_BROKEN');
    if (isVectordrError(err, 'CHAIN_BROKEN')) return startFull(`the chain broke: ${err.reason}`, 'CHAIN_BROKEN');
    throw err;
  }
}

interface LinkContext {
  parent: Manifest;
  chain: Manifest[];
  createdAt: string;
  progress: ProgressReporter;
  reason?: string;
}

/** A queued row of the fingerprint diff: fetch it (new or changed), or delete it. */
type Queued = { fetch: true; idB: Uint8Array; prev: Uint8Array | undefined } | { fetch: false; idB: Uint8Array; prev: Uint8Array };

async function fingerprintLink(
  repo: SnapshotStore,
  adapter: VectorAdapter,
  collection: string,
  opts: Opts,
  lock: RepositoryLock,
  ctx: LinkContext,
): Promise<SnapshotResult> {
  const { signal } = opts;
  const { parent, chain, progress } = ctx;
  const endpoint = await adapter.describeEndpoint();
  const batchSize = opts.batchSize ?? segmentRowsFor(parent.schema, opts.segmentBytes);
  const seen = new ExternalSorter({
    dedupe: 'error',
    onDuplicate: (k) =>
      new IntegrityError(
        'ID_COLLISION',
        `The scan of ${JSON.stringify(collection)} yielded id ${String(idFromBytes(parent.schema.idType, k))} twice; an incremental cannot say which is current. Take a full snapshot.`,
      ),
  });
  const loopStart = performance.now();
  let schema: CollectionSchema;
  let scanCheckpoint: Checkpoint | null;
  try {
    // Pass 1: every id with its record digest, sorted by id bytes.
    const session = await adapter.scan(collection, { batchSize, signal });
    try {
      schema = session.schema;
      // Where the scan started: a feed that can continue from a scan (modification times) continues from it.
      scanCheckpoint = session.checkpoint ?? null;
      if (!sameShape(schema, parent.schema))
        throw new ChainBroken(`the schema of ${JSON.stringify(collection)} changed since snapshot ${parent.id}`);
      progress.totalRows = session.estimatedRows;
      progress.emit('start');
      const order = digestVectorOrder(schema);
      const scratch = new BucketDigest(1); // only the record digests are used here
      for await (const batch of session.batches()) {
        throwIfAborted(signal);
        const d = digestBatch(schema.idType, order, batch, scratch);
        for (let i = 0; i < batch.length; i++)
          await seen.add(idBytes(schema.idType, batch.ids[i] as bigint | string), d.digests.slice(i * 32, i * 32 + 32));
        progress.rows += batch.length;
        progress.emit('scan');
      }
    } finally {
      await session.close();
    }
    const scanMs = performance.now() - loopStart;

    // Pass 2: merge with the parent's folded state; fetch what is new or changed.
    const writer = newWriter(repo, adapter, schema, parent, opts, progress);
    const parentFold = new BucketDigest(1); // summed without buckets: checkFoldDigest
    const queue: Queued[] = [];
    let fetches = 0;
    const drain = async (): Promise<void> => {
      const wanted = queue.filter((q) => q.fetch);
      const got = new Map<string, { record: VectorRecord; digest: Uint8Array }>();
      if (wanted.length > 0) {
        const records = await adapter.fetch(
          collection,
          wanted.map((q) => idFromBytes(schema.idType, q.idB)),
        );
        const batch = batchFromRecords(schema, records);
        const d = digestBatch(schema.idType, digestVectorOrder(schema), batch, new BucketDigest(1));
        for (let i = 0; i < records.length; i++) {
          got.set(Buffer.from(idBytes(schema.idType, batch.ids[i] as bigint | string)).toString('hex'), {
            record: recordAt(batch, i),
            digest: d.digests.slice(i * 32, i * 32 + 32),
          });
        }
      }
      for (const q of queue) {
        const id = idFromBytes(schema.idType, q.idB);
        if (!q.fetch) {
          await writer.delete(q.idB, id, q.prev);
          continue;
        }
        const r = got.get(Buffer.from(q.idB).toString('hex'));
        if (!r) {
          if (q.prev) await writer.delete(q.idB, id, q.prev); // deleted since the scan
          continue;
        }
        if (q.prev && Buffer.compare(r.digest, q.prev) === 0) continue; // changed back since the scan
        await writer.upsert(q.idB, r.record, q.prev);
      }
      queue.length = 0;
      fetches = 0;
    };
    const enqueue = async (q: Queued): Promise<void> => {
      queue.push(q);
      if (q.fetch) fetches++;
      if (fetches >= FETCH_IDS || queue.length >= QUEUE_ROWS) await drain();
    };
    const live = seen.sorted()[Symbol.asyncIterator]();
    const folded = parentState(repo, chain, signal)[Symbol.asyncIterator]();
    let a = await live.next();
    let b = await folded.next();
    while (!a.done || !b.done) {
      throwIfAborted(signal);
      const cmp = a.done ? 1 : b.done ? -1 : Buffer.compare(a.value.key, b.value.id);
      if (cmp < 0) {
        await enqueue({ fetch: true, idB: (a.value as SortEntry).key, prev: undefined });
        a = await live.next();
      } else if (cmp > 0) {
        const w = b.value as ParentRow;
        parentFold.add(0, w.digest);
        await enqueue({ fetch: false, idB: w.id, prev: w.digest });
        b = await folded.next();
      } else {
        const w = b.value as ParentRow;
        parentFold.add(0, w.digest);
        if (Buffer.compare((a.value as SortEntry).value, w.digest) !== 0) await enqueue({ fetch: true, idB: w.id, prev: w.digest });
        a = await live.next();
        b = await folded.next();
      }
    }
    await drain();
    checkFoldDigest(parent, parentFold, `Incremental snapshot of ${JSON.stringify(collection)}`);
    const written = await writer.finish();
    const capture: CaptureInfo = { mode: 'fingerprint-diff', exact: false, ...(ctx.reason ? { reason: ctx.reason } : {}) };
    return await commitLink(repo, adapter, collection, opts, lock, ctx, {
      schema,
      written,
      capture,
      checkpoint: scanCheckpoint,
      watermark: ctx.createdAt,
      endpoint,
      scanMs,
    });
  } finally {
    await seen.close();
  }
}

/** One id of the parent's folded state. */
interface ParentRow {
  id: Uint8Array;
  digest: Uint8Array;
  link: number;
  segment: number;
  row: number;
}

/** The parent chain's current records (newest upsert of each id, deleted ids left out), in batches of ascending ids. */
async function* parentStateBatches(
  repo: SnapshotStore,
  chain: readonly Manifest[],
  signal: AbortSignal | undefined,
): AsyncGenerator<ParentRow[]> {
  for await (const batch of mergeIndexBatches(repo, chain, signal)) {
    const rows: ParentRow[] = [];
    for (const v of batch) {
      const w = winner(v);
      if (w) rows.push({ id: v.id, digest: w.entry.digest, link: w.link, segment: w.entry.segment, row: w.entry.row });
    }
    if (rows.length > 0) yield rows;
  }
}

/** `parentStateBatches`, row by row. */
async function* parentState(repo: SnapshotStore, chain: readonly Manifest[], signal: AbortSignal | undefined): AsyncGenerator<ParentRow> {
  for await (const rows of parentStateBatches(repo, chain, signal)) yield* rows;
}

function newWriter(
  repo: SnapshotStore,
  adapter: VectorAdapter,
  schema: CollectionSchema,
  parent: Manifest,
  opts: Opts,
  progress: ProgressReporter,
): LinkWriter {
  return new LinkWriter(repo, schema, parent.digest, {
    rowsPerSegment: segmentRowsFor(schema, opts.segmentBytes),
    vectorCompression: opts.vectorCompression,
    engine: adapter.engine,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onSegment: (ref) => {
      progress.segments++;
      progress.bytes += ref.bytes;
      progress.emit('segment');
    },
  });
}

async function commitLink(
  repo: SnapshotStore,
  adapter: VectorAdapter,
  collection: string,
  opts: Opts,
  lock: RepositoryLock,
  ctx: LinkContext,
  link: {
    schema: CollectionSchema;
    written: WrittenLink;
    capture: CaptureInfo;
    checkpoint: Checkpoint | null;
    watermark: string;
    endpoint: { engineVersion: string; extensionVersion?: string; endpoint: string };
    scanMs: number;
  },
): Promise<SnapshotResult> {
  const { parent, progress } = ctx;
  const { written } = link;
  const id = newSnapshotId();
  const manifest: Manifest = {
    formatVersion: FORMAT_VERSION,
    features: snapshotFeatures(link.schema, ['incremental']),
    id,
    kind: 'incremental',
    parent: parent.id,
    collection,
    createdAt: ctx.createdAt,
    completedAt: new Date().toISOString(),
    source: { engine: adapter.engine, ...link.endpoint, normalizesCosine: adapter.capabilities.normalizesCosine === true },
    schema: { ...link.schema, indexes: link.schema.indexes },
    segments: written.segments,
    rows: { upserts: written.upserts, deletes: written.deletes },
    digest: { algorithm: 'sha256-bucket-sum', ...written.digest.toJSON() },
    checkpoint: link.checkpoint,
    timings: {
      scanMs: Math.round(link.scanMs),
      encodeMs: 0,
      storeMs: 0,
      totalMs: Math.round(progress.elapsedMs),
    },
    tags: opts.tags,
    chain: parent.chain as string,
    depth: (parent.depth ?? 0) + 1,
    capture: link.capture,
    watermark: link.watermark,
    deltaIndex: written.deltaIndex,
  };
  progress.emit('commit');
  await confirmBeforeCommit(repo, lock, [...written.segments, ...written.deltaIndex], opts.signal);
  await repo.commitManifest(manifest);
  progress.emit('done');
  repo.logger.info(
    { snapshot: id, collection, parent: parent.id, upserts: written.upserts, deletes: written.deletes, mode: link.capture.mode },
    'incremental snapshot committed',
  );
  return {
    manifest,
    kind: 'incremental',
    uploadedSegments: written.uploaded,
    reusedSegments: written.segments.length - written.uploaded,
    uploadedBytes: written.uploadedBytes,
    reusedBytes: written.segments.reduce((n, s) => n + s.bytes, 0) - written.uploadedBytes,
  };
}

// ---------------------------------------------------------------------------------------------
// Change feeds

const FIELD_NULL = 0;
const FIELD_PRESENT = 1;
const FIELD_UNCHANGED = 2;

/** A change as sort value: op, payload (canonical JSON), the unchanged payload fields, then each vector field. */
function encodeChange(schema: CollectionSchema, c: Change): Uint8Array {
  if (c.op === 'delete') return Uint8Array.of(1);
  const unchanged = new Set(c.unchanged ?? []);
  const payload = Buffer.from(canonicalPayload(c.record.payload), 'utf8');
  const unchangedPayload = Buffer.from(JSON.stringify(schema.payload.map((p) => p.name).filter((n) => unchanged.has(n))), 'utf8');
  const parts: Uint8Array[] = [Uint8Array.of(0), u32(payload.length), payload, u32(unchangedPayload.length), unchangedPayload];
  for (const v of schema.vectors) {
    const vec = c.record.vectors[v.name];
    if (unchanged.has(v.name)) parts.push(Uint8Array.of(FIELD_UNCHANGED));
    else if (vec == null) parts.push(Uint8Array.of(FIELD_NULL));
    else {
      const f32 = float32Vector(vec, v.name, 'change capture');
      parts.push(Uint8Array.of(FIELD_PRESENT), new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength).slice());
    }
  }
  return Buffer.concat(parts);
}

function u32(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

interface DecodedChange {
  op: 'upsert' | 'delete';
  record: VectorRecord;
  unchanged: Set<string>;
}

function decodeChange(schema: CollectionSchema, idB: Uint8Array, v: Uint8Array): DecodedChange {
  const id = idFromBytes(schema.idType, idB);
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (b[0] === 1) return { op: 'delete', record: { id, vectors: {}, payload: {} }, unchanged: new Set() };
  let o = 1;
  const pl = b.readUInt32BE(o);
  const payload = parsePayload(b.subarray(o + 4, o + 4 + pl).toString('utf8'));
  o += 4 + pl;
  const ul = b.readUInt32BE(o);
  const unchanged = new Set<string>(JSON.parse(b.subarray(o + 4, o + 4 + ul).toString('utf8')) as string[]);
  o += 4 + ul;
  const vectors = Object.create(null) as Record<string, AnyVector | null>;
  for (const f of schema.vectors) {
    const tag = b[o++];
    if (tag === FIELD_PRESENT) {
      const dims = requireDenseFloat32(f, 'change capture');
      const bytes = b.subarray(o, o + dims * 4);
      vectors[f.name] = new Float32Array(Uint8Array.from(bytes).buffer);
      o += dims * 4;
    } else {
      vectors[f.name] = null;
      if (tag === FIELD_UNCHANGED) unchanged.add(f.name);
    }
  }
  return { op: 'upsert', record: { id, vectors, payload }, unchanged };
}

/** Applies `next` over `prev` (both of one id, in commit order): an upsert that left fields unsent keeps them from `prev`. */
function applyChange(prev: DecodedChange | undefined, next: DecodedChange): DecodedChange {
  if (next.op === 'delete' || next.unchanged.size === 0 || !prev || prev.op === 'delete') return next;
  const record: VectorRecord = { id: next.record.id, vectors: { ...next.record.vectors }, payload: { ...next.record.payload } };
  for (const f of next.unchanged) {
    if (Object.hasOwn(prev.record.vectors, f)) record.vectors[f] = prev.record.vectors[f] ?? null;
    else if (Object.hasOwn(prev.record.payload, f)) record.payload[f] = prev.record.payload[f] ?? null;
    else if (!prev.unchanged.has(f)) delete record.payload[f]; // absent (NULL) in prev
  }
  const unchanged = new Set([...next.unchanged].filter((f) => prev.unchanged.has(f)));
  return { op: 'upsert', record, unchanged };
}

async function feedLink(
  repo: SnapshotStore,
  adapter: VectorAdapter,
  collection: string,
  opts: Opts,
  lock: RepositoryLock,
  ctx: LinkContext & { session: ChangeSession },
): Promise<SnapshotResult> {
  const { signal } = opts;
  const { parent, chain, session, progress } = ctx;
  const schema = session.schema;
  const changes = new ExternalSorter({ dedupe: 'keep' });
  const toFill = new ExternalSorter({ dedupe: 'keep' });
  const ready = new ExternalSorter({ dedupe: 'error' });
  const loopStart = performance.now();
  try {
    if (!sameShape(schema, parent.schema))
      throw new ChainBroken(`the schema of ${JSON.stringify(collection)} changed since snapshot ${parent.id}`);
    const endpoint = await adapter.describeEndpoint();
    progress.emit('start');
    for await (const batch of session.changes()) {
      throwIfAborted(signal);
      for (const c of batch) {
        const id = c.op === 'delete' ? c.id : c.record.id;
        await changes.add(idBytes(schema.idType, id), encodeChange(schema, c));
      }
      progress.rows += batch.length;
      progress.emit('scan');
    }
    const { checkpoint, watermark } = session.end();
    if (session.ids) await addDeletesByIdDiff(repo, chain, schema, session.ids(), changes, signal);

    // The last state of each id in this link, merged with the parent's state: the previous digest,
    // and for fields the feed did not send, where the chain holds their value.
    const lookup = new ChainLookup(repo, chain, signal);
    // Unsent fields read by the engine in a state within the link (ChangeSession.fill); what it does not return is filled from the chain.
    let pendingFill: { idB: Uint8Array; w: ParentRow; value: Buffer; state: DecodedChange }[] = [];
    const flushFill = async (): Promise<void> => {
      const batch = pendingFill;
      pendingFill = [];
      if (batch.length === 0 || !session.fill) return;
      const got = new Map<string, VectorRecord>();
      for (const r of await session.fill(batch.map((p) => p.state.record.id)))
        got.set(Buffer.from(idBytes(schema.idType, r.id)).toString('hex'), r);
      for (const { idB, w, value, state } of batch) {
        const held = got.get(Buffer.from(idB).toString('hex'));
        if (!held) {
          await toFill.add(locationKey(w.link, w.segment, w.row), Buffer.concat([u32(idB.length), idB, value]));
          continue;
        }
        const filled = applyChange({ op: 'upsert', record: held, unchanged: new Set() }, state);
        const prevLen = value.readUInt32BE(1);
        await ready.add(idB, Buffer.concat([value.subarray(0, 5 + prevLen), encodeChange(schema, toChange(filled))]));
      }
    };
    const flushId = async (idB: Uint8Array, state: DecodedChange): Promise<void> => {
      const found = await lookup.newest(idB);
      const w: ParentRow | undefined =
        found?.entry.op === 'upsert'
          ? { id: idB, digest: found.entry.digest, link: found.link, segment: found.entry.segment, row: found.entry.row }
          : undefined;
      if (state.op === 'delete') {
        if (w) await ready.add(idB, Buffer.concat([Uint8Array.of(1), w.digest]));
        return;
      }
      // A fuzzy feed (modification times) re-reads a window on purpose; a record the chain holds as is did not change.
      if (w && !session.capture.exact && state.unchanged.size === 0 && sameDigest(schema, state.record, w.digest)) return;
      const prev = w ? w.digest : new Uint8Array(0);
      const value = Buffer.concat([Uint8Array.of(0), u32(prev.length), prev, encodeChange(schema, toChange(state))]);
      if (state.unchanged.size === 0) await ready.add(idB, value);
      else if (!w) {
        throw new IntegrityError(
          'CHAIN_INVALID',
          `The change feed sent an update of id ${String(state.record.id)} without the values of ${[...state.unchanged].join(', ')}, and the chain of ${parent.id} has no earlier value of it.`,
        );
      } else if (session.fill) {
        pendingFill.push({ idB, w, value, state });
        if (pendingFill.length >= FETCH_IDS) await flushFill();
      } else await toFill.add(locationKey(w.link, w.segment, w.row), Buffer.concat([u32(idB.length), idB, value]));
    };
    let cur: { idB: Uint8Array; state: DecodedChange } | undefined;
    for await (const e of changes.sorted()) {
      const next = decodeChange(schema, e.key, e.value);
      if (cur && Buffer.compare(cur.idB, e.key) === 0) cur.state = applyChange(cur.state, next);
      else {
        if (cur) await flushId(cur.idB, cur.state);
        cur = { idB: e.key, state: next };
      }
    }
    if (cur) await flushId(cur.idB, cur.state);
    await flushFill();

    // Fill unsent fields from the chain, each segment decoded once (fills sorted by location).
    let open: { link: number; segment: number; rows: ReturnType<typeof decodeSegment> } | undefined;
    for await (const e of toFill.sorted()) {
      const loc = Buffer.from(e.key);
      const link = loc.readUInt32BE(0);
      const segment = loc.readUInt32BE(4);
      const row = loc.readUInt32BE(8);
      if (!open || open.link !== link || open.segment !== segment) {
        const m = chain[link] as Manifest;
        const ref = m.segments[segment];
        if (!ref) throw new IntegrityError('CHAIN_INVALID', `Delta index of ${m.id} names segment ${segment}, which it does not have.`);
        open = {
          link,
          segment,
          rows: decodeSegment(segmentLayout(m.schema), await repo.getSegment(ref, signal), ref.key, { rows: ref.rows }),
        };
      }
      const v = Buffer.from(e.value);
      const idLen = v.readUInt32BE(0);
      const idB = v.subarray(4, 4 + idLen);
      const rest = v.subarray(4 + idLen);
      const prevLen = rest.readUInt32BE(1);
      const change = decodeChange(schema, idB, rest.subarray(5 + prevLen));
      const old = recordAt(open.rows.batch, row);
      const filled = applyChange({ op: 'upsert', record: old, unchanged: new Set() }, change);
      await ready.add(idB, Buffer.concat([rest.subarray(0, 5 + prevLen), encodeChange(schema, toChange(filled))]));
    }

    const writer = newWriter(repo, adapter, schema, parent, opts, progress);
    for await (const e of ready.sorted()) {
      const v = Buffer.from(e.value);
      const id = idFromBytes(schema.idType, e.key);
      if (v[0] === 1) {
        await writer.delete(e.key, id, v.subarray(1, 33));
        continue;
      }
      const prevLen = v.readUInt32BE(1);
      const prev = prevLen > 0 ? v.subarray(5, 5 + prevLen) : undefined;
      const state = decodeChange(schema, e.key, v.subarray(5 + prevLen));
      await writer.upsert(e.key, state.record, prev);
    }
    const written = await writer.finish();
    const result = await commitLink(repo, adapter, collection, opts, lock, ctx, {
      schema,
      written,
      capture: session.capture,
      checkpoint,
      watermark,
      endpoint,
      scanMs: performance.now() - loopStart,
    });
    // Only now, with the link durable, may the engine release the changes it kept for it.
    await session.commit(checkpoint);
    return result;
  } finally {
    await session.close();
    await Promise.all([changes.close(), toFill.close(), ready.close()]);
  }
}

/** For a feed that cannot see deletes: a delete for every id of the parent's state the collection no longer holds. */
async function addDeletesByIdDiff(
  repo: SnapshotStore,
  chain: readonly Manifest[],
  schema: CollectionSchema,
  ids: AsyncIterable<readonly Id[]>,
  changes: ExternalSorter,
  signal: AbortSignal | undefined,
): Promise<void> {
  const now = new ExternalSorter({ dedupe: 'last' });
  try {
    for await (const batch of ids) {
      throwIfAborted(signal);
      for (const id of batch) await now.add(idBytes(schema.idType, id), new Uint8Array(0));
    }
    const live = now.sorted()[Symbol.asyncIterator]();
    let a = await live.next();
    for await (const w of parentState(repo, chain, signal)) {
      while (!a.done && Buffer.compare(a.value.key, w.id) < 0) a = await live.next();
      if (!a.done && Buffer.compare(a.value.key, w.id) === 0) continue;
      await changes.add(w.id, encodeChange(schema, { op: 'delete', id: idFromBytes(schema.idType, w.id) }));
    }
    await live.return?.(undefined);
  } finally {
    await now.close();
  }
}

/** The record's digest is `digest` (docs/format.md, "Record digest"). */
function sameDigest(schema: CollectionSchema, record: VectorRecord, digest: Uint8Array): boolean {
  const d = digestBatch(schema.idType, digestVectorOrder(schema), batchFromRecords(schema, [record]), new BucketDigest(1));
  return Buffer.compare(d.digests.subarray(0, 32), digest) === 0;
}

function toChange(state: DecodedChange): Change {
  return state.op === 'delete'
    ? { op: 'delete', id: state.record.id }
    : { op: 'upsert', record: state.record, ...(state.unchanged.size > 0 ? { unchanged: [...state.unchanged] } : {}) };
}
