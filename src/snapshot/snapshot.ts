/**
 * Full snapshot pipeline: consistent scan -> digest rows -> cut fixed-size segments -> encode
 * (Parquet) -> store content-addressed -> commit the manifest last.
 *
 * Memory is bounded by one segment plus one adapter batch, whatever the collection size. Segments are
 * cut at fixed row counts, so rerunning after a crash produces the same segment bytes for unchanged
 * data and `putSegment` skips what is already stored (resume without a journal).
 */
import type { z } from 'zod';
import type { VectorAdapter } from '../adapter.js';
import { throwIfAborted } from '../errors.js';
import { confirmBeforeCommit } from './commit.js';
import { BucketDigest } from '../format/digest.js';
import { newSnapshotId } from '../format/keys.js';
import { FORMAT_VERSION, type Manifest, type SegmentRef, snapshotFeatures } from '../format/manifest.js';
import { canonicalPayload } from '../format/canonical-json.js';
import { concatPacked, packText } from '../format/packed-text.js';
import { addDigests, concatBatches, digestVectorOrder, sliceBatch } from '../format/rows.js';
import { segmentLayout } from '../format/segment-codec.js';
import { SegmentPool } from '../parallel/segment-pool.js';
import type { SegmentJob } from '../parallel/segment-job.js';
import { availableParallelism } from 'node:os';
import type { RecordBatch, RecordOp } from '../model.js';
import { ProgressReporter } from '../progress.js';
import type { RepositoryLock } from '../repository/locks.js';
import type { SnapshotStore } from '../repository/ports.js';
import { ExternalSorter } from '../chain/external-sort.js';
import { IndexWriter, decodeIndexValue, encodeIndexValue } from '../format/delta-index.js';
import { idBytes } from '../format/digest.js';
import { incrementalUnderLock } from './incremental.js';
import { parseOptions } from '../options.js';
import { SnapshotOptionsSchema, type SnapshotOptions, type SnapshotResult, segmentRowsFor } from './snapshot-options.js';

/**
 * The segment worker's young generation, in MB. An encode job's garbage is a few small objects per
 * segment beside large buffers (external memory), so V8's default young generation (sized for a
 * whole process) only holds dead pages: 4 MB cut the snapshot's peak RSS from ~300 to ~270 MB at
 * 200k × 768 with no loss of speed (docs/benchmarks.md, P3). Verify jobs keep the default: they
 * make a string per payload, and a small young generation slowed them.
 */
const ENCODE_WORKER_YOUNG_GENERATION_MB = 4;

export { SnapshotOptionsSchema, segmentRowsFor, type SnapshotOptions, type SnapshotResult } from './snapshot-options.js';

export async function takeSnapshot(
  repo: SnapshotStore,
  adapter: VectorAdapter,
  collection: string,
  options: SnapshotOptions,
): Promise<SnapshotResult> {
  const opts = parseOptions(SnapshotOptionsSchema, options, 'snapshot');
  const { signal } = opts;
  throwIfAborted(signal);
  adapter.checkCollectionName?.(collection, 'read');
  // A shared lock keeps prune from deleting this snapshot's segments before its manifest exists.
  const lock = await repo.lock({ exclusive: false, operation: `snapshot ${collection}`, signal });
  try {
    if (opts.incremental) {
      return await incrementalUnderLock(repo, adapter, collection, opts, lock, (extras) =>
        snapshotUnderLock(repo, adapter, collection, opts, lock, extras),
      );
    }
    return await snapshotUnderLock(repo, adapter, collection, opts, lock, {});
  } finally {
    await lock.release();
  }
}

/** What a full snapshot taken for a chain adds: why it was taken, and the change feed it starts. */
export interface FullSnapshotExtras {
  autoFull?: string;
  startCapture?: { captureId: string };
  /** A snapshot written from another one (compact): its watermark and how it was made, instead of this run's. */
  derived?: { watermark: string; reason: string; normalizesCosine: boolean };
}

export async function snapshotUnderLock(
  repo: SnapshotStore,
  adapter: VectorAdapter,
  collection: string,
  opts: z.output<typeof SnapshotOptionsSchema>,
  lock: RepositoryLock,
  extras: FullSnapshotExtras,
): Promise<SnapshotResult> {
  const { signal } = opts;
  const createdAt = new Date().toISOString();
  const id = newSnapshotId();
  const progress = new ProgressReporter('snapshot', opts.onProgress);
  const endpoint = await adapter.describeEndpoint();
  // Read a segment's worth of rows per batch, so segments are cut without re-copying rows.
  const batchSize = opts.batchSize ?? segmentRowsFor(await adapter.describe(collection), opts.segmentBytes);
  const session = await adapter.scan(collection, {
    batchSize,
    signal,
    // Canonical payload text where the adapter can write it from the engine's bytes (no payload objects).
    payloadJson: true,
    ...(extras.startCapture ? { startCapture: extras.startCapture } : {}),
  });
  const segments: SegmentRef[] = [];
  // The delta index: (id bytes, digest, segment, row) of every row, sorted once the scan is done.
  // A scan that yields one id twice (Milvus keeps duplicate keys) cannot start a chain: the index is dropped.
  let index: ExternalSorter | undefined =
    (opts.deltaIndex ?? opts.incremental) ? new ExternalSorter({ dedupe: 'error', onDuplicate: () => new DuplicateId() }) : undefined;
  let uploaded = 0;
  let uploadedBytes = 0;
  let rows = 0;
  let encodeMs = 0;
  const acc = new BucketDigest(repo.buckets);
  const inFlight: Promise<void>[] = [];
  let pool: SegmentPool | undefined;
  try {
    const { schema } = session;
    progress.totalRows = session.estimatedRows;
    progress.emit('start');
    const layout = segmentLayout(schema);
    const order = digestVectorOrder(schema);
    const perSegment = segmentRowsFor(schema, opts.segmentBytes);
    let pending: RecordBatch[] = [];
    let pendingRows = 0;

    /**
     * Segments in flight (hashed and encoded on a worker, then stored) while the next one is scanned:
     * one per worker, plus as many stores as the storage asks for (network stores gain; a local disk
     * measured slower when stores competed with encoding on one thread, see docs/benchmarks.md).
     * Refs are recorded by position, so the manifest lists segments in scan order whatever finishes first.
     */
    const segmentPool = await SegmentPool.open(encodeWorkersFor(opts.encodeWorkers, session.estimatedRows ?? 0, perSegment), repo.logger, {
      youngGenerationMb: ENCODE_WORKER_YOUNG_GENERATION_MB,
    });
    pool = segmentPool;
    const depth = repo.writeConcurrency + segmentPool.workers;
    let indexed = Promise.resolve();
    let waitedMs = 0;
    const awaitOldest = async (): Promise<void> => {
      const t0 = performance.now();
      await inFlight.shift();
      waitedMs += performance.now() - t0;
    };

    const flush = async (): Promise<void> => {
      if (pendingRows === 0) return;
      // A batch assembled here, or one the adapter says is its own: its buffers can move to a worker without a copy.
      const owned = pending.length > 1 || pending[0]?.exclusive === true;
      const batch = concatBatches(schema.idType, layout.vectors, pending);
      pending = [];
      pendingRows = 0;
      const t0 = performance.now();
      const segment = segments.length;
      segments.length++;
      const job: SegmentJob = {
        layout,
        order,
        buckets: acc.buckets,
        length: batch.length,
        ids: batch.ids,
        vectors: batch.vectors,
        // The job's payload buffer moves to the worker: the batch's own only when the batch is.
        payloadJson: batch.payloadJson
          ? owned
            ? batch.payloadJson
            : concatPacked([batch.payloadJson])
          : packText(batch.payloads.map(canonicalPayload)),
        ops: new Array<RecordOp>(batch.length).fill('upsert'),
        vectorCompression: opts.vectorCompression,
        check: { fields: schema.vectors, plugin: adapter.engine },
      };
      // Index keys are taken before the ids may move to a worker.
      const keys = index
        ? Array.from({ length: batch.length }, (_, i) => idBytes(schema.idType, batch.ids[i] as bigint | string))
        : undefined;
      const work = segmentPool.run(job, owned).then(async (product) => {
        addDigests(acc, product.digests, product.buckets);
        if (index && keys) {
          const sorter = index;
          // One segment's entries at a time: the sorter is not re-entrant.
          indexed = indexed.then(async () => {
            for (let i = 0; i < keys.length; i++) {
              const digest = product.digests.subarray(i * 32, i * 32 + 32);
              await sorter.add(keys[i] as Uint8Array, encodeIndexValue({ op: 'upsert', digest, segment, row: i }));
            }
          });
          await indexed;
        }
        const { ref, uploaded: up } = await repo.putSegment(product.bytes, job.length, signal, product.sha256);
        if (up) {
          uploaded++;
          uploadedBytes += ref.bytes;
        }
        segments[segment] = ref;
        progress.segments++;
        progress.bytes += ref.bytes;
        progress.emit('segment');
      });
      work.catch(() => undefined); // observed in order by awaitOldest(); never unhandled meanwhile
      inFlight.push(work);
      encodeMs += performance.now() - t0;
      while (inFlight.length > depth) await awaitOldest();
    };

    const loopStart = performance.now();
    for await (const batch of session.batches()) {
      throwIfAborted(signal);
      // Vectors are validated by the segment job (src/parallel/segment-job.ts), on a worker when there is one.
      rows += batch.length;
      progress.rows = rows;
      let offset = 0;
      while (offset < batch.length) {
        const take = Math.min(batch.length - offset, perSegment - pendingRows);
        pending.push(offset === 0 && take === batch.length ? batch : sliceBatch(batch, offset, offset + take));
        pendingRows += take;
        offset += take;
        if (pendingRows === perSegment) await flush();
      }
      progress.emit('scan');
    }
    await flush();
    while (inFlight.length > 0) await awaitOldest();
    const scanMs = performance.now() - loopStart - encodeMs - waitedMs;
    const deltaIndex = index ? await writeIndex(repo, index, signal) : undefined;
    if (index && !deltaIndex) {
      repo.logger.warn({ collection }, 'the scan yielded an id twice: this full snapshot has no delta index and cannot start a chain');
    }

    throwIfAborted(signal);
    const chain: Partial<Manifest> = deltaIndex
      ? {
          chain: id,
          depth: 0,
          capture: { mode: 'scan', exact: session.consistent === true, ...(extras.derived ? { reason: extras.derived.reason } : {}) },
          watermark: extras.derived?.watermark ?? createdAt,
          deltaIndex,
          ...(extras.autoFull ? { autoFull: extras.autoFull } : {}),
        }
      : {};
    const manifest: Manifest = {
      formatVersion: FORMAT_VERSION,
      features: snapshotFeatures(schema, deltaIndex ? ['incremental'] : []),
      id,
      kind: 'full',
      parent: null,
      collection,
      createdAt,
      completedAt: new Date().toISOString(),
      source: {
        engine: adapter.engine,
        ...endpoint,
        normalizesCosine: extras.derived?.normalizesCosine ?? adapter.capabilities.normalizesCosine === true,
      },
      schema,
      segments,
      rows: { upserts: rows, deletes: 0 },
      digest: { algorithm: 'sha256-bucket-sum', ...acc.toJSON() },
      checkpoint: session.checkpoint ?? null,
      timings: {
        scanMs: Math.round(scanMs),
        encodeMs: Math.round(encodeMs),
        storeMs: Math.round(waitedMs),
        totalMs: Math.round(progress.elapsedMs),
      },
      tags: opts.tags,
      ...chain,
    };
    progress.emit('commit');
    await confirmBeforeCommit(repo, lock, [...segments, ...(deltaIndex ?? [])], signal);
    await repo.commitManifest(manifest);
    progress.emit('done');
    repo.logger.info({ snapshot: id, collection, rows, segments: segments.length, uploaded }, 'snapshot committed');
    return {
      manifest,
      kind: 'full',
      ...(extras.autoFull ? { autoFull: extras.autoFull } : {}),
      uploadedSegments: uploaded,
      reusedSegments: segments.length - uploaded,
      uploadedBytes,
      reusedBytes: segments.reduce((n, s) => n + s.bytes, 0) - uploadedBytes,
    };
  } finally {
    // After a failure, let stores already started settle: nothing of this run outlives its lock.
    await Promise.allSettled(inFlight);
    await pool?.close();
    await session.close();
    await index?.close();
    index = undefined;
  }
}

class DuplicateId extends Error {}

/** Worker threads for a snapshot: as asked, else one when a second core and enough segments make it pay (startup ~50 ms). */
export function encodeWorkersFor(asked: number | undefined, estimatedRows: number, rowsPerSegment: number): number {
  if (asked !== undefined) return asked;
  return availableParallelism() > 1 && estimatedRows >= 4 * rowsPerSegment ? 1 : 0;
}

/** Writes the sorted delta index; undefined when the scan yielded an id twice. */
async function writeIndex(repo: SnapshotStore, sorter: ExternalSorter, signal: AbortSignal | undefined): Promise<SegmentRef[] | undefined> {
  const writer = new IndexWriter(async (bytes, n) => (await repo.putSegment(bytes, n, signal)).ref);
  try {
    for await (const e of sorter.sorted()) await writer.add(decodeIndexValue(e.key, e.value));
  } catch (err) {
    if (err instanceof DuplicateId) return undefined;
    throw err;
  }
  return writer.finish();
}
