/**
 * Weaviate's gRPC `BatchObjects` call, encoded here instead of through weaviate-client.
 *
 * Why: weaviate-client 3.x serialises a batch one object per `setTimeout` tick and polls for the
 * result every 500 ms (`Serialize.batchObjects`), so an insertMany of 1300 objects waits ≥ 1.3 s on
 * timers while both processes idle. Measured on 10k x 768 into a flat index: 600 objects/s through
 * `insertMany` (server CPU 3 s), 1360–1530 through the REST batch endpoint (server CPU 12–13 s: JSON
 * vectors are expensive to parse). This encoder sends the same protobuf message the client builds,
 * vectors as little-endian float32 bytes, over one HTTP/2 session. The message layout is
 * weaviate.v1.BatchObjectsRequest (proto/v1/batch.proto, base.proto; google.protobuf.Struct for
 * scalar properties); test/weaviate/weaviate-grpc-batch.test.ts checks the bytes against the
 * client's own generated encoder. The call itself goes through weaviate-grpc.ts.
 *
 * Scope: scalar properties and arrays of scalars. Objects, geo coordinates and phone numbers (only
 * in classes created outside vectordr) go through the client instead.
 */
import { EngineError } from '../../src/errors.js';
import type { MultiVector } from '../../src/model.js';
import { ProtobufReader } from '../../src/wire/protobuf-reader.js';
import { ProtobufWriter, WIRE_I64, WIRE_LEN, WIRE_VARINT } from '../../src/wire/protobuf-writer.js';
import { PLUGIN } from './weaviate-types.js';

type Scalar = string | number | boolean | null;

/** google.protobuf.Value, as field `field`. */
function value(w: ProtobufWriter, field: number, v: Scalar): void {
  w.nested(field, (x) => {
    if (v === null) x.tag(1, WIRE_VARINT).varint(0);
    else if (typeof v === 'number') x.tag(2, WIRE_I64).double(v);
    else if (typeof v === 'string') x.string(3, v);
    else x.tag(4, WIRE_VARINT).varint(v ? 1 : 0);
  });
}

/** The Weaviate base type of a property's dataType (`text[]` -> `text`), and whether it is an array. */
export type PropertyKind = 'text' | 'int' | 'number' | 'boolean' | 'date' | 'uuid' | 'blob';

export interface BatchProperty {
  name: string;
  kind: PropertyKind;
  array: boolean;
}

export interface BatchObjectInput {
  uuid: string;
  /** Property values by Weaviate name, already converted for Weaviate (valueToWeaviate). */
  properties: Record<string, unknown>;
  /** Named vectors (dense, or multi-vectors of named vectors with `multivector` on), or one unnamed dense vector under `legacy`. */
  vectors: Record<string, Float32Array | MultiVector>;
}

const KINDS = new Set<string>(['text', 'int', 'number', 'boolean', 'date', 'uuid', 'blob']);

/** The batch property of a Weaviate dataType, or undefined when this encoder does not handle it. */
export function batchPropertyOf(name: string, dataType: string): BatchProperty | undefined {
  const array = dataType.endsWith('[]');
  const kind = array ? dataType.slice(0, -2) : dataType;
  if (!KINDS.has(kind) || (array && kind === 'blob')) return undefined;
  return { name, kind: kind as PropertyKind, array };
}

/**
 * weaviate.v1.BatchObjectsRequest for `collection`. `sizeHint` (bytes, e.g. the request's byte
 * budget) sizes the buffer up front.
 */
export function encodeBatchObjects(
  collection: string,
  objects: BatchObjectInput[],
  props: Map<string, BatchProperty>,
  legacy: string | undefined,
  sizeHint = 64 * 1024,
): Uint8Array {
  const w = new ProtobufWriter(sizeHint + sizeHint / 8);
  for (const o of objects) {
    w.nested(1, (obj) => {
      obj.string(1, o.uuid);
      obj.nested(3, (p) => properties(p, collection, o.properties, props));
      obj.string(4, collection);
      if (legacy !== undefined) {
        const v = o.vectors[legacy];
        if (v instanceof Float32Array) obj.packedFloats(6, v);
      } else {
        for (const [name, v] of Object.entries(o.vectors)) {
          // weaviate.v1.Vectors: name 1, vector_bytes 3, type 4 (VECTOR_TYPE_SINGLE_FP32 1, VECTOR_TYPE_MULTI_FP32 2).
          if (v instanceof Float32Array) obj.nested(23, (x) => x.string(1, name).packedFloats(3, v).tag(4, WIRE_VARINT).varint(1));
          else obj.nested(23, (x) => x.string(1, name).bytes(3, multiVectorBytes(v)).tag(4, WIRE_VARINT).varint(2));
        }
      }
    });
  }
  return w.finish();
}

/**
 * A multi-vector as Weaviate's gRPC `vector_bytes` of type MULTI_FP32: the per-vector dimension count
 * as a little-endian uint16, then every vector's float32 values, little-endian, one after the other
 * (the count of vectors follows from the length; weaviate-client's `vectorsToBytes`/`vectorsFromBytes`).
 */
export function multiVectorBytes(v: MultiVector): Uint8Array {
  const out = new Uint8Array(2 + v.data.length * 4);
  const view = new DataView(out.buffer);
  view.setUint16(0, v.dims, true);
  for (let i = 0; i < v.data.length; i++) view.setFloat32(2 + i * 4, v.data[i] as number, true);
  return out;
}

/** weaviate.v1.BatchObject.Properties: scalars in one Struct (field 1), arrays in their typed fields. */
function properties(p: ProtobufWriter, collection: string, values: Record<string, unknown>, props: Map<string, BatchProperty>): void {
  const scalars: [string, Scalar][] = [];
  const arrays: [BatchProperty, unknown[]][] = [];
  for (const [name, v] of Object.entries(values)) {
    const prop = props.get(name);
    if (!prop) throw new EngineError(`No batch property ${JSON.stringify(name)} in ${collection}.`, 'permanent', { plugin: PLUGIN });
    if (prop.array) arrays.push([prop, v as unknown[]]);
    else scalars.push([name, v as Scalar]);
  }
  // Field 1 (nonRefProperties) first, as the client writes it; field order does not matter to protobuf.
  if (scalars.length > 0) {
    p.nested(1, (struct) => {
      for (const [k, v] of scalars) struct.nested(1, (e) => (e.string(1, k), value(e, 2, v)));
    });
  }
  for (const [prop, arr] of arrays) {
    const name = prop.name;
    if (arr.length === 0) p.string(10, name);
    else if (prop.kind === 'number') {
      const b = new Uint8Array(arr.length * 8);
      const dv = new DataView(b.buffer);
      arr.forEach((x, i) => dv.setFloat64(i * 8, x as number, true));
      p.nested(4, (a) => a.string(2, name).bytes(3, b));
    } else if (prop.kind === 'int') {
      p.nested(5, (a) => {
        a.nested(1, (packed) => {
          for (const x of arr) packed.int64(x as number);
        });
        a.string(2, name);
      });
    } else if (prop.kind === 'boolean') {
      p.nested(7, (a) => {
        a.nested(1, (packed) => {
          for (const x of arr) packed.varint(x ? 1 : 0);
        });
        a.string(2, name);
      });
    } else {
      p.nested(6, (a) => {
        for (const x of arr) a.string(1, String(x));
        a.string(2, name);
      });
    }
  }
}

/** Reads weaviate.v1.BatchObjectsReply: the per-object errors (field 2: index 1, error 2). */
export function decodeBatchReply(buf: Uint8Array): { index: number; error: string }[] {
  const fail = (what: string): EngineError =>
    new EngineError(`Unreadable BatchObjects reply from Weaviate (${what}).`, 'permanent', { plugin: PLUGIN });
  const errors: { index: number; error: string }[] = [];
  const r = new ProtobufReader(buf, fail);
  while (r.more()) {
    const [field, wire] = r.tag();
    if (field !== 2 || wire !== WIRE_LEN) {
      r.skip(wire);
      continue;
    }
    const [start, end] = r.len();
    const e = new ProtobufReader(buf, fail, start, end);
    let index = 0;
    let error = '';
    while (e.more()) {
      const [f, w] = e.tag();
      if (f === 1 && w === WIRE_VARINT) index = e.varint();
      else if (f === 2 && w === WIRE_LEN) error = e.string();
      else e.skip(w);
    }
    errors.push({ index, error });
  }
  return errors;
}
