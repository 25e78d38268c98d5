/**
 * Weaviate adapter on weaviate-client v3 (gRPC for data) and Weaviate's REST schema API (raw class
 * definitions). One Weaviate collection (class) = one vectordr collection.
 *
 * Ids: Weaviate stores UUIDs only. UUID ids are stored as themselves; int64 and string ids as a
 * deterministic UUIDv5 (src/id-mapping.ts), with the original id in the text property `vdr_id`, so
 * a snapshot of the collection returns the original ids (int64 above 2^53 included). What a
 * collection's neutral schema was (id type, original property and vector names, neutral types,
 * dims) is kept as JSON after a `[vectordr:v1]` line in the class description, with the restore
 * marker. Scans page with the cursor API (`fetchObjects({ after, limit })`, UUID order), checked
 * page by page. See docs/adapters/weaviate.md.
 */
import weaviate, { ApiKey } from 'weaviate-client';
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
import { EngineError, InvalidInputError, UnsupportedOperationError, throwIfAborted } from '../../src/errors.js';
import { VECTORDR_ID_NAMESPACE, idCollisionGuard, idToUuid, isUuid, uuidV5 } from '../../src/id-mapping.js';
import { chunksByBytes, forEachLimit, sleep } from '../../src/async.js';
import { parseOptions } from '../../src/options.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import type { CollectionSchema, Id, IndexSpec, JsonValue, Payload, PayloadField, RecordBatch, VectorColumn, VectorField, VectorRecord } from '../../src/model.js';
import { idAt, recordAt } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import { type WeaviateClientLike, type WeaviateCollectionLike, type WeaviateObjectLike, WeaviateRest, grpcCall } from './weaviate-client.js';
import { type BatchObjectInput, type BatchProperty, WeaviateGrpcBatch, batchPropertyOf, encodeBatchObjects } from './weaviate-grpc-batch.js';
import { type WeaviateAdapterOptions, WeaviateAdapterOptionsSchema } from './weaviate-options.js';
import {
  type ClassMeta,
  ORIGINAL_ID_PROPERTY,
  PLUGIN,
  type VectorConfigEntry,
  type WeaviateClass,
  type WeaviateProperty,
  classNameOf,
  distanceToWeaviate,
  formatDescription,
  indexFromWeaviate,
  indexToWeaviate,
  mapNames,
  metricFromWeaviate,
  parseDescription,
  payloadFieldFromWeaviate,
  propertyForField,
  valueFromWeaviate,
  valueToWeaviate,
} from './weaviate-types.js';

const MAX_DIMS = 65_535;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
/** Weaviate's name of the unnamed vector of a class without named vectors. */
const LEGACY_VECTOR = 'default';
/** The class holding restore markers (see readMarker). */
const MARKER_CLASS = 'VectordrRestoreMarkers';
/** Property types read over REST rather than gRPC (see `Resolved.props`). */
const REST_TYPES = new Set(['date', 'date[]', 'object', 'object[]', 'geoCoordinates', 'phoneNumber', 'blob']);

/** A collection as the adapter works with it: the neutral schema and how each part maps to Weaviate. */
interface Resolved {
  className: string;
  schema: CollectionSchema;
  /** Neutral vector -> Weaviate vector name (LEGACY_VECTOR for an unnamed vector). */
  vectors: { field: VectorField; w: string }[];
  legacy: boolean;
  /** `rest`: read over REST (dates: the client rounds them to ms; objects, geo, phone, blobs: gRPC needs nested selections). */
  props: { field: PayloadField; w: string; rest: boolean }[];
  /** Every property by Weaviate name for the own batch encoder; undefined when one is an object, geo or phone property. */
  batchProps: Map<string, BatchProperty> | undefined;
  /** Original ids live in `vdr_id` (int64 and string ids). */
  originalIds: boolean;
}

export class WeaviateAdapter implements VectorAdapter {
  readonly engine = 'weaviate' as const;
  readonly capabilities: AdapterCapabilities = defineCapabilities({
    idTypes: ['int64', 'string', 'uuid'],
    namedVectors: true,
    atomicMarker: false,
    maxDims: MAX_DIMS,
    // Weaviate's nearVector has no per-query ef: it is the class's vectorIndexConfig.ef.
    searchEffort: 'collection',
  });
  private readonly options: z.output<typeof WeaviateAdapterOptionsSchema>;
  private readonly logger: Logger;
  private readonly rest: WeaviateRest;
  private clientPromise: Promise<WeaviateClientLike> | undefined;
  private readonly ownsClient: boolean;
  private readonly endpoint: string;
  /** Resolved collections for writes (a restore writes many batches); dropped on create/drop/marker changes. */
  private readonly cache = new Map<string, Resolved>();
  /** What create() could not recreate as recorded (vectorizer modules, index kinds), reported by buildIndexes. */
  private readonly createNotes = new Map<string, IndexBuildReport['skipped']>();
  private modules: Promise<Set<string>> | undefined;
  private batcher: WeaviateGrpcBatch | undefined;

  constructor(options: WeaviateAdapterOptions) {
    const o = parseOptions(WeaviateAdapterOptionsSchema, options, 'Weaviate adapter', PLUGIN);
    this.options = o;
    this.logger = o.logger ?? silentLogger;
    const url = new URL(o.url);
    if (url.username || url.password) {
      throw new InvalidInputError('INVALID_OPTIONS', 'Invalid Weaviate adapter options: put credentials in apiKey or headers, not in url (URLs end up in logs).', { plugin: PLUGIN });
    }
    const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.endpoint = o.endpointLabel ?? base;
    this.ownsClient = o.client === undefined;
    if (o.client) this.clientPromise = Promise.resolve(o.client as unknown as WeaviateClientLike);
    const staticHeaders: Record<string, string> = { ...(o.headers ?? {}), ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) };
    const given = o.client as unknown as { getConnectionDetails?: () => Promise<{ bearerToken?: string; headers?: Record<string, string> }> } | undefined;
    const headers = async (): Promise<Record<string, string>> => {
      if (!given?.getConnectionDetails) return staticHeaders;
      const d = await given.getConnectionDetails();
      return { ...staticHeaders, ...(d.headers ?? {}), ...(d.bearerToken ? { authorization: d.bearerToken } : {}) };
    };
    this.rest = new WeaviateRest(base, headers, o.timeoutMs);
  }

  private client(): Promise<WeaviateClientLike> {
    if (!this.clientPromise) {
      const o = this.options;
      const url = new URL(o.url);
      const secure = url.protocol === 'https:';
      const [grpcHost, grpcPort] = o.grpcAddress ? (o.grpcAddress.split(':') as [string, string]) : [url.hostname, '50051'];
      const seconds = Math.ceil(o.timeoutMs / 1000);
      this.clientPromise = weaviate
        .connectToCustom({
          httpHost: url.hostname,
          httpPort: Number(url.port || (secure ? 443 : 80)),
          httpSecure: secure,
          httpPath: url.pathname.replace(/\/+$/, '') || undefined,
          grpcHost,
          grpcPort: Number(grpcPort),
          grpcSecure: o.grpcSecure ?? secure,
          authCredentials: o.apiKey ? new ApiKey(o.apiKey) : undefined,
          headers: o.headers,
          timeout: { query: seconds, insert: seconds, init: 30 },
        })
        .then((c) => c as unknown as WeaviateClientLike)
        .catch((err: unknown) => {
          this.clientPromise = undefined;
          throw new EngineError(`Cannot connect to Weaviate at ${this.endpoint} (gRPC ${grpcHost}:${grpcPort}): ${(err as Error).message}`, 'transient', { plugin: PLUGIN, cause: err });
        });
    }
    return this.clientPromise;
  }

  private async collection(className: string): Promise<WeaviateCollectionLike> {
    return (await this.client()).collections.use(className);
  }

  async exists(collection: string): Promise<boolean> {
    return (await this.rest.getClass(classNameOf(collection))) !== undefined;
  }

  checkCollectionName(name: string): void {
    classNameOf(name); // throws INVALID_IDENTIFIER with a suggested target
  }

  async describe(collection: string): Promise<CollectionSchema> {
    return (await this.resolve(collection)).schema;
  }

  /** Reads the class and works out the neutral schema and the mapping of every part. */
  private async resolve(collection: string): Promise<Resolved> {
    const className = classNameOf(collection);
    const cls = await this.rest.mustGetClass(className, collection);
    if (cls.multiTenancyConfig?.enabled) {
      throw new UnsupportedOperationError(`Weaviate collection ${JSON.stringify(collection)} is multi-tenant; vectordr does not snapshot multi-tenant collections yet (each tenant is its own shard). Nothing was read.`, {
        plugin: PLUGIN,
        details: { collection },
      });
    }
    const { text, meta } = parseDescription(cls.description);
    const vectors: Resolved['vectors'] = [];
    const indexes: IndexSpec[] = [];
    const named = Object.entries(cls.vectorConfig ?? {});
    const legacy = named.length === 0;
    const entries: [string, VectorConfigEntry, boolean][] = legacy
      ? [[LEGACY_VECTOR, { vectorizer: { [cls.vectorizer ?? 'none']: cls.moduleConfig?.[cls.vectorizer ?? 'none'] ?? {} }, vectorIndexType: cls.vectorIndexType, vectorIndexConfig: cls.vectorIndexConfig }, true]]
      : named.map(([w, e]) => [w, e, false]);
    for (const [w, entry, isLegacy] of entries) {
      const multi = (entry.vectorIndexConfig?.multivector as { enabled?: boolean } | undefined)?.enabled;
      if (multi) {
        throw new UnsupportedOperationError(`Vector ${JSON.stringify(w)} of Weaviate collection ${JSON.stringify(collection)} is a multi-vector (ColBERT-style); vectordr captures single dense vectors only so far. Nothing was read (no vector is ever dropped silently).`, {
          plugin: PLUGIN,
          details: { collection, vector: w },
        });
      }
      const m = meta?.vectors[w];
      const name = m?.name ?? w;
      const dims = m?.dims ?? (await this.sampleDims(className, w, isLegacy, collection));
      const index = indexFromWeaviate(name, entry);
      indexes.push(index);
      const nativeType = JSON.stringify({ vectorizer: entry.vectorizer ?? { none: {} }, ...(isLegacy ? { legacy: true } : {}) });
      vectors.push({ w, field: { name, dims, metric: metricFromWeaviate(entry.vectorIndexConfig?.distance), element: 'float32', nullable: m ? (m.nullable ?? false) : true, nativeType } });
    }
    const originalIds = meta?.idType !== undefined && meta.idType !== 'uuid';
    const props: Resolved['props'] = [];
    let batchProps: Map<string, BatchProperty> | undefined = new Map();
    for (const p of cls.properties ?? []) {
      const bp = batchPropertyOf(p.name, p.dataType[0] as string);
      if (bp && batchProps) batchProps.set(p.name, bp);
      else if (!bp && p.dataType.length === 1) batchProps = undefined;
      if (originalIds && p.name === ORIGINAL_ID_PROPERTY) continue;
      const mp = meta?.props[p.name];
      const field: PayloadField = mp ? { name: mp.name, type: mp.type, array: mp.array, nullable: mp.nullable ?? true } : payloadFieldFromWeaviate(p, collection);
      props.push({ field, w: p.name, rest: REST_TYPES.has(p.dataType[0] as string) });
    }
    const native: Record<string, JsonValue> = {};
    for (const k of ['invertedIndexConfig', 'moduleConfig', 'replicationConfig', 'shardingConfig'] as const) {
      if (cls[k] !== undefined) native[k] = cls[k] as JsonValue;
    }
    if (text) native.description = text;
    const schema: CollectionSchema = {
      name: collection,
      idField: meta?.idField ?? 'id',
      idType: meta?.idType ?? 'uuid',
      ...(meta?.idNativeType ? { idNativeType: meta.idNativeType } : {}),
      vectors: vectors.map((v) => v.field),
      payload: props.map((p) => p.field),
      indexes,
      native,
    };
    return { className, schema, vectors, legacy, props, originalIds, batchProps };
  }

  private async resolveCached(collection: string): Promise<Resolved> {
    let r = this.cache.get(collection);
    if (!r) {
      r = await this.resolve(collection);
      this.cache.set(collection, r);
    }
    return r;
  }

  /** Weaviate records no dimensions in a class: read them off one stored vector. */
  private async sampleDims(className: string, w: string, legacy: boolean, collection: string): Promise<number> {
    const col = await this.collection(className);
    const res = await grpcCall('fetchObjects', () => col.query.fetchObjects({ limit: 1, includeVector: legacy ? true : [w], returnProperties: [] }));
    const vec = vectorOf(res.objects[0], w, legacy);
    if (!vec) {
      throw new UnsupportedOperationError(`Weaviate collection ${JSON.stringify(collection)} holds no ${w} vector yet, and Weaviate records a vector's dimensions only with its first object; there is nothing to snapshot. Snapshot it once it holds data.`, {
        plugin: PLUGIN,
        details: { collection, vector: w },
      });
    }
    return vec.length;
  }

  async count(collection: string): Promise<number> {
    const className = classNameOf(collection);
    await this.rest.mustGetClass(className, collection);
    const col = await this.collection(className);
    return (await grpcCall('aggregate', () => col.aggregate.overAll())).totalCount;
  }

  async scan(collection: string, options: ScanOptions): Promise<ScanSession> {
    const r = await this.resolve(collection);
    const startedAt = Date.now();
    const estimatedRows = await this.count(collection);
    // A page is capped by the server's QUERY_MAXIMUM_RESULTS, so its size is the adapter's option,
    // not the core's batch size; the batches handed to the core are at most batchSize rows.
    const pageSize = this.options.scanPageRows;
    const col = await this.collection(r.className);
    const logger = this.logger;
    const page = (after: string | undefined): Promise<WeaviateObjectLike[]> => this.page(r, col, after, pageSize);
    const toBatch = (objs: WeaviateObjectLike[]): RecordBatch => toRecordBatch(r, objs);
    let closed = false;
    return {
      schema: r.schema,
      // Incremental export (planned) will read objects updated after this time (lastUpdateTimeUnix).
      checkpoint: { engine: 'weaviate', kind: 'scan-start', value: { unixMs: startedAt }, takenAt: new Date(startedAt).toISOString() },
      estimatedRows,
      async *batches(): AsyncIterable<RecordBatch> {
        let after: string | undefined;
        let seen = 0;
        for (;;) {
          throwIfAborted(options.signal);
          if (closed) return;
          const objs = await page(after);
          if (objs.length === 0) break;
          for (let start = 0; start < objs.length; start += options.batchSize) {
            const batch = toBatch(objs.slice(start, start + options.batchSize));
            seen += batch.length;
            yield batch;
          }
          after = (objs[objs.length - 1] as WeaviateObjectLike).uuid;
          if (objs.length < pageSize) break;
        }
        if (seen !== estimatedRows) logger.warn({ collection, scanned: seen, counted: estimatedRows }, 'object count changed during the scan (writes during a live snapshot)');
      },
      async close() {
        closed = true;
      },
    };
  }

  /**
   * One cursor page (UUID order), checked to be strictly ascending. Dates, objects, geo
   * coordinates, phone numbers and blobs come from the REST listing of the same page: the client
   * turns gRPC dates into JS Dates (milliseconds) and needs nested selections for objects; REST
   * returns Weaviate's own values (dates to the microsecond and beyond).
   */
  private async page(r: Resolved, col: WeaviateCollectionLike, after: string | undefined, limit: number): Promise<WeaviateObjectLike[]> {
    const props = [...(r.originalIds ? [ORIGINAL_ID_PROPERTY] : []), ...r.props.filter((p) => !p.rest).map((p) => p.w)];
    const res = await grpcCall('fetchObjects', () =>
      col.query.fetchObjects({ ...(after ? { after } : {}), limit, includeVector: r.legacy ? true : r.vectors.map((v) => v.w), returnProperties: props }),
    );
    const objs = res.objects;
    for (let i = 1; i < objs.length; i++) {
      if ((objs[i - 1] as WeaviateObjectLike).uuid >= (objs[i] as WeaviateObjectLike).uuid) {
        throw new EngineError(`Weaviate returned objects of ${JSON.stringify(r.schema.name)} out of UUID order; a cursor scan could skip objects, so the snapshot was stopped.`, 'permanent', { plugin: PLUGIN });
      }
    }
    if (objs.length > 0 && r.props.some((p) => p.rest)) await this.mergeRestProps(r, objs, after, limit);
    return objs;
  }

  private async mergeRestProps(r: Resolved, objs: WeaviateObjectLike[], after: string | undefined, limit: number): Promise<void> {
    const q = new URLSearchParams({ class: r.className, limit: String(limit) });
    if (after) q.set('after', after);
    const json = (await this.rest.ok('GET', `/v1/objects?${q.toString()}`)) as { objects?: { id: string; properties?: Record<string, unknown> }[] };
    const byId = new Map((json.objects ?? []).map((o) => [o.id, o.properties ?? {}]));
    for (const o of objs) {
      const props = byId.get(o.uuid);
      if (!props) {
        // The page changed between the two reads (a concurrent write): read this object alone.
        const one = (await this.rest.ok('GET', `/v1/objects/${r.className}/${o.uuid}`)) as { properties?: Record<string, unknown> };
        for (const p of r.props) if (p.rest) o.properties[p.w] = one.properties?.[p.w];
        continue;
      }
      for (const p of r.props) if (p.rest) o.properties[p.w] = props[p.w];
    }
  }

  preflightCreate(schema: CollectionSchema): void {
    this.planClass(schema, new Set(['none']), true);
  }

  /** The class definition for a neutral schema, with what could not be kept as recorded. */
  private planClass(schema: CollectionSchema, modules: Set<string>, dryRun = false): { cls: WeaviateClass; notes: IndexBuildReport['skipped'] } {
    const className = classNameOf(schema.name);
    const notes: IndexBuildReport['skipped'] = [];
    for (const v of schema.vectors) {
      if (v.dims > MAX_DIMS) throw new InvalidInputError('DIMENSION_MISMATCH', `Vector ${JSON.stringify(v.name)} has ${v.dims} dimensions; vectordr stores at most ${MAX_DIMS}. Nothing was created.`, { plugin: PLUGIN });
    }
    const vectorNames = mapNames(
      schema.vectors.map((v) => v.name),
      'vector',
    );
    const propNames = mapNames(
      schema.payload.map((p) => p.name),
      'property',
    );
    const meta: ClassMeta = { idField: schema.idField, idType: schema.idType, ...(schema.idNativeType ? { idNativeType: schema.idNativeType } : {}), vectors: {}, props: {} };
    const vectorConfig: Record<string, VectorConfigEntry> = {};
    let legacy: { vectorizer: string; vectorIndexType: string; vectorIndexConfig: Record<string, unknown>; moduleConfig?: Record<string, unknown> } | undefined;
    for (const v of schema.vectors) {
      const w = vectorNames.get(v.name) as string;
      const metric = v.metric !== 'unspecified' ? v.metric : this.options.metricForUnindexed;
      if (!metric) {
        throw new UnsupportedOperationError(`Vector ${JSON.stringify(v.name)} of ${JSON.stringify(schema.name)} has no metric in the snapshot (the source had no index on it), and Weaviate's vector index needs a distance. Pass metricForUnindexed ('cosine', 'l2', 'dot', 'l1' or 'hamming') to the Weaviate adapter; vectordr never picks a metric silently.`, {
          plugin: PLUGIN,
          details: { field: v.name, supported: ['cosine', 'l2', 'dot', 'l1', 'hamming'] },
        });
      }
      const distance = distanceToWeaviate(metric, v.name);
      const recorded = schema.indexes.find((i) => i.field === v.name && i.kind !== 'btree');
      const index = indexToWeaviate(recorded, distance);
      if (index.skipped && recorded) notes.push({ kind: recorded.kind, field: v.name, reason: index.skipped, action: 'converted' });
      const native = parseVectorNative(v.nativeType);
      let vectorizer: Record<string, unknown> = { none: {} };
      if (native?.vectorizer) {
        const [module] = Object.keys(native.vectorizer);
        if (module && module !== 'none' && !modules.has(module) && !dryRun) {
          notes.push({ kind: `vectorizer ${module}`, field: v.name, reason: `module ${module} is not enabled on this Weaviate; the stored vectors were restored as they are, and new objects will not be vectorized until the collection is reconfigured`, what: 'setting', action: 'dropped' });
          this.logger.warn({ collection: schema.name, vector: v.name, module }, 'vectorizer module not available: restoring stored vectors with vectorizer none');
        } else if (module) vectorizer = native.vectorizer;
      }
      meta.vectors[w] = { name: v.name, dims: v.dims, ...(v.nullable ? { nullable: true } : {}) };
      if (native?.legacy && schema.vectors.length === 1 && v.name === LEGACY_VECTOR) {
        const [module = 'none'] = Object.keys(vectorizer);
        legacy = { vectorizer: module, vectorIndexType: index.vectorIndexType, vectorIndexConfig: index.vectorIndexConfig, ...(module !== 'none' ? { moduleConfig: { [module]: vectorizer[module] } } : {}) };
      } else {
        vectorConfig[w] = { vectorizer, vectorIndexType: index.vectorIndexType, vectorIndexConfig: index.vectorIndexConfig };
      }
    }
    const properties: WeaviateProperty[] = [];
    if (schema.idType !== 'uuid') properties.push({ name: ORIGINAL_ID_PROPERTY, dataType: ['text'], tokenization: 'field', indexFilterable: true, indexSearchable: false, description: `original ${schema.idType} id (vectordr)` });
    for (const p of schema.payload) {
      const w = propNames.get(p.name) as string;
      const prop = propertyForField(p, w);
      properties.push(prop);
      if (!p.nativeType?.startsWith('{')) meta.props[w] = { name: p.name, type: p.type, array: p.array, ...(p.nullable ? {} : { nullable: false }) };
      else if (w !== p.name) meta.props[w] = { name: p.name, type: p.type, array: p.array };
    }
    const native = schema.native ?? {};
    const cls: WeaviateClass = {
      class: className,
      description: formatDescription(typeof native.description === 'string' ? native.description : '', meta),
      properties,
      ...(legacy ? { vectorizer: legacy.vectorizer, vectorIndexType: legacy.vectorIndexType, vectorIndexConfig: legacy.vectorIndexConfig } : { vectorConfig }),
      ...(native.invertedIndexConfig ? { invertedIndexConfig: native.invertedIndexConfig } : {}),
      ...(legacy?.moduleConfig ? { moduleConfig: legacy.moduleConfig } : {}),
    };
    // Sharding and replication are recorded, not applied: the target's own topology decides them.
    return { cls, notes };
  }

  private enabledModules(): Promise<Set<string>> {
    this.modules ??= this.rest
      .ok('GET', '/v1/meta')
      .then((m) => new Set(['none', ...Object.keys((m as { modules?: Record<string, unknown> }).modules ?? {})]))
      .catch((err: unknown) => {
        this.modules = undefined;
        throw err;
      });
    return this.modules;
  }

  async create(schema: CollectionSchema, options: CreateOptions): Promise<void> {
    throwIfAborted(options.signal);
    const { cls, notes } = this.planClass(schema, await this.enabledModules());
    if (await this.rest.getClass(cls.class)) {
      throw new InvalidInputError('TARGET_EXISTS', `Weaviate collection ${JSON.stringify(schema.name)} (class ${cls.class}) already exists.`, { plugin: PLUGIN });
    }
    this.cache.delete(schema.name);
    await this.rest.ok('POST', '/v1/schema', cls, options.signal);
    this.createNotes.set(cls.class, notes);
  }

  /**
   * Weaviate builds its vector index as objects arrive (or in the background with ASYNC_INDEXING);
   * there is nothing to build afterwards. This waits until every shard's vector queue is empty, so
   * the restore reports the index time and returns a searchable collection.
   */
  async buildIndexes(collection: string, schema: CollectionSchema, options: { signal?: AbortSignal } = {}): Promise<IndexBuildReport> {
    const className = classNameOf(collection);
    const t0 = performance.now();
    for (;;) {
      throwIfAborted(options.signal);
      const nodes = (await this.rest.ok('GET', `/v1/nodes?output=verbose&collection=${encodeURIComponent(className)}`)) as {
        nodes?: { shards?: { class?: string; vectorQueueLength?: number; vectorIndexingStatus?: string }[] | null }[];
      };
      const shards = (nodes.nodes ?? []).flatMap((n) => n.shards ?? []).filter((s) => s.class === className);
      if (shards.every((s) => (s.vectorQueueLength ?? 0) === 0 && (s.vectorIndexingStatus ?? 'READY') === 'READY')) break;
      if (performance.now() - t0 > this.options.timeoutMs) throw new EngineError(`Weaviate is still indexing ${JSON.stringify(collection)} after ${this.options.timeoutMs} ms.`, 'transient', { plugin: PLUGIN });
      await sleep(200, options.signal);
    }
    const ms = Math.round(performance.now() - t0);
    const r = await this.resolve(collection);
    return {
      built: r.vectors.map((v) => ({ kind: r.schema.indexes.find((i) => i.field === v.field.name)?.kind ?? 'hnsw', field: v.field.name, ms })),
      skipped: [...(this.createNotes.get(className) ?? []), ...schema.indexes.filter((i) => !schema.vectors.some((v) => v.name === i.field)).map((i) => ({ kind: i.kind, field: i.field, reason: 'Weaviate has no separate payload indexes: every property is filterable by default' }))],
    };
  }

  async write(collection: string, batch: RecordBatch, options: WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    const r = await this.resolveCached(collection);
    validateBatchVectors(batch, r.schema.vectors, PLUGIN);
    const byName = new Map(r.props.map((p) => [p.field.name, p]));
    const objects: BatchObjectInput[] = new Array<BatchObjectInput>(batch.length);
    const sizes: number[] = new Array<number>(batch.length);
    const claim = idCollisionGuard('Weaviate UUID', PLUGIN);
    for (let i = 0; i < batch.length; i++) {
      const id = idAt(batch, i);
      if (r.schema.idType === 'uuid' && !isUuid(String(id).toLowerCase())) {
        throw new InvalidInputError('UNSUPPORTED_ID_TYPE', `Id ${JSON.stringify(String(id).slice(0, 60))} of a uuid collection is not a UUID. Nothing of this batch was written.`, { plugin: PLUGIN });
      }
      const uuid = idToUuid(id, r.schema.idType);
      claim(uuid, id);
      const properties: Record<string, unknown> = r.originalIds ? { [ORIGINAL_ID_PROPERTY]: String(id) } : {};
      let rowBytes = 64;
      for (const [key, value] of Object.entries(batch.payloads[i] ?? {})) {
        const p = byName.get(key);
        if (!p) throw new InvalidInputError('SCHEMA_MISMATCH', `Payload field ${JSON.stringify(key)} has no property in Weaviate collection ${JSON.stringify(collection)}. Nothing of this batch was written.`, { plugin: PLUGIN });
        const v = valueToWeaviate(value, p.field, String(id));
        if (v === null) continue;
        properties[p.w] = v;
        rowBytes += typeof v === 'string' ? v.length * 2 : 16;
      }
      const vectors: Record<string, Float32Array> = {};
      for (const v of r.vectors) {
        const col = batch.vectors[v.field.name] as VectorColumn;
        if (col.valid && col.valid[i] === 0) continue;
        vectors[v.w] = col.data.subarray(i * col.dims, (i + 1) * col.dims);
        rowBytes += col.dims * 4;
      }
      objects[i] = { uuid, properties, vectors };
      sizes[i] = rowBytes;
    }
    const col = await this.collection(r.className);
    const parts = chunksByBytes(objects, sizes, this.options.insertBatchBytes);
    // Up to writeConcurrency requests in flight: the client encodes the next batch while Weaviate
    // ingests one. Objects of one restore have distinct UUIDs, so their order does not matter; the
    // core writes the marker only after write() has returned, i.e. after every request succeeded.
    // Weaviate's batch import is an upsert by UUID: insert and upsert are the same call.
    await forEachLimit(
      parts,
      this.options.writeConcurrency,
      async (part) => {
        const errors = await this.sendBatch(r, col, part.items, options.signal);
        if (errors.length === 0) return;
        const first = errors.slice(0, 3).map(([k, e]) => `id ${String(batch.ids[part.offset + Number(k)])}: ${e.message}`);
        const transient = errors.every(([, e]) => /timeout|unavailable|too many|rate/i.test(e.message));
        throw new EngineError(`Weaviate refused ${errors.length} of ${part.items.length} objects written to ${JSON.stringify(collection)} (${first.join('; ')}). The others were stored; writes are idempotent, so rerunning the restore resumes safely.`, transient ? 'transient' : 'permanent', {
          plugin: PLUGIN,
          details: { failed: errors.length, batch: part.items.length },
        });
      },
      options.signal,
    );
  }

  /**
   * Restore markers live as objects of one small class, `VectordrRestoreMarkers` (created on first
   * use; no vectors), keyed by a UUIDv5 of the class name. Not in the class description: every
   * schema update makes Weaviate re-apply the vector index config and flip the collection's shards
   * to READONLY for a moment (seen in its log), which would fail an application's concurrent writes.
   */
  private markerPath(className: string): string {
    return `/v1/objects/${MARKER_CLASS}/${uuidV5(`marker:${className}`, VECTORDR_ID_NAMESPACE)}`;
  }

  /**
   * One batch import: over vectordr's own BatchObjects encoder when every property is a scalar or an
   * array of scalars (weaviate-grpc-batch.ts says why), else through the client's insertMany.
   */
  private async sendBatch(r: Resolved, col: WeaviateCollectionLike, objects: BatchObjectInput[], signal?: AbortSignal): Promise<[number, { message: string }][]> {
    if (r.batchProps) {
      const body = encodeBatchObjects(r.className, objects, r.batchProps, r.legacy ? LEGACY_VECTOR : undefined);
      const errors = await this.grpcBatch().batchObjects(body, signal);
      return errors.map((e) => [e.index, { message: e.error }]);
    }
    const res = await grpcCall('insertMany', () =>
      col.data.insertMany(
        objects.map((o) => {
          const vectors = Object.fromEntries(Object.entries(o.vectors).map(([k, v]) => [k, Array.from(v)]));
          return { id: o.uuid, properties: o.properties, vectors: r.legacy ? (vectors[LEGACY_VECTOR] ?? []) : vectors };
        }),
      ),
    );
    return res.hasErrors ? Object.entries(res.errors).map(([k, e]) => [Number(k), e]) : [];
  }

  private grpcBatch(): WeaviateGrpcBatch {
    if (!this.batcher) {
      const o = this.options;
      const url = new URL(o.url);
      const secure = o.grpcSecure ?? url.protocol === 'https:';
      const address = o.grpcAddress ?? `${url.hostname}:50051`;
      this.batcher = new WeaviateGrpcBatch(`${secure ? 'https' : 'http'}://${address}`, () => this.rest.headers(), o.timeoutMs);
    }
    return this.batcher;
  }

  async readMarker(collection: string): Promise<string | undefined> {
    const className = classNameOf(collection);
    await this.rest.mustGetClass(className, collection);
    const { status, json } = await this.rest.request('GET', this.markerPath(className));
    if (status === 404) return undefined;
    if (status !== 200) throw new EngineError(`GET ${MARKER_CLASS} object: HTTP ${status}`, status >= 500 ? 'transient' : 'permanent', { plugin: PLUGIN });
    const marker = (json as { properties?: { marker?: unknown } }).properties?.marker;
    return typeof marker === 'string' && marker ? marker : undefined;
  }

  async writeMarker(collection: string, marker: string | undefined): Promise<void> {
    const className = classNameOf(collection);
    await this.rest.mustGetClass(className, collection);
    const path = this.markerPath(className);
    if (marker === undefined) {
      const { status } = await this.rest.request('DELETE', path);
      if (status >= 300 && status !== 404) throw new EngineError(`DELETE ${MARKER_CLASS} object: HTTP ${status}`, status >= 500 ? 'transient' : 'permanent', { plugin: PLUGIN });
      return;
    }
    const body = { class: MARKER_CLASS, id: path.slice(path.lastIndexOf('/') + 1), properties: { collection: className, marker } };
    // REST batch import is an upsert (PUT of a missing object is an error in Weaviate 1.35).
    const upsert = async (): Promise<string | undefined> => {
      const res = (await this.rest.ok('POST', '/v1/batch/objects', { objects: [body] })) as { result?: { errors?: { error?: { message?: string }[] } } }[];
      return res[0]?.result?.errors?.error?.map((e) => e.message).join('; ') || undefined;
    };
    let error = await upsert();
    if (error !== undefined && !(await this.rest.getClass(MARKER_CLASS))) {
      await this.ensureMarkerClass(); // the first marker on this Weaviate
      error = await upsert();
    }
    if (error !== undefined) throw new EngineError(`Writing the restore marker of ${JSON.stringify(collection)} failed: ${error}`, 'transient', { plugin: PLUGIN });
  }

  private async ensureMarkerClass(): Promise<void> {
    if (await this.rest.getClass(MARKER_CLASS)) return;
    const { status, json } = await this.rest.request('POST', '/v1/schema', {
      class: MARKER_CLASS,
      description: 'vectordr restore progress markers (one object per collection being restored; safe to delete when no restore runs)',
      vectorizer: 'none',
      vectorIndexConfig: { skip: true },
      properties: [
        { name: 'collection', dataType: ['text'], tokenization: 'field' },
        { name: 'marker', dataType: ['text'], tokenization: 'field', indexSearchable: false },
      ],
    });
    // Another adapter may have created it meanwhile.
    if (status >= 300 && !(await this.rest.getClass(MARKER_CLASS))) throw new EngineError(`Cannot create ${MARKER_CLASS}: HTTP ${status} ${JSON.stringify(json)?.slice(0, 200)}`, 'permanent', { plugin: PLUGIN });
  }

  async drop(collection: string): Promise<void> {
    this.cache.delete(collection);
    const className = classNameOf(collection);
    const { status, json } = await this.rest.request('DELETE', `/v1/schema/${encodeURIComponent(className)}`);
    await this.rest.request('DELETE', this.markerPath(className)).catch(() => undefined);
    if (status >= 300 && status !== 404) throw new EngineError(`DELETE /v1/schema/${className}: HTTP ${status} ${JSON.stringify(json)?.slice(0, 200)}`, status >= 500 ? 'transient' : 'permanent', { plugin: PLUGIN });
  }

  async delete(collection: string, ids: Id[]): Promise<void> {
    if (ids.length === 0) return;
    const r = await this.resolveCached(collection);
    const col = await this.collection(r.className);
    for (let i = 0; i < ids.length; i += 1000) {
      const uuids = ids.slice(i, i + 1000).map((id) => idToUuid(id, r.schema.idType));
      await grpcCall('deleteMany', () => col.data.deleteMany(col.filter.byId().containsAny(uuids)));
    }
  }

  async fetch(collection: string, ids: Id[]): Promise<VectorRecord[]> {
    if (ids.length === 0) return [];
    const r = await this.resolve(collection);
    const col = await this.collection(r.className);
    const uuids = ids.map((id) => idToUuid(id, r.schema.idType));
    const props = [...(r.originalIds ? [ORIGINAL_ID_PROPERTY] : []), ...r.props.filter((p) => !p.rest).map((p) => p.w)];
    const res = await grpcCall('fetchObjects', () =>
      col.query.fetchObjects({ filters: col.filter.byId().containsAny(uuids), limit: uuids.length, includeVector: r.legacy ? true : r.vectors.map((v) => v.w), returnProperties: props }),
    );
    if (r.props.some((p) => p.rest)) {
      for (const o of res.objects) {
        const one = (await this.rest.ok('GET', `/v1/objects/${r.className}/${o.uuid}`)) as { properties?: Record<string, unknown> };
        for (const p of r.props) if (p.rest) o.properties[p.w] = one.properties?.[p.w];
      }
    }
    const batch = toRecordBatch(r, res.objects);
    const byUuid = new Map<string, VectorRecord>();
    for (let i = 0; i < batch.length; i++) byUuid.set((res.objects[i] as WeaviateObjectLike).uuid, recordAt(batch, i));
    return uuids.flatMap((u) => byUuid.get(u) ?? []);
  }

  /**
   * Nearest neighbours by the vector's distance. `exact` adds a filter that matches every object:
   * Weaviate then searches flat (brute force) while the filter matches fewer than the index's
   * `flatSearchCutoff` objects (40000 by default); above that the search stays approximate.
   */
  async search(collection: string, vector: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    // Cached like write(): verifyRecall searches once per query, and resolving reads the schema (and
    // for collections vectordr did not create, samples objects) every time.
    const r = await this.resolveCached(collection);
    const v = options.vector ? r.vectors.find((x) => x.field.name === options.vector) : r.vectors[0];
    if (!v) throw new InvalidInputError('SCHEMA_MISMATCH', `Weaviate collection ${JSON.stringify(collection)} has no vector ${JSON.stringify(options.vector)}.`, { plugin: PLUGIN });
    const col = await this.collection(r.className);
    const res = await grpcCall('nearVector', () =>
      col.query.nearVector(Array.from(vector), {
        limit: k,
        ...(r.legacy ? {} : { targetVector: v.w }),
        returnMetadata: ['distance'],
        returnProperties: r.originalIds ? [ORIGINAL_ID_PROPERTY] : [],
        ...(options.exact ? { filters: col.filter.byId().notEqual(NIL_UUID) } : {}),
      }),
    );
    return res.objects.map((o) => ({ id: idOf(r, o), score: Number(o.metadata?.distance ?? Number.NaN) }));
  }

  async probe(): Promise<ProbeResult> {
    const t0 = performance.now();
    try {
      const ready = await this.rest.request('GET', '/v1/.well-known/ready');
      const latencyMs = performance.now() - t0;
      if (ready.status !== 200) return { reachable: false, role: 'unknown', latencyMs, error: `not ready (HTTP ${ready.status})` };
      const meta = (await this.rest.ok('GET', '/v1/meta').catch(() => undefined)) as { version?: string } | undefined;
      return { reachable: true, role: 'primary', latencyMs, ...(meta?.version ? { engineVersion: meta.version } : {}) };
    } catch (err) {
      return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: (err as Error).message };
    }
  }

  async describeEndpoint(): Promise<{ engineVersion: string; endpoint: string }> {
    const meta = (await this.rest.ok('GET', '/v1/meta').catch(() => undefined)) as { version?: string } | undefined;
    return { engineVersion: meta?.version ?? 'unknown', endpoint: this.endpoint };
  }

  async close(): Promise<void> {
    this.batcher?.close();
    this.batcher = undefined;
    const p = this.clientPromise;
    this.clientPromise = undefined;
    if (this.ownsClient && p) await (await p.catch(() => undefined))?.close();
  }
}

function parseVectorNative(nativeType: string | undefined): { vectorizer?: Record<string, unknown>; legacy?: boolean } | undefined {
  if (!nativeType?.startsWith('{')) return undefined;
  try {
    return JSON.parse(nativeType) as { vectorizer?: Record<string, unknown>; legacy?: boolean };
  } catch {
    return undefined;
  }
}

function vectorOf(o: WeaviateObjectLike | undefined, w: string, legacy: boolean): number[] | undefined {
  if (!o) return undefined;
  const v = legacy ? (o.vectors[LEGACY_VECTOR] ?? o.vectors[w]) : o.vectors[w];
  return Array.isArray(v) && v.length > 0 ? (v as number[]) : undefined;
}

function idOf(r: Resolved, o: WeaviateObjectLike): Id {
  if (!r.originalIds) return o.uuid;
  const raw = o.properties[ORIGINAL_ID_PROPERTY];
  if (typeof raw !== 'string') {
    throw new EngineError(`Object ${o.uuid} of ${JSON.stringify(r.schema.name)} has no ${ORIGINAL_ID_PROPERTY} property, so its original ${r.schema.idType} id is unknown (written outside vectordr?). Add it, or delete the object, and snapshot again.`, 'permanent', {
      plugin: PLUGIN,
      details: { uuid: o.uuid },
    });
  }
  return r.schema.idType === 'int64' ? BigInt(raw) : raw;
}

function toRecordBatch(r: Resolved, objs: WeaviateObjectLike[]): RecordBatch {
  const n = objs.length;
  const ids: BigInt64Array | string[] = r.schema.idType === 'int64' ? new BigInt64Array(n) : new Array<string>(n);
  const vectors: Record<string, VectorColumn> = {};
  const valids: Record<string, Uint8Array | undefined> = {};
  for (const v of r.vectors) vectors[v.field.name] = { dims: v.field.dims, data: new Float32Array(n * v.field.dims) };
  const payloads: Payload[] = new Array<Payload>(n);
  objs.forEach((o, i) => {
    const id = idOf(r, o);
    if (ids instanceof BigInt64Array) ids[i] = id as bigint;
    else ids[i] = id as string;
    for (const v of r.vectors) {
      const vec = vectorOf(o, v.w, r.legacy);
      if (!vec) {
        const valid = (valids[v.field.name] ??= new Uint8Array(n).fill(1));
        valid[i] = 0;
        continue;
      }
      if (vec.length !== v.field.dims) {
        throw new EngineError(`Object ${String(id)} of ${JSON.stringify(r.schema.name)}: vector ${v.field.name} has ${vec.length} values, expected ${v.field.dims}.`, 'permanent', { plugin: PLUGIN });
      }
      (vectors[v.field.name] as VectorColumn).data.set(vec, i * v.field.dims);
    }
    const payload: Payload = {};
    for (const p of r.props) {
      const value = valueFromWeaviate(o.properties[p.w], p.field);
      if (value !== null) payload[p.field.name] = value;
    }
    payloads[i] = payload;
  });
  for (const [name, valid] of Object.entries(valids)) if (valid) vectors[name] = { ...(vectors[name] as VectorColumn), valid };
  return { length: n, ids, vectors, payloads };
}


/** Creates a Weaviate adapter. See `WeaviateAdapterOptions`. */
export function weaviateAdapter(options: WeaviateAdapterOptions): WeaviateAdapter {
  return new WeaviateAdapter(options);
}
