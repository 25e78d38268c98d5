/**
 * Integrity verification, no database needed: every segment re-read and re-hashed, every record
 * digest recomputed from the stored id, vectors and payload, every payload checked to be canonical,
 * and the bucket sums and collection digest recomputed and compared with the manifest.
 */
import { z } from 'zod';
import { InvalidInputError, VectordrError, throwIfAborted } from '../errors.js';
import { canonicalPayload } from '../format/canonical-json.js';
import { BucketDigest, bucketOf } from '../format/digest.js';
import { readIndex } from '../chain/chain.js';
import type { Manifest, SegmentRef } from '../format/manifest.js';
import { digestBatch, digestVectorOrder } from '../format/rows.js';
import { type SegmentLayout, decodeSegment, segmentLayout } from '../format/segment-codec.js';
import { ProgressReporter } from '../progress.js';
import type { IntegrityStore, SegmentReader } from '../repository/ports.js';
import { operationOptions, parseOptions } from '../options.js';

export const VerifyIntegrityOptionsSchema = z.strictObject({
  /** Only this collection. @default every collection */
  collection: z.string().optional(),
  /** Only this snapshot id (requires `collection`). @default every snapshot */
  snapshot: z.string().optional(),
  ...operationOptions,
});
export type VerifyIntegrityOptions = z.input<typeof VerifyIntegrityOptionsSchema>;

export interface IntegrityProblem {
  code: string;
  message: string;
  segment?: string;
}

export interface SnapshotIntegrity {
  collection: string;
  snapshot: string;
  ok: boolean;
  rows: number;
  problems: IntegrityProblem[];
}

export interface IntegrityReport {
  ok: boolean;
  snapshots: SnapshotIntegrity[];
}

export async function verifyIntegrity(repo: IntegrityStore, options: VerifyIntegrityOptions): Promise<IntegrityReport> {
  const opts = parseOptions(VerifyIntegrityOptionsSchema, options, 'verify');
  const { collection, snapshot, signal } = opts;
  if (snapshot !== undefined && collection === undefined) {
    throw new InvalidInputError('INVALID_OPTIONS', 'verify({ snapshot }) also needs { collection }.');
  }
  const progress = new ProgressReporter('verify-integrity', opts.onProgress);
  const report: IntegrityReport = { ok: true, snapshots: [] };
  const targets: { collection: string; id: string }[] = [];
  if (snapshot !== undefined && collection !== undefined) targets.push({ collection, id: snapshot });
  else {
    targets.push(...(await repo.snapshotRefs({ collection, signal })));
    // "ok" with nothing checked would read as a verified backup: a collection with no snapshot is an error.
    if (collection !== undefined && targets.length === 0) throw await repo.noSnapshotError(collection, signal);
  }
  /** Segments shared between snapshots are read and verified once per run; their digest sums are reused. */
  const verified = new Map<string, { problem: IntegrityProblem } | { plus: BucketDigest; minus: BucketDigest; rows: number }>();
  progress.emit('start');
  for (const t of targets) {
    const result: SnapshotIntegrity = { collection: t.collection, snapshot: t.id, ok: true, rows: 0, problems: [] };
    report.snapshots.push(result);
    let manifest: Manifest;
    try {
      manifest = await repo.readManifest(t.collection, t.id);
    } catch (err) {
      if (!(err instanceof VectordrError) || err.category === 'aborted') throw err;
      result.ok = false;
      report.ok = false;
      result.problems.push({ code: err.code, message: err.message });
      continue;
    }
    const link = manifest.kind === 'incremental';
    // A link's state is its parent's recorded digest, minus the previous digests, plus the new ones.
    let acc = new BucketDigest(manifest.digest.buckets);
    if (link) {
      try {
        const parent = await repo.readManifest(manifest.collection, manifest.parent as string);
        acc = BucketDigest.fromJSON(parent.digest);
      } catch (err) {
        if (!(err instanceof VectordrError) || err.category === 'aborted') throw err;
        result.ok = false;
        result.problems.push({
          code: 'CHAIN_INVALID',
          message: `Link ${manifest.id} builds on ${String(manifest.parent)}, which cannot be read (${err.code}): the chain is broken there, and this link and every later one cannot be restored.`,
        });
      }
    }
    const added = new BucketDigest(manifest.digest.buckets);
    const layout = segmentLayout(manifest.schema);
    const order = digestVectorOrder(manifest.schema);
    for (const ref of manifest.segments) {
      throwIfAborted(signal);
      const cacheKey = `${ref.key}${link ? ' link' : ''}`;
      let outcome = verified.get(cacheKey);
      if (!outcome) {
        outcome = await verifySegment(repo, ref, layout, order, manifest.digest.buckets, link, signal);
        verified.set(cacheKey, outcome);
      }
      if ('problem' in outcome) {
        result.ok = false;
        result.problems.push(outcome.problem);
      } else if (outcome.plus.buckets !== acc.buckets) {
        result.ok = false;
        result.problems.push({
          code: 'DIGEST_MISMATCH',
          message: `Segment ${ref.key} is shared by snapshots with different bucket counts.`,
          segment: ref.key,
        });
      } else {
        acc.merge(outcome.plus);
        acc.unmerge(outcome.minus);
        added.merge(outcome.plus);
        result.rows += outcome.rows;
      }
      progress.segments++;
      progress.bytes += ref.bytes;
      progress.rows += ref.rows;
      progress.emit('verify');
    }
    if (result.ok) {
      const json = acc.toJSON();
      if (json.collection !== manifest.digest.collection) {
        const buckets = acc.diff(manifest.digest);
        result.ok = false;
        result.problems.push({
          code: 'DIGEST_MISMATCH',
          message: `Collection digest differs from the manifest in ${buckets.length} bucket(s): ` + `${buckets.slice(0, 16).join(', ')}.`,
        });
      }
      if (result.rows !== manifest.rows.upserts + manifest.rows.deletes) {
        result.ok = false;
        result.problems.push({
          code: 'DIGEST_MISMATCH',
          message: `Segments hold ${result.rows} rows, the manifest says ` + `${manifest.rows.upserts + manifest.rows.deletes}.`,
        });
      }
    }
    if (manifest.deltaIndex) {
      const problem = await verifyIndex(repo, manifest, added, signal);
      if (problem) {
        result.ok = false;
        result.problems.push(problem);
      }
    }
    if (!result.ok) report.ok = false;
  }
  progress.emit('done');
  return report;
}

/**
 * Reads one segment, checks hash, row count, canonical payloads and stored record digests. `plus`
 * holds the digests of its upsert rows; `minus` the previous digests of a link's rows (a delete row
 * of a link has a zero digest and only a previous one; a full snapshot has no delete rows).
 */
async function verifySegment(
  repo: SegmentReader,
  ref: SegmentRef,
  layout: SegmentLayout,
  order: string[],
  buckets: number,
  link: boolean,
  signal: AbortSignal | undefined,
): Promise<{ problem: IntegrityProblem } | { plus: BucketDigest; minus: BucketDigest; rows: number }> {
  try {
    const bytes = await repo.getSegment(ref, signal);
    const rows = decodeSegment(layout, bytes, ref.key);
    if (rows.batch.length !== ref.rows) {
      throw new VectordrError(
        'SEGMENT_CORRUPT',
        'integrity',
        `Segment ${ref.key} holds ${rows.batch.length} rows, the manifest says ${ref.rows}.`,
      );
    }
    for (let i = 0; i < rows.payloadJson.length; i++) {
      if (canonicalPayload(rows.batch.payloads[i] ?? {}) !== rows.payloadJson[i]) {
        throw new VectordrError('DIGEST_MISMATCH', 'integrity', `Segment ${ref.key} row ${i} has a payload that is not canonical JSON.`);
      }
    }
    const deletes = rows.ops.map((op, i) => (op === 'delete' ? i : -1)).filter((i) => i >= 0);
    if (deletes.length > 0 && !link) {
      throw new VectordrError(
        'SEGMENT_CORRUPT',
        'integrity',
        `Segment ${ref.key} of a full snapshot holds ${deletes.length} delete row(s).`,
      );
    }
    if (link && !rows.prev)
      throw new VectordrError('SEGMENT_CORRUPT', 'integrity', `Segment ${ref.key} of a link has no prev_digest column.`);
    const scratch = new BucketDigest(buckets);
    const recomputed = digestBatch(layout.idType, order, rows.batch, scratch, rows.payloadJson);
    const plus = new BucketDigest(buckets);
    const minus = new BucketDigest(buckets);
    for (let i = 0; i < rows.batch.length; i++) {
      const stored = rows.digests.subarray(i * 32, i * 32 + 32);
      const b = recomputed.buckets[i] as number;
      if (rows.ops[i] === 'delete') {
        if (stored.some((x) => x !== 0))
          throw new VectordrError('DIGEST_MISMATCH', 'integrity', `Segment ${ref.key} row ${i}: a delete row with a non-zero digest.`);
      } else {
        if (Buffer.compare(stored, recomputed.digests.subarray(i * 32, i * 32 + 32)) !== 0) {
          throw new VectordrError('DIGEST_MISMATCH', 'integrity', `Segment ${ref.key}: stored record digests do not match the records.`);
        }
        plus.add(b, stored);
      }
      if (rows.prev?.valid[i]) minus.add(b, rows.prev.digests.subarray(i * 32, i * 32 + 32));
      else if (rows.ops[i] === 'delete') {
        throw new VectordrError('SEGMENT_CORRUPT', 'integrity', `Segment ${ref.key} row ${i}: a delete row without the previous digest.`);
      }
    }
    return { plus, minus, rows: rows.batch.length };
  } catch (err) {
    if (!(err instanceof VectordrError) || err.category === 'aborted') throw err;
    return { problem: { code: err.code, message: err.message, segment: ref.key } };
  }
}

/**
 * The delta index agrees with the segments: it is readable, in order, points inside the snapshot,
 * has one entry per row, and its upsert digests sum to the segments' (`added`).
 */
async function verifyIndex(
  repo: SegmentReader,
  manifest: Manifest,
  added: BucketDigest,
  signal: AbortSignal | undefined,
): Promise<IntegrityProblem | undefined> {
  const fromIndex = new BucketDigest(added.buckets);
  let entries = 0;
  try {
    for await (const e of readIndex(repo, manifest, signal)) {
      entries++;
      if (e.op === 'upsert') fromIndex.add(bucketOf(e.id, fromIndex.buckets), e.digest);
    }
  } catch (err) {
    if (!(err instanceof VectordrError) || err.category === 'aborted') throw err;
    return { code: err.code, message: err.message };
  }
  const rows = manifest.segments.reduce((n, r) => n + r.rows, 0);
  if (entries !== rows || fromIndex.collectionDigest() !== added.collectionDigest()) {
    return {
      code: 'DIGEST_MISMATCH',
      message: `The delta index of ${manifest.id} (${entries} entries) does not describe its ${rows} rows: a chain folded from it would be wrong. Take a new full snapshot.`,
    };
  }
  return undefined;
}
