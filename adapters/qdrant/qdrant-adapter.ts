/**
 * Qdrant adapter on @qdrant/js-client-rest. One Qdrant collection = one vectordr collection.
 *
 * Ids: Qdrant takes unsigned integers and UUIDs; int64 ids in [0, 2^53) stay integers, every other
 * id becomes a deterministic UUIDv5 with the original in the payload key `vdr_id` (see `pointId`:
 * the client rounds integers above 2^53 on Node 20, so none is ever put on the wire). The neutral
 * schema of a collection vectordr created is kept in the collection's `metadata`. Scans page with
 * `scroll` and `next_page_offset` (id order), checked page by page. Qdrant normalises vectors of
 * Cosine collections on write: the adapter declares `normalizesCosine`, and parity compares such
 * vectors after normalisation. See docs/adapters/qdrant.md.
 */
import { QdrantClient } from '@qdrant/js-client-rest';
import { z } from 'zod';
import type {
  AdapterCapabilities,
  CreateOptions,
  IndexBuildReport,
  ProbeResult,
  ScanOptions,
  ScanSession,
  SearchHit,
  SearchOptions,
  VectorAdapter,
  WriteOptions,
} from '../../src/adapter.js';
import { defineCapabilities } from '../../src/adapter.js';
import { EngineError, InvalidInputError, NotFoundError, UnsupportedOperationError, VectordrError, throwIfAborted } from '../../src/errors.js';
import { chunksByBytes, forEachLimit, sleep } from '../../src/async.js';
import { parseOptions } from '../../src/options.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import type { CollectionSchema, Id, IndexSpec, JsonValue, Payload, PayloadField, RecordBatch, VectorColumn, VectorField, VectorRecord } from '../../src/model.js';
import { idAt, recordAt } from '../../src/model.js';
import { idCollisionGuard } from '../../src/id-mapping.js';
import { invalidCollectionName, validateBatchVectors } from '../../src/validate.js';
import { type QdrantAdapterOptions, QdrantAdapterOptionsSchema } from './qdrant-options.js';
import {
  type CollectionMeta,
  CollectionMetaSchema,
  MARKER_KEY,
  META_KEY,
  ORIGINAL_ID_KEY,
  PLUGIN,
  UNNAMED_VECTOR,
  type VectorParamsLike,
  WHOLE_PAYLOAD_FIELD,
  WHOLE_PAYLOAD_NATIVE,
  checkPayloadNames,
  distanceToQdrant,
  idFromPoint,
  indexFromQdrant,
  metricFromQdrant,
  payloadIndexType,
  pointId,
  pointIdLess,
  vectorParamsFor,
} from './qdrant-types.js';

const MAX_DIMS = 65_536;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

type PointId = number | string | bigint;
interface PointLike {
  id: PointId;
  payload?: Record<string, unknown> | null;
  vector?: number[] | Record<string, unknown> | null;
  score?: number;
}

/** The subset of QdrantClient the adapter calls. */
interface QdrantLike {
  getCollection(name: string): Promise<Record<string, unknown>>;
  collectionExists(name: string): Promise<{ exists: boolean }>;
  /** The generated REST API: its createCollection forwards every field (the client's own drops `metadata`). */
  api(): { createCollection(args: Record<string, unknown>): Promise<{ data: { result?: boolean | null } }> };
  updateCollection(name: string, body: Record<string, unknown>): Promise<boolean>;
  deleteCollection(name: string): Promise<boolean>;
  createPayloadIndex(name: string, body: Record<string, unknown>): Promise<unknown>;
  upsert(name: string, body: { wait: boolean; points: { id: PointId; vector: number[] | Record<string, number[]>; payload: Record<string, unknown> }[] }): Promise<unknown>;
  scroll(name: string, body: Record<string, unknown>): Promise<{ points: PointLike[]; next_page_offset?: PointId | Record<string, unknown> | null }>;
  count(name: string, body: { exact: boolean }): Promise<{ count: number }>;
  retrieve(name: string, body: Record<string, unknown>): Promise<PointLike[]>;
  delete(name: string, body: Record<string, unknown>): Promise<unknown>;
  query(name: string, body: Record<string, unknown>): Promise<{ points: PointLike[] }>;
  versionInfo(): Promise<{ version?: string }>;
}

interface Resolved {
  name: string;
  schema: CollectionSchema;
  meta: CollectionMeta | undefined;
  /** Neutral vector -> Qdrant vector name ('' = the unnamed vector). */
  vectors: { field: VectorField; q: string }[];
  unnamed: boolean;
  /** Payload of a collection vectordr did not create (and its restores): one neutral json field holds it whole. */
  wholePayload: boolean;
}

export class QdrantAdapter implements VectorAdapter {
  readonly engine = 'qdrant' as const;
  readonly capabilities: AdapterCapabilities = defineCapabilities({
    idTypes: ['int64', 'string', 'uuid'],
    namedVectors: true,
    atomicMarker: false,
    maxDims: MAX_DIMS,
    normalizesCosine: true,
    payloadFloatExact: false,
  });
  private readonly client: QdrantLike;
  private readonly options: z.output<typeof QdrantAdapterOptionsSchema>;
  private readonly logger: Logger;
  private readonly endpoint: string;
  private readonly cache = new Map<string, Resolved>();
  private readonly createNotes = new Map<string, IndexBuildReport['skipped']>();

  constructor(options: QdrantAdapterOptions) {
    const o = parseOptions(QdrantAdapterOptionsSchema, options, 'Qdrant adapter', PLUGIN);
    this.options = o;
    this.logger = o.logger ?? silentLogger;
    if (o.client) {
      this.client = o.client as unknown as QdrantLike;
      this.endpoint = o.endpointLabel ?? 'qdrant (caller client)';
    } else {
      const url = new URL(o.url as string);
      if (url.username || url.password) throw new InvalidInputError('INVALID_OPTIONS', 'Invalid Qdrant adapter options: put the API key in apiKey, not in url (URLs end up in logs).', { plugin: PLUGIN });
      this.client = new QdrantClient({ url: o.url as string, apiKey: o.apiKey, timeout: o.timeoutMs, checkCompatibility: false }) as unknown as QdrantLike;
      this.endpoint = o.endpointLabel ?? `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    }
  }

  /** Runs a client call; maps its errors to typed ones (404 on a collection -> COLLECTION_NOT_FOUND). */
  private async call<T>(what: string, collection: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof VectordrError) throw err;
      const e = err as { status?: number; message?: string; data?: { status?: { error?: string } } };
      const msg = e.data?.status?.error ?? e.message ?? String(err);
      if (e.status === 404 && collection !== undefined) {
        throw new NotFoundError('COLLECTION_NOT_FOUND', `Qdrant collection ${JSON.stringify(collection)} does not exist (${what}).`, { plugin: PLUGIN, details: { collection } });
      }
      const transient = e.status === 429 || (e.status !== undefined && e.status >= 500) || /ECONNREFUSED|ECONNRESET|timeout|fetch failed|socket/i.test(msg);
      throw new EngineError(`${what}: ${msg}`, transient ? 'transient' : 'permanent', { plugin: PLUGIN, cause: err, details: { status: e.status } });
    }
  }

  async exists(collection: string): Promise<boolean> {
    return (await this.call('collectionExists', undefined, () => this.client.collectionExists(collection))).exists;
  }

  checkCollectionName(name: string, use: 'read' | 'create'): void {
    // Qdrant's own rule (collection names become directory names): 1 to 255 characters, none of < > : " / \ | ? * or a control character.
    // eslint-disable-next-line no-control-regex
    const bad = /[<>:"/\\|?*\u0000-\u001f]/g;
    if (name.length >= 1 && name.length <= 255 && !bad.test(name) && name !== '.' && name !== '..') return;
    throw invalidCollectionName(PLUGIN, name, 'Qdrant names are 1 to 255 characters without < > : " / \\ | ? * or control characters', name.replace(bad, '_').replace(/^\.{1,2}$/, '_').slice(0, 255) || '_', use);
  }

  async describe(collection: string): Promise<CollectionSchema> {
    return (await this.resolve(collection)).schema;
  }

  private async info(collection: string): Promise<Record<string, unknown>> {
    return this.call('getCollection', collection, () => this.client.getCollection(collection));
  }

  private async resolve(collection: string): Promise<Resolved> {
    const info = await this.info(collection);
    const config = (info.config ?? {}) as { params?: Record<string, unknown>; hnsw_config?: Record<string, unknown>; metadata?: Record<string, unknown> | null };
    const params = config.params ?? {};
    const sparse = params.sparse_vectors as Record<string, unknown> | null | undefined;
    if (sparse && Object.keys(sparse).length > 0) {
      throw new UnsupportedOperationError(`Qdrant collection ${JSON.stringify(collection)} has sparse vectors (${Object.keys(sparse).join(', ')}); vectordr captures dense vectors only so far. Nothing was read (no vector is ever dropped silently).`, {
        plugin: PLUGIN,
        details: { collection, sparse: Object.keys(sparse) },
      });
    }
    const metaParsed = CollectionMetaSchema.safeParse(config.metadata?.[META_KEY]);
    const meta = metaParsed.success ? metaParsed.data : undefined;
    const raw = (params.vectors ?? {}) as VectorParamsLike | Record<string, VectorParamsLike>;
    const unnamed = typeof (raw as VectorParamsLike).size === 'number';
    const entries: [string, VectorParamsLike][] = unnamed ? [['', raw as VectorParamsLike]] : Object.entries(raw as Record<string, VectorParamsLike>);
    if (entries.length === 0) {
      throw new UnsupportedOperationError(`Qdrant collection ${JSON.stringify(collection)} has no dense vectors; nothing to snapshot.`, { plugin: PLUGIN, details: { collection } });
    }
    const vectors: Resolved['vectors'] = [];
    const indexes: IndexSpec[] = [];
    for (const [q, p] of entries) {
      if (p.multivector_config) {
        throw new UnsupportedOperationError(`Vector ${JSON.stringify(q || UNNAMED_VECTOR)} of Qdrant collection ${JSON.stringify(collection)} is a multivector; vectordr captures single dense vectors only so far. Nothing was read (no vector is ever dropped silently).`, {
          plugin: PLUGIN,
          details: { collection, vector: q },
        });
      }
      const datatype = p.datatype ?? 'float32';
      if (!['float32', 'float16', 'uint8'].includes(datatype)) {
        throw new UnsupportedOperationError(`Vector ${JSON.stringify(q || UNNAMED_VECTOR)} of Qdrant collection ${JSON.stringify(collection)} has datatype ${datatype}; vectordr reads float32, float16 and uint8.`, { plugin: PLUGIN, details: { collection, datatype } });
      }
      const name = meta?.vectors[q] ?? (q || UNNAMED_VECTOR);
      indexes.push(indexFromQdrant(name, p, config.hnsw_config ?? {}));
      vectors.push({ q, field: { name, dims: p.size, metric: metricFromQdrant(p.distance), element: 'float32', nullable: !unnamed, nativeType: `qdrant:${datatype}${q === '' ? ':unnamed' : ''}` } });
    }
    let idType = meta?.idType;
    if (!idType) idType = await this.nativeIdType(collection);
    const payload: PayloadField[] = meta ? meta.payload : [{ name: WHOLE_PAYLOAD_FIELD, type: 'json', array: false, nullable: true, nativeType: WHOLE_PAYLOAD_NATIVE }];
    const payloadSchema = (info.payload_schema ?? {}) as Record<string, { data_type?: string; params?: unknown }>;
    for (const [field, s] of Object.entries(payloadSchema)) {
      if (field === ORIGINAL_ID_KEY) continue;
      indexes.push({ kind: `payload:${String(s.data_type ?? 'keyword')}`, field, params: {}, native: JSON.stringify({ qdrant: s }) });
    }
    const native: Record<string, JsonValue> = {};
    for (const k of ['shard_number', 'replication_factor', 'write_consistency_factor', 'on_disk_payload'] as const) if (params[k] !== undefined) native[k] = params[k] as JsonValue;
    if (config.hnsw_config) native.hnsw_config = config.hnsw_config as JsonValue;
    const schema: CollectionSchema = {
      name: collection,
      idField: meta?.idField ?? 'id',
      idType,
      ...(meta?.idNativeType ? { idNativeType: meta.idNativeType } : {}),
      vectors: vectors.map((v) => v.field),
      payload,
      indexes,
      native,
    };
    const wholePayload = payload.length === 1 && payload[0]?.nativeType === WHOLE_PAYLOAD_NATIVE;
    return { name: collection, schema, meta, vectors, unnamed, wholePayload };
  }

  /**
   * Id type of a collection vectordr did not create: integer ids sort before UUIDs in a scroll, so
   * the first point, and the first point from the nil UUID on, tell which kinds exist. Both: `string`.
   */
  private async nativeIdType(collection: string): Promise<'int64' | 'uuid' | 'string'> {
    const first = await this.call('scroll', collection, () => this.client.scroll(collection, { limit: 1, with_payload: false, with_vector: false }));
    const p0 = first.points[0];
    if (!p0 || typeof p0.id === 'string') return 'uuid';
    const uuids = await this.call('scroll', collection, () => this.client.scroll(collection, { limit: 1, offset: NIL_UUID, with_payload: false, with_vector: false }));
    return uuids.points.length > 0 ? 'string' : 'int64';
  }

  private async resolveCached(collection: string): Promise<Resolved> {
    let r = this.cache.get(collection);
    if (!r) {
      r = await this.resolve(collection);
      this.cache.set(collection, r);
    }
    return r;
  }

  async count(collection: string): Promise<number> {
    return (await this.call('count', collection, () => this.client.count(collection, { exact: true }))).count;
  }

  async scan(collection: string, options: ScanOptions): Promise<ScanSession> {
    const r = await this.resolve(collection);
    const estimatedRows = await this.count(collection);
    const pageSize = this.options.scanPageRows;
    const logger = this.logger;
    const page = (offset: PointId | undefined): Promise<{ points: PointLike[]; next: PointId | undefined }> => this.page(r, offset, pageSize);
    const toBatch = (points: PointLike[]): RecordBatch => toRecordBatch(r, points);
    let closed = false;
    return {
      schema: r.schema,
      checkpoint: undefined,
      estimatedRows,
      async *batches(): AsyncIterable<RecordBatch> {
        let offset: PointId | undefined;
        let seen = 0;
        for (;;) {
          throwIfAborted(options.signal);
          if (closed) return;
          const { points, next } = await page(offset);
          for (let start = 0; start < points.length; start += options.batchSize) {
            const batch = toBatch(points.slice(start, start + options.batchSize));
            seen += batch.length;
            yield batch;
          }
          if (next === undefined || points.length === 0) break;
          offset = next;
        }
        if (seen !== estimatedRows) logger.warn({ collection, scanned: seen, counted: estimatedRows }, 'point count changed during the scan (writes during a live snapshot)');
      },
      async close() {
        closed = true;
      },
    };
  }

  /** One scroll page, checked to be in Qdrant's id order. */
  private async page(r: Resolved, offset: PointId | undefined, limit: number): Promise<{ points: PointLike[]; next: PointId | undefined }> {
    const res = await this.call('scroll', r.name, () =>
      this.client.scroll(r.name, { limit, ...(offset !== undefined ? { offset } : {}), with_payload: true, with_vector: r.unnamed ? true : r.vectors.map((v) => v.q) }),
    );
    const points = res.points;
    for (let i = 1; i < points.length; i++) {
      if (!pointIdLess((points[i - 1] as PointLike).id, (points[i] as PointLike).id)) {
        throw new EngineError(`Qdrant returned points of ${JSON.stringify(r.name)} out of id order; a scroll could skip points, so the snapshot was stopped.`, 'permanent', { plugin: PLUGIN });
      }
    }
    const n = res.next_page_offset;
    const next = n === null || n === undefined ? undefined : typeof n === 'object' ? undefined : n;
    if (next !== undefined && typeof next === 'number' && !Number.isSafeInteger(next)) idFromPoint(next, undefined, 'int64', r.name); // throws the rounding error
    return { points, next };
  }

  preflightCreate(schema: CollectionSchema): void {
    this.planCollection(schema);
  }

  private planCollection(schema: CollectionSchema): { body: Record<string, unknown>; notes: IndexBuildReport['skipped']; meta: CollectionMeta } {
    const sameEngine = schema.vectors.some((v) => v.nativeType?.startsWith('qdrant:'));
    const notes: IndexBuildReport['skipped'] = [];
    checkPayloadNames(schema.payload, schema.idType !== 'uuid', schema.name);
    const unnamed = sameEngine && schema.vectors.length === 1 && schema.vectors[0]?.nativeType?.endsWith(':unnamed') === true;
    const vectors: Record<string, VectorParamsLike> = {};
    for (const v of schema.vectors) {
      if (v.dims > MAX_DIMS) throw new InvalidInputError('DIMENSION_MISMATCH', `Vector ${JSON.stringify(v.name)} has ${v.dims} dimensions; Qdrant accepts at most ${MAX_DIMS}. Nothing was created.`, { plugin: PLUGIN });
      const metric = v.metric !== 'unspecified' ? v.metric : this.options.metricForUnindexed;
      if (!metric) {
        throw new UnsupportedOperationError(`Vector ${JSON.stringify(v.name)} of ${JSON.stringify(schema.name)} has no metric in the snapshot (the source had no index on it), and a Qdrant collection needs a distance. Pass metricForUnindexed ('cosine', 'l2', 'dot' or 'l1') to the Qdrant adapter; vectordr never picks a metric silently.`, {
          plugin: PLUGIN,
          details: { field: v.name, supported: ['cosine', 'l2', 'dot', 'l1'] },
        });
      }
      const index = schema.indexes.find((i) => i.field === v.name && !i.kind.startsWith('payload:') && i.kind !== 'btree');
      const planned = vectorParamsFor(v.dims, distanceToQdrant(metric, v.name), index, sameEngine);
      if (planned.skipped) notes.push({ kind: index?.kind ?? 'hnsw', field: v.name, reason: planned.skipped, action: 'converted' });
      vectors[v.name] = planned.params;
    }
    const meta: CollectionMeta = {
      v: 1,
      idField: schema.idField,
      idType: schema.idType,
      ...(schema.idNativeType ? { idNativeType: schema.idNativeType } : {}),
      vectors: unnamed ? { '': (schema.vectors[0] as VectorField).name } : Object.fromEntries(schema.vectors.map((v) => [v.name, v.name])),
      payload: schema.payload,
    };
    const native = schema.native ?? {};
    const body: Record<string, unknown> = {
      vectors: unnamed ? Object.values(vectors)[0] : vectors,
      ...(sameEngine && native.hnsw_config ? { hnsw_config: native.hnsw_config } : {}),
      ...(sameEngine && typeof native.on_disk_payload === 'boolean' ? { on_disk_payload: native.on_disk_payload } : {}),
      // Shards and replication are the target cluster's business (restores go into any topology).
      metadata: { [META_KEY]: meta },
    };
    return { body, notes, meta };
  }

  async create(schema: CollectionSchema, options: CreateOptions): Promise<void> {
    throwIfAborted(options.signal);
    const { body, notes } = this.planCollection(schema);
    if (await this.exists(schema.name)) throw new InvalidInputError('TARGET_EXISTS', `Qdrant collection ${JSON.stringify(schema.name)} already exists.`, { plugin: PLUGIN });
    this.cache.delete(schema.name);
    // QdrantClient.createCollection (1.18) forwards a fixed list of fields and drops `metadata`.
    await this.call('createCollection', undefined, () => this.client.api().createCollection({ collection_name: schema.name, ...body }));
    this.createNotes.set(schema.name, notes);
    if (options.indexes === 'now') await this.payloadIndexes(schema.name, schema, notes);
  }

  /** Payload indexes: recorded Qdrant ones (same engine), or one per indexed payload field of another engine. */
  private async payloadIndexes(collection: string, schema: CollectionSchema, skipped: IndexBuildReport['skipped']): Promise<IndexBuildReport['built']> {
    const built: IndexBuildReport['built'] = [];
    const byName = new Map(schema.payload.map((p) => [p.name, p]));
    const done = new Set<string>();
    for (const i of schema.indexes) {
      if (schema.vectors.some((v) => v.name === i.field) || done.has(i.field)) continue;
      let fieldSchema: unknown;
      if (i.kind.startsWith('payload:') && i.native?.startsWith('{"qdrant"')) {
        const s = (JSON.parse(i.native) as { qdrant: { data_type?: string; params?: unknown } }).qdrant;
        fieldSchema = s.params ?? s.data_type;
      } else {
        const f = byName.get(i.field);
        fieldSchema = f && !f.array ? payloadIndexType(f.type) : undefined;
      }
      if (fieldSchema === undefined) {
        skipped.push({ kind: i.kind, field: i.field, reason: 'no Qdrant payload index type for this field' });
        continue;
      }
      const t0 = performance.now();
      await this.call('createPayloadIndex', collection, () => this.client.createPayloadIndex(collection, { field_name: i.field, field_schema: fieldSchema, wait: true }));
      built.push({ kind: `payload:${typeof fieldSchema === 'string' ? fieldSchema : 'params'}`, field: i.field, ms: Math.round(performance.now() - t0) });
      done.add(i.field);
    }
    return built;
  }

  /** Qdrant builds HNSW in the background (optimizers): wait until the collection is green. */
  async buildIndexes(collection: string, schema: CollectionSchema, options: { signal?: AbortSignal } = {}): Promise<IndexBuildReport> {
    const skipped = [...(this.createNotes.get(collection) ?? [])];
    const built = await this.payloadIndexes(collection, schema, skipped);
    const t0 = performance.now();
    for (;;) {
      throwIfAborted(options.signal);
      const info = await this.info(collection);
      if (info.status === 'green') break;
      if (performance.now() - t0 > this.options.timeoutMs) throw new EngineError(`Qdrant collection ${JSON.stringify(collection)} is still ${String(info.status)} after ${this.options.timeoutMs} ms.`, 'transient', { plugin: PLUGIN });
      await sleep(200, options.signal);
    }
    const ms = Math.round(performance.now() - t0);
    for (const v of schema.vectors) built.push({ kind: 'hnsw', field: v.name, ms });
    return { built, skipped };
  }

  async write(collection: string, batch: RecordBatch, options: WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    const r = await this.resolveCached(collection);
    validateBatchVectors(batch, r.schema.vectors, PLUGIN);
    const known = new Set(r.schema.payload.map((p) => p.name));
    const points: { id: PointId; vector: number[] | Record<string, number[]>; payload: Record<string, unknown> }[] = new Array(batch.length);
    const sizes: number[] = new Array<number>(batch.length);
    const claim = idCollisionGuard('Qdrant point', PLUGIN);
    for (let i = 0; i < batch.length; i++) {
      const id = idAt(batch, i);
      const pid = pointId(id, r.schema.idType);
      claim(String(pid.id), id);
      const src = batch.payloads[i] ?? {};
      let payload: Record<string, unknown>;
      if (r.wholePayload) {
        const whole = src[WHOLE_PAYLOAD_FIELD];
        if (whole !== undefined && whole !== null && (typeof whole !== 'object' || Array.isArray(whole))) {
          throw new InvalidInputError('SCHEMA_MISMATCH', `Row ${String(id)}: field ${WHOLE_PAYLOAD_FIELD} must be a JSON object to become a Qdrant payload. Nothing of this batch was written.`, { plugin: PLUGIN });
        }
        payload = { ...((whole as Record<string, unknown> | undefined) ?? {}) };
      } else {
        payload = {};
        for (const [k, v] of Object.entries(src)) {
          if (!known.has(k)) throw new InvalidInputError('SCHEMA_MISMATCH', `Payload field ${JSON.stringify(k)} is not in the schema of Qdrant collection ${JSON.stringify(collection)}. Nothing of this batch was written.`, { plugin: PLUGIN });
          if (v !== null) payload[k] = v;
        }
      }
      if (pid.original !== undefined) payload[ORIGINAL_ID_KEY] = pid.original;
      let rowBytes = 64 + JSON.stringify(payload).length;
      let vector: number[] | Record<string, number[]>;
      if (r.unnamed) {
        const col = batch.vectors[(r.vectors[0] as Resolved['vectors'][number]).field.name] as VectorColumn;
        vector = Array.from(col.data.subarray(i * col.dims, (i + 1) * col.dims));
        rowBytes += col.dims * 10;
      } else {
        const named: Record<string, number[]> = {};
        for (const v of r.vectors) {
          const col = batch.vectors[v.field.name] as VectorColumn;
          if (col.valid && col.valid[i] === 0) continue;
          named[v.q] = Array.from(col.data.subarray(i * col.dims, (i + 1) * col.dims));
          rowBytes += col.dims * 10; // JSON text of a float32
        }
        vector = named;
      }
      points[i] = { id: pid.id, vector, payload };
      sizes[i] = rowBytes;
    }
    const parts = chunksByBytes(points, sizes, this.options.upsertBatchBytes).map((c) => c.items);
    // Up to writeConcurrency upserts in flight; all waited for (wait: true) before write() returns,
    // so the marker the core writes next never runs ahead of stored points.
    await forEachLimit(parts, this.options.writeConcurrency, (part) => this.call('upsert', collection, () => this.client.upsert(collection, { wait: true, points: part })).then(() => undefined), options.signal);
  }

  async readMarker(collection: string): Promise<string | undefined> {
    const info = await this.info(collection);
    const m = ((info.config ?? {}) as { metadata?: Record<string, unknown> | null }).metadata?.[MARKER_KEY];
    return typeof m === 'string' && m ? m : undefined;
  }

  async writeMarker(collection: string, marker: string | undefined): Promise<void> {
    if (marker === undefined && (await this.readMarker(collection)) === undefined) return;
    // Qdrant merges metadata on update; a null value removes the key.
    await this.call('updateCollection', collection, () => this.client.updateCollection(collection, { metadata: { [MARKER_KEY]: marker ?? null } }));
  }

  async drop(collection: string): Promise<void> {
    this.cache.delete(collection);
    if (!(await this.exists(collection))) return;
    await this.call('deleteCollection', collection, () => this.client.deleteCollection(collection));
  }

  async delete(collection: string, ids: Id[]): Promise<void> {
    if (ids.length === 0) return;
    const r = await this.resolveCached(collection);
    for (let i = 0; i < ids.length; i += 1000) {
      const points = ids.slice(i, i + 1000).map((id) => this.lookupId(r, id));
      await this.call('delete', collection, () => this.client.delete(collection, { wait: true, points }));
    }
  }

  /** The point id to look a record up by (collections of others: their own ids, as text for mixed ones). */
  private lookupId(r: Resolved, id: Id): PointId {
    if (r.meta) return pointId(id, r.schema.idType).id;
    if (r.schema.idType === 'int64') return Number(id);
    const s = String(id);
    return /^\d+$/.test(s) ? Number(s) : s;
  }

  async fetch(collection: string, ids: Id[]): Promise<VectorRecord[]> {
    if (ids.length === 0) return [];
    const r = await this.resolve(collection);
    const out = new Map<string, VectorRecord>();
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000).map((id) => this.lookupId(r, id));
      const points = await this.call('retrieve', collection, () => this.client.retrieve(collection, { ids: chunk, with_payload: true, with_vector: r.unnamed ? true : r.vectors.map((v) => v.q) }));
      const batch = toRecordBatch(r, points);
      for (let k = 0; k < batch.length; k++) {
        const rec = recordAt(batch, k);
        out.set(String(rec.id), rec);
      }
    }
    return ids.flatMap((id) => out.get(String(id)) ?? []);
  }

  async search(collection: string, vector: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    // Cached like write(): verifyRecall searches once per query, and resolving reads the schema (and
    // for collections vectordr did not create, samples objects) every time.
    const r = await this.resolveCached(collection);
    const v = options.vector ? r.vectors.find((x) => x.field.name === options.vector) : r.vectors[0];
    if (!v) throw new InvalidInputError('SCHEMA_MISMATCH', `Qdrant collection ${JSON.stringify(collection)} has no vector ${JSON.stringify(options.vector)}.`, { plugin: PLUGIN });
    const res = await this.call('query', collection, () =>
      this.client.query(collection, {
        query: Array.from(vector),
        ...(r.unnamed ? {} : { using: v.q }),
        limit: k,
        params: { exact: options.exact === true, ...(options.effort !== undefined && !options.exact ? { hnsw_ef: Math.max(k, Math.trunc(options.effort)) } : {}) },
        with_payload: [ORIGINAL_ID_KEY],
        with_vector: false,
      }),
    );
    return res.points.map((p) => ({ id: idFromPoint(p.id, p.payload, r.schema.idType, collection), score: Number(p.score) }));
  }

  async probe(): Promise<ProbeResult> {
    const t0 = performance.now();
    try {
      if (this.options.url) {
        const ready = await fetch(`${this.options.url.replace(/\/+$/, '')}/readyz`, { signal: AbortSignal.timeout(Math.min(this.options.timeoutMs, 10_000)) });
        await ready.text();
        if (ready.status !== 200) return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: `not ready (HTTP ${ready.status})` };
      }
      const v = await this.client.versionInfo();
      return { reachable: true, role: 'primary', latencyMs: performance.now() - t0, ...(v.version ? { engineVersion: v.version } : {}) };
    } catch (err) {
      return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: (err as Error).message };
    }
  }

  async describeEndpoint(): Promise<{ engineVersion: string; endpoint: string }> {
    const v = await this.client.versionInfo().catch(() => undefined);
    return { engineVersion: v?.version ?? 'unknown', endpoint: this.endpoint };
  }
}

function toRecordBatch(r: Resolved, points: PointLike[]): RecordBatch {
  const n = points.length;
  const ids: BigInt64Array | string[] = r.schema.idType === 'int64' ? new BigInt64Array(n) : new Array<string>(n);
  const vectors: Record<string, VectorColumn> = {};
  const valids: Record<string, Uint8Array> = {};
  for (const v of r.vectors) vectors[v.field.name] = { dims: v.field.dims, data: new Float32Array(n * v.field.dims) };
  const payloads: Payload[] = new Array<Payload>(n);
  points.forEach((p, i) => {
    const id = idFromPoint(p.id, r.meta ? p.payload : undefined, r.schema.idType, r.name);
    if (ids instanceof BigInt64Array) ids[i] = id as bigint;
    else ids[i] = String(id);
    for (const v of r.vectors) {
      const raw = r.unnamed ? p.vector : (p.vector as Record<string, unknown> | null | undefined)?.[v.q];
      if (!Array.isArray(raw)) {
        (valids[v.field.name] ??= new Uint8Array(n).fill(1))[i] = 0;
        continue;
      }
      if (raw.length !== v.field.dims) throw new EngineError(`Point ${String(id)} of ${JSON.stringify(r.name)}: vector ${v.field.name} has ${raw.length} values, expected ${v.field.dims}.`, 'permanent', { plugin: PLUGIN });
      (vectors[v.field.name] as VectorColumn).data.set(raw as number[], i * v.field.dims);
    }
    const src = { ...(p.payload ?? {}) };
    if (r.meta) delete src[ORIGINAL_ID_KEY];
    if (r.wholePayload) {
      payloads[i] = Object.keys(src).length > 0 ? { [WHOLE_PAYLOAD_FIELD]: src as Payload } : {};
    } else {
      const payload: Payload = {};
      for (const [k, v] of Object.entries(src)) if (v !== null && v !== undefined) payload[k] = v as JsonValue;
      payloads[i] = payload;
    }
  });
  for (const [name, valid] of Object.entries(valids)) vectors[name] = { ...(vectors[name] as VectorColumn), valid };
  return { length: n, ids, vectors, payloads };
}


/** Creates a Qdrant adapter. See `QdrantAdapterOptions`. */
export function qdrantAdapter(options: QdrantAdapterOptions): QdrantAdapter {
  return new QdrantAdapter(options);
}
