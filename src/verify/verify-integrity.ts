/**
 * Integrity verification, no database needed: every segment re-read and re-hashed, every record
 * digest recomputed from the stored id, vectors and payload, every payload checked to be canonical,
 * and the bucket sums and collection digest recomputed and compared with the manifest.
 */
import { z } from 'zod';
import { InvalidInputError, VectordrError, throwIfAborted } from '../errors.js';
import { canonicalPayload } from '../format/canonical-json.js';
import { BucketDigest } from '../format/digest.js';
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
  const verified = new Map<string, { problem: IntegrityProblem } | { acc: BucketDigest; rows: number }>();
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
    const acc = new BucketDigest(manifest.digest.buckets);
    const layout = segmentLayout(manifest.schema);
    const order = digestVectorOrder(manifest.schema);
    for (const ref of manifest.segments) {
      throwIfAborted(signal);
      let outcome = verified.get(ref.key);
      if (!outcome) {
        outcome = await verifySegment(repo, ref, layout, order, manifest.digest.buckets, signal);
        verified.set(ref.key, outcome);
      }
      if ('problem' in outcome) {
        result.ok = false;
        result.problems.push(outcome.problem);
      } else if (outcome.acc.buckets !== acc.buckets) {
        result.ok = false;
        result.problems.push({
          code: 'DIGEST_MISMATCH',
          message: `Segment ${ref.key} is shared by snapshots with different bucket counts.`,
          segment: ref.key,
        });
      } else {
        acc.merge(outcome.acc);
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
    if (!result.ok) report.ok = false;
  }
  progress.emit('done');
  return report;
}

/** Reads one segment, checks hash, row count, canonical payloads and stored record digests. */
async function verifySegment(
  repo: SegmentReader,
  ref: SegmentRef,
  layout: SegmentLayout,
  order: string[],
  buckets: number,
  signal: AbortSignal | undefined,
): Promise<{ problem: IntegrityProblem } | { acc: BucketDigest; rows: number }> {
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
    const acc = new BucketDigest(buckets);
    const recomputed = digestBatch(layout.idType, order, rows.batch, acc, rows.payloadJson);
    if (Buffer.compare(Buffer.from(recomputed.digests), Buffer.from(rows.digests)) !== 0) {
      throw new VectordrError('DIGEST_MISMATCH', 'integrity', `Segment ${ref.key}: stored record digests do not match the records.`);
    }
    return { acc, rows: rows.batch.length };
  } catch (err) {
    if (!(err instanceof VectordrError) || err.category === 'aborted') throw err;
    return { problem: { code: err.code, message: err.message, segment: ref.key } };
  }
}
