/**
 * Parity: does a live collection hold exactly what a snapshot holds? One consistent scan computes
 * the same bucket digests the snapshot stored; equal digests prove equality (up to SHA-256). When
 * buckets differ, a second pass over only those buckets (live and snapshot) names the ids that are
 * missing, extra or changed.
 */
import { z } from 'zod';
import type { VectorAdapter } from '../adapter.js';
import { InvalidInputError, throwIfAborted } from '../errors.js';
import { BucketDigest, bucketOf, idBytes } from '../format/digest.js';
import { digestBatch, digestVectorOrder } from '../format/rows.js';
import { decodeSegment, segmentLayout } from '../format/segment-codec.js';
import type { Id } from '../model.js';
import { type ProgressCallback, ProgressReporter } from '../progress.js';
import type { Repository } from '../repository/repository.js';
import { checkCompatible } from '../restore/restore.js';
import { validateBatchVectors } from '../validate.js';

export const ParityOptionsSchema = z.strictObject({
  /** Collection name in the repository. */
  collection: z.string().min(1),
  /** @default 'latest' */
  snapshot: z.string().default('latest'),
  /** Live collection to compare. @default the snapshot's collection name */
  live: z.string().min(1).optional(),
  /** Most differing ids to report per kind. @default 100 */
  maxIds: z.number().int().min(0).max(1_000_000).default(100),
  /** Most differing buckets to examine id by id. @default 16 */
  maxBuckets: z.number().int().min(0).default(16),
  batchSize: z.number().int().min(1).default(2000),
  signal: z.instanceof(AbortSignal).optional(),
  onProgress: z.custom<ProgressCallback>((v) => typeof v === 'function').optional(),
});
export type ParityOptions = z.input<typeof ParityOptionsSchema>;

export interface ParityReport {
  ok: boolean;
  snapshot: string;
  live: string;
  rows: { live: number; snapshot: number };
  collectionDigest: { live: string; snapshot: string };
  /** Buckets whose count or digest sum differ. */
  mismatchedBuckets: number[];
  /** Ids in the examined buckets (up to `maxIds` each). */
  missing: Id[];
  extra: Id[];
  changed: Id[];
}

export async function verifyParity(repo: Repository, adapter: VectorAdapter, options: ParityOptions): Promise<ParityReport> {
  const parsed = ParityOptionsSchema.safeParse(options);
  if (!parsed.success) throw new InvalidInputError('INVALID_OPTIONS', `Invalid parity options: ${z.prettifyError(parsed.error)}`);
  const opts = parsed.data;
  const { signal } = opts;
  const progress = new ProgressReporter('verify-parity', opts.onProgress);
  const manifest = await repo.readManifest(opts.collection, opts.snapshot);
  const live = opts.live ?? manifest.collection;
  const order = digestVectorOrder(manifest.schema);
  const idType = manifest.schema.idType;
  progress.totalRows = manifest.rows.upserts;
  progress.emit('start');

  const scanLive = async (onRows: (ids: ArrayLike<Id>, digests: Uint8Array, buckets: Uint32Array) => void): Promise<BucketDigest> => {
    const acc = new BucketDigest(manifest.digest.buckets);
    const session = await adapter.scan(live, { batchSize: opts.batchSize, signal });
    try {
      checkCompatible(session.schema, { ...manifest.schema, name: live });
      for await (const batch of session.batches()) {
        throwIfAborted(signal);
        validateBatchVectors(batch, session.schema.vectors, adapter.engine);
        const d = digestBatch(idType, order, batch, acc);
        onRows(batch.ids as ArrayLike<Id>, d.digests, d.buckets);
        progress.rows += batch.length;
        progress.emit('scan');
      }
    } finally {
      await session.close();
    }
    return acc;
  };

  const liveAcc = await scanLive(() => undefined);
  const mismatched = liveAcc.diff(manifest.digest);
  const report: ParityReport = {
    ok: mismatched.length === 0,
    snapshot: manifest.id,
    live,
    rows: { live: liveAcc.total(), snapshot: manifest.rows.upserts },
    collectionDigest: { live: liveAcc.collectionDigest(), snapshot: manifest.digest.collection },
    mismatchedBuckets: mismatched,
    missing: [],
    extra: [],
    changed: [],
  };
  if (report.ok || opts.maxIds === 0) {
    progress.emit('done');
    return report;
  }

  // Second pass: id -> digest maps for the first `maxBuckets` differing buckets only (bounded memory).
  const examine = new Set(mismatched.slice(0, opts.maxBuckets));
  const key = (id: Id): string => String(id);
  const hex = (d: Uint8Array, i: number): string => Buffer.from(d.subarray(i * 32, i * 32 + 32)).toString('hex');
  const snapSide = new Map<string, { id: Id; digest: string }>();
  const layout = segmentLayout(manifest.schema);
  for (const ref of manifest.segments) {
    throwIfAborted(signal);
    const rows = decodeSegment(layout, await repo.getSegment(ref, signal), ref.key);
    // The segment stores each record's digest (checked by getSegment's hash); only buckets are needed.
    for (let i = 0; i < rows.batch.length; i++) {
      const id = rows.batch.ids[i] as Id;
      if (!examine.has(bucketOf(idBytes(idType, id), manifest.digest.buckets))) continue;
      snapSide.set(key(id), { id, digest: hex(rows.digests, i) });
    }
  }
  await scanLive((ids, digests, buckets) => {
    for (let i = 0; i < ids.length; i++) {
      if (!examine.has(buckets[i] as number)) continue;
      const id = ids[i] as Id;
      const s = snapSide.get(key(id));
      if (!s) {
        if (report.extra.length < opts.maxIds) report.extra.push(id);
        continue;
      }
      snapSide.delete(key(id));
      if (s.digest !== hex(digests, i) && report.changed.length < opts.maxIds) report.changed.push(id);
    }
  });
  for (const { id } of snapSide.values()) {
    if (report.missing.length >= opts.maxIds) break;
    report.missing.push(id);
  }
  progress.emit('done');
  return report;
}
