/**
 * The protobuf bytes of the few Qdrant gRPC messages the adapter sends and reads (qdrant.proto,
 * points.proto, json_with_int.proto of Qdrant 1.18), written and read by hand so that a vector is
 * never a JS array: an upsert copies a Float32Array's bytes into the packed `DenseVector.data`, and a
 * scroll answer's packed floats are copied straight into the scan's Float32Array column. The
 * generated code of @qdrant/js-client-grpc decodes every float into a JS number (one number[] per
 * vector), which measured 9.6 s of client CPU for 100k x 768 against about 1 s here (docs/adapters/qdrant.md).
 * test/qdrant/qdrant-grpc-wire.test.ts checks both directions against that generated code.
 */
import { EngineError } from '../../src/errors.js';
import { ProtobufWriter, WIRE_I64, WIRE_LEN, WIRE_VARINT, lenFieldSize, varint64Size, varintSize } from '../../src/wire/protobuf-writer.js';
import type { VectorKind } from '../../src/model.js';
import { ProtobufReader } from '../../src/wire/protobuf-reader.js';
import { PLUGIN } from './qdrant-types.js';
import { type KindRow, type KindRows, type ValueSource, canonicalSparse } from './qdrant-vectors.js';

/** A point id on the wire: `num` (uint64; a bigint above 2^53) or `uuid`. */
export type WirePointId = number | bigint | string;

function corrupt(what: string): EngineError {
  return new EngineError(`Qdrant sent a gRPC answer vectordr cannot read (${what}).`, 'permanent', { plugin: PLUGIN });
}

// ---- qdrant.Value (json_with_int.proto): what a payload is on the wire -------------------------

/** Bytes of a JSON value as a `qdrant.Value`: integers (safe) as `integer_value`, like Qdrant's own JSON parser. */
export function valueSize(v: unknown): number {
  if (v === null || v === undefined) return 2; // null_value = 0: tag + varint
  switch (typeof v) {
    case 'boolean':
      return 2;
    case 'number':
      return Number.isSafeInteger(v) ? 1 + varint64Size(BigInt(v)) : 9;
    case 'bigint':
      return 1 + varint64Size(v);
    case 'string': {
      return lenFieldSize(4, Buffer.byteLength(v, 'utf8'));
    }
    case 'object': {
      if (Array.isArray(v)) {
        let list = 0;
        for (const x of v) list += lenFieldSize(1, valueSize(x));
        return lenFieldSize(7, list);
      }
      return lenFieldSize(6, mapSize(v as Record<string, unknown>));
    }
    default:
      return 2; // functions, symbols: as JSON.stringify, nothing (null)
  }
}

/** Bytes of a `map<string, Value>` field's entries (without the field's own header). */
export function mapSize(obj: Record<string, unknown>): number {
  let n = 0;
  for (const [k, x] of Object.entries(obj)) {
    if (x === undefined) continue;
    n += lenFieldSize(1, entrySize(k, x));
  }
  return n;
}

const entrySize = (k: string, x: unknown): number => lenFieldSize(1, Buffer.byteLength(k, 'utf8')) + lenFieldSize(2, valueSize(x));

export function writeValue(w: ProtobufWriter, v: unknown): void {
  if (v === null || v === undefined) {
    w.tag(1, WIRE_VARINT).varint(0);
    return;
  }
  switch (typeof v) {
    case 'boolean':
      w.tag(5, WIRE_VARINT).varint(v ? 1 : 0);
      return;
    case 'number':
      if (Number.isSafeInteger(v)) w.tag(3, WIRE_VARINT).varint64(BigInt(v));
      else w.tag(2, WIRE_I64).double(v);
      return;
    case 'bigint':
      w.tag(3, WIRE_VARINT).varint64(v);
      return;
    case 'string':
      w.string(4, v);
      return;
    case 'object':
      if (Array.isArray(v)) {
        let list = 0;
        for (const x of v) list += lenFieldSize(1, valueSize(x));
        w.lenHeader(7, list);
        for (const x of v) {
          w.lenHeader(1, valueSize(x));
          writeValue(w, x);
        }
      } else {
        const obj = v as Record<string, unknown>;
        w.lenHeader(6, mapSize(obj));
        writeMap(w, 1, obj);
      }
      return;
    default:
      w.tag(1, WIRE_VARINT).varint(0);
  }
}

/** The entries of a `map<string, Value>` field `field`. */
export function writeMap(w: ProtobufWriter, field: number, obj: Record<string, unknown>): void {
  for (const [k, x] of Object.entries(obj)) {
    if (x === undefined) continue;
    w.lenHeader(field, entrySize(k, x));
    w.string(1, k);
    w.lenHeader(2, valueSize(x));
    writeValue(w, x);
  }
}

// ---- requests ---------------------------------------------------------------------------------

function pointIdSize(id: WirePointId): number {
  return typeof id === 'string' ? lenFieldSize(2, Buffer.byteLength(id, 'utf8')) : 1 + varint64Size(BigInt(id));
}

function writePointId(w: ProtobufWriter, field: number, id: WirePointId): void {
  w.lenHeader(field, pointIdSize(id));
  if (typeof id === 'string') w.string(2, id);
  else w.tag(1, WIRE_VARINT).varint64(BigInt(id));
}

/** `qdrant.ScrollPoints`: a page of `limit` points after `offset`, with payloads and the named (or unnamed: `null`) vectors. */
export function encodeScrollRequest(
  collection: string,
  offset: WirePointId | undefined,
  limit: number,
  vectorNames: string[] | null,
): Uint8Array {
  const w = new ProtobufWriter(256);
  w.string(1, collection);
  if (offset !== undefined) writePointId(w, 3, offset);
  w.tag(4, WIRE_VARINT).varint(limit);
  w.lenHeader(6, 2).tag(1, WIRE_VARINT).varint(1); // with_payload { enable: true }
  if (vectorNames === null) {
    w.lenHeader(7, 2).tag(1, WIRE_VARINT).varint(1); // with_vectors { enable: true }
  } else {
    let names = 0;
    for (const n of vectorNames) names += lenFieldSize(1, Buffer.byteLength(n, 'utf8'));
    w.lenHeader(7, lenFieldSize(2, names)).lenHeader(2, names);
    for (const n of vectorNames) w.string(1, n);
  }
  return w.finish();
}

/** One vector to upsert: dense floats (a Float32Array view), a sparse vector, or a multivector of `dims`-float vectors. */
export type WireVector = Float32Array | { sparse: { indices: Uint32Array; values: Float32Array } } | { multi: Float32Array; dims: number };

/** A point to upsert: its vectors (the unnamed one alone, or the named ones in a Map). */
export interface WirePoint {
  id: WirePointId;
  payload: Record<string, unknown>;
  /** The unnamed vector, or the named ones (an absent name: no such vector for this point). */
  vector: WireVector | Map<string, WireVector>;
}

function packedUint32Size(values: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) n += varintSize(values[i] as number);
  return n;
}

/** Bytes of the `qdrant.Vector` oneof of `v`: `dense` 101 { data }, `sparse` 102 { values, indices }, `multi_dense` 103 { vectors }. */
function vectorBodySize(v: WireVector): number {
  if (v instanceof Float32Array) return lenFieldSize(101, lenFieldSize(1, v.length * 4));
  if ('sparse' in v)
    return lenFieldSize(102, lenFieldSize(1, v.sparse.values.length * 4) + lenFieldSize(2, packedUint32Size(v.sparse.indices)));
  return lenFieldSize(103, (v.multi.length / v.dims) * lenFieldSize(1, lenFieldSize(1, v.dims * 4)));
}

function writeVector(w: ProtobufWriter, field: number, v: WireVector): void {
  w.lenHeader(field, vectorBodySize(v));
  if (v instanceof Float32Array) {
    w.lenHeader(101, lenFieldSize(1, v.length * 4)).packedFloats(1, v);
  } else if ('sparse' in v) {
    const { indices, values } = v.sparse;
    w.lenHeader(102, lenFieldSize(1, values.length * 4) + lenFieldSize(2, packedUint32Size(indices))).packedFloats(1, values);
    w.lenHeader(2, packedUint32Size(indices));
    for (let i = 0; i < indices.length; i++) w.varint(indices[i] as number);
  } else {
    w.lenHeader(103, (v.multi.length / v.dims) * lenFieldSize(1, lenFieldSize(1, v.dims * 4)));
    for (let k = 0; k < v.multi.length; k += v.dims)
      w.lenHeader(1, lenFieldSize(1, v.dims * 4)).packedFloats(1, v.multi.subarray(k, k + v.dims));
  }
}

const namedSize = (k: string, v: WireVector): number => lenFieldSize(1, Buffer.byteLength(k, 'utf8')) + lenFieldSize(2, vectorBodySize(v));

function vectorsSize(p: WirePoint): number {
  if (!(p.vector instanceof Map)) return lenFieldSize(1, vectorBodySize(p.vector));
  let named = 0;
  for (const [k, v] of p.vector) named += lenFieldSize(1, namedSize(k, v));
  return lenFieldSize(2, named);
}

function pointSize(p: WirePoint): number {
  return lenFieldSize(1, pointIdSize(p.id)) + mapSize(p.payload) + lenFieldSize(4, vectorsSize(p));
}

/** `qdrant.UpsertPoints` of `points`; `wait`: answer only once they are applied. Bytes: about the points' own. */
export function encodeUpsertRequest(collection: string, points: readonly WirePoint[], wait: boolean): Uint8Array {
  const sizes = points.map(pointSize);
  const w = new ProtobufWriter(sizes.reduce((a, b) => a + b + 6, 64 + collection.length * 3));
  w.string(1, collection);
  w.tag(2, WIRE_VARINT).varint(wait ? 1 : 0);
  points.forEach((p, i) => {
    w.lenHeader(3, sizes[i] as number);
    writePointId(w, 1, p.id);
    writeMap(w, 3, p.payload);
    w.lenHeader(4, vectorsSize(p));
    if (!(p.vector instanceof Map)) {
      writeVector(w, 1, p.vector);
    } else {
      let named = 0;
      for (const [k, v] of p.vector) named += lenFieldSize(1, namedSize(k, v));
      w.lenHeader(2, named);
      for (const [k, v] of p.vector) {
        w.lenHeader(1, namedSize(k, v));
        w.string(1, k);
        writeVector(w, 2, v);
      }
    }
  });
  return w.finish();
}

// ---- answers ----------------------------------------------------------------------------------

/** A `qdrant.PointId`. */
export function readPointId(r: ProtobufReader, end: number): WirePointId {
  let id: WirePointId | undefined;
  while (r.pos < end) {
    const [f, wire] = r.tag();
    if (f === 1 && wire === WIRE_VARINT) {
      const v = r.varint64();
      id = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    } else if (f === 2 && wire === WIRE_LEN) id = r.string();
    else r.skip(wire);
  }
  if (id === undefined) throw corrupt('a point id without num or uuid');
  return id;
}

/** The bounds of a length-delimited field, the reader left at its first byte. */
function enter(r: ProtobufReader): [number, number] {
  const [a, b] = r.len();
  r.pos = a;
  return [a, b];
}

/**
 * A `qdrant.Value` as JSON. Integers come back as numbers, as the REST client's JSON.parse gives
 * them (so both transports read the same payload); doubles as numbers.
 */
export function readValue(r: ProtobufReader, end: number): unknown {
  let v: unknown = null;
  while (r.pos < end) {
    const [f, wire] = r.tag();
    if (f === 1 && wire === WIRE_VARINT) {
      r.varint();
      v = null;
    } else if (f === 2 && wire === WIRE_I64) v = r.double();
    else if (f === 3 && wire === WIRE_VARINT) v = Number(BigInt.asIntN(64, r.varint64()));
    else if (f === 4 && wire === WIRE_LEN) v = r.string();
    else if (f === 5 && wire === WIRE_VARINT) v = r.varint() !== 0;
    else if (f === 6 && wire === WIRE_LEN) {
      const [, e] = enter(r);
      // Null prototype: a key may be "__proto__".
      const obj = Object.create(null) as Record<string, unknown>;
      readMapInto(r, e, 1, obj);
      v = obj;
    } else if (f === 7 && wire === WIRE_LEN) {
      const [, e] = enter(r);
      const list: unknown[] = [];
      while (r.pos < e) {
        const [lf, lw] = r.tag();
        if (lf === 1 && lw === WIRE_LEN) {
          const [, ve] = enter(r);
          list.push(readValue(r, ve));
        } else r.skip(lw);
      }
      v = list;
    } else r.skip(wire);
  }
  return v;
}

/** The entries of `map<string, Value>` field `field` in [pos, end) into `out`; other fields skipped. */
function readMapInto(r: ProtobufReader, end: number, field: number, out: Record<string, unknown>): void {
  while (r.pos < end) {
    const [f, wire] = r.tag();
    if (f !== field || wire !== WIRE_LEN) {
      r.skip(wire);
      continue;
    }
    readEntryInto(r, out);
  }
}

function readEntryInto(r: ProtobufReader, out: Record<string, unknown>): void {
  const [, e] = enter(r);
  let key = '';
  let value: unknown = null;
  while (r.pos < e) {
    const [f, wire] = r.tag();
    if (f === 1 && wire === WIRE_LEN) key = r.string();
    else if (f === 2 && wire === WIRE_LEN) {
      const [, ve] = enter(r);
      value = readValue(r, ve);
    } else r.skip(wire);
  }
  out[key] = value;
}

/** Where a scroll page's vectors go: one Float32Array column (and validity) per wanted dense vector, rows for the others. */
export interface VectorSink {
  /** Wire name of each wanted vector (`''`: the unnamed one) and its dims (0 for a sparse one). */
  readonly names: readonly string[];
  readonly dims: readonly number[];
  /** Each wanted vector's kind. @default every one dense */
  readonly kinds?: readonly VectorKind[];
}

/** A decoded scroll page: ids, payloads, and the vector columns (`valid[k]` set when some point lacks vector k). */
export interface ScrollPage {
  ids: WirePointId[];
  payloads: Record<string, unknown>[];
  columns: Float32Array[];
  valid: (Uint8Array | undefined)[];
  /** The rows of each sparse or multi vector (undefined for a dense one), sparse ones in canonical order. */
  rows: (KindRows | undefined)[];
  next: WirePointId | undefined;
}

/**
 * Decodes a `qdrant.ScrollResponse` of at most `limit` points, copying each dense vector's packed
 * floats straight into its column. A vector of the wrong length, or not dense (sparse, multi), is
 * refused: the snapshot stops rather than keep a wrong value.
 */
export function decodeScrollResponse(buf: Uint8Array, limit: number, sink: VectorSink, collection: string): ScrollPage {
  const r = new ProtobufReader(buf, corrupt);
  const k = sink.names.length;
  const kinds = sink.kinds ?? sink.names.map((): VectorKind => 'dense');
  const columns = sink.dims.map((d, j) => new Float32Array(kinds[j] === 'dense' ? limit * d : 0));
  const rows = kinds.map((kind): KindRows | undefined => (kind === 'dense' ? undefined : []));
  const valid: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(k).fill(undefined);
  const ids: WirePointId[] = [];
  const payloads: Record<string, unknown>[] = [];
  let next: WirePointId | undefined;
  const seen = new Uint8Array(k);
  while (r.more()) {
    const [f, wire] = r.tag();
    if (f === 1 && wire === WIRE_LEN) {
      const [, e] = enter(r);
      next = readPointId(r, e);
    } else if (f === 2 && wire === WIRE_LEN) {
      const row = ids.length;
      if (row >= limit) throw corrupt(`more than the ${limit} points asked for`);
      const [, e] = enter(r);
      let id: WirePointId | undefined;
      const payload = Object.create(null) as Record<string, unknown>;
      seen.fill(0);
      while (r.pos < e) {
        const [pf, pw] = r.tag();
        if (pf === 1 && pw === WIRE_LEN) {
          const [, ie] = enter(r);
          id = readPointId(r, ie);
        } else if (pf === 2 && pw === WIRE_LEN) readEntryInto(r, payload);
        else if (pf === 4 && pw === WIRE_LEN) {
          const [, ve] = enter(r);
          readVectorsOutput(r, ve, { sink, kinds, columns, rows }, row, seen, () => String(id), collection);
        } else r.skip(pw);
      }
      if (id === undefined) throw corrupt('a point without an id');
      for (let j = 0; j < k; j++) {
        if (seen[j] !== 0) continue;
        if (kinds[j] === 'dense') (valid[j] ??= new Uint8Array(limit).fill(1))[row] = 0;
        else (rows[j] as KindRows)[row] = undefined;
      }
      ids.push(id);
      payloads.push(payload);
    } else r.skip(wire);
  }
  const n = ids.length;
  return {
    ids,
    payloads,
    columns: columns.map((c, j) => c.subarray(0, n * (sink.dims[j] as number))),
    valid: valid.map((v) => v?.subarray(0, n)),
    rows,
    next,
  };
}

/** Where one point's vectors go while a page is decoded. */
interface PageSink {
  sink: VectorSink;
  kinds: readonly VectorKind[];
  columns: Float32Array[];
  rows: (KindRows | undefined)[];
}

/** A `qdrant.VectorsOutput`: the unnamed vector (field 1) or the named ones (field 2). */
function readVectorsOutput(
  r: ProtobufReader,
  end: number,
  page: PageSink,
  row: number,
  seen: Uint8Array,
  id: () => string,
  collection: string,
): void {
  while (r.pos < end) {
    const [f, wire] = r.tag();
    if (f === 1 && wire === WIRE_LEN) {
      const [, e] = enter(r);
      const j = page.sink.names.indexOf('');
      if (j < 0) r.pos = e;
      else readVectorOutput(r, e, page, j, row, seen, id, collection);
    } else if (f === 2 && wire === WIRE_LEN) {
      const [, e] = enter(r);
      while (r.pos < e) {
        const [mf, mw] = r.tag();
        if (mf !== 1 || mw !== WIRE_LEN) {
          r.skip(mw);
          continue;
        }
        const [, me] = enter(r);
        let j = -1;
        while (r.pos < me) {
          const [ef, ew] = r.tag();
          if (ef === 1 && ew === WIRE_LEN) j = page.sink.names.indexOf(r.string());
          else if (ef === 2 && ew === WIRE_LEN) {
            const [, ve] = enter(r);
            if (j < 0) r.pos = ve;
            else readVectorOutput(r, ve, page, j, row, seen, id, collection);
          } else r.skip(ew);
        }
      }
    } else r.skip(wire);
  }
}

/** A `qdrant.VectorOutput`: dense floats in `dense.data` (101) or, from older servers, in `data` (1). */
function readVectorOutput(
  r: ProtobufReader,
  end: number,
  page: PageSink,
  j: number,
  row: number,
  seen: Uint8Array,
  id: () => string,
  collection: string,
): void {
  const { sink } = page;
  const kind = page.kinds[j] as VectorKind;
  if (kind !== 'dense') {
    const src = { collection, point: id, vector: sink.names[j] || 'the unnamed vector' };
    (page.rows[j] as KindRows)[row] = readKindOutput(r, end, kind, sink.dims[j] as number, src);
    seen[j] = 1;
    return;
  }
  const dims = sink.dims[j] as number;
  const col = page.columns[j] as Float32Array;
  let got = 0;
  let other = false;
  const take = (a: number, b: number): void => {
    const n = r.floatsInto(a, b, col, row * dims + got);
    if (n < 0 || got + n > dims) got = dims + 1;
    else got += n;
  };
  while (r.pos < end) {
    const [f, wire] = r.tag();
    if (f === 1 && wire === WIRE_LEN) {
      const [a, b] = r.len();
      take(a, b);
    } else if (f === 101 && wire === WIRE_LEN) {
      const [, e] = enter(r);
      while (r.pos < e) {
        const [df, dw] = r.tag();
        if (df === 1 && dw === WIRE_LEN) {
          const [a, b] = r.len();
          take(a, b);
        } else r.skip(dw);
      }
    } else if (f === 2 || f === 3 || f === 102 || f === 103) {
      other = true;
      r.skip(wire);
    } else r.skip(wire);
  }
  const name = sink.names[j] || 'the unnamed vector';
  if (other) {
    throw new EngineError(
      `Point ${id()} of ${JSON.stringify(collection)}: ${name} is not a dense vector (sparse or multi-vector); ` +
        `vectordr keeps dense vectors only.`,
      'permanent',
      { plugin: PLUGIN },
    );
  }
  if (got !== dims) {
    throw new EngineError(
      `Point ${id()} of ${JSON.stringify(collection)}: vector ${name} has ${got > dims ? 'more than ' + dims : got} values, expected ${dims}.`,
      'permanent',
      { plugin: PLUGIN },
    );
  }
  seen[j] = 1;
}

/** Packed floats [a, b) as a new Float32Array. */
function floatsOf(r: ProtobufReader, a: number, b: number): Float32Array {
  const out = new Float32Array((b - a) / 4);
  r.floatsInto(a, b, out, 0);
  return out;
}

/** Packed (or, in older encoders, repeated) uint32 varints of the field the reader is at, into `out`. */
function readUint32s(r: ProtobufReader, wire: number, out: number[]): void {
  if (wire === WIRE_VARINT) {
    out.push(r.varint());
    return;
  }
  const [, e] = enter(r);
  while (r.pos < e) out.push(r.varint());
}

/**
 * A sparse (`sparse` 102: values 1, indices 2) or multi (`multi_dense` 103: one `DenseVector` per
 * vector) `qdrant.VectorOutput`, or its older form (`data` 1 with `indices` 2 or `vectors_count` 3).
 */
function readKindOutput(r: ProtobufReader, end: number, kind: VectorKind, dims: number, src: ValueSource): KindRow {
  // The older form (data, indices) and the oneof, kept apart: the oneof wins when a server sends both.
  const legacy = { parts: [] as Float32Array[], indices: [] as number[] };
  let modern: typeof legacy | undefined;
  let dense = false;
  while (r.pos < end) {
    const [f, wire] = r.tag();
    if (f === 1 && wire === WIRE_LEN) {
      const [a, b] = r.len();
      legacy.parts.push(floatsOf(r, a, b));
    } else if (f === 2 && wire === WIRE_LEN) {
      const [, e] = enter(r);
      while (r.pos < e) {
        const [sf, sw] = r.tag();
        if (sf === 1) readUint32s(r, sw, legacy.indices);
        else r.skip(sw);
      }
    } else if (f === 101 && wire === WIRE_LEN) {
      dense = true;
      r.skip(wire);
    } else if ((f === 102 || f === 103) && wire === WIRE_LEN) {
      modern ??= { parts: [], indices: [] };
      const { parts, indices } = modern;
      const [, e] = enter(r);
      while (r.pos < e) {
        const [mf, mw] = r.tag();
        if (f === 102 && mf === 1 && mw === WIRE_LEN) {
          const [a, b] = r.len();
          parts.push(floatsOf(r, a, b));
        } else if (f === 102 && mf === 2) readUint32s(r, mw, indices);
        else if (f === 103 && mf === 1 && mw === WIRE_LEN) {
          const [, de] = enter(r);
          while (r.pos < de) {
            const [df, dw] = r.tag();
            if (df === 1 && dw === WIRE_LEN) {
              const [a, b] = r.len();
              parts.push(floatsOf(r, a, b));
            } else r.skip(dw);
          }
        } else r.skip(mw);
      }
    } else r.skip(wire);
  }
  const { parts, indices } = modern ?? legacy;
  const total = parts.reduce((n, p) => n + p.length, 0);
  const data = new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  if (kind === 'sparse') {
    if (dense && total === 0) throw corrupt(`a dense value for sparse vector ${src.vector}`);
    return canonicalSparse(indices, data, src);
  }
  if (dims === 0 || total % dims !== 0 || total === 0) {
    throw new EngineError(
      `Point ${src.point()} of ${JSON.stringify(src.collection)}: multivector ${src.vector} has ${total} values, not a ` +
        `whole number of ${dims}-dimensional vectors.`,
      'permanent',
      { plugin: PLUGIN },
    );
  }
  return data;
}

/** The `status` of a `qdrant.PointsOperationResponse` (UpdateStatus: 1 Acknowledged, 2 Completed, 3 ClockRejected, 4 WaitTimeout). */
export function decodeUpdateStatus(buf: Uint8Array): number {
  const r = new ProtobufReader(buf, corrupt);
  let status = 0;
  while (r.more()) {
    const [f, wire] = r.tag();
    if (f === 1 && wire === WIRE_LEN) {
      const [, e] = enter(r);
      while (r.pos < e) {
        const [uf, uw] = r.tag();
        if (uf === 2 && uw === WIRE_VARINT) status = r.varint();
        else r.skip(uw);
      }
    } else r.skip(wire);
  }
  return status;
}
