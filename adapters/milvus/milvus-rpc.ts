/**
 * The two bulk calls, insert/upsert and query, made on the SDK's own channel pool without the
 * SDK's cost per message.
 *
 * The SDK's retry interceptor `JSON.stringify`s every request it sends and every response it gets,
 * whole, for a debug line it then cuts to 4096 characters, whatever the log level. A 4096-row query
 * page of 768-dim vectors became ~60 MB of JSON text: on Milvus 2.3.5 that was most of a snapshot's
 * client CPU, and it held the snapshot near 900 MB of RSS (docs/benchmarks.md, Milvus). Here the
 * request and the decoded response each carry a `toJSON` that names them, so that line costs
 * nothing. The call goes through the same pooled gRPC clients the SDK uses (its channel options and
 * interceptors: auth and database metadata, retries), with the service's own serializers.
 */
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { buildFieldDataMap, DEFAULT_DYNAMIC_FIELD, parseToKeyValue } from '@zilliz/milvus2-sdk-node';
import { EngineError } from '../../src/errors.js';
import { ProtobufReader } from '../../src/wire/protobuf-reader.js';
import { ProtobufWriter, WIRE_LEN } from '../../src/wire/protobuf-writer.js';
import type { MilvusStatus } from './milvus-errors.js';
import { PLUGIN } from './milvus-types.js';

/** A method of the service, as the SDK's generated gRPC client describes it. */
interface MethodDefinition {
  path: string;
  requestSerialize: (value: unknown) => Buffer;
  responseDeserialize: (bytes: Buffer) => unknown;
}

/** What vectordr uses of a pooled gRPC client (`@grpc/grpc-js` `Client`). */
interface PooledClient {
  constructor: { service?: Record<string, MethodDefinition> };
  makeUnaryRequest(
    path: string,
    serialize: (value: unknown) => Buffer,
    deserialize: (bytes: Buffer) => unknown,
    argument: unknown,
    options: { deadline: Date },
    callback: (err: Error | null, value?: unknown) => void,
  ): unknown;
}

/** No deadline of the call's own (the SDK's insert without `timeout`): a day. */
const NO_DEADLINE_MS = 24 * 60 * 60 * 1000;

/** Names `message` for `JSON.stringify` (non-enumerable: the proto serializer never sees it). */
function named<T extends object>(message: T, label: string): T {
  Object.defineProperty(message, 'toJSON', { value: () => label, enumerable: false, configurable: true });
  return message;
}

/**
 * One unary call of `method` on a client of the SDK's pool; `timeoutMs` 0: no deadline of its own.
 * `tail`: fields already encoded, appended to the serializer's bytes of `request` (a message's
 * fields may come in any order, and repeated ones append).
 */
export async function quietCall<T extends object>(
  client: MilvusClient,
  method: string,
  request: object,
  timeoutMs: number,
  tail?: Uint8Array,
  decode?: (bytes: Buffer, deserialize: (bytes: Buffer) => unknown) => unknown,
): Promise<T> {
  const pool = client.channelPool;
  const grpc = (await pool.acquire()) as unknown as PooledClient;
  try {
    const definition = grpc.constructor.service?.[method];
    if (!definition) throw new Error(`the Milvus SDK's gRPC client has no method ${method}`);
    const label = `${method} ${String((request as { collection_name?: unknown }).collection_name ?? '')}`;
    named(request, `${label} (request)`);
    const deserialize = (bytes: Buffer): unknown =>
      named(
        (decode ? decode(bytes, definition.responseDeserialize) : definition.responseDeserialize(bytes)) as object,
        `${label} (response, ${bytes.length} bytes)`,
      );
    return await new Promise<T>((resolve, reject) => {
      const deadline = new Date(Date.now() + (timeoutMs > 0 ? timeoutMs : NO_DEADLINE_MS));
      const serialize = tail?.length
        ? (r: unknown): Buffer => Buffer.concat([definition.requestSerialize(r), tail])
        : definition.requestSerialize;
      grpc.makeUnaryRequest(definition.path, serialize, deserialize, request, { deadline }, (err, value) =>
        err ? reject(err) : resolve(value as T),
      );
    });
  } finally {
    // Not awaited, as the SDK's own calls: a failed release must not replace the call's result.
    void Promise.resolve(pool.release(grpc as never)).catch(() => undefined);
  }
}

/** The query the SDK's `query` sends (`grpc/Data.js`, `_query`), for the fields vectordr sets. */
export interface QueryRequest {
  collection_name: string;
  /**
   * Float vectors of the answer in Float32Arrays of this many rows each (the last one shorter), each
   * its own buffer: a scan's batches of that size take them as their columns without a copy.
   * @default one Float32Array for the answer
   */
  chunkRows?: number;
  filter: string;
  limit?: number;
  output_fields: string[];
  consistency_level?: string;
  params?: Record<string, unknown>;
  transformers?: Record<string, unknown>;
}

/** A query's rows, as the SDK's `query` gives them. */
export interface QueryRows {
  status?: MilvusStatus;
  data: Record<string, unknown>[];
}

/** A column of a query's answer, as the SDK's proto decoding gives it (the parts read here). */
interface FieldData {
  field_name: string;
  vectors?: { data?: string; dim?: string | number; float_vector?: { data: number[] } };
  valid_data?: boolean[];
}

interface QueryResults {
  status?: MilvusStatus;
  fields_data: FieldData[];
}

/**
 * A float vector column without nulls as a view per row into its lifted values (`lifted`: taken from
 * the answer's bytes before decoding, one Float32Array per chunk of rows); undefined for any other column.
 */
function floatVectorRows(item: FieldData, lifted: Float32Array[] | undefined): Float32Array[] | undefined {
  const v = item.vectors;
  if (v?.data !== 'float_vector' || !v.float_vector) return undefined;
  if (item.valid_data?.length && !item.valid_data.every(Boolean)) return undefined;
  const dim = Number(v.dim);
  const chunks = lifted ?? [Float32Array.from(v.float_vector.data)];
  const total = chunks.reduce((n, c) => n + c.length, 0);
  if (!(dim > 0) || chunks.some((c) => c.length % dim !== 0)) {
    if (lifted === undefined) return undefined;
    throw new EngineError(
      `Milvus answered ${total} values for float vector field ${JSON.stringify(item.field_name)} of dim ${String(v.dim)}: ` +
        `not a whole number of vectors. Nothing was read from this answer.`,
      'permanent',
      { plugin: PLUGIN, details: { field: item.field_name } },
    );
  }
  const rows: Float32Array[] = [];
  for (const c of chunks) for (let o = 0; o < c.length; o += dim) rows.push(c.subarray(o, o + dim));
  return rows;
}

/**
 * Runs a query and shapes its rows as the SDK's `query` does (one object per row, dynamic keys read
 * from `$meta`, the SDK's `buildFieldDataMap` for the values), without the interceptor's JSON and
 * with one object per row built once, not copied per field.
 */
export async function queryRows(client: MilvusClient, q: QueryRequest): Promise<QueryRows> {
  const queryParams = { ...q.params, ...(q.limit === undefined ? {} : { limit: q.limit }) };
  const request = {
    collection_name: q.collection_name,
    expr: q.filter,
    output_fields: q.output_fields,
    ...(q.consistency_level === undefined ? {} : { consistency_level: q.consistency_level }),
    query_params: parseToKeyValue(queryParams as never),
  };
  let lifted = new Map<string, Float32Array[]>();
  const res = await quietCall<QueryResults>(client, 'Query', request, client.timeout, undefined, (bytes, deserialize) => {
    const split = liftFloatVectors(bytes, q.chunkRows);
    lifted = split.vectors;
    return deserialize(split.rest);
  });
  if (!Array.isArray(res.fields_data)) return { status: res.status, data: [] };
  // Float vectors: a view per row into the lifted Float32Arrays, instead of the SDK's number[] per row
  // built one push per value (rowsToBatch takes a chunk that is exactly a batch's rows as its column).
  const views = new Map<string, unknown[]>();
  const others = res.fields_data.filter((item) => {
    const rows = floatVectorRows(item, lifted.get(item.field_name));
    if (rows) views.set(item.field_name, rows);
    return !rows;
  });
  const map = buildFieldDataMap(others as never, q.transformers as never) as Map<string, unknown[]>;
  for (const [name, rows] of views) map.set(name, rows);
  const columns = res.fields_data.map(({ field_name }) => {
    const own = map.get(field_name);
    if (own) return { field_name, data: own };
    const meta = (map.get(DEFAULT_DYNAMIC_FIELD) ?? []) as Record<string, unknown>[];
    return { field_name, data: meta.map((d) => d[field_name]) };
  });
  const rows: Record<string, unknown>[] = [];
  for (const { field_name, data } of columns) {
    data.forEach((d, i) => {
      const row = (rows[i] ??= {});
      // defineProperty: a field named __proto__ stays an own key (never the row's prototype).
      Object.defineProperty(row, field_name, { value: d, enumerable: true, writable: true, configurable: true });
    });
  }
  return { status: res.status, data: rows };
}

// --- float vectors lifted out of a QueryResults message before it is decoded ---
// Protocol Buffers wire format; field numbers of milvus.proto / schema.proto (SDK 3.0, Milvus 2.3-2.6).
const RESULTS_FIELDS_DATA = 2; // QueryResults: repeated schema.FieldData fields_data = 2
const FIELD_NAME = 2; // FieldData: string field_name = 2
const FIELD_VECTORS = 4; // FieldData: VectorField vectors = 4
const FIELD_VALID_DATA = 7; // FieldData: repeated bool valid_data = 7
const FIELD_SCALARS = 3; // FieldData: ScalarField scalars = 3 (oneof field, beside vectors)
const FIELD_STRUCT_ARRAYS = 8; // FieldData: StructArrayField struct_arrays = 8 (oneof field)
const VECTOR_DIM = 1; // VectorField: int64 dim = 1
const VECTOR_FLOAT = 2; // VectorField: FloatArray float_vector = 2
const FLOAT_DATA = 1; // FloatArray: repeated float data = 1 (packed)

/** One field of a message: its number, wire type, and where it (and, for LEN, its body) lies. */
interface WireField {
  no: number;
  wire: number;
  start: number;
  end: number;
  body: number;
}

/** What the reader throws on a malformed answer: caught by fieldsOf, which then lifts nothing. */
const MALFORMED = new Error('malformed');

/** The fields of `buf[from, to)`, or undefined when it is not a well-formed message (then nothing is lifted). */
function fieldsOf(buf: Uint8Array, from: number, to: number): WireField[] | undefined {
  const r = new ProtobufReader(buf, () => MALFORMED, from, to);
  const out: WireField[] = [];
  try {
    while (r.more()) {
      const start = r.pos;
      const [no, wire] = r.tag();
      let body = r.pos;
      if (wire === WIRE_LEN) [body] = r.len();
      else r.skip(wire);
      out.push({ no, wire, start, end: r.pos, body });
    }
  } catch (err) {
    if (err === MALFORMED) return undefined;
    throw err;
  }
  return out;
}

/** Length-delimited field `no` holding `parts`, one after another. */
function lengthDelimited(no: number, parts: Uint8Array[]): Buffer {
  const len = parts.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([new ProtobufWriter(16).lenHeader(no, len).finish(), ...parts]);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Takes each float vector column's values out of a QueryResults message, as Float32Arrays of
 * `chunkRows` vectors each (one for the whole column when unset or when the column's dim is not
 * known from its bytes), and gives the message back with those values emptied (the rest of it byte for byte), so
 * the proto decoder never turns them into one JavaScript number each (twice: decode, then toObject).
 * A column in any other shape than one packed run of floats is left in the message, decoded as before.
 */
export function liftFloatVectors(bytes: Buffer, chunkRows?: number): { rest: Buffer; vectors: Map<string, Float32Array[]> } {
  const vectors = new Map<string, Float32Array[]>();
  const top = fieldsOf(bytes, 0, bytes.length);
  if (!top) return { rest: bytes, vectors };
  const parts: Uint8Array[] = [];
  for (const f of top) {
    const lifted = f.no === RESULTS_FIELDS_DATA && f.wire === 2 ? liftColumn(bytes, f, chunkRows) : undefined;
    // Two columns of one name: not an answer Milvus gives; nothing is lifted, the decoder sees it all.
    if (lifted && vectors.has(lifted.name)) return { rest: bytes, vectors: new Map() };
    if (lifted) {
      vectors.set(lifted.name, lifted.values);
      parts.push(lifted.entry);
    } else parts.push(bytes.subarray(f.start, f.end));
  }
  return vectors.size === 0 ? { rest: bytes, vectors } : { rest: Buffer.concat(parts), vectors };
}

/** One FieldData entry with its packed float vector values taken out, or undefined when it has none to take. */
function liftColumn(
  bytes: Buffer,
  entry: WireField,
  chunkRows: number | undefined,
): { name: string; values: Float32Array[]; entry: Buffer } | undefined {
  const fields = fieldsOf(bytes, entry.body, entry.end);
  const vectorsField = fields?.filter((f) => f.no === FIELD_VECTORS);
  const nameField = fields?.filter((f) => f.no === FIELD_NAME);
  if (!fields || vectorsField?.length !== 1 || nameField?.length !== 1) return undefined;
  // valid_data (a nullable vector field, Milvus 2.6): left to the decoder and the SDK's null handling;
  // so is a column that also carries another member of the `field` oneof (scalars, struct arrays).
  if (fields.some((f) => (f.no === FIELD_VALID_DATA && f.end > f.body) || f.no === FIELD_SCALARS || f.no === FIELD_STRUCT_ARRAYS))
    return undefined;
  const vf = vectorsField[0] as WireField;
  const nf = nameField[0] as WireField;
  if (vf.wire !== 2 || nf.wire !== 2) return undefined;
  const inner = fieldsOf(bytes, vf.body, vf.end);
  const floats = inner?.filter((f) => f.no === VECTOR_FLOAT);
  if (!inner || floats?.length !== 1 || (floats[0] as WireField).wire !== 2) return undefined;
  // Only dim beside the floats: another member of the VectorField oneof would change what decodes.
  if (inner.some((f) => f.no !== VECTOR_DIM && f.no !== VECTOR_FLOAT)) return undefined;
  const fa = floats[0] as WireField;
  const data = fieldsOf(bytes, fa.body, fa.end);
  if (!data || data.length !== 1 || (data[0] as WireField).no !== FLOAT_DATA || (data[0] as WireField).wire !== 2) return undefined;
  const packed = bytes.subarray((data[0] as WireField).body, (data[0] as WireField).end);
  if (packed.length % 4 !== 0) return undefined;
  // Chunks of whole vectors: the dim as the decoder reads it (the last one written).
  const dimField = inner.filter((f) => f.no === VECTOR_DIM && f.wire === 0).at(-1);
  const dim = dimField ? new ProtobufReader(bytes, () => MALFORMED, dimField.body, dimField.end).varint() : 0;
  const count = packed.length / 4;
  const step = chunkRows !== undefined && chunkRows > 0 && dim > 0 && count % dim === 0 ? chunkRows * dim : count;
  const values: Float32Array[] = [];
  for (let from = 0; from < count || values.length === 0; from += step) {
    const chunk = new Float32Array(Math.min(step, count - from));
    const src = packed.subarray(from * 4, (from + chunk.length) * 4);
    if (LITTLE_ENDIAN) new Uint8Array(chunk.buffer).set(src);
    else for (let i = 0; i < chunk.length; i++) chunk[i] = src.readFloatLE(i * 4);
    values.push(chunk);
  }
  // The same VectorField without the values: an empty FloatArray keeps `float_vector` the set member of its oneof.
  const vectorField = [...inner.filter((f) => f !== fa).map((f) => bytes.subarray(f.start, f.end)), lengthDelimited(VECTOR_FLOAT, [])];
  const fieldData = [
    ...fields.filter((f) => f !== vf).map((f) => bytes.subarray(f.start, f.end)),
    lengthDelimited(FIELD_VECTORS, vectorField),
  ];
  const name = bytes.subarray(nf.body, nf.end).toString('utf8');
  return { name, values, entry: lengthDelimited(RESULTS_FIELDS_DATA, fieldData) };
}
