/**
 * Sparse rows checked before a restore writes them (issue 20). Two checks:
 *
 * - **Against the target's limit, before anything is created.** A sparse field that declares no
 *   dimension count (a Qdrant or Milvus sparse vector: indices anywhere in u32) going into an engine
 *   that declares one (`capabilities.maxDimsOf.sparse`; pgvector's sparsevec holds at most
 *   1,000,000,000 dimensions) cannot be decided from the schema: every segment is read once before
 *   the target is created, and an index at or beyond the limit is refused naming the row, the field
 *   and `omitVectors`. A field with a declared count is decided by the schema (`checkTargetSupports`),
 *   since every stored index is below it (invariant 8) — which the second check enforces.
 * - **Invariant 8 as each segment is decoded**, before its rows are written: indices strictly
 *   ascending and below the declared count. A stored segment that breaks it was damaged or forged
 *   (record digests can be recomputed in a plaintext repository): SEGMENT_CORRUPT, and the staging
 *   collection is dropped, so nothing half-restored lingers.
 */
import { maxDimsFor, type AdapterCapabilities } from '../adapter.js';
import { IntegrityError, InvalidInputError, VectordrError, throwIfAborted } from '../errors.js';
import type { Manifest, SegmentRef } from '../format/manifest.js';
import { decodeSegment, segmentLayout } from '../format/segment-codec.js';
import { type CollectionSchema, type RecordBatch, type VectorField, kindOf } from '../model.js';
import type { SegmentReader } from '../repository/ports.js';
import { validateBatchVectors } from '../validate.js';

/** The sparse fields of `schema` without a declared count, with the limit the target sets them. */
export function undecidedSparseFields(schema: CollectionSchema, caps: AdapterCapabilities): { name: string; limit: number }[] {
  const out: { name: string; limit: number }[] = [];
  for (const f of schema.vectors) {
    const limit = kindOf(f) === 'sparse' && f.dims === undefined ? maxDimsFor(caps, f) : undefined;
    if (limit !== undefined) out.push({ name: f.name, limit });
  }
  return out;
}

/**
 * Reads every segment and refuses (DIMENSION_MISMATCH) the first index of `fields` at or beyond its
 * limit; called before the target is created. Rows a chain later deletes or supersedes count too.
 */
export async function checkSparseLimits(
  repo: SegmentReader,
  segments: readonly { ref: SegmentRef; manifest: Manifest }[],
  fields: readonly { name: string; limit: number }[],
  engine: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (fields.length === 0) return;
  for (const { ref, manifest } of segments) {
    throwIfAborted(signal);
    const { batch } = decodeSegment(segmentLayout(manifest.schema), await repo.getSegment(ref, signal), ref.key, { rows: ref.rows });
    for (const { name, limit } of fields) {
      const col = batch.vectors[name];
      if (col === undefined || !('kind' in col) || col.kind !== 'sparse') continue;
      for (let r = 0; r < batch.length; r++) {
        if (col.valid && col.valid[r] === 0) continue;
        const to = col.offsets[r + 1] as number;
        for (let k = col.offsets[r] as number; k < to; k++) {
          const index = col.indices[k] as number;
          if (index < limit) continue;
          throw new InvalidInputError(
            'DIMENSION_MISMATCH',
            `Sparse vector field ${JSON.stringify(name)} declares no dimension count, so ${engine} gives it its largest, ${limit}; ` +
              `record ${String(batch.ids[r])} (segment ${ref.key}) has index ${index}, beyond it. Nothing was created. ` +
              `Pass omitVectors: [${JSON.stringify(name)}] to restore without it, or restore into an engine without that limit.`,
            { plugin: engine, details: { field: name, id: String(batch.ids[r]), index, limit } },
          );
        }
      }
    }
  }
}

/** Invariant 8 on the sparse fields of a decoded segment, before its rows are written: SEGMENT_CORRUPT when broken. */
export function checkSparseRows(batch: RecordBatch, fields: readonly VectorField[], key: string): void {
  const sparse = fields.filter((f) => kindOf(f) === 'sparse');
  if (sparse.length === 0) return;
  try {
    validateBatchVectors(batch, sparse);
  } catch (err) {
    if (!(err instanceof VectordrError)) throw err;
    throw new IntegrityError(
      'SEGMENT_CORRUPT',
      `Segment ${key} breaks the sparse vector invariant: ${err.reason} Nothing of it was written.`,
      {
        cause: err,
        details: { key },
      },
    );
  }
}
