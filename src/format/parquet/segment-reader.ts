/**
 * Reads a segment's Parquet directly when it has the shape the segment writers produce: one row group,
 * v1 data pages (plus dictionary pages, which older segments have for `op`), PLAIN or dictionary
 * values, RLE levels, UNCOMPRESSED or ZSTD pages, the vector columns a 3-level LIST of FLOAT. That
 * covers segments of segment-writer.ts and of the previous parquet-wasm writer.
 *
 * Anything else a valid Parquet file may hold (several row groups, v2 pages, other encodings or
 * codecs, other list shapes) is `Unsupported`: the caller reads the file through parquet-wasm instead.
 * Damage is `Corrupt` (or a ThriftError / LevelError / ZstdError): every length and offset is checked
 * against the file before it is used, page sizes against row counts and dims, and no array is
 * allocated from a count that the file's bytes cannot back.
 */
import { endianness } from 'node:os';
import {
  type AnyVectorColumn,
  type ElementColumn,
  type RecordOp,
  type VectorColumn,
  type VectorShape,
  elementRowWidth,
  kindOf,
  newElementArray,
} from '../../model.js';
import { parsePayload } from '../canonical-json.js';
import { type DecodeLimits, DecodeBudget, checkPayloadCells, checkRowCount } from './decode-limits.js';
import { LevelReader } from './levels.js';
import {
  Codec,
  ColumnMetaDataField as CM,
  DataPageHeaderField as DP,
  DictionaryPageHeaderField as DPH,
  Encoding,
  FileMetaDataField as FM,
  MAGIC,
  PageHeaderField as PH,
  PageType,
  Repetition,
  RowGroupField as RG,
  SchemaField as SF,
  Type,
} from './parquet-types.js';
import { type SegmentLayout, type SegmentRows, VECTOR_COLUMN_PREFIX } from './segment-types.js';
import { emptyColumn } from '../vector-columns.js';
import { type ThriftStruct, type ThriftValue, readStruct } from './thrift.js';
import { zstdDecompress } from './zstd.js';

/** A valid Parquet file in a shape this reader does not handle. */
export class Unsupported extends Error {}
/** The file contradicts itself: damage. */
export class Corrupt extends Error {}

const LITTLE_ENDIAN = endianness() === 'LE';
/** A zstd block yields at most 128 KiB from at least 4 bytes: a page claiming more is lying. */
const ZSTD_MAX_RATIO = 32_768;
const MAX_PAGE_BYTES = 0x7fffffff;
/** Float32Array elements one vector column may decode to (2 GiB). */
const MAX_VECTOR_VALUES = 2 ** 29;

function fail(message: string): never {
  throw new Corrupt(message);
}

function num(s: ThriftStruct, id: number, what: string): number {
  const v = s.get(id);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} out of range`);
    return Number(v);
  }
  return fail(`${what} missing`);
}

function optNum(s: ThriftStruct, id: number, what: string): number | undefined {
  return s.has(id) ? num(s, id, what) : undefined;
}

function struct(v: ThriftValue | undefined, what: string): ThriftStruct {
  return v instanceof Map ? v : fail(`${what} missing`);
}

function list(v: ThriftValue | undefined, what: string): ThriftValue[] {
  return Array.isArray(v) ? v : fail(`${what} missing`);
}

function text(v: ThriftValue | undefined): string | undefined {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.length).toString('utf8') : undefined;
}

/** A leaf column of the schema with its levels. */
interface Leaf {
  path: string[];
  type: number;
  typeLength: number | undefined;
  maxDef: number;
  maxRep: number;
  /** Repetition of each element on the path, root excluded. */
  repetitions: number[];
}

function leaves(schema: ThriftValue[]): Leaf[] {
  const out: Leaf[] = [];
  let i = 1;
  const walk = (path: string[], reps: number[], depth: number): void => {
    if (depth > 8) throw new Unsupported('schema nested too deep');
    const e = struct(schema[i++], 'schema element');
    const name = text(e.get(SF.name)) ?? fail('schema element without a name');
    const rep = optNum(e, SF.repetition, 'repetition') ?? Repetition.REQUIRED;
    const children = optNum(e, SF.numChildren, 'num_children') ?? 0;
    const p = [...path, name];
    const r = [...reps, rep];
    if (children === 0) {
      out.push({
        path: p,
        type: optNum(e, SF.type, 'type') ?? fail(`leaf ${p.join('.')} without a type`),
        typeLength: optNum(e, SF.typeLength, 'type_length'),
        maxDef: r.filter((x) => x !== Repetition.REQUIRED).length,
        maxRep: r.filter((x) => x === Repetition.REPEATED).length,
        repetitions: r,
      });
      return;
    }
    if (children > schema.length - i) fail('schema children past the end');
    for (let k = 0; k < children; k++) walk(p, r, depth + 1);
  };
  const root = struct(schema[0], 'schema root');
  const top = optNum(root, SF.numChildren, 'num_children') ?? 0;
  if (top > schema.length - 1) fail('schema children past the end');
  for (let k = 0; k < top; k++) walk([], [], 0);
  if (i !== schema.length) fail('schema has elements outside its tree');
  return out;
}

/** One page's decompressed body and what its header says. */
interface Page {
  numValues: number;
  encoding: number;
  body: Uint8Array;
}

interface Chunk {
  leaf: Leaf;
  numValues: number;
  dictionary?: Page;
  pages: Page[];
}

function readChunk(bytes: Uint8Array, dataEnd: number, leaf: Leaf, meta: ThriftStruct, budget: DecodeBudget): Chunk {
  const name = leaf.path.join('.');
  const codec = num(meta, CM.codec, 'codec');
  if (codec !== Codec.UNCOMPRESSED && codec !== Codec.ZSTD) throw new Unsupported(`codec ${codec}`);
  const numValues = num(meta, CM.numValues, 'num_values');
  const dataOffset = num(meta, CM.dataPageOffset, 'data_page_offset');
  const dictOffset = optNum(meta, CM.dictionaryPageOffset, 'dictionary_page_offset');
  const start = dictOffset !== undefined && dictOffset > 0 && dictOffset < dataOffset ? dictOffset : dataOffset;
  const size = num(meta, CM.totalCompressedSize, 'total_compressed_size');
  if (start < MAGIC.length || size > dataEnd - start) fail(`column ${name}: chunk [${start}, +${size}) outside the file`);
  const end = start + size;
  const chunk: Chunk = { leaf, numValues, pages: [] };
  let pos = start;
  let seen = 0;
  while (pos < end) {
    const h = readStruct(bytes, pos, end);
    const header = h.value;
    const type = num(header, PH.type, 'page type');
    const usize = num(header, PH.uncompressedSize, 'uncompressed_page_size');
    const csize = num(header, PH.compressedSize, 'compressed_page_size');
    if (csize > end - h.end) fail(`column ${name}: page of ${csize} bytes past the chunk end`);
    const raw = bytes.subarray(h.end, h.end + csize);
    pos = h.end + csize;
    if (type !== PageType.DATA_PAGE && type !== PageType.DICTIONARY_PAGE) throw new Unsupported(`page type ${type}`);
    if (usize > MAX_PAGE_BYTES) fail(`column ${name}: page of ${usize} bytes`);
    let body: Uint8Array;
    if (codec === Codec.UNCOMPRESSED) {
      if (usize !== csize) fail(`column ${name}: uncompressed page sizes differ (${usize} != ${csize})`);
      body = raw;
    } else {
      if (usize > csize * ZSTD_MAX_RATIO + 65_536) fail(`column ${name}: page claims ${usize} bytes from ${csize}`);
      budget.take(usize, `column ${name}: a page of ${usize} bytes`);
      body = zstdDecompress(raw, usize);
    }
    if (type === PageType.DICTIONARY_PAGE) {
      if (chunk.dictionary || chunk.pages.length > 0) throw new Unsupported('dictionary page after data');
      const d = struct(header.get(PH.dictionaryPage), 'dictionary_page_header');
      const enc = num(d, DPH.encoding, 'encoding');
      if (enc !== Encoding.PLAIN && enc !== Encoding.PLAIN_DICTIONARY) throw new Unsupported(`dictionary encoding ${enc}`);
      chunk.dictionary = { numValues: num(d, DPH.numValues, 'num_values'), encoding: Encoding.PLAIN, body };
      continue;
    }
    const d = struct(header.get(PH.dataPage), 'data_page_header');
    const enc = num(d, DP.encoding, 'encoding');
    if (enc !== Encoding.PLAIN && enc !== Encoding.RLE_DICTIONARY && enc !== Encoding.PLAIN_DICTIONARY)
      throw new Unsupported(`encoding ${enc}`);
    if (leaf.maxDef > 0 && num(d, DP.defEncoding, 'definition_level_encoding') !== Encoding.RLE)
      throw new Unsupported('definition levels not RLE');
    if (leaf.maxRep > 0 && num(d, DP.repEncoding, 'repetition_level_encoding') !== Encoding.RLE)
      throw new Unsupported('repetition levels not RLE');
    const n = num(d, DP.numValues, 'num_values');
    if (n > numValues - seen) fail(`column ${name}: pages hold more than the chunk's ${numValues} values`);
    seen += n;
    chunk.pages.push({ numValues: n, encoding: enc, body });
  }
  if (seen !== numValues) fail(`column ${name}: pages hold ${seen} values, the chunk says ${numValues}`);
  return chunk;
}

/** A v1 page's levels block: 4-byte length, then RLE runs. Returns where the block ends. */
function levelsBlock(p: Page, at: number, name: string): { start: number; end: number } {
  if (at + 4 > p.body.length) fail(`column ${name}: levels past the page end`);
  const len = new DataView(p.body.buffer, p.body.byteOffset + at, 4).getUint32(0, true);
  if (len > p.body.length - at - 4) fail(`column ${name}: levels of ${len} bytes past the page end`);
  return { start: at + 4, end: at + 4 + len };
}

function bitWidth(max: number): number {
  return max === 0 ? 0 : 32 - Math.clz32(max);
}

/**
 * Definition levels of a flat column's page into `valid` from `row` on; returns the count of
 * defined values and where the values start. A required column has none.
 */
function flatLevels(p: Page, leaf: Leaf, valid: Uint8Array | undefined, row: number): { defined: number; at: number } {
  if (leaf.maxRep > 0) fail(`column ${leaf.path.join('.')} is repeated`);
  if (leaf.maxDef === 0) return { defined: p.numValues, at: 0 };
  const b = levelsBlock(p, 0, leaf.path.join('.'));
  const r = new LevelReader(p.body, b.start, b.end, bitWidth(leaf.maxDef), p.numValues);
  let defined = 0;
  let o = row;
  while (r.next()) {
    if (r.value === leaf.maxDef) {
      defined += r.count;
      if (valid) valid.fill(1, o, o + r.count);
    } else if (!valid) fail(`column ${leaf.path.join('.')} has nulls`);
    o += r.count;
  }
  if (o - row !== p.numValues) fail(`column ${leaf.path.join('.')}: ${o - row} levels for ${p.numValues} values`);
  return { defined, at: b.end };
}

/** PLAIN BYTE_ARRAY values of a page body from `at`: [start, end) offsets of each. */
function byteArrays(body: Uint8Array, at: number, count: number, name: string): Int32Array {
  if (count > (body.length - at) / 4) fail(`column ${name}: ${count} strings cannot fit the page`);
  const bounds = new Int32Array(count * 2);
  const dv = new DataView(body.buffer, body.byteOffset, body.length);
  let o = at;
  for (let i = 0; i < count; i++) {
    if (o + 4 > body.length) fail(`column ${name}: string ${i} past the page end`);
    const len = dv.getUint32(o, true);
    o += 4;
    if (len > body.length - o) fail(`column ${name}: string ${i} of ${len} bytes past the page end`);
    bounds[2 * i] = o;
    bounds[2 * i + 1] = o + len;
    o += len;
  }
  if (o !== body.length) fail(`column ${name}: ${body.length - o} bytes after the values`);
  return bounds;
}

function strings(body: Uint8Array, bounds: Int32Array): string[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.length);
  const out = new Array<string>(bounds.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.toString('utf8', bounds[2 * i] as number, bounds[2 * i + 1] as number);
  return out;
}

function utf8Column(c: Chunk, n: number): string[] {
  const name = c.leaf.path.join('.');
  if (c.leaf.type !== Type.BYTE_ARRAY) throw new Unsupported(`column ${name} is not BYTE_ARRAY`);
  let dict: string[] | undefined;
  if (c.dictionary) {
    const body = c.dictionary.body;
    dict = strings(body, byteArrays(body, 0, c.dictionary.numValues, name));
  }
  const out: string[] = [];
  let row = 0;
  for (const p of c.pages) {
    const { defined, at } = flatLevels(p, c.leaf, undefined, row);
    row += p.numValues;
    if (p.encoding === Encoding.PLAIN) {
      for (const s of strings(p.body, byteArrays(p.body, at, defined, name))) out.push(s);
      continue;
    }
    if (!dict) fail(`column ${name}: dictionary-encoded page without a dictionary`);
    if (at >= p.body.length && defined > 0) fail(`column ${name}: dictionary indices missing`);
    const width = defined > 0 ? (p.body[at] as number) : 1;
    if (width === 0) {
      for (let i = 0; i < defined; i++) out.push(dict[0] ?? fail(`column ${name}: empty dictionary`));
      continue;
    }
    const r = new LevelReader(p.body, at + 1, p.body.length, width, defined);
    let got = 0;
    while (r.next()) {
      const s = dict[r.value] ?? fail(`column ${name}: dictionary index ${r.value} of ${dict.length}`);
      for (let k = 0; k < r.count; k++) out.push(s);
      got += r.count;
    }
    if (got !== defined) fail(`column ${name}: ${got} dictionary indices for ${defined} values`);
  }
  if (out.length !== n) fail(`column ${name} has ${out.length} values for ${n} rows`);
  return out;
}

/** A fixed-width PLAIN column (INT64, FLBA) into `out` (width bytes per row); `valid` for a nullable one. */
function fixedColumn(c: Chunk, n: number, width: number, out: Uint8Array, valid?: Uint8Array): void {
  const name = c.leaf.path.join('.');
  if (c.dictionary) throw new Unsupported(`column ${name} is dictionary-encoded`);
  let row = 0;
  for (const p of c.pages) {
    if (p.encoding !== Encoding.PLAIN) throw new Unsupported(`column ${name} encoding ${p.encoding}`);
    if (row + p.numValues > n) fail(`column ${name} has more values than the ${n} rows`);
    const { defined, at } = flatLevels(p, c.leaf, valid, row);
    if (p.body.length - at !== defined * width) fail(`column ${name}: ${p.body.length - at} value bytes for ${defined} values`);
    if (!valid) out.set(p.body.subarray(at), row * width);
    else {
      // Nulls take no space in the page: place each defined value at its row.
      let src = at;
      for (let i = row; i < row + p.numValues; i++) {
        if (valid[i] !== 1) continue;
        out.set(p.body.subarray(src, src + width), i * width);
        src += width;
      }
    }
    row += p.numValues;
  }
  if (row !== n) fail(`column ${name} has ${row} values for ${n} rows`);
}

/**
 * A vector column: levels checked run by run (a list of exactly `dims` items or a null list per row),
 * values copied with one memcpy per run of consecutive non-null rows.
 */
function vectorColumn(c: Chunk, n: number, dims: number, vectorName: string): VectorColumn {
  const name = c.leaf.path.join('.');
  const { leaf } = c;
  const reps = leaf.repetitions;
  // OPTIONAL or REQUIRED list, a REPEATED group, a REQUIRED item: max levels (2 or 1, 1).
  if (reps.length !== 3 || reps[1] !== Repetition.REPEATED || reps[2] !== Repetition.REQUIRED || reps[0] === Repetition.REPEATED) {
    throw new Unsupported(`vector column ${name}: list shape ${reps.join(',')}`);
  }
  if (leaf.type !== Type.FLOAT) throw new Unsupported(`vector column ${name} is not FLOAT`);
  if (c.dictionary) throw new Unsupported(`vector column ${name} is dictionary-encoded`);
  if (dims < 1) throw new Unsupported(`vector ${vectorName} of ${dims} dims`);
  const nullable = reps[0] === Repetition.OPTIONAL;
  const maxDef = leaf.maxDef;
  if (n * dims > MAX_VECTOR_VALUES) fail(`vector column ${name}: ${n} rows of ${dims} dims is over the 2 GiB a column may decode to`);
  const data = new Float32Array(n * dims);
  const dataBytes = new Uint8Array(data.buffer);
  let valid: Uint8Array | undefined;
  let row = -1;
  let inRow = 0;
  const wrongDims = (): never => fail(`vector ${vectorName} has a list that is not ${dims} items long, the manifest says ${dims} dims`);
  for (const p of c.pages) {
    if (p.encoding !== Encoding.PLAIN) throw new Unsupported(`vector column ${name} encoding ${p.encoding}`);
    const rb = levelsBlock(p, 0, name);
    const db = levelsBlock(p, rb.end, name);
    const rep = new LevelReader(p.body, rb.start, rb.end, 1, p.numValues);
    const def = new LevelReader(p.body, db.start, db.end, bitWidth(maxDef), p.numValues);
    const values = p.body.subarray(db.end);
    // Pending copy: `len` bytes from values[src] to data[dst].
    let src = 0;
    let dst = 0;
    let len = 0;
    let used = 0;
    const flush = (): void => {
      if (len === 0) return;
      if (src + len > values.length) fail(`vector column ${name}: values past the page end`);
      if (LITTLE_ENDIAN) dataBytes.set(values.subarray(src, src + len), dst);
      else {
        const dv = new DataView(values.buffer, values.byteOffset + src, len);
        for (let k = 0; k < len / 4; k++) data[dst / 4 + k] = dv.getFloat32(k * 4, true);
      }
      src += len;
      len = 0;
    };
    let levels = 0;
    while (levels < p.numValues) {
      if (rep.count === 0 && !rep.next()) fail(`vector column ${name}: repetition levels end early`);
      if (def.count === 0 && !def.next()) fail(`vector column ${name}: definition levels end early`);
      if (inRow > 0) {
        // Inside a list: items at repetition 1, all defined.
        if (rep.value !== 1) wrongDims();
        if (def.value !== maxDef) fail(`vector column ${name}: a null item in row ${row}`);
        const k = Math.min(inRow, rep.count, def.count);
        rep.count -= k;
        def.count -= k;
        inRow -= k;
        levels += k;
        len += k * 4;
        used += k;
        continue;
      }
      if (rep.value !== 0) wrongDims();
      row++;
      if (row >= n) fail(`vector column ${name} has more than the ${n} rows`);
      rep.count--;
      def.count--;
      levels++;
      if (def.value === maxDef) {
        if (len > 0 && dst + len !== row * dims * 4) flush();
        if (len === 0) dst = row * dims * 4;
        len += 4;
        used++;
        inRow = dims - 1;
      } else if (nullable && def.value === 0) {
        flush();
        valid ??= new Uint8Array(n).fill(1);
        valid[row] = 0;
      } else wrongDims();
    }
    flush();
    if (used * 4 !== values.length) fail(`vector column ${name}: ${values.length} value bytes for ${used} values`);
    if (rep.count !== 0 || def.count !== 0 || rep.next() || def.next()) fail(`vector column ${name}: levels past num_values`);
  }
  if (inRow !== 0 || row !== n - 1) fail(`vector column ${name} has ${row + 1} rows, the segment ${n}`);
  return valid ? { dims, data, valid } : { dims, data };
}

/**
 * A dense column of another element than float32: FIXED_LEN_BYTE_ARRAY of the row's bytes (binary:
 * ceil(dims / 8)), nulls taking no space; the bytes are the elements little-endian.
 */
function elementColumn(
  c: Chunk,
  n: number,
  v: VectorShape & { element: Exclude<VectorShape['element'], 'float32' | undefined> },
): ElementColumn {
  const name = c.leaf.path.join('.');
  const dims = v.dims ?? fail(`vector ${v.name} has no dims`);
  const per = elementRowWidth(v.element, dims);
  const data = newElementArray(v.element, n * per) as ElementColumn['data'];
  const width = per * data.BYTES_PER_ELEMENT;
  if (c.leaf.type !== Type.FIXED_LEN_BYTE_ARRAY || c.leaf.repetitions.length !== 1 || c.leaf.repetitions[0] === Repetition.REPEATED) {
    throw new Unsupported(`vector column ${name} is not a FIXED_LEN_BYTE_ARRAY`);
  }
  if (c.leaf.typeLength !== width)
    fail(`vector ${v.name} has ${String(c.leaf.typeLength)} bytes per row, ${dims} dims of ${v.element} need ${width}`);
  if (n * width > MAX_VECTOR_VALUES * 4)
    fail(`vector column ${name}: ${n} rows of ${width} bytes is over the 2 GiB a column may decode to`);
  const nullable = c.leaf.maxDef > 0;
  const valid = nullable ? new Uint8Array(n) : undefined;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  fixedColumn(c, n, width, bytes, valid);
  if (!LITTLE_ENDIAN && data instanceof Uint16Array) {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < data.length; i++) data[i] = dv.getUint16(i * 2, true);
  }
  const base = { kind: 'dense' as const, element: v.element, dims, data };
  return valid && valid.includes(0) ? { ...base, valid } : base;
}

/** What a reader may leave out. */
export interface ReadOptions {
  /**
   * `false`: `batch.payloads` stays empty and only `payloadJson` is read (verify checks and hashes
   * the stored text; parsing every payload to objects was half of its work). @default true
   */
  payloadObjects?: boolean;
}

/** Decodes `bytes`, or throws Unsupported (read it another way), LimitExceeded (decode-limits.ts) or a damage error. */
export function readSegmentParquet(
  layout: SegmentLayout,
  bytes: Uint8Array,
  limits?: DecodeLimits,
  options: ReadOptions = {},
): SegmentRows {
  // Sparse and multi columns are nested lists: the maintained library reads them (the writer wrote them with it).
  if (layout.vectors.some((v) => kindOf(v) !== 'dense')) throw new Unsupported('nested vector kinds');
  const size = bytes.length;
  if (size < 12) fail(`${size} bytes is no Parquet file`);
  for (let k = 0; k < 4; k++) {
    if (bytes[k] !== MAGIC[k] || bytes[size - 4 + k] !== MAGIC[k]) fail('no Parquet magic');
  }
  const footerLength = new DataView(bytes.buffer, bytes.byteOffset, size).getUint32(size - 8, true);
  if (footerLength > size - 12) fail(`footer of ${footerLength} bytes in a file of ${size}`);
  const footerStart = size - 8 - footerLength;
  const parsed = readStruct(bytes, footerStart, size - 8);
  if (parsed.end !== size - 8) fail('footer shorter than its length');
  const fm = parsed.value;
  if (fm.has(8)) throw new Unsupported('encrypted footer fields');
  const schema = list(fm.get(FM.schema), 'schema');
  if (schema.length === 0) fail('empty schema');
  const allLeaves = leaves(schema);
  const n = num(fm, FM.numRows, 'num_rows');
  checkRowCount(n, limits);
  const budget = new DecodeBudget(limits);
  const rowGroups = list(fm.get(FM.rowGroups), 'row_groups');

  const top = new Set(allLeaves.map((l) => l.path[0] as string));
  const need = ['id', 'op', 'digest', 'payload', ...layout.vectors.map((v) => VECTOR_COLUMN_PREFIX + v.name)];
  for (const c of need) if (!top.has(c)) fail(`lacks column ${c}`);
  const hasPrev = top.has('prev_digest');

  if (rowGroups.length === 0) {
    if (n !== 0) fail(`${n} rows without a row group`);
    const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
    for (const v of layout.vectors) vectors[v.name] = emptyColumn(v);
    const ids = layout.idType === 'int64' ? new BigInt64Array(0) : [];
    return {
      batch: { length: 0, ids, vectors, payloads: [], ops: [] },
      payloadJson: [],
      digests: new Uint8Array(0),
      ops: [],
      ...(hasPrev ? { prev: { digests: new Uint8Array(0), valid: new Uint8Array(0) } } : {}),
    };
  }
  if (rowGroups.length > 1) throw new Unsupported(`${rowGroups.length} row groups`);
  const rg = struct(rowGroups[0], 'row group');
  if (num(rg, RG.numRows, 'row group num_rows') !== n) fail('row group and file disagree on the row count');
  const columns = list(rg.get(RG.columns), 'columns');
  if (columns.length !== allLeaves.length) fail(`${columns.length} column chunks for ${allLeaves.length} leaf columns`);

  const chunks = new Map<string, Chunk>();
  columns.forEach((cv, i) => {
    const cc = struct(cv, 'column chunk');
    if (cc.has(1)) throw new Unsupported('column chunk in another file');
    const meta = struct(cc.get(3), 'column metadata');
    const leaf = allLeaves[i] as Leaf;
    const path = list(meta.get(CM.pathInSchema), 'path_in_schema').map((p) => text(p));
    if (path.join('.') !== leaf.path.join('.')) fail(`column chunk ${i} is ${path.join('.')}, the schema says ${leaf.path.join('.')}`);
    if (num(meta, CM.type, 'type') !== leaf.type) fail(`column ${path.join('.')}: type differs from the schema`);
    const name = leaf.path[0] as string;
    const wanted = need.includes(name) || name === 'prev_digest';
    if (wanted) {
      if (chunks.has(name)) throw new Unsupported(`column ${name} has several leaves`);
      chunks.set(name, readChunk(bytes, footerStart, leaf, meta, budget));
    }
  });
  const chunk = (name: string): Chunk => chunks.get(name) ?? fail(`lacks column ${name}`);
  // A flat column has one value (or null) per row, and its pages are already decompressed (within
  // ZSTD_MAX_RATIO of their stored size): row counts that agree with them back every allocation below.
  for (const name of ['id', 'op', 'digest', 'payload', ...(hasPrev ? ['prev_digest'] : [])]) {
    if (chunk(name).numValues !== n) fail(`column ${name} has ${chunk(name).numValues} values for ${n} rows`);
  }

  // Flat columns first: they confirm the row count before any vector buffer is allocated.
  const idChunk = chunk('id');
  let ids: BigInt64Array | string[];
  if (layout.idType === 'int64') {
    if (idChunk.leaf.type !== Type.INT64) throw new Unsupported('int64 ids not INT64');
    ids = new BigInt64Array(n);
    const raw = new Uint8Array(ids.buffer);
    fixedColumn(idChunk, n, 8, raw);
    if (!LITTLE_ENDIAN) {
      const dv = new DataView(ids.buffer);
      for (let i = 0; i < n; i++) ids[i] = dv.getBigInt64(i * 8, true);
    }
  } else ids = utf8Column(idChunk, n);
  const ops = utf8Column(chunk('op'), n) as RecordOp[];
  const digestChunk = chunk('digest');
  if (digestChunk.leaf.type !== Type.FIXED_LEN_BYTE_ARRAY || digestChunk.leaf.typeLength !== 32)
    throw new Unsupported('digest not FLBA(32)');
  const digests = new Uint8Array(n * 32);
  fixedColumn(digestChunk, n, 32, digests);
  const payloadJson = utf8Column(chunk('payload'), n);
  checkPayloadCells(payloadJson, limits);
  let prev: SegmentRows['prev'];
  if (hasPrev) {
    const pc = chunk('prev_digest');
    if (pc.leaf.type !== Type.FIXED_LEN_BYTE_ARRAY || pc.leaf.typeLength !== 32) throw new Unsupported('prev_digest not FLBA(32)');
    const pd = new Uint8Array(n * 32);
    const valid = new Uint8Array(n);
    fixedColumn(pc, n, 32, pd, pc.leaf.maxDef > 0 ? valid : undefined);
    if (pc.leaf.maxDef === 0) valid.fill(1);
    prev = { digests: pd, valid };
  }
  const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
  for (const v of layout.vectors) {
    const c = chunk(VECTOR_COLUMN_PREFIX + v.name);
    const element = v.element ?? 'float32';
    vectors[v.name] =
      element === 'float32'
        ? vectorColumn(c, n, v.dims ?? fail(`vector ${v.name} has no dims`), v.name)
        : elementColumn(c, n, { ...v, element });
  }
  const payloads = options.payloadObjects === false ? [] : payloadJson.map(parsePayload);
  return { batch: { length: n, ids, vectors, payloads, ops }, payloadJson, digests, ops, ...(prev ? { prev } : {}) };
}
