/**
 * Restore re-checks every record it is about to write against the record digest stored beside it
 * (docs/format.md, "Restore protocol"): segment bytes pass their SHA-256 (or AES-GCM) check, but a
 * manifest that names forged segments passes that too, and the digest column is the only statement
 * of what each row was. A mismatch fails the restore before its rows reach the engine, so before
 * any swap. For a full snapshot restored from its first segment the rows' digests also add up to
 * the manifest's collection digest, checked once every row is in and before the swap.
 */
import { IntegrityError } from '../errors.js';
import { BucketDigest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import { digestVectorOrder, hashRecords } from '../format/rows.js';
import type { SegmentRows } from '../format/segment-codec.js';

/** Throws DIGEST_MISMATCH for the first upsert row of `rows` whose recomputed record digest differs from the stored one. */
export function checkRecordDigests(manifest: Manifest, rows: SegmentRows, key: string, acc?: BucketDigest): void {
  const { batch } = rows;
  const buckets = acc ? acc.buckets : 1;
  const recomputed = hashRecords(manifest.schema.idType, digestVectorOrder(manifest.schema), batch, rows.payloadJson, buckets);
  const stored = rows.digests;
  for (let i = 0; i < batch.length; i++) {
    if (rows.ops[i] === 'delete') continue;
    const at = i * 32;
    for (let k = at; k < at + 32; k++) {
      if (stored[k] !== recomputed.digests[k]) {
        throw new IntegrityError(
          'DIGEST_MISMATCH',
          `Segment ${key} row ${i} does not match its record digest: the segment was altered or forged. The restore ` +
            `stopped before writing it (nothing was swapped in); run repo.verify() and restore another snapshot.`,
          { details: { key, row: i } },
        );
      }
    }
    acc?.add(recomputed.buckets[i] as number, stored.subarray(at, at + 32));
  }
}

/** A fresh accumulator for a full snapshot's rows, to compare with its collection digest once all are read. */
export function collectionAccumulator(manifest: Manifest): BucketDigest {
  return new BucketDigest(manifest.digest.buckets);
}

/** Throws DIGEST_MISMATCH when the rows read (`acc`) do not add up to the manifest's collection digest. */
export function checkCollectionDigest(manifest: Manifest, acc: BucketDigest): void {
  if (acc.collectionDigest() === manifest.digest.collection) return;
  throw new IntegrityError(
    'DIGEST_MISMATCH',
    `The rows of snapshot ${manifest.id} do not add up to the collection digest its manifest records: a segment was ` +
      `replaced by another snapshot's or the manifest was altered. Nothing was swapped in; run repo.verify().`,
    { details: { snapshot: manifest.id } },
  );
}
