/**
 * Reading a Milvus collection: the ordered keyset scan, row counts, fetch by id, and rows -> batches.
 *
 * Scans page by primary key (`pk > last`, ascending, Strong consistency) with the query parameters
 * that make Milvus reduce by primary key (`iterator`, `reduce_stop_for_best`); every page is checked
 * to be strictly ascending, so a server that pages out of order fails loudly instead of losing rows
 * (the SDK's own queryIterator lost 2320 of 3000 rows on milvus-lite). See docs/adapters/milvus.md.
 */
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type { ScanOptions, ScanSession } from '../../src/adapter.js';
import { EngineError, throwIfAborted } from '../../src/errors.js';
import {
  type Checkpoint,
  type CollectionSchema,
  type Id,
  type Payload,
  type PayloadValue,
  type RecordBatch,
  type AnyVectorColumn,
  type VectorField,
  type VectorRecord,
  requireDims,
} from '../../src/model.js';
import { idAt, recordAt } from '../../src/model.js';
import type { MilvusContext } from './milvus-client.js';
import { describeRaw, describeSchema, ensureLoaded, idFilter, isLoaded } from './milvus-describe.js';
import { milvusCall } from './milvus-errors.js';
import { queryRows } from './milvus-rpc.js';
import { DYNAMIC_FIELD, DYNAMIC_KEY, PLUGIN, exprString, fromDynamicValue, valueFromMilvus } from './milvus-types.js';
import { RAW_OUTPUT, reverseBits, sparseFromMilvus } from './milvus-vectors.js';

/** Milvus caps limit + offset of one query. */
const MAX_QUERY_WINDOW = 16_384;

export type Row = Record<string, unknown>;

/** Rows of a collection: from a query when it is loaded, else from the flushed statistics. */
export async function countRows(client: MilvusClient, collection: string): Promise<number> {
  if (!(await isLoaded(client, collection))) {
    await describeRaw(client, collection); // COLLECTION_NOT_FOUND
    await milvusCall('flush', collection, () => client.flushSync({ collection_names: [collection] }));
    const stats = await milvusCall('getCollectionStatistics', collection, () =>
      client.getCollectionStatistics({ collection_name: collection }),
    );
    return Number(stats.data?.row_count ?? 0);
  }
  const res = await milvusCall('count query', collection, () =>
    client.query({ collection_name: collection, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' as never }),
  );
  return Number((res.data[0] as Row | undefined)?.['count(*)'] ?? 0);
}

/**
 * A scan of the whole collection in primary-key order, `options.batchSize` rows a batch.
 * `startCheckpoint` gives where a change-field feed continues from this scan (taken after the
 * collection is loaded, before the first page): any scan can start one, a chain's full snapshot or
 * a fingerprint-diff link alike.
 */
export async function scanCollection(
  ctx: MilvusContext,
  collection: string,
  options: ScanOptions,
  startCheckpoint?: (schema: CollectionSchema) => Promise<Checkpoint | undefined>,
): Promise<ScanSession> {
  const { client, logger } = ctx;
  const schema = await describeSchema(ctx, collection);
  await ensureLoaded(ctx, schema);
  const checkpoint = startCheckpoint ? await startCheckpoint(schema) : undefined;
  const partitions = await client.listPartitions({ collection_name: collection }).catch(() => undefined);
  const named = (partitions?.partition_names ?? []).filter((p) => p !== '_default');
  if (named.length > 0) {
    // Rows are all captured; which partition each was in is not (docs/adapters/milvus.md).
    logger.warn({ collection, partitions: named }, 'partitions are not captured: a restore puts every row in the default partition');
  }
  const estimatedRows = await countRows(client, collection);
  // Each query costs Milvus a pass over the matching segments, so pages are at least scanPageRows
  // (measured on 100k x 768: the snapshot took 156 s with ~1300-row pages, the raw loop 46 s with 16384);
  // the batches handed to the core are still batchSize rows.
  const pageSize = Math.min(MAX_QUERY_WINDOW, Math.max(options.batchSize, ctx.options.scanPageRows));
  let closed = false;
  return {
    schema,
    checkpoint,
    estimatedRows,
    async *batches(): AsyncIterable<RecordBatch> {
      let last: string | undefined;
      let seen = 0;
      for (;;) {
        throwIfAborted(options.signal);
        if (closed) return;
        // Only an empty page ends the scan: with reduce_stop_for_best, Milvus stops a page when
        // one segment's rows run out (the rows it returns are still the smallest keys, in order),
        // so a short page is not the last one (Milvus 2.3.5 returned 1 row of 3 in 2 segments).
        const rows = await keysetPage(client, schema, last, pageSize, { chunkRows: options.batchSize });
        if (rows.length === 0) break;
        for (let start = 0; start < rows.length; start += options.batchSize) {
          const batch = rowsToBatch(schema, rows.slice(start, start + options.batchSize));
          last = String(idAt(batch, batch.length - 1));
          seen += batch.length;
          yield batch;
        }
      }
      if (seen !== estimatedRows) {
        logger.warn(
          { collection, scanned: seen, counted: estimatedRows },
          'row count changed during the scan (writes during a live snapshot)',
        );
      }
    },
    async close() {
      closed = true;
    },
  };
}

/** What a keyset page reads besides the key order: rows matching `filter`, only `outputFields`. @default every row, every field */
export interface PageQuery {
  filter?: string;
  outputFields?: string[];
  /** Float vectors in one buffer per this many rows (QueryRequest.chunkRows): the batch size the page is cut into. */
  chunkRows?: number;
}

/**
 * One page of rows with primary key > last (and matching `query.filter`), ascending; checks the
 * order Milvus returned. Only an empty page is the last one (see scanCollection).
 */
export async function keysetPage(
  client: MilvusClient,
  schema: CollectionSchema,
  last: string | undefined,
  limit: number,
  query: PageQuery = {},
): Promise<Row[]> {
  const pk = schema.idField;
  // The first page has no lower bound: Milvus's parser refuses the literal -9223372036854775808
  // (it parses 9223372036854775808, out of int64 range, then negates), and an empty filter with
  // a limit is a plain ordered query.
  const after = last === undefined ? '' : schema.idType === 'int64' ? `${pk} > ${last}` : `${pk} > ${exprString(last)}`;
  const filter = [after, query.filter ?? '']
    .filter((f) => f !== '')
    .map((f, _, all) => (all.length > 1 ? `(${f})` : f))
    .join(' and ');
  const res = await milvusCall('query', schema.name, () =>
    queryRows(client, {
      collection_name: schema.name,
      filter,
      limit,
      output_fields: query.outputFields ?? ['*'],
      ...(query.chunkRows === undefined ? {} : { chunkRows: query.chunkRows }),
      consistency_level: 'Strong',
      params: { iterator: true, reduce_stop_for_best: true },
      transformers: RAW_OUTPUT,
    }),
  );
  const rows = res.data;
  // Milvus orders VarChar keys by their UTF-8 bytes, which JavaScript string order is not.
  const ascending = (a: Row, b: Row): boolean =>
    schema.idType === 'int64'
      ? BigInt(String(a[pk])) < BigInt(String(b[pk]))
      : Buffer.compare(Buffer.from(String(a[pk])), Buffer.from(String(b[pk]))) < 0;
  for (let i = 1; i < rows.length; i++) {
    if (!ascending(rows[i - 1] as Row, rows[i] as Row)) {
      throw new EngineError(
        `Milvus returned rows of ${JSON.stringify(schema.name)} out of primary-key order; a keyset ` +
          `scan could skip rows, so the snapshot was stopped. Upgrade Milvus (2.3+ orders query ` +
          `results with iterator parameters).`,
        'permanent',
        { plugin: PLUGIN },
      );
    }
  }
  return rows;
}

/** The records with these ids, in the order asked; ids without a row are left out. */
export async function fetchRecords(ctx: MilvusContext, collection: string, ids: Id[]): Promise<VectorRecord[]> {
  const { client } = ctx;
  const schema = await describeSchema(ctx, collection);
  await ensureLoaded(ctx, schema);
  const filter = await idFilter(client, collection, ids);
  const res = await milvusCall('query', collection, () =>
    queryRows(client, { collection_name: collection, filter, output_fields: ['*'], consistency_level: 'Strong', transformers: RAW_OUTPUT }),
  );
  const batch = rowsToBatch(schema, res.data);
  const byId = new Map<string, VectorRecord>();
  for (let i = 0; i < batch.length; i++) byId.set(String(idAt(batch, i)), recordAt(batch, i));
  return ids.flatMap((id) => byId.get(String(id)) ?? []);
}

/**
 * Milvus query rows as a columnar batch of `schema`; dynamic keys that stand for fields are taken out
 * of `$meta`. What scan, fetch and change-field links all render records with.
 */
export function rowsToBatch(schema: CollectionSchema, rows: Row[]): RecordBatch {
  const n = rows.length;
  const ids: BigInt64Array | string[] = schema.idType === 'int64' ? new BigInt64Array(n) : new Array<string>(n);
  const readers = schema.vectors.map((v) => columnReader(v, n));
  const payloads: Payload[] = new Array<Payload>(n);
  const dynamicKeys = schema.payload.filter((p) => p.nativeType === DYNAMIC_KEY).map((p) => p.name);
  rows.forEach((r, i) => {
    const id = r[schema.idField];
    if (ids instanceof BigInt64Array) ids[i] = BigInt(String(id));
    else ids[i] = String(id);
    for (const reader of readers) reader.read(r, i, String(id));
    const payload: Payload = {};
    const meta = r[DYNAMIC_FIELD] as Row | null | undefined;
    for (const p of schema.payload) {
      let value: PayloadValue;
      if (p.nativeType === DYNAMIC_KEY) value = fromDynamicValue(meta?.[p.name], p);
      else if (p.name === DYNAMIC_FIELD) value = valueFromMilvus(dynamicKeys.length > 0 && meta ? withoutKeys(meta, dynamicKeys) : meta, p);
      else value = valueFromMilvus(r[p.name], p);
      const emptyMeta =
        p.name === DYNAMIC_FIELD && typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
      if (value !== null && !emptyMeta) payload[p.name] = value;
    }
    payloads[i] = payload;
  });
  const vectors: Record<string, AnyVectorColumn> = {};
  schema.vectors.forEach((v, j) => (vectors[v.name] = (readers[j] as ColumnReader).column()));
  // Every typed array above was allocated for this batch alone: the core may move them to its encoder.
  return { length: n, ids, vectors, payloads, exclusive: true };
}

/** Reads one vector field of every row into a column of its kind. */
interface ColumnReader {
  read(r: Row, i: number, id: string): void;
  column(): AnyVectorColumn;
}

/** A reader of field `v` for `n` rows: dense float32, float16 (raw little-endian bytes), binary (bit-reversed bytes), sparse. */
function columnReader(v: VectorField, n: number): ColumnReader {
  const bad = (id: string, got: number, expected: number): EngineError =>
    new EngineError(`Row ${id} of a Milvus collection: vector ${v.name} has ${got} values, expected ${expected}.`, 'permanent', {
      plugin: PLUGIN,
    });
  if (v.kind === 'sparse') {
    const rowsOf = new Array<{ indices: Uint32Array; values: Float32Array }>(n);
    return {
      read: (r, i) => (rowsOf[i] = sparseFromMilvus((r[v.name] ?? {}) as Record<string, number>)),
      column: () => {
        const offsets = new Uint32Array(n + 1);
        rowsOf.forEach((x, i) => (offsets[i + 1] = (offsets[i] as number) + x.indices.length));
        const indices = new Uint32Array(offsets[n] as number);
        const values = new Float32Array(offsets[n] as number);
        rowsOf.forEach((x, i) => {
          indices.set(x.indices, offsets[i]);
          values.set(x.values, offsets[i]);
        });
        return { kind: 'sparse', ...(v.dims === undefined ? {} : { dims: v.dims }), offsets, indices, values };
      },
    };
  }
  const dims = requireDims(v, PLUGIN);
  if (v.element === 'float16') {
    const data = new Uint16Array(n * dims);
    return {
      read: (r, i, id) => {
        const raw = r[v.name] as Uint8Array | undefined;
        if (raw?.length !== dims * 2) throw bad(id, (raw?.length ?? 0) / 2, dims);
        // Milvus sends little-endian bytes: read them as such on any host.
        for (let d = 0; d < dims; d++) data[i * dims + d] = (raw[2 * d] as number) | ((raw[2 * d + 1] as number) << 8);
      },
      column: () => ({ kind: 'dense', element: 'float16', dims, data }),
    };
  }
  if (v.element === 'binary') {
    const w = Math.ceil(dims / 8);
    const data = new Uint8Array(n * w);
    return {
      read: (r, i, id) => {
        const raw = r[v.name] as number[] | undefined;
        if (raw?.length !== w) throw bad(id, (raw?.length ?? 0) * 8, dims);
        data.set(reverseBits(raw), i * w);
      },
      column: () => ({ kind: 'dense', element: 'binary', dims, data }),
    };
  }
  // Rows whose vectors are, in order, the whole of one buffer (a page's chunk, QueryRequest.chunkRows)
  // give that buffer as the column; any other row makes a copy of them all.
  let adopted: Float32Array | undefined;
  let data: Float32Array | undefined;
  const width = dims * Float32Array.BYTES_PER_ELEMENT;
  return {
    read: (r, i, id) => {
      const vec = r[v.name] as number[] | Float32Array | undefined;
      if (vec?.length !== dims) throw bad(id, vec?.length ?? 0, dims);
      if (data === undefined) {
        const view = vec instanceof Float32Array ? vec : undefined;
        if (i === 0 && view && view.byteOffset === 0 && view.buffer.byteLength === n * width) {
          adopted = new Float32Array(view.buffer, 0, n * dims);
          return;
        }
        if (adopted && view?.buffer === adopted.buffer && view.byteOffset === i * width) return;
        data = new Float32Array(n * dims);
        if (adopted) data.set(adopted.subarray(0, i * dims));
        adopted = undefined;
      }
      data.set(vec, i * dims);
    },
    column: () => ({ dims, data: data ?? adopted ?? new Float32Array(0) }),
  };
}

/** `meta` without the keys that stand for payload fields of their own. */
function withoutKeys(meta: Row, keys: readonly string[]): Row {
  const rest: Row = {};
  // defineProperty: a key named __proto__ stays a key.
  for (const [k, v] of Object.entries(meta)) {
    if (!keys.includes(k)) Object.defineProperty(rest, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return rest;
}
