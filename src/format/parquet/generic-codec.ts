/**
 * The previous segment codec, through apache-arrow and parquet-wasm: Arrow table -> IPC -> Parquet
 * and back. decodeSegment falls back to it for any Parquet file that is not the layout the direct
 * reader handles (another writer's file, dictionary pages of other columns, several row groups, v2
 * pages, ...), and the tests use both directions to prove the two codecs interchangeable.
 */
import * as arrow from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { IntegrityError } from '../../errors.js';
import {
  type AnyVectorColumn,
  type ElementColumn,
  type MultiColumn,
  type Payload,
  type RecordOp,
  type SparseColumn,
  type VectorShape,
  elementRowWidth,
  isFloat32Column,
  kindOf,
  newElementArray,
} from '../../model.js';
import { leBytes } from '../digest.js';
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

const FLOAT_ITEM = (): arrow.Field => new arrow.Field('item', new arrow.Float32(), false);
const SPARSE_INDICES = (): arrow.List => new arrow.List(new arrow.Field('item', new arrow.Uint32(), false));
const SPARSE_VALUES = (): arrow.List => new arrow.List(FLOAT_ITEM());

/** Arrow offsets (int32) of a column's offsets, refusing more items than an Arrow list can index. */
function arrowOffsets(offsets: Uint32Array, n: number, name: string): Int32Array {
  if ((offsets[n] as number) > 0x7fffffff)
    throw new RangeError(`vector column ${name} has ${offsets[n]} items, more than an Arrow list holds`);
  return Int32Array.from(offsets.subarray(0, n + 1));
}

/** The Arrow data of one vector column of any kind (docs/format.md, "Vector kinds"). */
function vectorData(col: AnyVectorColumn, n: number): arrow.Data {
  const nulls = col.valid ? validityBitmap(col.valid.subarray(0, n)) : undefined;
  const nullable = nulls && nulls.nullCount > 0 ? { nullCount: nulls.nullCount, nullBitmap: nulls.bitmap } : { nullCount: 0 };
  if (isFloat32Column(col)) {
    const child = arrow.makeData({
      type: new arrow.Float32(),
      length: n * col.dims,
      nullCount: 0,
      data: col.data.subarray(0, n * col.dims),
    });
    return arrow.makeData({ type: new arrow.FixedSizeList(col.dims, FLOAT_ITEM()), length: n, ...nullable, child });
  }
  switch (col.kind) {
    case 'dense': {
      const per = elementRowWidth(col.element, col.dims);
      const bytes = leBytes(col.data.subarray(0, n * per));
      return arrow.makeData({ type: new arrow.FixedSizeBinary(per * col.data.BYTES_PER_ELEMENT), length: n, ...nullable, data: bytes });
    }
    case 'sparse': {
      const valueOffsets = arrowOffsets(col.offsets, n, 'sparse');
      const items = col.offsets[n] as number;
      const indices = arrow.makeData({
        type: SPARSE_INDICES(),
        length: n,
        nullCount: 0,
        valueOffsets,
        child: arrow.makeData({ type: new arrow.Uint32(), length: items, nullCount: 0, data: col.indices.subarray(0, items) }),
      });
      const values = arrow.makeData({
        type: SPARSE_VALUES(),
        length: n,
        nullCount: 0,
        valueOffsets,
        child: arrow.makeData({ type: new arrow.Float32(), length: items, nullCount: 0, data: col.values.subarray(0, items) }),
      });
      const type = new arrow.Struct([
        new arrow.Field('indices', SPARSE_INDICES(), false),
        new arrow.Field('values', SPARSE_VALUES(), false),
      ]);
      return arrow.makeData({ type, length: n, ...nullable, children: [indices, values] });
    }
    case 'multi': {
      const count = col.offsets[n] as number;
      const vectorType = new arrow.FixedSizeList(col.dims, FLOAT_ITEM());
      const floats = arrow.makeData({
        type: new arrow.Float32(),
        length: count * col.dims,
        nullCount: 0,
        data: col.data.subarray(0, count * col.dims),
      });
      const child = arrow.makeData({ type: vectorType, length: count, nullCount: 0, child: floats });
      const type = new arrow.List(new arrow.Field('item', vectorType, false));
      return arrow.makeData({ type, length: n, ...nullable, valueOffsets: arrowOffsets(col.offsets, n, 'multi'), child });
    }
  }
}

function corrupt(key: string, message: string): IntegrityError {
  return new IntegrityError('SEGMENT_CORRUPT', `Segment ${key}: ${message}; restore it from another copy or take a new snapshot.`);
}

/** Row validity of one Arrow chunk into `valid` from row `o` (allocated on the first null). */
function chunkValidity(d: arrow.Data, o: number, n: number, valid: Uint8Array | undefined): Uint8Array | undefined {
  if (d.nullCount === 0) return valid;
  const out = valid ?? new Uint8Array(n).fill(1);
  for (let i = 0; i < d.length; i++) if (!d.getValid(i)) out[o + i] = 0;
  return out;
}

/**
 * Row ranges of one Arrow list chunk, checked: offsets ascending, inside the child. Null rows count
 * as empty whatever their offsets say.
 */
function listRanges(d: arrow.Data, childLength: number, key: string, name: string): Uint32Array {
  const off = d.valueOffsets as Int32Array | undefined;
  if (!off || off.length < d.offset + d.length + 1) throw corrupt(key, `vector ${name} has list offsets missing`);
  const out = new Uint32Array(d.length * 2);
  for (let i = 0; i < d.length; i++) {
    const from = off[d.offset + i] as number;
    const to = off[d.offset + i + 1] as number;
    if (from < 0 || to < from || to > childLength) throw corrupt(key, `vector ${name} has list offsets past its values`);
    const keep = d.nullCount === 0 || d.getValid(i);
    out[2 * i] = from;
    out[2 * i + 1] = keep ? to : from;
  }
  return out;
}

function wrongType(key: string, v: VectorShape, got: arrow.DataType): IntegrityError {
  return corrupt(
    key,
    `vector ${v.name} is ${String(got)}, the manifest says ${kindOf(v)} ${v.element ?? 'float32'}${v.dims === undefined ? '' : ` of ${v.dims} dims`}`,
  );
}

/** One vector column of any kind from Arrow, every offset and size checked against the manifest's shape. */
function readVectorColumn(vec: arrow.Vector, n: number, v: VectorShape, key: string): AnyVectorColumn {
  const kind = kindOf(v);
  const element = v.element ?? 'float32';
  let valid: Uint8Array | undefined;
  if (kind === 'sparse') {
    const offsets = new Uint32Array(n + 1);
    const parts: { indices: Uint32Array; values: Float32Array }[] = [];
    let o = 0;
    for (const d of vec.data) {
      if (!(d.type instanceof arrow.Struct)) throw wrongType(key, v, d.type);
      if (d.length === 0) continue;
      if (d.children.length !== 2) throw wrongType(key, v, d.type);
      const [ic, vc] = d.children as [arrow.Data, arrow.Data];
      const ii = ic.children[0] as arrow.Data | undefined;
      const vi = vc.children[0] as arrow.Data | undefined;
      if (!(ic.type instanceof arrow.List) || !(vc.type instanceof arrow.List) || !ii || !vi) throw wrongType(key, v, d.type);
      if (!(ii.values instanceof Uint32Array) || !(vi.values instanceof Float32Array)) throw wrongType(key, v, d.type);
      valid = chunkValidity(d, o, n, valid);
      const ir = listRanges(ic, ii.length, key, v.name);
      const vr = listRanges(vc, vi.length, key, v.name);
      for (let i = 0; i < d.length; i++) {
        const from = ir[2 * i] as number;
        const count = (ir[2 * i + 1] as number) - from;
        const rowValid = d.nullCount === 0 || d.getValid(i);
        if (rowValid && count !== (vr[2 * i + 1] as number) - (vr[2 * i] as number)) {
          throw corrupt(key, `sparse vector ${v.name} of row ${o + i} has ${count} indices but another count of values`);
        }
        parts.push({
          indices: ii.values.subarray(ii.offset + from, ii.offset + from + count),
          values: vi.values.subarray(vi.offset + (vr[2 * i] as number), vi.offset + (vr[2 * i] as number) + count),
        });
        offsets[o + i + 1] = (offsets[o + i] as number) + count;
      }
      o += d.length;
    }
    const indices = new Uint32Array(offsets[n] as number);
    const values = new Float32Array(offsets[n] as number);
    parts.forEach((p, i) => {
      indices.set(p.indices, offsets[i]);
      values.set(p.values, offsets[i]);
    });
    const col: SparseColumn = { kind: 'sparse', ...(v.dims === undefined ? {} : { dims: v.dims }), offsets, indices, values };
    return valid ? { ...col, valid } : col;
  }
  const dims = v.dims;
  if (dims === undefined) throw corrupt(key, `vector ${v.name} has no dims in the manifest`);
  if (kind === 'multi') {
    const offsets = new Uint32Array(n + 1);
    const parts: Float32Array[] = [];
    let o = 0;
    for (const d of vec.data) {
      if (d.length === 0 && d.type instanceof arrow.List) continue;
      const inner = d.children[0] as arrow.Data | undefined;
      const floats = inner?.children[0] as arrow.Data | undefined;
      if (
        !(d.type instanceof arrow.List) ||
        !inner ||
        !(inner.type instanceof arrow.FixedSizeList) ||
        !floats ||
        !(floats.values instanceof Float32Array)
      ) {
        throw wrongType(key, v, d.type);
      }
      if (inner.type.listSize !== dims)
        throw corrupt(key, `vector ${v.name} has vectors of ${inner.type.listSize} dims, the manifest says ${dims}`);
      valid = chunkValidity(d, o, n, valid);
      const r = listRanges(d, inner.length, key, v.name);
      for (let i = 0; i < d.length; i++) {
        const from = (inner.offset + (r[2 * i] as number)) * dims + floats.offset;
        const count = (r[2 * i + 1] as number) - (r[2 * i] as number);
        if (from + count * dims > floats.values.length) throw corrupt(key, `vector ${v.name} has vectors past its values`);
        parts.push(floats.values.subarray(from, from + count * dims));
        offsets[o + i + 1] = (offsets[o + i] as number) + count;
      }
      o += d.length;
    }
    const data = new Float32Array((offsets[n] as number) * dims);
    parts.forEach((p, i) => data.set(p, (offsets[i] as number) * dims));
    const col: MultiColumn = { kind: 'multi', dims, offsets, data };
    return valid ? { ...col, valid } : col;
  }
  if (element === 'float32') {
    const data = new Float32Array(n * dims);
    let o = 0;
    for (const d of vec.data) {
      const type = d.type as arrow.DataType;
      if (!(type instanceof arrow.FixedSizeList)) throw wrongType(key, v, type);
      if (type.listSize !== dims) throw corrupt(key, `vector ${v.name} has ${type.listSize} dims, the manifest says ${dims}`);
      const child = d.children[0] as arrow.Data<arrow.Float32>;
      const start = child.offset + d.offset * dims;
      data.set(child.values.subarray(start, start + d.length * dims), o * dims);
      valid = chunkValidity(d, o, n, valid);
      o += d.length;
    }
    return valid ? { dims, data, valid } : { dims, data };
  }
  const per = elementRowWidth(element, dims);
  const data = newElementArray(element, n * per) as ElementColumn['data'];
  const width = per * data.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  for (const d of vec.data) {
    if (!(d.type instanceof arrow.FixedSizeBinary)) throw wrongType(key, v, d.type);
    if (d.type.byteWidth !== width)
      throw corrupt(key, `vector ${v.name} has ${d.type.byteWidth} bytes per row, ${dims} dims of ${element} need ${width}`);
    const src = d.values as Uint8Array;
    if ((d.offset + d.length) * width > src.length) throw corrupt(key, `vector ${v.name} has rows past its values`);
    bytes.set(src.subarray(d.offset * width, (d.offset + d.length) * width), o * width);
    valid = chunkValidity(d, o, n, valid);
    o += d.length;
  }
  if (data instanceof Uint16Array && new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < data.length; i++) data[i] = dv.getUint16(i * 2, true);
  }
  if (valid) for (let r = 0; r < n; r++) if (valid[r] === 0) data.fill(0, r * per, (r + 1) * per);
  const col: ElementColumn = { kind: 'dense', element, dims, data };
  return valid ? { ...col, valid } : col;
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
    const col = batch.vectors[v.name];
    if (!col) throw new RangeError(`batch has no vector column ${v.name}`);
    columns[VECTOR_COLUMN_PREFIX + v.name] = arrow.makeVector(vectorData(col, n));
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
  const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
  for (const v of layout.vectors) vectors[v.name] = readVectorColumn(column(VECTOR_COLUMN_PREFIX + v.name), n, v, key);
  const payloads: Payload[] = payloadJson.map(parsePayload);
  return { batch: { length: n, ids, vectors, payloads, ops }, payloadJson, digests, ops, ...(prev ? { prev } : {}) };
}
