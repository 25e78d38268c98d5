/** The types of the segment codec (segment-codec.ts re-exports them), apart so that its parts share them. */
import type { IdType, RecordBatch, RecordOp, VectorShape } from '../../model.js';

export const VECTOR_COLUMN_PREFIX = 'vec_';

/** A batch plus what the format stores beside it. */
export interface SegmentRows {
  batch: RecordBatch;
  /** Canonical payload JSON per row (what the digest hashed). */
  payloadJson: string[];
  /** `rows * 32` bytes of record digests. */
  digests: Uint8Array;
  ops: RecordOp[];
  /**
   * Segments of incremental links only (feature `incremental`): `rows * 32` bytes of the previous
   * record digest of each row's id (its digest in the parent chain), and `prevValid[i] === 0` where
   * the id had none (an insert). Column `prev_digest`, nullable `FIXED_LEN_BYTE_ARRAY(32)`.
   */
  prev?: { digests: Uint8Array; valid: Uint8Array };
}

export interface SegmentLayout {
  idType: IdType;
  /** The vector fields in schema order: a column `vec_<name>` each, typed by kind and element (docs/format.md, "Vector kinds"). */
  vectors: VectorShape[];
}

export interface EncodeOptions {
  /**
   * Compression of vector values. Float32 embeddings gain ~8-10% from zstd at ~3x the encode time
   * (bench/segment-encode-micro.ts), so vectors default to PLAIN, uncompressed, without dictionary or
   * statistics; id, op, digest and payload columns are always zstd.
   */
  vectorCompression: 'none' | 'zstd';
}
