/**
 * Milvus adapter on @zilliz/milvus2-sdk-node. One Milvus collection = one vectordr collection.
 *
 * Scans page by primary key (`pk > last`, ascending, Strong consistency) with the query parameters
 * that make Milvus reduce by primary key (`iterator`, `reduce_stop_for_best`); every page is checked
 * to be strictly ascending, so a server that pages out of order fails loudly instead of losing rows
 * (the SDK's own queryIterator lost 2320 of 3000 rows on milvus-lite). See docs/adapters/milvus.md.
 */
import { DataType, type FieldType, MilvusClient } from '@zilliz/milvus2-sdk-node';
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
import { defineCapabilities, probesForEffort } from '../../src/adapter.js';
import { EngineError, InvalidInputError, NotFoundError, UnsupportedOperationError, VectordrError, throwIfAborted } from '../../src/errors.js';
import { chunksByBytes } from '../../src/async.js';
import { parseOptions } from '../../src/options.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import type { CollectionSchema, Id, IndexSpec, Payload, PayloadField, PayloadValue, RecordBatch, VectorColumn, VectorField, VectorRecord } from '../../src/model.js';
import { idAt, recordAt } from '../../src/model.js';
import { invalidCollectionName, validateBatchVectors } from '../../src/validate.js';
import { type MilvusAdapterOptions, MilvusAdapterOptionsSchema } from './milvus-options.js';
import { type MilvusServerInfo, milvusServerInfo } from './milvus-version.js';
import {
  DYNAMIC_FIELD,
  DYNAMIC_KEY,
  MARKER_PROPERTY,
  MAX_DIMS,
  type MilvusFieldInfo,
  PLUGIN,
  TYPES_PROPERTY,
  type TypeHints,
  exprString,
  fromDynamicValue,
  indexFromMilvus,
  indexToMilvus,
  isUnsupportedVector,
  metricToMilvus,
  payloadFieldFromMilvus,
  parseObject,
  payloadFieldToMilvus,
  toDynamicValue,
  typeHints,
  valueFromMilvus,
} from './milvus-types.js';

/** What `write` needs of a collection: its fields and the payload fields kept as dynamic keys. */
interface WriteTarget {
  fields: MilvusFieldInfo[];
  dynamicKeys: Map<string, { type: PayloadField['type']; array: boolean }>;
}

/** Milvus answers most failures as a status object, not an exception. */
interface Status {
  error_code?: string | number;
  code?: number;
  reason?: string;
}

const INT64_MAX = '9223372036854775807';
/** Milvus caps limit + offset of one query. */
const MAX_QUERY_WINDOW = 16_384;

function isOk(status: Status | undefined): boolean {
  return status === undefined || status.error_code === 'Success' || status.error_code === 0 || (status.code === 0 && (status.error_code === undefined || status.error_code === ''));
}

export class MilvusAdapter implements VectorAdapter {
  readonly engine = 'milvus' as const;
  readonly capabilities: AdapterCapabilities = defineCapabilities({
    idTypes: ['int64', 'string', 'uuid'],
    namedVectors: true,
    atomicMarker: false,
    maxDims: MAX_DIMS,
  });
  private readonly client: MilvusClient;
  private readonly ownsClient: boolean;
  private readonly options: z.output<typeof MilvusAdapterOptionsSchema>;
  private readonly logger: Logger;
  private readonly address: string;

  constructor(options: MilvusAdapterOptions) {
    const o = parseOptions(MilvusAdapterOptionsSchema, options, 'Milvus adapter', PLUGIN);
    this.options = o;
    this.logger = o.logger ?? silentLogger;
    if (o.client) {
      this.client = o.client;
      this.ownsClient = false;
      this.address = o.endpointLabel ?? 'milvus (caller client)';
    } else {
      // The SDK logs to the console through a process-wide winston logger (debug under NODE_ENV=test);
      // a library must not, so the clients it creates turn that down to errors.
      this.client = new MilvusClient({ address: o.address as string, token: o.token, database: o.database, ssl: o.ssl, logLevel: o.sdkLogLevel, timeout: o.timeoutMs });
      this.ownsClient = true;
      this.address = o.endpointLabel ?? `${o.address as string}${o.database ? `/${o.database}` : ''}`;
    }
  }

  /** Throws a typed error when a Milvus status is not Success. */
  private check<T extends { status?: Status } | Status>(res: T, what: string, collection?: string): T {
    const status: Status | undefined = 'status' in res && typeof res.status === 'object' ? (res.status as Status) : 'error_code' in res ? (res as Status) : undefined;
    if (isOk(status)) return res;
    const reason = status?.reason ?? 'unknown error';
    if (collection !== undefined && (status?.error_code === 'CollectionNotExists' || status?.code === 100 || /collection .* (does not exist|not found)|can't find collection/i.test(reason))) {
      throw new NotFoundError('COLLECTION_NOT_FOUND', `Milvus collection ${JSON.stringify(collection)} does not exist (${what}).`, { plugin: PLUGIN, details: { collection } });
    }
    // Milvus answers quota and rate limits (RateLimit, ForceDeny on memory) with a status: retry later.
    const transient = /rate ?limit|quota|memory|too many requests/i.test(reason) || status?.error_code === 'RateLimit';
    throw new EngineError(`${what}: ${reason}`, transient ? 'transient' : 'permanent', { plugin: PLUGIN, details: { code: status?.code, errorCode: status?.error_code } });
  }

  private async call<T extends { status?: Status } | Status>(what: string, collection: string | undefined, run: () => Promise<T>): Promise<T> {
    let res: T;
    try {
      res = await run();
    } catch (err) {
      if (err instanceof VectordrError) throw err;
      // Some SDK calls (createCollection on Milvus 2.3) throw the failed status itself, not an Error.
      if (!(err instanceof Error) && typeof err === 'object' && err !== null && ('error_code' in err || 'reason' in err)) {
        this.check(err as Status, what, collection);
      }
      const msg = err instanceof Error ? err.message : String(err);
      const transient = /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|RESOURCE_EXHAUSTED|rate ?limit/i.test(msg);
      throw new EngineError(`${what}: ${msg}`, transient ? 'transient' : 'permanent', { plugin: PLUGIN, cause: err });
    }
    return this.check(res, what, collection);
  }

  private serverInfo: Promise<MilvusServerInfo> | undefined;

  /**
   * The server's version and what it can store, asked once per adapter (`getVersion`); refuses a
   * Milvus older than 2.3 (UNSUPPORTED_OPERATION) before anything is read or written. A failed
   * call is not cached, so a server that was down is asked again.
   */
  async server(): Promise<MilvusServerInfo> {
    this.serverInfo ??= this.call('getVersion', undefined, () => this.client.getVersion() as unknown as Promise<{ status?: Status; version: string }>).then(
      (v) => milvusServerInfo(String(v.version)),
      (err: unknown) => {
        this.serverInfo = undefined;
        throw err;
      },
    );
    return this.serverInfo;
  }

  async exists(collection: string): Promise<boolean> {
    const res = await this.call('hasCollection', undefined, () => this.client.hasCollection({ collection_name: collection }));
    return Boolean(res.value);
  }

  private async describeRaw(collection: string): Promise<{ fields: MilvusFieldInfo[]; dynamic: boolean; properties: Record<string, string> }> {
    const d = await this.call('describeCollection', collection, () => this.client.describeCollection({ collection_name: collection }));
    const properties: Record<string, string> = {};
    for (const kv of (d.properties ?? []) as { key: string; value: string }[]) properties[kv.key] = kv.value;
    return { fields: d.schema.fields as unknown as MilvusFieldInfo[], dynamic: Boolean(d.schema.enable_dynamic_field), properties };
  }

  checkCollectionName(name: string, use: 'read' | 'create'): void {
    if (/^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(name)) return;
    const suggestion = (/^[A-Za-z_]/.test(name) ? '' : '_') + name.replace(/[^A-Za-z0-9_]/g, '_');
    throw invalidCollectionName(PLUGIN, name, 'Milvus names are 1 to 255 letters, digits and underscores, the first a letter or underscore', suggestion.slice(0, 255), use);
  }

  async describe(collection: string): Promise<CollectionSchema> {
    await this.server();
    const { fields, dynamic, properties } = await this.describeRaw(collection);
    const hints = parseObject(properties[TYPES_PROPERTY]) as TypeHints;
    const pk = fields.find((f) => f.is_primary_key);
    if (!pk) throw new EngineError(`Milvus collection ${JSON.stringify(collection)} has no primary key field.`, 'permanent', { plugin: PLUGIN });
    if (pk.autoID) this.logger.warn({ collection }, 'primary key is autoID: ids are kept on restore into Milvus by creating the key without autoID');
    const idType = pk.data_type === 'Int64' ? 'int64' : hints.id === 'uuid' ? 'uuid' : 'string';
    const vectors: VectorField[] = [];
    const payload: PayloadField[] = [];
    const indexes: IndexSpec[] = [];
    for (const f of fields) {
      if (f === pk || f.is_dynamic || f.name === DYNAMIC_FIELD) continue;
      if (isUnsupportedVector(f)) {
        throw new UnsupportedOperationError(`Vector field ${JSON.stringify(f.name)} of Milvus collection ${JSON.stringify(collection)} is a ${f.data_type}; vectordr captures FloatVector fields only so far. Nothing was read (no field is ever dropped silently).`, {
          plugin: PLUGIN,
          details: { collection, field: f.name, type: f.data_type },
        });
      }
      if (f.data_type === 'FloatVector') {
        const index = await this.vectorIndex(collection, f.name);
        if (index) indexes.push(index);
        vectors.push({ name: f.name, dims: Number(f.dim), metric: index?.metric ?? 'unspecified', element: 'float32', nullable: false, nativeType: `FloatVector(${String(f.dim)})` });
        continue;
      }
      payload.push(payloadFieldFromMilvus(f, hints, collection));
    }
    // Nullable fields a server without nullable fields keeps as dynamic keys (milvus-version.ts).
    for (const [name, h] of Object.entries(hints.dynamic ?? {})) payload.push({ name, type: h.type, array: h.array, nullable: true, nativeType: DYNAMIC_KEY });
    if (dynamic && hints.meta !== false) payload.push({ name: DYNAMIC_FIELD, type: 'json', array: false, nullable: true, nativeType: 'dynamic' });
    return { name: collection, idField: pk.name, idType, idNativeType: pk.max_length ? `VarChar(${String(pk.max_length)})` : pk.data_type, vectors, payload, indexes };
  }

  private async vectorIndex(collection: string, field: string): Promise<IndexSpec | undefined> {
    let res;
    try {
      res = await this.client.describeIndex({ collection_name: collection, field_name: field });
    } catch {
      return undefined;
    }
    if (!isOk(res.status)) return undefined; // no index on this field
    const d = res.index_descriptions?.find((x) => x.field_name === field);
    if (!d) return undefined;
    const params: Record<string, string> = {};
    for (const kv of d.params as { key: string; value: string }[]) params[kv.key] = kv.value;
    return { ...indexFromMilvus(field, params), name: d.index_name };
  }

  private async isLoaded(collection: string): Promise<boolean> {
    try {
      const s = await this.client.getLoadState({ collection_name: collection });
      return String(s.state) === 'LoadStateLoaded';
    } catch {
      return false;
    }
  }

  async count(collection: string): Promise<number> {
    if (!(await this.isLoaded(collection))) {
      await this.describeRaw(collection); // COLLECTION_NOT_FOUND
      await this.call('flush', collection, () => this.client.flushSync({ collection_names: [collection] }));
      const stats = await this.call('getCollectionStatistics', collection, () => this.client.getCollectionStatistics({ collection_name: collection }));
      return Number(stats.data?.row_count ?? 0);
    }
    const res = await this.call('count query', collection, () => this.client.query({ collection_name: collection, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' as never }));
    return Number((res.data[0] as Record<string, unknown> | undefined)?.['count(*)'] ?? 0);
  }

  async scan(collection: string, options: ScanOptions): Promise<ScanSession> {
    const schema = await this.describe(collection);
    if (!(await this.isLoaded(collection))) await this.call('loadCollection', collection, () => this.client.loadCollectionSync({ collection_name: collection }));
    const partitions = await this.client.listPartitions({ collection_name: collection }).catch(() => undefined);
    const named = (partitions?.partition_names ?? []).filter((p) => p !== '_default');
    if (named.length > 0) {
      // Rows are all captured; which partition each was in is not (docs/adapters/milvus.md).
      this.logger.warn({ collection, partitions: named }, 'partitions are not captured: a restore puts every row in the default partition');
    }
    const estimatedRows = await this.count(collection);
    // Each query costs Milvus a pass over the matching segments, so pages are at least scanPageRows
    // (measured on 100k x 768: the snapshot took 156 s with ~1300-row pages, the raw loop 46 s with 16384);
    // the batches handed to the core are still batchSize rows.
    const pageSize = Math.min(MAX_QUERY_WINDOW, Math.max(options.batchSize, this.options.scanPageRows));
    const page = (last: string | undefined): Promise<Record<string, unknown>[]> => this.page(schema, last, pageSize);
    const toBatch = (rows: Record<string, unknown>[]): RecordBatch => this.toBatch(schema, rows);
    const logger = this.logger;
    let closed = false;
    return {
      schema,
      checkpoint: undefined,
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
          const rows = await page(last);
          if (rows.length === 0) break;
          for (let start = 0; start < rows.length; start += options.batchSize) {
            const batch = toBatch(rows.slice(start, start + options.batchSize));
            last = String(idAt(batch, batch.length - 1));
            seen += batch.length;
            yield batch;
          }
        }
        if (seen !== estimatedRows) {
          logger.warn({ collection, scanned: seen, counted: estimatedRows }, 'row count changed during the scan (writes during a live snapshot)');
        }
      },
      async close() {
        closed = true;
      },
    };
  }

  /** One page of rows with primary key > last, ascending; checks the order Milvus returned. */
  private async page(schema: CollectionSchema, last: string | undefined, limit: number): Promise<Record<string, unknown>[]> {
    const pk = schema.idField;
    // The first page has no lower bound: Milvus's parser refuses the literal -9223372036854775808
    // (it parses 9223372036854775808, out of int64 range, then negates), and an empty filter with
    // a limit is a plain ordered query.
    const filter = last === undefined ? '' : schema.idType === 'int64' ? `${pk} > ${last}` : `${pk} > ${exprString(last)}`;
    const res = await this.call('query', schema.name, () =>
      this.client.query({
        collection_name: schema.name,
        filter,
        limit,
        output_fields: ['*'],
        consistency_level: 'Strong' as never,
        params: { iterator: true, reduce_stop_for_best: true } as never,
      } as never),
    );
    const rows = (res as unknown as { data: Record<string, unknown>[] }).data;
    // Milvus orders VarChar keys by their UTF-8 bytes, which JavaScript string order is not.
    const ascending = (a: Record<string, unknown>, b: Record<string, unknown>): boolean =>
      schema.idType === 'int64' ? BigInt(String(a[pk])) < BigInt(String(b[pk])) : Buffer.compare(Buffer.from(String(a[pk])), Buffer.from(String(b[pk]))) < 0;
    for (let i = 1; i < rows.length; i++) {
      if (!ascending(rows[i - 1] as Record<string, unknown>, rows[i] as Record<string, unknown>)) {
        throw new EngineError(`Milvus returned rows of ${JSON.stringify(schema.name)} out of primary-key order; a keyset scan could skip rows, so the snapshot was stopped. Upgrade Milvus (2.3+ orders query results with iterator parameters).`, 'permanent', { plugin: PLUGIN });
      }
    }
    return rows;
  }

  private toBatch(schema: CollectionSchema, rows: Record<string, unknown>[]): RecordBatch {
    const n = rows.length;
    const ids: BigInt64Array | string[] = schema.idType === 'int64' ? new BigInt64Array(n) : new Array<string>(n);
    const vectors: Record<string, VectorColumn> = {};
    for (const v of schema.vectors) vectors[v.name] = { dims: v.dims, data: new Float32Array(n * v.dims) };
    const payloads: Payload[] = new Array<Payload>(n);
    const dynamicKeys = schema.payload.filter((p) => p.nativeType === DYNAMIC_KEY).map((p) => p.name);
    rows.forEach((r, i) => {
      const id = r[schema.idField];
      if (ids instanceof BigInt64Array) ids[i] = BigInt(String(id));
      else ids[i] = String(id);
      for (const v of schema.vectors) {
        const vec = r[v.name] as number[] | undefined;
        if (!vec || vec.length !== v.dims) throw new EngineError(`Row ${String(id)} of ${schema.name}: vector ${v.name} has ${vec?.length ?? 0} values, expected ${v.dims}.`, 'permanent', { plugin: PLUGIN });
        (vectors[v.name] as VectorColumn).data.set(vec, i * v.dims);
      }
      const payload: Payload = {};
      const meta = r[DYNAMIC_FIELD] as Record<string, unknown> | null | undefined;
      for (const p of schema.payload) {
        let value: PayloadValue;
        if (p.nativeType === DYNAMIC_KEY) value = fromDynamicValue(meta?.[p.name], p);
        else if (p.name === DYNAMIC_FIELD) value = valueFromMilvus(dynamicKeys.length > 0 && meta ? withoutKeys(meta, dynamicKeys) : meta, p);
        else value = valueFromMilvus(r[p.name], p);
        if (value !== null && !(p.name === DYNAMIC_FIELD && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0)) payload[p.name] = value;
      }
      payloads[i] = payload;
    });
    return { length: n, ids, vectors, payloads };
  }

  /**
   * Refuses, before anything is written, a target with a scalar field that is neither nullable nor
   * defaulted and that the snapshot does not have: Milvus would refuse every insert without it.
   */
  async preflightAppend(collection: string, schema: CollectionSchema): Promise<void> {
    const { fields } = await this.describeRaw(collection);
    const fed = new Set([...schema.vectors.map((v) => v.name), ...schema.payload.map((p) => p.name)]);
    const required = fields.filter((f) => !f.is_primary_key && !f.is_dynamic && f.name !== DYNAMIC_FIELD && !f.data_type.endsWith('Vector') && !f.nullable && !hasDefault(f) && !fed.has(f.name)).map((f) => f.name);
    const [field] = required;
    if (field === undefined) return;
    throw new InvalidInputError('SCHEMA_MISMATCH', `Cannot restore into the existing Milvus collection ${JSON.stringify(collection)}: field ${JSON.stringify(field)} is required (not nullable, no default), and the snapshot has no such field. Nothing was written. Restore into a new collection (target) or with ifExists: 'replace'.`, {
      plugin: PLUGIN,
      details: { target: collection, fields: required },
    });
  }

  async create(schema: CollectionSchema, options: CreateOptions): Promise<void> {
    throwIfAborted(options.signal);
    await this.preflightCreate(schema);
    if (await this.exists(schema.name)) {
      throw new InvalidInputError('TARGET_EXISTS', `Milvus collection ${JSON.stringify(schema.name)} already exists.`, { plugin: PLUGIN });
    }
    const server = await this.server();
    // Without nullable fields (Milvus < 2.5) a nullable payload field is kept as a dynamic key:
    // absent where null, its neutral type in vectordr.types.
    const asDynamic = new Set(server.nullableFields ? [] : schema.payload.filter((p) => p.nullable && p.name !== DYNAMIC_FIELD).map((p) => p.name));
    const fields: FieldType[] = [];
    if (schema.idType === 'int64') fields.push({ name: schema.idField, data_type: DataType.Int64, is_primary_key: true, autoID: false });
    else {
      const bound = /\((\d+)\)$/.exec(schema.idNativeType ?? '')?.[1];
      fields.push({ name: schema.idField, data_type: DataType.VarChar, is_primary_key: true, autoID: false, max_length: schema.idType === 'uuid' ? 36 : bound ? Number(bound) : this.options.varcharMaxLength });
    }
    for (const v of schema.vectors) fields.push({ name: v.name, data_type: DataType.FloatVector, dim: v.dims });
    for (const p of schema.payload) if (p.name !== DYNAMIC_FIELD && !asDynamic.has(p.name)) fields.push(payloadFieldToMilvus(p, this.options));
    const dynamic = asDynamic.size > 0 || schema.payload.some((p) => p.name === DYNAMIC_FIELD);
    const hints = typeHints(schema.idType, schema.payload, asDynamic);
    const properties: Record<string, string> = Object.keys(hints).length > 0 ? { [TYPES_PROPERTY]: JSON.stringify(hints) } : {};
    this.fieldCache.delete(schema.name);
    await this.call('createCollection', undefined, () =>
      this.client.createCollection({ collection_name: schema.name, fields, enable_dynamic_field: dynamic, ...(Object.keys(properties).length ? { properties } : {}) } as never),
    );
    if (options.indexes === 'now') await this.buildIndexes(schema.name, schema, { signal: options.signal });
  }

  /**
   * Refuses, before anything is created or dropped, what Milvus cannot store: a server older than
   * 2.3, dims over 32768, metrics it lacks.
   */
  async preflightCreate(schema: CollectionSchema): Promise<void> {
    await this.server();
    for (const v of schema.vectors) {
      if (v.dims > MAX_DIMS) {
        throw new InvalidInputError('DIMENSION_MISMATCH', `Vector ${JSON.stringify(v.name)} has ${v.dims} dimensions; Milvus accepts at most ${MAX_DIMS}. Nothing was created.`, { plugin: PLUGIN, details: { field: v.name, dims: v.dims, max: MAX_DIMS } });
      }
      this.metricOf(schema, v);
    }
  }

  /** The Milvus metric of a vector field: its own, or `metricForUnindexed`, or a clear refusal. */
  private metricOf(schema: CollectionSchema, v: VectorField): string {
    const metric = v.metric !== 'unspecified' ? v.metric : this.options.metricForUnindexed;
    if (!metric) {
      throw new UnsupportedOperationError(`Vector ${JSON.stringify(v.name)} of ${JSON.stringify(schema.name)} has no metric in the snapshot (the source had no index on it), and Milvus needs one to index and load a collection. Pass metricForUnindexed ('cosine', 'l2' or 'dot') to the Milvus adapter; vectordr never picks a metric silently.`, {
        plugin: PLUGIN,
        details: { field: v.name, supported: ['cosine', 'l2', 'dot'] },
      });
    }
    return metricToMilvus(metric, v.name);
  }

  async buildIndexes(collection: string, schema: CollectionSchema, options: { signal?: AbortSignal } = {}): Promise<IndexBuildReport> {
    const report: IndexBuildReport = { built: [], skipped: [] };
    // Native types survive only same-engine restores (the core drops them across engines).
    const sameEngine = schema.vectors.every((v) => v.nativeType?.startsWith('FloatVector'));
    for (const v of schema.vectors) {
      throwIfAborted(options.signal);
      const metric_type = this.metricOf(schema, v);
      const recorded = schema.indexes.find((i) => i.field === v.name);
      let spec = recorded ? indexToMilvus(recorded, sameEngine) : undefined;
      if (recorded && !spec) report.skipped.push({ kind: recorded.kind, field: v.name, reason: `Milvus has no ${recorded.kind} index; built FLAT (exact search) instead`, action: 'converted' });
      spec ??= { index_type: 'FLAT', params: {} };
      // A resumed restore (interrupted between the build and the marker that records it) finds the
      // index in place: Milvus refuses a second one on the field, so keep the one of this definition.
      if (sameIndex(await this.vectorIndex(collection, v.name), spec, metric_type)) {
        this.logger.info({ collection, field: v.name, kind: spec.index_type }, 'index already present (a resumed restore): not built again');
        continue;
      }
      const t0 = performance.now();
      await this.call('createIndex', collection, () => this.client.createIndex({ collection_name: collection, field_name: v.name, index_type: spec.index_type, metric_type, params: spec.params } as never));
      report.built.push({ kind: spec.index_type.toLowerCase(), field: v.name, ms: Math.round(performance.now() - t0) });
    }
    for (const i of schema.indexes) {
      if (!schema.vectors.some((v) => v.name === i.field)) report.skipped.push({ kind: i.kind, field: i.field, reason: 'scalar indexes are not translated to Milvus yet' });
    }
    await this.call('loadCollection', collection, () => this.client.loadCollectionSync({ collection_name: collection }));
    return report;
  }

  /** Fields of a collection, described once per adapter (a restore writes many batches); dropped with the collection. */
  private readonly fieldCache = new Map<string, WriteTarget>();

  private async fieldsOf(collection: string): Promise<WriteTarget> {
    let target = this.fieldCache.get(collection);
    if (!target) {
      await this.server();
      const { fields, properties } = await this.describeRaw(collection);
      const hints = parseObject(properties[TYPES_PROPERTY]) as TypeHints;
      target = { fields, dynamicKeys: new Map(Object.entries(hints.dynamic ?? {})) };
      this.fieldCache.set(collection, target);
    }
    return target;
  }

  async write(collection: string, batch: RecordBatch, options: WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    const { fields, dynamicKeys } = await this.fieldsOf(collection);
    const server = await this.server();
    const schemaLike: Pick<VectorField, 'name' | 'dims' | 'nullable'>[] = fields.filter((f) => f.data_type === 'FloatVector').map((f) => ({ name: f.name, dims: Number(f.dim), nullable: false }));
    validateBatchVectors(batch, schemaLike, PLUGIN);
    const pk = fields.find((f) => f.is_primary_key) as MilvusFieldInfo;
    const columns = new Map(fields.map((f) => [f.name, f]));
    const rows: Record<string, unknown>[] = new Array<Record<string, unknown>>(batch.length);
    const sizes: number[] = new Array<number>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const id = idAt(batch, i);
      const row: Record<string, unknown> = {};
      if (pk.data_type === 'Int64') {
        row[pk.name] = typeof id === 'bigint' ? id.toString() : String(id);
        if (!server.readsMaxInt64Key && row[pk.name] === INT64_MAX) {
          throw new UnsupportedOperationError(`Id ${INT64_MAX} (2^63-1) of ${JSON.stringify(collection)}: Milvus ${server.version} stores a row with this primary key, but no query returns it, so vectordr could never read it back (a snapshot would miss it). Nothing of this batch was written; restore into an engine that keeps this id (pgvector, or Qdrant and Weaviate through id mapping).`, {
            plugin: PLUGIN,
            details: { collection, id: INT64_MAX, version: server.version },
          });
        }
      } else {
        const s = String(id);
        if (Buffer.byteLength(s, 'utf8') > Number(pk.max_length)) {
          throw new InvalidInputError('VALUE_TOO_LONG', `Id ${JSON.stringify(s.slice(0, 40))}${s.length > 40 ? '…' : ''} is ${Buffer.byteLength(s, 'utf8')} bytes; primary key ${JSON.stringify(pk.name)} of ${JSON.stringify(collection)} holds at most ${String(pk.max_length)}. Nothing of this batch was written; restore into a new collection (created with a long enough key).`, { plugin: PLUGIN });
        }
        row[pk.name] = s;
      }
      let rowBytes = 64;
      // Null vectors never get here: validateBatchVectors refuses them (Milvus vectors are not nullable).
      for (const [name, col] of Object.entries(batch.vectors)) {
        row[name] = Array.from(col.data.subarray(i * col.dims, (i + 1) * col.dims));
        rowBytes += col.dims * 4;
      }
      const payload = batch.payloads[i] ?? {};
      for (const [key, value] of Object.entries(payload)) {
        if (key === DYNAMIC_FIELD) {
          rowBytes += dynamicInto(row, value, columns, dynamicKeys, String(id), collection);
          continue;
        }
        const asKey = dynamicKeys.get(key);
        if (asKey) {
          if (value !== null) row[key] = toDynamicValue(value, asKey.type);
          rowBytes += valueBytes(value);
          continue;
        }
        const f = columns.get(key);
        if (!f) throw new InvalidInputError('SCHEMA_MISMATCH', `Payload field ${JSON.stringify(key)} has no column in Milvus collection ${JSON.stringify(collection)}.`, { plugin: PLUGIN });
        row[key] = toMilvusValue(value, f, collection);
        rowBytes += valueBytes(value);
      }
      for (const f of fields) {
        if (row[f.name] !== undefined && row[f.name] !== null) continue;
        if (f.nullable) row[f.name] = null;
        else if (!f.is_dynamic && !f.data_type.endsWith('Vector') && !hasDefault(f)) {
          // The SDK would leave the value out and Milvus refuse the whole request with a row count.
          throw new InvalidInputError('SCHEMA_MISMATCH', `Row ${String(id)}: field ${JSON.stringify(f.name)} of Milvus collection ${JSON.stringify(collection)} has no value, and the field cannot hold null (Milvus has nullable fields from 2.5 on, and only when created so). Nothing of this batch was written; restore into a new collection, which vectordr creates to hold nulls.`, {
            plugin: PLUGIN,
            details: { collection, field: f.name },
          });
        }
      }
      rows[i] = row;
      sizes[i] = rowBytes;
    }
    for (const { items: data } of chunksByBytes(rows, sizes, this.options.insertBatchBytes)) {
      throwIfAborted(options.signal);
      if (options.mode === 'insert') await this.call('insert', collection, () => this.client.insert({ collection_name: collection, data } as never));
      else await this.call('upsert', collection, () => this.client.upsert({ collection_name: collection, data } as never));
    }
  }

  async readMarker(collection: string): Promise<string | undefined> {
    return (await this.describeRaw(collection)).properties[MARKER_PROPERTY] || undefined;
  }

  async writeMarker(collection: string, marker: string | undefined): Promise<void> {
    if (marker === undefined) {
      if ((await this.readMarker(collection)) === undefined) return;
      // dropCollectionProperties exists from Milvus 2.5; before, an empty value reads as no marker.
      if ((await this.server()).dropProperties) {
        await this.call('dropCollectionProperties', collection, () => this.client.dropCollectionProperties({ collection_name: collection, properties: [MARKER_PROPERTY] } as never));
      } else {
        await this.call('alterCollectionProperties', collection, () => this.client.alterCollectionProperties({ collection_name: collection, properties: { [MARKER_PROPERTY]: '' } } as never));
      }
      return;
    }
    await this.call('alterCollectionProperties', collection, () => this.client.alterCollectionProperties({ collection_name: collection, properties: { [MARKER_PROPERTY]: marker } } as never));
  }

  async drop(collection: string): Promise<void> {
    this.fieldCache.delete(collection);
    if (!(await this.exists(collection))) return;
    await this.call('dropCollection', collection, () => this.client.dropCollection({ collection_name: collection }));
  }

  private async idFilter(collection: string, ids: Id[]): Promise<{ pk: MilvusFieldInfo; filter: string }> {
    const { fields } = await this.describeRaw(collection);
    const pk = fields.find((f) => f.is_primary_key) as MilvusFieldInfo;
    const list = ids.map((id) => (pk.data_type === 'Int64' ? BigInt(id).toString() : exprString(String(id)))).join(', ');
    return { pk, filter: `${pk.name} in [${list}]` };
  }

  async delete(collection: string, ids: Id[]): Promise<void> {
    if (ids.length === 0) return;
    const { filter } = await this.idFilter(collection, ids);
    await this.call('delete', collection, () => this.client.delete({ collection_name: collection, filter } as never));
  }

  async fetch(collection: string, ids: Id[]): Promise<VectorRecord[]> {
    if (ids.length === 0) return [];
    const schema = await this.describe(collection);
    if (!(await this.isLoaded(collection))) await this.call('loadCollection', collection, () => this.client.loadCollectionSync({ collection_name: collection }));
    const { filter } = await this.idFilter(collection, ids);
    const res = await this.call('query', collection, () => this.client.query({ collection_name: collection, filter, output_fields: ['*'], consistency_level: 'Strong' as never } as never));
    const batch = this.toBatch(schema, (res as unknown as { data: Record<string, unknown>[] }).data);
    const byId = new Map<string, VectorRecord>();
    for (let i = 0; i < batch.length; i++) byId.set(String(idAt(batch, i)), recordAt(batch, i));
    return ids.flatMap((id) => byId.get(String(id)) ?? []);
  }

  async search(collection: string, vector: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    const schema = await this.describe(collection);
    const field = options.vector ?? (schema.vectors[0] as VectorField).name;
    const res = await this.call('search', collection, () =>
      this.client.search({
        collection_name: collection,
        anns_field: field,
        data: [Array.from(vector)],
        limit: k,
        output_fields: [schema.idField],
        params: searchParams(schema.indexes.find((i) => i.field === field), k, options.exact === true, options.effort),
        consistency_level: 'Strong',
      } as never),
    );
    const results = (res as unknown as { results: Record<string, unknown>[] }).results;
    return results.map((r) => ({ id: schema.idType === 'int64' ? BigInt(String(r.id)) : String(r.id), score: Number(r.score) }));
  }

  async probe(): Promise<ProbeResult> {
    const t0 = performance.now();
    try {
      const h = await this.client.checkHealth();
      const v = await this.client.getVersion().catch(() => undefined);
      return { reachable: Boolean(h.isHealthy), role: 'primary', latencyMs: performance.now() - t0, engineVersion: v?.version, ...(h.isHealthy ? {} : { error: (h.reasons ?? []).join('; ') || 'unhealthy' }) };
    } catch (err) {
      return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: (err as Error).message };
    }
  }

  async describeEndpoint(): Promise<{ engineVersion: string; endpoint: string }> {
    const v = await this.client.getVersion().catch(() => undefined);
    return { engineVersion: v?.version ?? 'unknown', endpoint: this.address };
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.closeConnection();
  }
}

/**
 * Search parameters for the field's index. Exact: HNSW with ef far above k, IVF probing every list;
 * FLAT is exact anyway. Milvus has no brute-force switch for an indexed field. `effort` (the
 * neutral search effort, `SearchOptions.effort`) is HNSW's `ef` (k..32768) and IVF's probes.
 */
function searchParams(index: IndexSpec | undefined, k: number, exact: boolean, effort: number | undefined): Record<string, number> {
  if (index?.kind === 'ivfflat') {
    const lists = Number(index.params.lists ?? 128);
    return { nprobe: exact ? lists : effort !== undefined ? probesForEffort(effort, lists) : Math.min(lists, 16) };
  }
  return { ef: exact ? Math.max(4 * k, 2048) : Math.min(32_768, Math.max(k, Math.trunc(effort ?? 64))) };
}

/** Rough wire size of a payload value, for the insert byte budget. */
function valueBytes(value: PayloadValue): number {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return 8;
  if (typeof value === 'string') return value.length * 2;
  return JSON.stringify(value).length * 2;
}

/** Spreads the `$meta` payload object into the row's dynamic keys; refuses what Milvus would misread. */
function dynamicInto(row: Record<string, unknown>, value: PayloadValue, columns: Map<string, MilvusFieldInfo>, dynamicKeys: ReadonlyMap<string, unknown>, id: string, collection: string): number {
  if (value === null) return 0;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError('SCHEMA_MISMATCH', `Row ${id}: the dynamic field ${DYNAMIC_FIELD} must be a JSON object to restore into Milvus collection ${JSON.stringify(collection)}, got ${Array.isArray(value) ? 'an array' : typeof value}. Nothing of this batch was written.`, { plugin: PLUGIN });
  }
  for (const key of Object.keys(value)) {
    if (columns.has(key) || dynamicKeys.has(key)) {
      throw new InvalidInputError('SCHEMA_MISMATCH', `Row ${id}: dynamic key ${JSON.stringify(key)} has the name of a field of Milvus collection ${JSON.stringify(collection)}; it would overwrite that field. Nothing of this batch was written.`, { plugin: PLUGIN });
    }
  }
  Object.assign(row, value);
  return valueBytes(value);
}

/** `meta` without the keys that stand for payload fields of their own. */
function withoutKeys(meta: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const rest: Record<string, unknown> = {};
  // defineProperty: a key named __proto__ stays a key.
  for (const [k, v] of Object.entries(meta)) if (!keys.includes(k)) Object.defineProperty(rest, k, { value: v, enumerable: true, writable: true, configurable: true });
  return rest;
}

/** The field has a server-side default value (Milvus 2.4+), which Milvus fills in for a missing value. */
function hasDefault(f: MilvusFieldInfo): boolean {
  return f.default_value != null && (typeof f.default_value !== 'object' || Object.values(f.default_value as object).some((v) => v != null));
}

/** A neutral payload value as Milvus expects it for field `f`. */
function toMilvusValue(value: PayloadValue, f: MilvusFieldInfo, collection: string): unknown {
  if (value === null) return null;
  if (f.data_type === 'VarChar' && typeof value === 'string' && f.max_length !== undefined && Buffer.byteLength(value, 'utf8') > Number(f.max_length)) {
    throw new InvalidInputError('VALUE_TOO_LONG', `A value of ${JSON.stringify(f.name)} is ${Buffer.byteLength(value, 'utf8')} bytes; the Milvus field of ${JSON.stringify(collection)} holds at most ${String(f.max_length)}. Nothing of this batch was written.`, { plugin: PLUGIN });
  }
  // The neutral float -0 is the string "-0" (docs/format.md, payload values); Milvus floats hold -0.
  const isFloat = f.data_type === 'Float' || f.data_type === 'Double' || (f.data_type === 'Array' && (f.element_type === 'Float' || f.element_type === 'Double'));
  if (isFloat) return Array.isArray(value) ? value.map((x) => (x === '-0' ? -0 : x)) : value === '-0' ? -0 : value;
  return value;
}


/** Whether the index Milvus reports for a field is the one `spec` with `metric` would create. */
function sameIndex(existing: IndexSpec | undefined, spec: { index_type: string; params: Record<string, number | string> }, metric: string): boolean {
  if (!existing?.native) return false;
  const d = parseObject(existing.native) as { index_type?: unknown; metric_type?: unknown; params?: unknown };
  const params = (d.params ?? {}) as Record<string, unknown>;
  return d.index_type === spec.index_type && d.metric_type === metric && Object.entries(spec.params).every(([k, v]) => String(params[k]) === String(v));
}
/** Creates a Milvus adapter. See `MilvusAdapterOptions`. */
export function milvusAdapter(options: MilvusAdapterOptions): MilvusAdapter {
  return new MilvusAdapter(options);
}

