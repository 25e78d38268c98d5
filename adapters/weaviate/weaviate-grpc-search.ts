/**
 * A scan page — weaviate-client's `fetchObjects({ after, limit, includeVector, returnProperties })` —
 * encoded and decoded here, sent through weaviate-grpc.ts.
 *
 * Why: weaviate-client decodes a page into the whole message first (every vector's bytes, then a
 * copy of them, then a `number[]` of 8-byte doubles per vector), so a 2000-object page of 768-dim
 * vectors costs several times its 6 MB on the heap, and a snapshot peaked at 413 MB
 * (docs/benchmarks.md). This decoder reads the answer in place: a vector's float32 bytes go straight
 * into one Float32Array, a property into the value the client would have produced.
 *
 * Scope: what a scan asks for — the uuid, named (dense or multi) or legacy vectors, and the
 * properties read over gRPC (text, uuid, int, number, boolean and their arrays; dates, objects, geo,
 * phone numbers and blobs come from REST, weaviate-scan.ts). Anything else in an answer — a value kind
 * it does not read, an int beyond 2^53, a malformed message — makes `decodeScanPage` say so, and the
 * scan reads that page and the rest through the client instead, as before: this decoder is a
 * faster way to the same objects, never a different answer. The message layouts are
 * weaviate.v1.SearchRequest / SearchReply (proto/v1/search_get.proto, properties.proto, base.proto);
 * test/weaviate/weaviate-grpc-search.test.ts compares both directions with the client's own code.
 */
import { ProtobufReader } from '../../src/wire/protobuf-reader.js';
import { ProtobufWriter, WIRE_I64, WIRE_LEN, WIRE_VARINT } from '../../src/wire/protobuf-writer.js';
import { LEGACY_VECTOR } from './weaviate-types.js';

export interface ScanPageRequest {
  /** The class name. */
  collection: string;
  /** The last uuid of the previous page. */
  after?: string | undefined;
  limit: number;
  /** Property names, read over gRPC. */
  properties: string[];
  /** The named vectors to return, or `'legacy'` for the class's one unnamed vector. */
  vectors: string[] | 'legacy';
}

/** One object of a page, as the scan reads it (WeaviateObjectLike, vectors as Float32Array). */
export interface ScanPageObject {
  uuid: string;
  /** Property values as weaviate-client returns them (null prototype). */
  properties: Record<string, unknown>;
  /** Dense vectors as float32; multi-vectors as arrays of arrays, as the client returns them. */
  vectors: Record<string, Float32Array | number[][]>;
}

/** weaviate.v1.SearchRequest as weaviate-client's fetchObjects sends it (same bytes). */
export function encodeScanPage(req: ScanPageRequest): Uint8Array {
  const w = new ProtobufWriter(256 + req.collection.length + req.properties.reduce((n, p) => n + p.length + 2, 0));
  w.string(1, req.collection);
  w.nested(20, (p) => {
    for (const name of req.properties) p.string(1, name);
  });
  w.nested(21, (m) => {
    m.tag(1, WIRE_VARINT).varint(1); // uuid
    if (req.vectors === 'legacy') m.tag(2, WIRE_VARINT).varint(1);
    else for (const name of req.vectors) m.string(10, name);
  });
  if (req.limit !== 0) w.tag(30, WIRE_VARINT).varint(req.limit);
  if (req.after) w.string(33, req.after);
  for (const field of [100, 101, 102]) w.tag(field, WIRE_VARINT).varint(1); // uses_123/125/127_api
  return w.finish();
}

/** Thrown inside the decoder for anything it does not read; caught by decodeScanPage. */
class Unsupported extends Error {}
const unsupported = (what: string): Unsupported => new Unsupported(what);

/**
 * The reader of this decoder: field number 0 (where protobuf.js, under the client, stops reading a
 * message) is not read, and a bool is only 0 or 1 (protobuf.js reads the low 32 bits).
 */
class Reader extends ProtobufReader {
  constructor(buf: Uint8Array, pos?: number, end?: number) {
    super(buf, unsupported, pos, end);
  }

  override tag(): [number, number] {
    const t = super.tag();
    if (t[0] === 0) throw unsupported('field number 0');
    return t;
  }

  bool(): boolean {
    const v = this.varint();
    if (v > 1) throw unsupported(`a bool of ${v}`);
    return v === 1;
  }

  /** A reader of the length-delimited field at the cursor. */
  sub(): Reader {
    const [a, b] = this.len();
    return new Reader(this.buf, a, b);
  }
}

/**
 * The objects of a weaviate.v1.SearchReply, or what is `unsupported` when the answer holds anything
 * this decoder does not read exactly as weaviate-client would — a value kind it does not read, or a
 * malformed message (read the page through the client then).
 */
export function decodeScanPage(buf: Uint8Array): { objects: ScanPageObject[] } | { unsupported: string } {
  try {
    const objects: ScanPageObject[] = [];
    const r = new Reader(buf);
    while (r.more()) {
      const [field, wire] = r.tag();
      if (field === 2 && wire === WIRE_LEN) objects.push(searchResult(r.sub()));
      else r.skip(wire);
    }
    return { objects };
  } catch (err) {
    if (err instanceof Unsupported) return { unsupported: err.message };
    throw err;
  }
}

/**
 * weaviate.v1.SearchResult: properties 1 (PropertiesResult), metadata 2 (MetadataResult). A message
 * field given twice (which protobuf merges, and the client's generated code replaces) is not read.
 */
function searchResult(r: Reader): ScanPageObject {
  let uuid = '';
  const properties = Object.create(null) as Record<string, unknown>;
  let legacy: Float32Array | undefined;
  const named: [string, Float32Array | number[][]][] = [];
  const seen = new Set<number>();
  const once = (what: number): void => {
    if (seen.has(what)) throw unsupported('a message field given twice');
    seen.add(what);
  };
  while (r.more()) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WIRE_LEN) {
      once(1);
      const p = r.sub();
      while (p.more()) {
        const [f, w] = p.tag();
        // non_ref_props 11 (Properties); ref_props 2 are never asked for.
        if (f === 11 && w === WIRE_LEN) {
          once(11);
          propertiesMessage(p, properties);
        } else if (f === 2) throw unsupported('references');
        else p.skip(w);
      }
    } else if (field === 2 && wire === WIRE_LEN) {
      once(2);
      const m = r.sub();
      while (m.more()) {
        const [f, w] = m.tag();
        if (f === 1 && w === WIRE_LEN) uuid = m.string();
        else if (f === 19 && w === WIRE_LEN) {
          const [x, y] = m.len();
          legacy = floats(m, x, y);
        } else if (f === 23 && w === WIRE_LEN) named.push(vectorsMessage(m));
        else m.skip(w);
      }
    } else r.skip(wire);
  }
  if (uuid.length === 0) throw unsupported('an object without a uuid');
  // As the client: the unnamed vector's bytes, when present, are the object's only vector.
  const vectors: Record<string, Float32Array | number[][]> = Object.create(null) as Record<string, Float32Array | number[][]>;
  if (legacy && legacy.length > 0) vectors[LEGACY_VECTOR] = legacy;
  else for (const [name, v] of named) vectors[name] = v;
  return { uuid, properties, vectors };
}

/** The float32 values of bytes [a, b), copied once. */
function floats(r: ProtobufReader, a: number, b: number): Float32Array {
  if ((b - a) % 4 !== 0) throw unsupported('vector bytes not a multiple of 4');
  const out = new Float32Array((b - a) / 4);
  r.floatsInto(a, b, out, 0);
  return out;
}

/** weaviate.v1.Vectors: name 1, vector_bytes 3, type 4 (SINGLE_FP32 1, MULTI_FP32 2; 0 read as single). */
function vectorsMessage(r: Reader): [string, Float32Array | number[][]] {
  const a = r.pos;
  const v = r.sub();
  let name = '';
  let bytes: [number, number] = [a, a];
  let type = 0;
  while (v.more()) {
    const [f, w] = v.tag();
    if (f === 1 && w === WIRE_LEN) name = v.string();
    else if (f === 3 && w === WIRE_LEN) bytes = v.len();
    else if (f === 4 && w === WIRE_VARINT) type = v.varint();
    else v.skip(w);
  }
  if (type === 2) return [name, multiVector(v, bytes[0], bytes[1])];
  if (type > 2) throw unsupported(`vector type ${type}`);
  return [name, floats(v, bytes[0], bytes[1])];
}

/** MULTI_FP32 bytes: the dimension count as a little-endian uint16, then the vectors (weaviate-client's vectorsFromBytes). */
function multiVector(r: ProtobufReader, a: number, b: number): number[][] {
  if (b - a < 2) throw unsupported('a multi-vector without its dimension count');
  const dims = (r.buf[a] as number) | ((r.buf[a + 1] as number) << 8);
  const body = b - a - 2;
  if (dims === 0 || body % (dims * 4) !== 0) throw unsupported('a multi-vector whose bytes are not whole vectors');
  const all = floats(r, a + 2, b);
  const out: number[][] = [];
  for (let i = 0; i < all.length; i += dims) out.push(Array.from(all.subarray(i, i + dims)));
  return out;
}

/** weaviate.v1.Properties: map<string, Value> fields = 1. */
function propertiesMessage(r: Reader, into: Record<string, unknown>): Record<string, unknown> {
  const p = r.sub();
  while (p.more()) {
    const [f, w] = p.tag();
    if (f !== 1 || w !== WIRE_LEN) {
      p.skip(w);
      continue;
    }
    const e = p.sub();
    let key = '';
    let value: unknown;
    let hasValue = false;
    while (e.more()) {
      const [k, kw] = e.tag();
      if (k === 1 && kw === WIRE_LEN) key = e.string();
      else if (k === 2 && kw === WIRE_LEN) {
        value = valueMessage(e);
        hasValue = true;
      } else e.skip(kw);
    }
    if (!hasValue) throw unsupported(`property ${JSON.stringify(key)} without a value`);
    into[key] = value;
  }
  return into;
}

/** An int64 as a number, when it is one exactly. */
function exactNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw unsupported('an int beyond 2^53');
  return Number(v);
}

/** The int64 at the reader as a number, when it is one exactly. */
function safeInt(r: Reader): number {
  return exactNumber(BigInt.asIntN(64, r.varint64()));
}

/** weaviate.v1.Value, read as weaviate-client's parsePropertyValue (null_value: undefined). */
function valueMessage(r: Reader): unknown {
  const v = r.sub();
  let out: unknown;
  let kinds = 0;
  while (v.more()) {
    const [f, w] = v.tag();
    kinds++;
    if (f === 1 && w === WIRE_I64) out = v.double();
    else if (f === 3 && w === WIRE_VARINT) out = v.bool();
    else if (f === 5 && w === WIRE_LEN) out = listValue(v);
    else if ((f === 7 || f === 13) && w === WIRE_LEN) out = v.string();
    else if (f === 8 && w === WIRE_VARINT) out = safeInt(v);
    else if (f === 12 && w === WIRE_VARINT) {
      v.varint();
      out = undefined;
    } else throw unsupported(`value field ${f}`);
  }
  if (kinds !== 1) throw unsupported(kinds === 0 ? 'an empty value' : 'a value of two kinds');
  return out;
}

/** weaviate.v1.ListValue: number 2, bool 3, uuid 6, int 7, text 8 (objects 4 and dates 5 are not read here). */
function listValue(r: Reader): unknown[] {
  const l = r.sub();
  let out: unknown[] | undefined;
  let kinds = 0;
  while (l.more()) {
    const [f, w] = l.tag();
    if (w !== WIRE_LEN) throw unsupported(`list field ${f}`);
    kinds++;
    const m = l.sub();
    if (f === 2) out = packed(m, 8, (dv, at) => dv.getFloat64(at, true));
    else if (f === 7) {
      out = packed(m, 8, (dv, at) => {
        return exactNumber(dv.getBigInt64(at, true));
      });
    } else if (f === 3) out = bools(m);
    else if (f === 6 || f === 8) out = strings(m);
    else throw unsupported(`list field ${f}`);
  }
  if (kinds !== 1 || !out) throw unsupported(kinds === 0 ? 'an empty list value' : 'a list of two kinds');
  return out;
}

/** Field 1 bytes of fixed-width little-endian values (NumberValues, IntValues); absent: empty. */
function packed(m: Reader, width: number, at: (dv: DataView, offset: number) => number): number[] {
  let bytes: [number, number] | undefined;
  while (m.more()) {
    const [f, w] = m.tag();
    if (f === 1 && w === WIRE_LEN) bytes = m.len();
    else m.skip(w);
  }
  if (!bytes) return [];
  const [a, b] = bytes;
  if ((b - a) % width !== 0) throw unsupported('packed values of a partial width');
  const dv = new DataView(m.buf.buffer, m.buf.byteOffset + a, b - a);
  const out = new Array<number>((b - a) / width);
  for (let i = 0; i < out.length; i++) out[i] = at(dv, i * width);
  return out;
}

/** BoolValues: repeated bool 1, packed or not. */
function bools(m: Reader): boolean[] {
  const out: boolean[] = [];
  while (m.more()) {
    const [f, w] = m.tag();
    if (f === 1 && w === WIRE_VARINT) out.push(m.bool());
    else if (f === 1 && w === WIRE_LEN) {
      const p = m.sub();
      while (p.more()) out.push(p.bool());
    } else m.skip(w);
  }
  return out;
}

/** TextValues / UuidValues: repeated string 1. */
function strings(m: Reader): string[] {
  const out: string[] = [];
  while (m.more()) {
    const [f, w] = m.tag();
    if (f === 1 && w === WIRE_LEN) out.push(m.string());
    else m.skip(w);
  }
  return out;
}
