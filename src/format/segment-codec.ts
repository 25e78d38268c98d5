/**
 * Segment codec: one segment is one Parquet file (zstd) with the columns
 *
 *   id        INT64 (int64 ids) or UTF8 (string/uuid ids)
 *   op        UTF8  'upsert' | 'delete'
 *   digest    FIXED_LEN_BYTE_ARRAY(32)  record digest (see digest.ts)
 *   payload   UTF8  canonical JSON (RFC 8785)
 *   vec_<n>   per vector field, nullable: FixedSizeList<float32>[dims] (dense float32), FixedSizeBinary (dense
 *             float16/bfloat16/uint8/int8/binary), Struct<indices, values> (sparse), List<FixedSizeList> (multi)
 *
 * readable by DuckDB (`read_parquet`), pyarrow and hyparquet. Written by a direct Parquet writer for
 * exactly this layout (parquet/segment-writer.ts) and read by the matching direct reader
 * (parquet/segment-reader.ts); a file the direct reader does not recognise (an older or foreign
 * writer's layout) is read through parquet-wasm and apache-arrow (parquet/generic-codec.ts). Flat
 * columns are zstd-compressed; vector values are PLAIN, uncompressed unless asked (EncodeOptions).
 */
import { IntegrityError } from '../errors.js';
import { type CollectionSchema, type ElementColumn, elementRowWidth, isFloat32Column, kindOf } from '../model.js';
import { leBytes } from './digest.js';
import { decodeSegmentGeneric, encodeSegmentGeneric } from './parquet/generic-codec.js';
import { type ReadOptions, Unsupported, readSegmentParquet } from './parquet/segment-reader.js';
import { type SegmentColumns, writeSegmentParquet } from './parquet/segment-writer.js';
import { type DecodeLimits, LimitExceeded, boundForeignSegment, checkPayloadCells } from './parquet/decode-limits.js';
import { ZstdLoadError } from './parquet/zstd.js';
import { type PackedText, packedCount, textAt } from './packed-text.js';
import { type EncodeOptions, type SegmentLayout, type SegmentRows, VECTOR_COLUMN_PREFIX } from './parquet/segment-types.js';

export { VECTOR_COLUMN_PREFIX } from './parquet/segment-types.js';
export type { EncodeOptions, SegmentLayout, SegmentRows } from './parquet/segment-types.js';
export type { DecodeLimits } from './parquet/decode-limits.js';
export type { ReadOptions } from './parquet/segment-reader.js';

/** The columns a schema's segments have. */
export function segmentLayout(schema: Pick<CollectionSchema, 'idType' | 'vectors'>): SegmentLayout {
  return {
    idType: schema.idType,
    vectors: schema.vectors.map((v) => ({
      name: v.name,
      kind: kindOf(v),
      element: v.element ?? 'float32',
      ...(v.dims === undefined ? {} : { dims: v.dims }),
    })),
  };
}

/** True when a layout has a nested vector column (sparse, multi): those segments go through the maintained library. */
export function hasNestedVectors(layout: SegmentLayout): boolean {
  return layout.vectors.some((v) => kindOf(v) !== 'dense');
}

/**
 * Encodes a segment (docs/format.md#segments); the same layout whatever `options` ask of vector
 * compression. Dense vectors of every element type go through the direct writer; a segment with a
 * sparse or multi column through apache-arrow and parquet-wasm (decision 5: nested kinds through the
 * maintained library), so float32 segments keep the fast path.
 */
export function encodeSegment(
  layout: SegmentLayout,
  rows: Omit<SegmentRows, 'payloadJson'> & { payloadJson: string[] | PackedText },
  options: EncodeOptions = { vectorCompression: 'none' },
): Uint8Array {
  if (hasNestedVectors(layout)) {
    const { payloadJson } = rows;
    const texts = Array.isArray(payloadJson)
      ? payloadJson
      : Array.from({ length: packedCount(payloadJson) }, (_, i) => textAt(payloadJson, i));
    return encodeSegmentGeneric(layout, { ...rows, payloadJson: texts }, options);
  }
  const { batch } = rows;
  return writeSegmentParquet({
    rows: batch.length,
    ids: batch.ids,
    idType: layout.idType,
    ops: rows.ops,
    digests: rows.digests,
    payloadJson: rows.payloadJson,
    ...(rows.prev ? { prev: rows.prev } : {}),
    vectors: layout.vectors.map((v): SegmentColumns['vectors'][number] => {
      const col = batch.vectors[v.name];
      if (!col) throw new RangeError(`batch has no vector column ${v.name}`);
      const column = VECTOR_COLUMN_PREFIX + v.name;
      const valid = col.valid ? { valid: col.valid } : {};
      if (isFloat32Column(col)) return { column, name: v.name, dims: col.dims, data: col.data, ...valid };
      if (col.kind !== 'dense') throw new RangeError(`vector column ${v.name} is ${col.kind}, the layout says dense`);
      const width = elementRowWidth(col.element, col.dims) * col.data.BYTES_PER_ELEMENT;
      return { column, name: v.name, dims: col.dims, width, bytes: elementBytes(col.data), ...valid };
    }),
    vectorCompression: options.vectorCompression,
    vectorPrefix: VECTOR_COLUMN_PREFIX,
  });
}

/** Raw elements as little-endian bytes (float16/bfloat16 bit patterns are u16). */
function elementBytes(data: ElementColumn['data']): Uint8Array {
  return leBytes(data);
}

/**
 * Decodes a segment; damage is `IntegrityError('SEGMENT_CORRUPT')` naming `key`. Reads the direct
 * writer's layout (and parquet-wasm's) itself, anything else through parquet-wasm (which parses
 * payloads whatever `options.payloadObjects` says).
 */
export function decodeSegment(
  layout: SegmentLayout,
  bytes: Uint8Array,
  key = 'segment',
  limits?: DecodeLimits,
  options?: ReadOptions,
): SegmentRows {
  let rows: SegmentRows;
  try {
    rows = readSegmentParquet(layout, bytes, limits, options);
  } catch (err) {
    if (!(err instanceof Unsupported)) throw damaged(err, key);
    // Segments with sparse or multi columns always come this way: damage in them is typed too.
    try {
      // parquet-wasm's zstd output is not capped: its pages are proven to expand as claimed first.
      boundForeignSegment(bytes, limits);
      rows = decodeSegmentGeneric(layout, bytes, key);
      checkPayloadCells(rows.payloadJson, limits);
    } catch (foreign) {
      throw damaged(foreign, key);
    }
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
  if (err instanceof LimitExceeded) {
    return new IntegrityError(
      'SEGMENT_TOO_LARGE',
      `Segment ${key} is refused before it is decoded: ${why}. Unless its records really are that large (the bounds ` +
        `are in docs/security.md), the repository was tampered with or damaged: restore from another copy or use another snapshot.`,
      { cause: err, details: { key } },
    );
  }
  return new IntegrityError('SEGMENT_CORRUPT', `Segment ${key} is damaged (${why}); restore it from another copy or take a new snapshot.`, {
    cause: err,
  });
}
