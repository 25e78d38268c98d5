/**
 * Segment codec: one segment is one Parquet file (zstd) with the columns
 *
 *   id        INT64 (int64 ids) or UTF8 (string/uuid ids)
 *   op        UTF8  'upsert' | 'delete'
 *   digest    FIXED_LEN_BYTE_ARRAY(32)  record digest (see digest.ts)
 *   payload   UTF8  canonical JSON (RFC 8785)
 *   vec_<n>   FixedSizeList<float32>[dims] per vector field, nullable
 *
 * readable by DuckDB (`read_parquet`), pyarrow and hyparquet. Written by a direct Parquet writer for
 * exactly this layout (parquet/segment-writer.ts) and read by the matching direct reader
 * (parquet/segment-reader.ts); a file the direct reader does not recognise (an older or foreign
 * writer's layout) is read through parquet-wasm and apache-arrow (parquet/generic-codec.ts). Flat
 * columns are zstd-compressed; vector values are PLAIN, uncompressed unless asked (EncodeOptions).
 */
import { IntegrityError } from '../errors.js';
import { type CollectionSchema, float32Column, requireDenseFloat32 } from '../model.js';
import { decodeSegmentGeneric } from './parquet/generic-codec.js';
import { Unsupported, readSegmentParquet } from './parquet/segment-reader.js';
import { writeSegmentParquet } from './parquet/segment-writer.js';
import { ZstdLoadError } from './parquet/zstd.js';
import { type EncodeOptions, type SegmentLayout, type SegmentRows, VECTOR_COLUMN_PREFIX } from './parquet/segment-types.js';

export { VECTOR_COLUMN_PREFIX } from './parquet/segment-types.js';
export type { EncodeOptions, SegmentLayout, SegmentRows } from './parquet/segment-types.js';

/** The columns a schema's segments have. */
export function segmentLayout(schema: Pick<CollectionSchema, 'idType' | 'vectors'>): SegmentLayout {
  return {
    idType: schema.idType,
    vectors: schema.vectors.map((v) => ({ name: v.name, dims: requireDenseFloat32(v, 'the segment codec') })),
  };
}

/** Encodes a segment (docs/format.md#segments); the same layout whatever `options` ask of vector compression. */
export function encodeSegment(
  layout: SegmentLayout,
  rows: SegmentRows,
  options: EncodeOptions = { vectorCompression: 'none' },
): Uint8Array {
  const { batch } = rows;
  return writeSegmentParquet({
    rows: batch.length,
    ids: batch.ids,
    idType: layout.idType,
    ops: rows.ops,
    digests: rows.digests,
    payloadJson: rows.payloadJson,
    ...(rows.prev ? { prev: rows.prev } : {}),
    vectors: layout.vectors.map((v) => {
      const given = batch.vectors[v.name];
      if (!given) throw new RangeError(`batch has no vector column ${v.name}`);
      const col = float32Column(given, v.name, 'the segment codec');
      return {
        column: VECTOR_COLUMN_PREFIX + v.name,
        name: v.name,
        dims: v.dims,
        data: col.data,
        ...(col.valid ? { valid: col.valid } : {}),
      };
    }),
    vectorCompression: options.vectorCompression,
    vectorPrefix: VECTOR_COLUMN_PREFIX,
  });
}

/**
 * Decodes a segment; damage is `IntegrityError('SEGMENT_CORRUPT')` naming `key`. Reads the direct
 * writer's layout (and parquet-wasm's) itself, anything else through parquet-wasm.
 */
export function decodeSegment(layout: SegmentLayout, bytes: Uint8Array, key = 'segment'): SegmentRows {
  let rows: SegmentRows;
  try {
    rows = readSegmentParquet(layout, bytes);
  } catch (err) {
    if (err instanceof Unsupported) rows = decodeSegmentGeneric(layout, bytes, key);
    else throw damaged(err, key);
  }
  // zstd pages carry no checksum: a damaged `op` is caught here, damaged ids, payloads and vectors by
  // the record digests (restore and verify recompute them).
  for (const op of rows.ops) {
    if (op !== 'upsert' && op !== 'delete') throw damaged(new Error(`op ${JSON.stringify(op).slice(0, 40)}`), key);
  }
  return rows;
}

/** `err` as the typed damage error naming `key` (a failure to load zstd is the installation's, passed on). */
function damaged(err: unknown, key: string): Error {
  if (err instanceof ZstdLoadError || err instanceof IntegrityError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new IntegrityError('SEGMENT_CORRUPT', `Segment ${key} is damaged (${why}); restore it from another copy or take a new snapshot.`, {
    cause: err,
  });
}
