/**
 * The previous segment codec, through apache-arrow and parquet-wasm: Arrow table -> IPC -> Parquet
 * and back. decodeSegment falls back to it for any Parquet file that is not the layout the direct
 * reader handles (another writer's file, dictionary pages of other columns, several row groups, v2
 * pages, ...), and the tests use both directions to prove the two codecs interchangeable.
 */
import * as arrow from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { IntegrityError } from '../../errors.js';
import { type Payload, type RecordOp, type VectorColumn, float32Column } from '../../model.js';
import { parsePayload } from '../canonical-json.js';
import { type EncodeOptions, type SegmentLayout, type SegmentRows, VECTOR_COLUMN_PREFIX } from './segment-types.js';

function validityBitmap(valid: Uint8Array): { bitmap: Uint8Array; nullCount: number } {
  const bitmap = new Uint8Array(Math.ceil(valid.length / 8));
  let nullCount = 0;
  for (let i = 0; i < valid.length; i++) {
    if (valid[i]) bitmap[i >> 3] = (bitmap[i >> 3] as number) | (1 << (i & 7));
    else nullCount++;
  }
  return { bitmap, nullCount };
}

/** Flat columns by name; parquet-wasm cannot address the nested vector leaf, so vectors take the global setting. */
const FLAT_COLUMNS = ['id', 'op', 'digest', 'payload', 'prev_digest'];

/** The previous encoder (apache-arrow + parquet-wasm); the tests compare the direct writer with it. */
export function encodeSegmentGeneric(
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
    const given = batch.vectors[v.name];
    if (!given) throw new RangeError(`batch has no vector column ${v.name}`);
    const col = float32Column(given, v.name, 'the segment codec');
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

/** Decodes any Parquet segment through parquet-wasm and apache-arrow. */
export function decodeSegmentGeneric(layout: SegmentLayout, bytes: Uint8Array, key = 'segment'): SegmentRows {
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
