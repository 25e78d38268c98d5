/**
 * The CPU work of verifying one segment (verify-integrity.ts), from its plaintext bytes: SHA-256
 * against the manifest, decoding, the row count, canonical payloads, every record digest recomputed
 * and compared with the stored one, and the bucket sums it adds (and, for a link, removes). It
 * needs nothing but its input, so it runs the same on the main thread or in a worker
 * (segment-pool.ts), which receives the bytes by transfer.
 *
 * It never throws because of what a segment holds: a segment failing any check is a `problem`.
 */
import { VectordrError } from '../errors.js';
import { isCanonicalPayloadText } from '../format/canonical-json.js';
import { BucketDigest, type BucketDigestJson, sha256Hex } from '../format/digest.js';
import { hashRecords } from '../format/rows.js';
import { type SegmentLayout, type SegmentRows, decodeSegment } from '../format/segment-codec.js';

export interface VerifyJob {
  /** The segment's key, for messages. */
  key: string;
  /** Its plaintext bytes (moved to a worker by transfer). */
  bytes: Uint8Array;
  /** The SHA-256 the manifest records (hex); undefined when the reader checked it already. */
  sha256: string | undefined;
  /** The rows the manifest records. */
  rows: number;
  layout: SegmentLayout;
  /** Vector field names in digest order (digestVectorOrder). */
  order: string[];
  /** The snapshot's bucket count. */
  buckets: number;
  /** A segment of an incremental link (delete rows and a prev_digest column allowed). */
  link: boolean;
}

/** Bucket sums as plain data, to cross threads (BucketDigest.fromJSON reads it back). */
export type BucketState = Pick<BucketDigestJson, 'buckets' | 'counts' | 'sums'>;

export type VerifyOutcome =
  | { problem: { code: string; message: string; segment: string } }
  /** `plus`: the digests of its upsert rows; `minus`: the previous digests of a link's rows. */
  | { plus: BucketState; minus: BucketState; rows: number };

class Problem extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function runVerifyJob(job: VerifyJob): VerifyOutcome {
  try {
    return check(job);
  } catch (err) {
    if (err instanceof Problem || (err instanceof VectordrError && err.category !== 'aborted')) {
      return { problem: { code: err.code, message: err.message, segment: job.key } };
    }
    // Whatever else bad bytes make a decoder throw (a RangeError, a TypeError) is a damaged segment too.
    const message = err instanceof Error ? err.message : String(err);
    return { problem: { code: 'SEGMENT_CORRUPT', message: `Segment ${job.key} cannot be decoded: ${message}`, segment: job.key } };
  }
}

function check(job: VerifyJob): VerifyOutcome {
  const { key } = job;
  if (job.sha256 !== undefined) {
    const actual = sha256Hex(job.bytes);
    if (actual !== job.sha256) {
      throw new Problem('SEGMENT_CORRUPT', `Segment ${key} fails its SHA-256 check (found ${actual}); the stored bytes were altered.`);
    }
  }
  // Bounded by the manifest's row count and the decode limits before anything is expanded.
  // Payloads stay text: they are checked as text and hashed as stored.
  const rows: SegmentRows = decodeSegment(job.layout, job.bytes, key, { rows: job.rows }, { payloadObjects: false });
  const n = rows.batch.length;
  if (n !== job.rows) throw new Problem('SEGMENT_CORRUPT', `Segment ${key} holds ${n} rows, the manifest says ${job.rows}.`);
  for (let i = 0; i < n; i++) {
    if (!isCanonicalPayloadText(rows.payloadJson[i] as string)) {
      throw new Problem('DIGEST_MISMATCH', `Segment ${key} row ${i} has a payload that is not canonical JSON.`);
    }
  }
  let deletes = 0;
  for (const op of rows.ops) if (op === 'delete') deletes++;
  if (deletes > 0 && !job.link) {
    throw new Problem('SEGMENT_CORRUPT', `Segment ${key} of a full snapshot holds ${deletes} delete row(s).`);
  }
  if (job.link && !rows.prev) throw new Problem('SEGMENT_CORRUPT', `Segment ${key} of a link has no prev_digest column.`);
  const recomputed = hashRecords(job.layout.idType, job.order, rows.batch, rows.payloadJson, job.buckets);
  const plus = new BucketDigest(job.buckets);
  const minus = new BucketDigest(job.buckets);
  const stored = rows.digests;
  for (let i = 0; i < n; i++) {
    const at = i * 32;
    const digest = stored.subarray(at, at + 32);
    const b = recomputed.buckets[i] as number;
    if (rows.ops[i] === 'delete') {
      if (digest.some((x) => x !== 0))
        throw new Problem('DIGEST_MISMATCH', `Segment ${key} row ${i}: a delete row with a non-zero digest.`);
    } else {
      for (let k = 0; k < 32; k++) {
        if (stored[at + k] !== recomputed.digests[at + k]) {
          throw new Problem('DIGEST_MISMATCH', `Segment ${key}: stored record digests do not match the records.`);
        }
      }
      plus.add(b, digest);
    }
    if (rows.prev?.valid[i]) minus.add(b, rows.prev.digests.subarray(at, at + 32));
    else if (rows.ops[i] === 'delete') {
      throw new Problem('SEGMENT_CORRUPT', `Segment ${key} row ${i}: a delete row without the previous digest.`);
    }
  }
  return { plus: state(plus), minus: state(minus), rows: n };
}

function state(d: BucketDigest): BucketState {
  return { buckets: d.buckets, counts: Array.from(d.counts), sums: Array.from({ length: d.buckets }, (_, b) => d.sumHex(b)) };
}
