/**
 * Segment codec: one segment is one Parquet file (zstd) with the columns
 *
 *   id        INT64 (int64 ids) or UTF8 (string/uuid ids)
 *   op        UTF8  'upsert' | 'delete'
 *   digest    FIXED_LEN_BYTE_ARRAY(32)  record digest (see digest.ts)
 *   payload   UTF8  canonical JSON (RFC 8785)
 *   vec_<n>   FixedSizeList<float32>[dims] per vector field, nullable
 *
 * readable by DuckDB (`read_parquet`) and pyarrow. Built with apache-arrow + parquet-wasm. Flat
 * columns are zstd-compressed; vector values are PLAIN, uncompressed unless asked (EncodeOptions).
 */
import * as arrow from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { IntegrityError } from '../errors.js';
import type { CollectionSchema, IdType, Payload, RecordBatch, RecordOp, VectorColumn } from '../model.js';
import { parsePayload } from './canonical-json.js';

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
  vectors: { name: string; dims: number }[];
}

/** The columns a schema's segments have. */
export function segmentLayout(schema: Pick<CollectionSchema, 'idType' | 'vectors'>): SegmentLayout {
  return { idType: schema.idType, vectors: schema.vectors.map((v) => ({ name: v.name, dims: v.dims })) };
}

function validityBitmap(valid: Uint8Array): { bitmap: Uint8Array; nullCount: number } {
  const bitmap = new Uint8Array(Math.ceil(valid.length / 8));
  let nullCount = 0;
  for (let i = 0; i < valid.length; i++) {
    if (valid[i]) bitmap[i >> 3] = (bitmap[i >> 3] as number) | (1 << (i & 7));
    else nullCount++;
  }
  return { bitmap, nullCount };
}

export interface EncodeOptions {
  /**
   * Compression of vector values. Float32 embeddings gain ~8-10% from zstd at ~3x the encode time
   * (bench/segment-encode-micro.ts), so vectors default to PLAIN, uncompressed, without dictionary or
   * statistics; id, op, digest and payload columns are always zstd.
   */
  vectorCompression: 'none' | 'zstd';
}

/** Flat columns by name; parquet-wasm cannot address the nested vector leaf, so vectors take the global setting. */
const FLAT_COLUMNS = ['id', 'op', 'digest', 'payload', 'prev_digest'];

export function encodeSegment(
  layout: SegmentLayout,
  rows: SegmentRows,
  options: EncodeOptions = { vectorCompression: 'none' },
): Uint8Array {
  const { batch } = rows;
  const n = batch.length;
  const columns: Record<string, arrow.Vector> = {};
  columns.id = batch.ids instanceof BigInt64Array ? arrow.makeVector(batch.ids) : arrow.vectorFromArray(batch.ids, new arrow.Utf8());
  columns.op = arrow.vectorFromArray(rows.ops, new arrow.Utf8());
  columns.digest = arrow.makeVector(arrow.makeData({ type: new arrow.FixedSizeBinary(32), length: n, nullCount: 0, data: rows.digests }));
  columns.payload = arrow.vectorFromArray(rows.payloadJson, new arrow.Utf8());
  if (rows.prev) {
    const nulls = validityBitmap(rows.prev.valid);
    columns.prev_digest = arrow.makeVector(
      arrow.makeData({
        type: new arrow.FixedSizeBinary(32),
        length: n,
        nullCount: nulls.nullCount,
        nullBitmap: nulls.bitmap,
        data: rows.prev.digests,
      }),
    );
  }
  for (const v of layout.vectors) {
    const col = batch.vectors[v.name];
    if (!col) throw new RangeError(`batch has no vector column ${v.name}`);
    const child = arrow.makeData({ type: new arrow.Float32(), length: n * v.dims, nullCount: 0, data: col.data });
    const type = new arrow.FixedSizeList(v.dims, new arrow.Field('item', new arrow.Float32(), false));
    const nulls = col.valid ? validityBitmap(col.valid) : undefined;
    columns[VECTOR_COLUMN_PREFIX + v.name] = arrow.makeVector(
      nulls && nulls.nullCount > 0
        ? arrow.makeData({ type, length: n, nullCount: nulls.nullCount, nullBitmap: nulls.bitmap, child })
        : arrow.makeData({ type, length: n, nullCount: 0, child }),
    );
  }
  const ipc = arrow.tableToIPC(new arrow.Table(columns), 'stream');
  const table = parquet.Table.fromIPCStream(ipc);
  let props = new parquet.WriterPropertiesBuilder()
    .setCompression(options.vectorCompression === 'zstd' ? parquet.Compression.ZSTD : parquet.Compression.UNCOMPRESSED)
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(parquet.EnabledStatistics.None)
    .setCreatedBy('vectordr format v1')
    .setMaxRowGroupSize(Math.max(1, n));
  for (const c of FLAT_COLUMNS) {
    props = props
      .setColumnCompression(c, parquet.Compression.ZSTD)
      .setColumnDictionaryEnabled(c, c === 'op')
      .setColumnStatisticsEnabled(c, c === 'id' ? parquet.EnabledStatistics.Chunk : parquet.EnabledStatistics.None);
  }
  return parquet.writeParquet(table, props.build());
}

export function decodeSegment(layout: SegmentLayout, bytes: Uint8Array, key = 'segment'): SegmentRows {
  let table: arrow.Table;
  try {
    table = arrow.tableFromIPC(parquet.readParquet(bytes).intoIPCStream());
  } catch (err) {
    throw new IntegrityError(
      'SEGMENT_CORRUPT',
      `Segment ${key} is not a readable Parquet file; restore it from another copy or take a new ` + `snapshot.`,
      { cause: err },
    );
  }
  const n = table.numRows;
  const column = (name: string): arrow.Vector => {
    const c = table.getChild(name);
    if (!c) throw new IntegrityError('SEGMENT_CORRUPT', `Segment ${key} lacks column ${name}.`);
    return c;
  };

  const idCol = column('id');
  let ids: BigInt64Array | string[];
  if (layout.idType === 'int64') {
    ids = new BigInt64Array(n);
    let o = 0;
    for (const d of idCol.data) {
      ids.set((d.values as BigInt64Array).subarray(d.offset, d.offset + d.length), o);
      o += d.length;
    }
  } else {
    ids = idCol.toArray() as string[];
  }
  const ops = column('op').toArray() as RecordOp[];
  const payloadJson = column('payload').toArray() as string[];
  const digests = new Uint8Array(n * 32);
  {
    let o = 0;
    for (const d of column('digest').data) {
      digests.set((d.values as Uint8Array).subarray(d.offset * 32, (d.offset + d.length) * 32), o * 32);
      o += d.length;
    }
  }
  let prev: SegmentRows['prev'];
  const prevCol = table.getChild('prev_digest');
  if (prevCol) {
    const pd = new Uint8Array(n * 32);
    const valid = new Uint8Array(n);
    let o = 0;
    for (const d of prevCol.data) {
      pd.set((d.values as Uint8Array).subarray(d.offset * 32, (d.offset + d.length) * 32), o * 32);
      for (let i = 0; i < d.length; i++) valid[o + i] = d.getValid(i) ? 1 : 0;
      o += d.length;
    }
    prev = { digests: pd, valid };
  }
  const vectors: Record<string, VectorColumn> = {};
  for (const v of layout.vectors) {
    const col = column(VECTOR_COLUMN_PREFIX + v.name);
    const data = new Float32Array(n * v.dims);
    let valid: Uint8Array | undefined;
    let o = 0;
    for (const d of col.data) {
      const type = d.type as arrow.FixedSizeList;
      if (type.listSize !== v.dims) {
        throw new IntegrityError(
          'SEGMENT_CORRUPT',
          `Segment ${key}: vector ${v.name} has ${type.listSize} dims, the manifest says ${v.dims}.`,
        );
      }
      const child = d.children[0] as arrow.Data<arrow.Float32>;
      const start = child.offset + d.offset * v.dims;
      data.set(child.values.subarray(start, start + d.length * v.dims), o * v.dims);
      if (d.nullCount > 0) {
        valid ??= new Uint8Array(n).fill(1);
        for (let i = 0; i < d.length; i++) if (!d.getValid(i)) valid[o + i] = 0;
      }
      o += d.length;
    }
    vectors[v.name] = valid ? { dims: v.dims, data, valid } : { dims: v.dims, data };
  }
  const payloads: Payload[] = payloadJson.map(parsePayload);
  return { batch: { length: n, ids, vectors, payloads, ops }, payloadJson, digests, ops, ...(prev ? { prev } : {}) };
}
