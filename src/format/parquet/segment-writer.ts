/**
 * Writes a segment as Parquet directly, for exactly the segment layout (docs/format.md#segments): one
 * row group, one v1 data page per column, PLAIN values, RLE levels, no dictionary. The schema, the
 * embedded Arrow schema and the statistics are those the previous apache-arrow + parquet-wasm writer
 * produced, so readers see the same columns, types and values.
 *
 * Sizes are computed first and the file allocated once: a zstd page is encoded straight into the zstd
 * wasm memory and compressed there; an uncompressed vector page is the batch's Float32Array bytes
 * copied once into the file (one copy per run of non-null rows).
 */
import { endianness } from 'node:os';
import { arrowSchemaBase64 } from './arrow-schema.js';
import { LevelWriter } from './levels.js';
import {
  Codec,
  ColumnMetaDataField as CM,
  ConvertedType,
  DataPageHeaderField as DP,
  Encoding,
  FileMetaDataField as FM,
  LogicalTypeField,
  MAGIC,
  PageHeaderField as PH,
  PageType,
  Repetition,
  RowGroupField as RG,
  SchemaField as SF,
  StatisticsField as ST,
  Type,
} from './parquet-types.js';
import { type PackedText, packedCount } from '../packed-text.js';
import { T_STRUCT, ThriftWriter } from './thrift.js';
import { zstdCompressWith } from './zstd.js';

export const CREATED_BY = 'vectordr format v1';
const LITTLE_ENDIAN = endianness() === 'LE';

/** What the writer needs of a segment (segment-codec.ts maps SegmentRows onto it). */
export interface SegmentColumns {
  rows: number;
  ids: BigInt64Array | string[];
  idType: 'int64' | 'string' | 'uuid';
  ops: string[];
  digests: Uint8Array;
  /** Canonical payload JSON per row: strings, or already UTF-8 (packed-text.ts). */
  payloadJson: string[] | PackedText;
  prev?: { digests: Uint8Array; valid: Uint8Array };
  /** Dense float32 vectors (`data`, a LIST of FLOAT) or dense vectors of another element (`bytes`, FLBA of `width`). */
  vectors: (
    | { column: string; name: string; dims: number; data: Float32Array; valid?: Uint8Array }
    | { column: string; name: string; dims: number; width: number; bytes: Uint8Array; valid?: Uint8Array }
  )[];
  vectorCompression: 'none' | 'zstd';
  vectorPrefix: string;
}

interface SchemaNode {
  name: string;
  type?: number;
  typeLength?: number;
  repetition?: number;
  numChildren?: number;
  convertedType?: number;
  logical?: number;
}

interface ColumnOut {
  path: string[];
  type: number;
  codec: number;
  /** Levels (or values of a REQUIRED column) in the page. */
  numValues: number;
  uncompressedSize: number;
  /** The page body: already compressed, or written into the file at assembly. */
  body: Uint8Array | { size: number; write: (into: Uint8Array) => void };
  stats?: (w: ThriftWriter) => void;
}

function levelsSize(blocks: Uint8Array[]): number {
  let s = 0;
  for (const b of blocks) s += b.length;
  return s;
}

/** One page: level blocks then `valuesSize` bytes of values; zstd-compressed now, or kept to write at assembly. */
function page(
  path: string[],
  type: number,
  compress: boolean,
  numValues: number,
  levels: Uint8Array[],
  valuesSize: number,
  writeValues: (into: Uint8Array) => void,
  stats?: (w: ThriftWriter) => void,
): ColumnOut {
  const lsize = levelsSize(levels);
  const size = lsize + valuesSize;
  if (size > 0x7fffffff) throw new RangeError(`segment column ${path[0]} is ${size} bytes, over Parquet's 2 GiB page limit`);
  const write = (into: Uint8Array): void => {
    let o = 0;
    for (const b of levels) {
      into.set(b, o);
      o += b.length;
    }
    writeValues(into.subarray(o, o + valuesSize));
  };
  const body = compress ? zstdCompressWith(size, write) : { size, write };
  return {
    path,
    type,
    codec: compress ? Codec.ZSTD : Codec.UNCOMPRESSED,
    numValues,
    uncompressedSize: size,
    body,
    ...(stats ? { stats } : {}),
  };
}

function allValid(n: number, value: number): Uint8Array[] {
  const l = new LevelWriter();
  l.run(value, n);
  return [l.block()];
}

/** A BYTE_ARRAY column of the first `n` texts of `p`, already UTF-8: PLAIN is each text's u32le length, then its bytes. */
function packedUtf8Column(path: string, p: PackedText, n: number, levels: Uint8Array[]): ColumnOut {
  const end = p.offsets[n] as number;
  return page([path], Type.BYTE_ARRAY, true, n, levels, 4 * n + end, (into) => {
    const view = new DataView(into.buffer, into.byteOffset, into.length);
    let o = 0;
    for (let i = 0; i < n; i++) {
      const a = p.offsets[i] as number;
      const l = (p.offsets[i + 1] as number) - a;
      view.setUint32(o, l, true);
      into.set(p.bytes.subarray(a, a + l), o + 4);
      o += 4 + l;
    }
  });
}

function utf8Column(
  path: string,
  values: string[],
  levels: Uint8Array[],
  onWritten?: (buf: Buffer, offsets: Int32Array) => void,
): ColumnOut {
  const n = values.length;
  const lens = new Int32Array(n);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const l = Buffer.byteLength(values[i] as string, 'utf8');
    lens[i] = l;
    size += 4 + l;
  }
  return page([path], Type.BYTE_ARRAY, true, n, levels, size, (into) => {
    const buf = Buffer.from(into.buffer, into.byteOffset, into.length);
    const offsets = onWritten ? new Int32Array(n + 1) : undefined;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const l = lens[i] as number;
      buf.writeUInt32LE(l, o);
      o += 4;
      if (offsets) offsets[i] = o;
      if (l > 0) buf.write(values[i] as string, o, l, 'utf8');
      o += l;
    }
    if (offsets) {
      offsets[n] = o + 4;
      onWritten?.(buf, offsets);
    }
  });
}

function int64Stats(ids: BigInt64Array): (w: ThriftWriter) => void {
  let min = ids[0] as bigint;
  let max = min;
  for (let i = 1; i < ids.length; i++) {
    const v = ids[i] as bigint;
    if (v < min) min = v;
    else if (v > max) max = v;
  }
  const le = (v: bigint): Uint8Array => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, v, true);
    return b;
  };
  return (w) => {
    w.binary(ST.max, le(max));
    w.binary(ST.min, le(min));
    w.i64(ST.nullCount, 0);
    w.binary(ST.maxValue, le(max));
    w.binary(ST.minValue, le(min));
    w.bool(ST.isMaxExact, true);
    w.bool(ST.isMinExact, true);
  };
}

/** Copies `count` float32 values from `src` at element `from` as little-endian bytes into `into` at byte `at`. */
function copyFloats(src: Float32Array, from: number, count: number, into: Uint8Array, at: number): void {
  if (LITTLE_ENDIAN) {
    into.set(new Uint8Array(src.buffer, src.byteOffset + from * 4, count * 4), at);
    return;
  }
  const dv = new DataView(into.buffer, into.byteOffset + at, count * 4);
  for (let i = 0; i < count; i++) dv.setFloat32(i * 4, src[from + i] as number, true);
}

type FloatVectors = Extract<SegmentColumns['vectors'][number], { data: Float32Array }>;

function vectorColumn(c: FloatVectors, n: number, compress: boolean): ColumnOut {
  const { dims, data, valid } = c;
  if (data.length < n * dims)
    throw new RangeError(`vector column ${c.name} holds ${data.length} values, ${n} rows of ${dims} need ${n * dims}`);
  const rep = new LevelWriter();
  const def = new LevelWriter();
  // Runs of non-null rows [start, end): their values are contiguous in the page.
  const runs: number[] = [];
  let numValues = 0;
  let runStart = -1;
  for (let i = 0; i < n; i++) {
    if (valid === undefined || valid[i] !== 0) {
      // A list of `dims` items: repetition 0 then dims-1 times 1; every item defined (level 2).
      rep.run(0, 1);
      rep.run(1, dims - 1);
      def.run(2, dims);
      numValues += dims;
      if (runStart < 0) runStart = i;
    } else {
      // A null list: one level, repetition 0, definition 0 (the optional list itself undefined).
      rep.run(0, 1);
      def.run(0, 1);
      numValues += 1;
      if (runStart >= 0) runs.push(runStart, i);
      runStart = -1;
    }
  }
  if (runStart >= 0) runs.push(runStart, n);
  let valuesSize = 0;
  for (let r = 0; r < runs.length; r += 2) valuesSize += ((runs[r + 1] as number) - (runs[r] as number)) * dims * 4;
  return page([c.column, 'list', 'item'], Type.FLOAT, compress, numValues, [rep.block(), def.block()], valuesSize, (into) => {
    let o = 0;
    for (let r = 0; r < runs.length; r += 2) {
      const count = ((runs[r + 1] as number) - (runs[r] as number)) * dims;
      copyFloats(data, (runs[r] as number) * dims, count, into, o);
      o += count * 4;
    }
  });
}

/** A nullable FIXED_LEN_BYTE_ARRAY(width) column: digests (32) and dense vectors of other elements than float32. */
function fixedColumn(path: string, n: number, bytes: Uint8Array, valid?: Uint8Array, width = 32, compress = true): ColumnOut {
  if (bytes.length < n * width) throw new RangeError(`column ${path} holds ${bytes.length} bytes, ${n} rows need ${n * width}`);
  if (valid === undefined) {
    return page([path], Type.FIXED_LEN_BYTE_ARRAY, compress, n, allValid(n, 1), n * width, (into) =>
      into.set(bytes.subarray(0, n * width)),
    );
  }
  const def = new LevelWriter();
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = valid[i] !== 0 ? 1 : 0;
    def.run(v, 1);
    count += v;
  }
  return page([path], Type.FIXED_LEN_BYTE_ARRAY, compress, n, [def.block()], count * width, (into) => {
    let o = 0;
    for (let i = 0; i < n; i++) {
      if (valid[i] === 0) continue;
      into.set(bytes.subarray(i * width, i * width + width), o);
      o += width;
    }
  });
}

function idColumn(s: SegmentColumns): ColumnOut {
  const n = s.rows;
  if (s.ids instanceof BigInt64Array) {
    const ids = s.ids;
    if (ids.length < n) throw new RangeError(`segment has ${ids.length} ids for ${n} rows`);
    return page(
      ['id'],
      Type.INT64,
      true,
      n,
      [],
      n * 8,
      (into) => {
        const dv = new DataView(into.buffer, into.byteOffset, n * 8);
        if (LITTLE_ENDIAN) into.set(new Uint8Array(ids.buffer, ids.byteOffset, n * 8));
        else for (let i = 0; i < n; i++) dv.setBigInt64(i * 8, ids[i] as bigint, true);
      },
      n > 0 ? int64Stats(ids) : undefined,
    );
  }
  // String ids: exact min and max by byte order (as Parquet compares BYTE_ARRAY), taken from the
  // encoded page while it is being written.
  let min: Uint8Array | undefined;
  let max: Uint8Array | undefined;
  const col = utf8Column('id', s.ids, allValid(n, 1), (buf, offsets) => {
    let lo = 0;
    let hi = 0;
    const cmp = (a: number, b: number): number =>
      buf.compare(buf, offsets[b] as number, (offsets[b + 1] as number) - 4, offsets[a] as number, (offsets[a + 1] as number) - 4);
    for (let i = 1; i < n; i++) {
      if (cmp(i, lo) < 0) lo = i;
      if (cmp(i, hi) > 0) hi = i;
    }
    if (n > 0) {
      min = buf.subarray(offsets[lo] as number, (offsets[lo + 1] as number) - 4).slice();
      max = buf.subarray(offsets[hi] as number, (offsets[hi + 1] as number) - 4).slice();
    }
  });
  if (min && max) {
    const [lo, hi] = [min, max];
    col.stats = (w) => {
      w.i64(ST.nullCount, 0);
      w.binary(ST.maxValue, hi);
      w.binary(ST.minValue, lo);
      w.bool(ST.isMaxExact, true);
      w.bool(ST.isMinExact, true);
    };
  }
  return col;
}

function schemaNodes(s: SegmentColumns): SchemaNode[] {
  const nodes: SchemaNode[] = [];
  nodes.push(
    s.idType === 'int64'
      ? { name: 'id', type: Type.INT64, repetition: Repetition.REQUIRED }
      : {
          name: 'id',
          type: Type.BYTE_ARRAY,
          repetition: Repetition.OPTIONAL,
          convertedType: ConvertedType.UTF8,
          logical: LogicalTypeField.STRING,
        },
    {
      name: 'op',
      type: Type.BYTE_ARRAY,
      repetition: Repetition.OPTIONAL,
      convertedType: ConvertedType.UTF8,
      logical: LogicalTypeField.STRING,
    },
    { name: 'digest', type: Type.FIXED_LEN_BYTE_ARRAY, typeLength: 32, repetition: Repetition.OPTIONAL },
    {
      name: 'payload',
      type: Type.BYTE_ARRAY,
      repetition: Repetition.OPTIONAL,
      convertedType: ConvertedType.UTF8,
      logical: LogicalTypeField.STRING,
    },
  );
  if (s.prev) nodes.push({ name: 'prev_digest', type: Type.FIXED_LEN_BYTE_ARRAY, typeLength: 32, repetition: Repetition.OPTIONAL });
  for (const v of s.vectors) {
    if ('bytes' in v) {
      nodes.push({ name: v.column, type: Type.FIXED_LEN_BYTE_ARRAY, typeLength: v.width, repetition: Repetition.OPTIONAL });
      continue;
    }
    nodes.push(
      {
        name: v.column,
        repetition: Repetition.OPTIONAL,
        numChildren: 1,
        convertedType: ConvertedType.LIST,
        logical: LogicalTypeField.LIST,
      },
      { name: 'list', repetition: Repetition.REPEATED, numChildren: 1 },
      { name: 'item', type: Type.FLOAT, repetition: Repetition.REQUIRED },
    );
  }
  return nodes;
}

function pageHeader(c: ColumnOut, compressedSize: number): Uint8Array {
  const w = new ThriftWriter();
  w.structBegin();
  w.i32(PH.type, PageType.DATA_PAGE);
  w.i32(PH.uncompressedSize, c.uncompressedSize);
  w.i32(PH.compressedSize, compressedSize);
  w.struct(PH.dataPage, () => {
    w.i32(DP.numValues, c.numValues);
    w.i32(DP.encoding, Encoding.PLAIN);
    w.i32(DP.defEncoding, Encoding.RLE);
    w.i32(DP.repEncoding, Encoding.RLE);
  });
  w.structEnd();
  return w.bytes().slice();
}

function footer(s: SegmentColumns, columns: ColumnOut[], headers: Uint8Array[], offsets: number[]): Uint8Array {
  const nodes = schemaNodes(s);
  const w = new ThriftWriter();
  w.structBegin();
  w.i32(FM.version, 1);
  w.list(FM.schema, T_STRUCT, nodes.length + 1, (i) => {
    w.structBegin();
    if (i === 0) {
      w.binary(SF.name, 'arrow_schema');
      w.i32(SF.numChildren, 4 + (s.prev ? 1 : 0) + s.vectors.length);
    } else {
      const e = nodes[i - 1] as SchemaNode;
      if (e.type !== undefined) w.i32(SF.type, e.type);
      if (e.typeLength !== undefined) w.i32(SF.typeLength, e.typeLength);
      if (e.repetition !== undefined) w.i32(SF.repetition, e.repetition);
      w.binary(SF.name, e.name);
      if (e.numChildren !== undefined) w.i32(SF.numChildren, e.numChildren);
      if (e.convertedType !== undefined) w.i32(SF.convertedType, e.convertedType);
      if (e.logical !== undefined) w.struct(SF.logicalType, () => w.struct(e.logical as number, () => undefined));
    }
    w.structEnd();
  });
  w.i64(FM.numRows, s.rows);
  const compressed = columns.map(
    (c, i) => (headers[i] as Uint8Array).length + (c.body instanceof Uint8Array ? c.body.length : c.body.size),
  );
  const uncompressed = columns.map((c, i) => (headers[i] as Uint8Array).length + c.uncompressedSize);
  const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
  // No row group at all for an empty segment, as parquet-wasm wrote it.
  w.list(FM.rowGroups, T_STRUCT, s.rows > 0 ? 1 : 0, () => {
    w.structBegin();
    w.list(RG.columns, T_STRUCT, columns.length, (i) => {
      const c = columns[i] as ColumnOut;
      w.structBegin();
      w.i64(2, 0); // file_offset: deprecated, 0 as arrow-rs writes it
      w.struct(3, () => {
        w.i32(CM.type, c.type);
        w.list(CM.encodings, 5, 2, (k) => w.elementI32(k === 0 ? Encoding.PLAIN : Encoding.RLE));
        w.list(CM.pathInSchema, 8, c.path.length, (k) => w.elementBinary(c.path[k] as string));
        w.i32(CM.codec, c.codec);
        w.i64(CM.numValues, c.numValues);
        w.i64(CM.totalUncompressedSize, uncompressed[i] as number);
        w.i64(CM.totalCompressedSize, compressed[i] as number);
        w.i64(CM.dataPageOffset, offsets[i] as number);
        if (c.stats) w.struct(CM.statistics, () => c.stats?.(w));
        w.list(CM.encodingStats, T_STRUCT, 1, () => {
          w.structBegin();
          w.i32(1, PageType.DATA_PAGE);
          w.i32(2, Encoding.PLAIN);
          w.i32(3, 1);
          w.structEnd();
        });
      });
      w.structEnd();
    });
    w.i64(RG.totalByteSize, sum(uncompressed));
    w.i64(RG.numRows, s.rows);
    w.i64(RG.fileOffset, 4);
    w.i64(RG.totalCompressedSize, sum(compressed));
    w.i16(RG.ordinal, 0);
    w.structEnd();
  });
  const arrowSchema = arrowSchemaBase64(
    {
      idType: s.idType,
      vectors: s.vectors.map((v) => ('bytes' in v ? { name: v.name, width: v.width } : { name: v.name, dims: v.dims })),
      prevDigest: s.prev !== undefined,
    },
    s.vectorPrefix,
  );
  w.list(FM.keyValueMetadata, T_STRUCT, 1, () => {
    w.structBegin();
    w.binary(1, 'ARROW:schema');
    w.binary(2, arrowSchema);
    w.structEnd();
  });
  w.binary(FM.createdBy, CREATED_BY);
  // TypeDefinedOrder for every leaf column, so readers trust min/max statistics.
  w.list(FM.columnOrders, T_STRUCT, nodes.filter((e) => e.type !== undefined).length, () => {
    w.structBegin();
    w.struct(1, () => undefined);
    w.structEnd();
  });
  w.structEnd();
  return w.bytes();
}

export function writeSegmentParquet(s: SegmentColumns): Uint8Array {
  const n = s.rows;
  const columns: ColumnOut[] = [];
  if (n > 0) {
    const payloads = Array.isArray(s.payloadJson) ? s.payloadJson.length : packedCount(s.payloadJson);
    if (s.ops.length < n || payloads < n) throw new RangeError(`segment has fewer ops or payloads than its ${n} rows`);
    columns.push(idColumn(s));
    columns.push(utf8Column('op', s.ops.length === n ? s.ops : s.ops.slice(0, n), allValid(n, 1)));
    columns.push(fixedColumn('digest', n, s.digests));
    const payload = s.payloadJson;
    if (Array.isArray(payload)) columns.push(utf8Column('payload', payload.length === n ? payload : payload.slice(0, n), allValid(n, 1)));
    else columns.push(packedUtf8Column('payload', payload, n, allValid(n, 1)));
    if (s.prev) columns.push(fixedColumn('prev_digest', n, s.prev.digests, s.prev.valid));
    const compress = s.vectorCompression === 'zstd';
    for (const v of s.vectors) {
      columns.push('bytes' in v ? fixedColumn(v.column, n, v.bytes, v.valid, v.width, compress) : vectorColumn(v, n, compress));
    }
  }
  const headers: Uint8Array[] = [];
  const offsets: number[] = [];
  let at = MAGIC.length;
  for (const c of columns) {
    const size = c.body instanceof Uint8Array ? c.body.length : c.body.size;
    const h = pageHeader(c, size);
    headers.push(h);
    offsets.push(at);
    at += h.length + size;
  }
  const meta = footer(s, columns, headers, offsets);
  const out = new Uint8Array(at + meta.length + 8);
  out.set(MAGIC, 0);
  let o = MAGIC.length;
  columns.forEach((c, i) => {
    const h = headers[i] as Uint8Array;
    out.set(h, o);
    o += h.length;
    if (c.body instanceof Uint8Array) {
      out.set(c.body, o);
      o += c.body.length;
    } else {
      c.body.write(out.subarray(o, o + c.body.size));
      o += c.body.size;
    }
  });
  out.set(meta, o);
  o += meta.length;
  new DataView(out.buffer).setUint32(o, meta.length, true);
  out.set(MAGIC, o + 4);
  return out;
}
