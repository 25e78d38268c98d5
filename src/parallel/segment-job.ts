/**
 * The CPU work of one segment, after its rows are scanned and their payloads canonical: record
 * digests and buckets, the Parquet encoding, and the segment's SHA-256 (its content address). It
 * needs nothing but its input, so it runs the same on the main thread or in a worker
 * (segment-pool.ts); a worker receives it by structured clone (its payloads, one UTF-8 buffer, and an
 * owned batch's arrays by transfer) and sends the product back by transfer.
 */
import type { AnyVectorColumn, RecordOp, VectorField } from '../model.js';
import { validateBatchVectors } from '../validate.js';
import { sha256Hex } from '../format/digest.js';
import type { PackedText } from '../format/packed-text.js';
import { hashRecords } from '../format/rows.js';
import { type SegmentLayout, encodeSegment } from '../format/segment-codec.js';

export interface SegmentJob {
  layout: SegmentLayout;
  /** Vector field names in digest order (digestVectorOrder). */
  order: string[];
  /** The repository's bucket count. */
  buckets: number;
  length: number;
  ids: BigInt64Array | string[];
  vectors: Record<string, AnyVectorColumn>;
  /**
   * Canonical JSON per row, UTF-8: what is hashed and stored. Its buffer belongs to the job (it
   * moves to the worker, leaving it empty here).
   */
  payloadJson: PackedText;
  ops: RecordOp[];
  vectorCompression: 'none' | 'zstd';
  /** Vectors are checked (dims, finite, nulls) before anything else; a failure is the job's InvalidInputError. */
  check?: { fields: (Pick<VectorField, 'name' | 'kind' | 'dims' | 'nullable'> & { element?: VectorField['element'] })[]; plugin: string };
}

export interface SegmentProduct {
  /** The Parquet file. */
  bytes: Uint8Array;
  /** SHA-256 of `bytes`, lower-case hex. */
  sha256: string;
  /** `length * 32` bytes of record digests. */
  digests: Uint8Array;
  buckets: Uint32Array;
}

export function runSegmentJob(job: SegmentJob): SegmentProduct {
  const batch = { length: job.length, ids: job.ids, vectors: job.vectors, payloads: [] };
  if (job.check) validateBatchVectors(batch, job.check.fields, job.check.plugin);
  const { digests, buckets } = hashRecords(job.layout.idType, job.order, batch, job.payloadJson, job.buckets);
  const bytes = encodeSegment(
    job.layout,
    { batch, payloadJson: job.payloadJson, digests, ops: job.ops },
    { vectorCompression: job.vectorCompression },
  );
  return { bytes, sha256: sha256Hex(bytes), digests, buckets };
}
