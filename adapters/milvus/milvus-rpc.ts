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
import type { MilvusStatus } from './milvus-errors.js';

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
): Promise<T> {
  const pool = client.channelPool;
  const grpc = (await pool.acquire()) as unknown as PooledClient;
  try {
    const definition = grpc.constructor.service?.[method];
    if (!definition) throw new Error(`the Milvus SDK's gRPC client has no method ${method}`);
    const label = `${method} ${String((request as { collection_name?: unknown }).collection_name ?? '')}`;
    named(request, `${label} (request)`);
    const deserialize = (bytes: Buffer): unknown =>
      named(definition.responseDeserialize(bytes) as object, `${label} (response, ${bytes.length} bytes)`);
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
    await pool.release(grpc as never);
  }
}

/** The query the SDK's `query` sends (`grpc/Data.js`, `_query`), for the fields vectordr sets. */
export interface QueryRequest {
  collection_name: string;
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

/** A float vector column without nulls as a view per row into one Float32Array; undefined for any other column. */
function floatVectorRows(item: FieldData): Float32Array[] | undefined {
  const v = item.vectors;
  if (v?.data !== 'float_vector' || !v.float_vector) return undefined;
  if (item.valid_data?.length && !item.valid_data.every(Boolean)) return undefined;
  const dim = Number(v.dim);
  const all = Float32Array.from(v.float_vector.data);
  if (!(dim > 0) || all.length % dim !== 0) return undefined;
  return Array.from({ length: all.length / dim }, (_, i) => all.subarray(i * dim, (i + 1) * dim));
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
  const res = await quietCall<QueryResults>(client, 'Query', request, client.timeout);
  if (!Array.isArray(res.fields_data)) return { status: res.status, data: [] };
  // Float vectors: one Float32Array for the page, a view per row, instead of the SDK's number[] per
  // row built one push per value (the scan copies each row into its column: rowsToBatch).
  const views = new Map<string, unknown[]>();
  const others = res.fields_data.filter((item) => {
    const rows = floatVectorRows(item);
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
      // defineProperty: a field named __proto__ stays a key, as the SDK's spread keeps it.
      Object.defineProperty(row, field_name, { value: d, enumerable: true, writable: true, configurable: true });
    });
  }
  return { status: res.status, data: rows };
}
