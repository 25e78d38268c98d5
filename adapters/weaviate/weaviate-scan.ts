/**
 * Reads: the cursor scan (`fetchObjects({ after, limit })`, UUID order, checked page by page), fetch
 * by ids, the object count, and Weaviate objects as neutral records (original ids, vectors, values).
 */
import type { ScanOptions, ScanSession } from '../../src/adapter.js';
import { EngineError, throwIfAborted } from '../../src/errors.js';
import { idToUuid } from '../../src/id-mapping.js';
import {
  type AnyVectorColumn,
  type Checkpoint,
  type Id,
  type Payload,
  type RecordBatch,
  type VectorField,
  type VectorRecord,
  kindOf,
  recordAt,
  requireDenseFloat32,
  requireDims,
} from '../../src/model.js';
import type { WeaviateCollectionLike, WeaviateObjectLike } from './weaviate-client.js';
import type { WeaviateConnection } from './weaviate-connection.js';
import { type Resolved, vectorOf } from './weaviate-describe.js';
import { grpcCall } from './weaviate-errors.js';
import { decodeScanPage, encodeScanPage } from './weaviate-grpc-search.js';
import { ORIGINAL_ID_PROPERTY, PLUGIN, classNameOf, valueFromWeaviate } from './weaviate-types.js';

export async function countObjects(conn: WeaviateConnection, collection: string): Promise<number> {
  const className = classNameOf(collection);
  await conn.rest.mustGetClass(className, collection);
  const col = await conn.collection(className);
  return (await grpcCall('aggregate', () => col.aggregate.overAll())).totalCount;
}

/**
 * A scan of `r` that started at `checkpoint` (the node's clock before the first page was read, see
 * weaviate-capture.ts) when the collection held `estimatedRows` objects.
 */
export async function scanSession(
  conn: WeaviateConnection,
  r: Resolved,
  options: ScanOptions,
  checkpoint: Checkpoint,
  estimatedRows: number,
): Promise<ScanSession> {
  const collection = r.schema.name;
  // A page is capped by the server's QUERY_MAXIMUM_RESULTS, so its size is the adapter's option,
  // not the core's batch size; the batches handed to the core are at most batchSize rows.
  const pageSize = conn.options.scanPageRows;
  const col = await conn.collection(r.className);
  const logger = conn.logger;
  // Without grpcAddress, a client the app gave may reach gRPC where url's host:50051 does not
  // (Weaviate Cloud: grpc-<host>:443): its pages then go through it, unless scanDecoder says so.
  const decoder: Decoder = {
    own: (conn.options.scanDecoder ?? (conn.options.client && !conn.options.grpcAddress ? 'client' : 'vectordr')) === 'vectordr',
  };
  // Cancels the page read ahead when a pass ends early (closed, abandoned, failed, aborted).
  let stop: AbortController | undefined;
  let closed = false;
  return {
    schema: r.schema,
    // Every object changed after the scan started has a _lastUpdateTimeUnix at or after this time:
    // the first timestamp link continues from it (weaviate-capture.ts).
    checkpoint,
    estimatedRows,
    async *batches(): AsyncIterable<RecordBatch> {
      let seen = 0;
      const pass = new AbortController();
      stop = pass;
      const signal = options.signal ? AbortSignal.any([options.signal, pass.signal]) : pass.signal;
      // The next page is asked for as soon as this one is read, so Weaviate reads it while this one
      // is converted and stored (one page ahead; its failure surfaces where it is awaited).
      const ahead = (after: string | undefined): Promise<WeaviateObjectLike[]> => {
        const p = page(conn, r, col, after, pageSize, decoder, signal);
        p.catch(() => undefined);
        return p;
      };
      let next: Promise<WeaviateObjectLike[]> | undefined = ahead(undefined);
      try {
        while (next) {
          throwIfAborted(options.signal);
          if (closed) return;
          const objs: WeaviateObjectLike[] = await next;
          next = objs.length >= pageSize ? ahead((objs[objs.length - 1] as WeaviateObjectLike).uuid) : undefined;
          for (let start = 0; start < objs.length; start += options.batchSize) {
            const batch = toRecordBatch(r, objs.slice(start, start + options.batchSize));
            seen += batch.length;
            yield batch;
          }
        }
      } finally {
        pass.abort();
      }
      if (seen !== estimatedRows) {
        logger.warn(
          { collection, scanned: seen, counted: estimatedRows },
          'object count changed during the scan (writes during a live snapshot)',
        );
      }
    },
    async close() {
      closed = true;
      stop?.abort();
    },
  };
}

/** The properties read over gRPC: the original id and every property not read over REST. */
export function grpcProps(r: Resolved): string[] {
  return [...(r.originalIds ? [ORIGINAL_ID_PROPERTY] : []), ...r.props.filter((p) => !p.rest).map((p) => p.w)];
}

/** Whether a scan's pages go through vectordr's own decoder (weaviate-grpc-search.ts): until one cannot read a page. */
interface Decoder {
  own: boolean;
}

/**
 * One cursor page (UUID order), checked to be strictly ascending. Dates, objects, geo
 * coordinates, phone numbers and blobs come from the REST listing of the same page: the client
 * turns gRPC dates into JS Dates (milliseconds) and needs nested selections for objects; REST
 * returns Weaviate's own values (dates to the microsecond and beyond).
 */
async function page(
  conn: WeaviateConnection,
  r: Resolved,
  col: WeaviateCollectionLike,
  after: string | undefined,
  limit: number,
  decoder: Decoder,
  signal: AbortSignal | undefined,
): Promise<WeaviateObjectLike[]> {
  const props = grpcProps(r);
  let objs: WeaviateObjectLike[] | undefined;
  if (decoder.own) {
    const vectors = r.legacy ? ('legacy' as const) : r.vectors.map((v) => v.w);
    const reply = await conn
      .grpc()
      .unary(
        'Search',
        encodeScanPage({ collection: r.className, after, limit, properties: props, vectors }),
        signal,
        "lower the adapter's scanPageRows",
      );
    const decoded = decodeScanPage(reply);
    if ('objects' in decoded) objs = decoded.objects;
    else {
      decoder.own = false;
      conn.logger.info(
        { collection: r.schema.name, reason: decoded.unsupported },
        "this scan reads its pages through weaviate-client from here on: a page holds what vectordr's decoder does not read",
      );
    }
  }
  objs ??= (
    await grpcCall('fetchObjects', () =>
      col.query.fetchObjects({
        ...(after ? { after } : {}),
        limit,
        includeVector: r.legacy ? true : r.vectors.map((v) => v.w),
        returnProperties: props,
      }),
    )
  ).objects;
  for (let i = 1; i < objs.length; i++) {
    if ((objs[i - 1] as WeaviateObjectLike).uuid >= (objs[i] as WeaviateObjectLike).uuid) {
      throw new EngineError(
        `Weaviate returned objects of ${JSON.stringify(r.schema.name)} out of UUID order; a cursor ` +
          `scan could skip objects, so the snapshot was stopped.`,
        'permanent',
        { plugin: PLUGIN },
      );
    }
  }
  if (objs.length > 0 && r.props.some((p) => p.rest)) await mergeRestProps(conn, r, objs, after, limit);
  return objs;
}

async function mergeRestProps(
  conn: WeaviateConnection,
  r: Resolved,
  objs: WeaviateObjectLike[],
  after: string | undefined,
  limit: number,
): Promise<void> {
  const q = new URLSearchParams({ class: r.className, limit: String(limit) });
  if (after) q.set('after', after);
  const json = (await conn.rest.ok('GET', `/v1/objects?${q.toString()}`)) as {
    objects?: { id: string; properties?: Record<string, unknown> }[];
  };
  const byId = new Map((json.objects ?? []).map((o) => [o.id, o.properties ?? {}]));
  for (const o of objs) {
    const props = byId.get(o.uuid);
    if (!props) {
      // The page changed between the two reads (a concurrent write): read this object alone.
      await mergeRestObject(conn, r, o);
      continue;
    }
    for (const p of r.props) if (p.rest) o.properties[p.w] = props[p.w];
  }
}

/** Reads the REST-only properties of one object. */
export async function mergeRestObject(conn: WeaviateConnection, r: Resolved, o: WeaviateObjectLike): Promise<void> {
  const one = (await conn.rest.ok('GET', `/v1/objects/${r.className}/${o.uuid}`)) as { properties?: Record<string, unknown> };
  for (const p of r.props) if (p.rest) o.properties[p.w] = one.properties?.[p.w];
}

/** The records of `ids` that exist, in the order asked. */
export async function fetchRecords(conn: WeaviateConnection, r: Resolved, ids: Id[]): Promise<VectorRecord[]> {
  const col = await conn.collection(r.className);
  const uuids = ids.map((id) => idToUuid(id, r.schema.idType));
  const props = grpcProps(r);
  const res = await grpcCall('fetchObjects', () =>
    col.query.fetchObjects({
      filters: col.filter.byId().containsAny(uuids),
      limit: uuids.length,
      includeVector: r.legacy ? true : r.vectors.map((v) => v.w),
      returnProperties: props,
    }),
  );
  if (r.props.some((p) => p.rest)) {
    for (const o of res.objects) await mergeRestObject(conn, r, o);
  }
  const batch = toRecordBatch(r, res.objects);
  const byUuid = new Map<string, VectorRecord>();
  for (let i = 0; i < batch.length; i++) byUuid.set((res.objects[i] as WeaviateObjectLike).uuid, recordAt(batch, i));
  return uuids.flatMap((u) => byUuid.get(u) ?? []);
}

/** The original id of an object: its UUID, or the `vdr_id` property of int64 and string collections. */
export function idOf(r: Resolved, o: WeaviateObjectLike): Id {
  if (!r.originalIds) return o.uuid;
  const raw = o.properties[ORIGINAL_ID_PROPERTY];
  if (typeof raw !== 'string') {
    throw new EngineError(
      `Object ${o.uuid} of ${JSON.stringify(r.schema.name)} has no ${ORIGINAL_ID_PROPERTY} ` +
        `property, so its original ${r.schema.idType} id is unknown (written outside vectordr?). ` +
        `Add it, or delete the object, and snapshot again.`,
      'permanent',
      { plugin: PLUGIN, details: { uuid: o.uuid } },
    );
  }
  return r.schema.idType === 'int64' ? BigInt(raw) : raw;
}

/**
 * Objects as neutral records: the one conversion every read uses (scan, fetch, change capture), so
 * the same stored object always has the same record digest.
 */
export function toRecordBatch(r: Resolved, objs: WeaviateObjectLike[]): RecordBatch {
  const n = objs.length;
  const ids: BigInt64Array | string[] = r.schema.idType === 'int64' ? new BigInt64Array(n) : new Array<string>(n);
  const columns = r.vectors.map((v) => columnBuilder(r, v.field, n));
  const payloads: Payload[] = new Array<Payload>(n);
  objs.forEach((o, i) => {
    const id = idOf(r, o);
    if (ids instanceof BigInt64Array) ids[i] = id as bigint;
    else ids[i] = id as string;
    r.vectors.forEach((v, c) => (columns[c] as ColumnBuilder).add(i, id, vectorOf(o, v.w, r.legacy)));
    // Null prototype: a property may be named "__proto__" or "constructor".
    const payload = Object.create(null) as Payload;
    for (const p of r.props) {
      const value = valueFromWeaviate(o.properties[p.w], p.field);
      if (value !== null) payload[p.field.name] = value;
    }
    payloads[i] = payload;
  });
  const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
  r.vectors.forEach((v, c) => (vectors[v.field.name] = (columns[c] as ColumnBuilder).finish()));
  return { length: n, ids, vectors, payloads };
}

/** Collects one vector field's values, row by row, into its column. */
interface ColumnBuilder {
  /** Row `i`'s value as weaviate-client or the scan's decoder returned it (undefined: the object has none). */
  add(i: number, id: Id, vec: Float32Array | number[] | number[][] | undefined): void;
  finish(): AnyVectorColumn;
}

function columnBuilder(r: Resolved, field: VectorField, n: number): ColumnBuilder {
  const dims = requireDims(field, PLUGIN);
  let valid: Uint8Array | undefined;
  const missing = (i: number): void => {
    valid ??= new Uint8Array(n).fill(1);
    valid[i] = 0;
  };
  const wrongDims = (id: Id, got: number): EngineError =>
    new EngineError(
      `Object ${String(id)} of ${JSON.stringify(r.schema.name)}: vector ${field.name} has ${got} values, expected ${dims}.`,
      'permanent',
      { plugin: PLUGIN },
    );
  if (kindOf(field) === 'multi') {
    // Weaviate multi-vectors are float32 (MULTI_FP32); the rows' vectors are collected, then packed.
    const offsets = new Uint32Array(n + 1);
    const rows: number[][][] = [];
    return {
      add(i, id, vec) {
        const vs = (vec ?? []) as number[][];
        if (vs.length === 0) missing(i);
        for (const x of vs) if (!Array.isArray(x) || x.length !== dims) throw wrongDims(id, Array.isArray(x) ? x.length : 1);
        rows.push(vs);
        offsets[i + 1] = (offsets[i] as number) + vs.length;
      },
      finish() {
        const data = new Float32Array((offsets[n] as number) * dims);
        let at = 0;
        for (const vs of rows) {
          for (const x of vs) {
            data.set(x, at);
            at += dims;
          }
        }
        return { kind: 'multi', dims, offsets, data, ...(valid ? { valid } : {}) };
      },
    };
  }
  requireDenseFloat32(field, 'the Weaviate adapter', PLUGIN);
  const data = new Float32Array(n * dims);
  return {
    add(i, id, vec) {
      if (!vec) return missing(i);
      if (vec.length !== dims || Array.isArray(vec[0])) throw wrongDims(id, vec.length);
      data.set(vec as Float32Array | number[], i * dims);
    },
    finish: () => ({ dims, data, ...(valid ? { valid } : {}) }),
  };
}
