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
 * page by page. Incremental links read objects by modification time where the class indexes
 * timestamps (weaviate-capture.ts). See docs/adapters/weaviate.md.
 */
import * as api from '../../src/adapter.js';
import { InvalidInputError, throwIfAborted } from '../../src/errors.js';
import { parseOptions } from '../../src/options.js';
import { displayOnly } from '../../src/display.js';
import type { Checkpoint, CollectionSchema, Id, RecordBatch, VectorQuery, VectorRecord } from '../../src/model.js';
import { captureChanges, planCapture, timeCheckpoint } from './weaviate-capture.js';
import { WeaviateConnection } from './weaviate-connection.js';
import { MAX_DIMS, indexReport, planClass, waitForIndexing } from './weaviate-create.js';
import { type Resolved, resolveClass } from './weaviate-describe.js';
import { httpStatusError } from './weaviate-errors.js';
import { markerPath, readMarker, writeMarker } from './weaviate-marker.js';
import { type WeaviateAdapterOptions, WeaviateAdapterOptionsSchema, WEAVIATE_RENAMED_OPTIONS } from './weaviate-options.js';
import { countObjects, fetchRecords, scanSession } from './weaviate-scan.js';
import { searchNearest } from './weaviate-search.js';
import { PLUGIN, classNameOf } from './weaviate-types.js';
import { deleteRecords, writeRecords } from './weaviate-write.js';

/**
 * Composes the Weaviate concerns into a `VectorAdapter`: weaviate-connection (REST, gRPC client,
 * gRPC session), -grpc, -grpc-batch, -grpc-search, -describe, -create, -scan, -write, -marker, -search and -errors.
 */
export class WeaviateAdapter implements api.VectorAdapter {
  readonly engine = 'weaviate' as const;
  readonly capabilities: api.AdapterCapabilities = api.defineCapabilities({
    idTypes: ['int64', 'string', 'uuid'],
    namedVectors: true,
    atomicMarker: false,
    maxDims: MAX_DIMS,
    // Weaviate's nearVector has no per-query ef: it is the class's vectorIndexConfig.ef.
    searchEffort: 'collection',
    // _lastUpdateTimeUnix where the class indexes timestamps (planCapture), else a fingerprint diff.
    changeCapture: 'timestamp',
    // Dense float32 vectors and float32 multi-vectors (named vectors with `multivector` on, Weaviate 1.29+); no sparse vectors.
    vectorKinds: { dense: ['float32'], sparse: false, multi: ['float32'] },
  });
  private readonly conn: WeaviateConnection;
  /** Resolved collections for writes (a restore writes many batches); dropped on create/drop/marker changes. */
  private readonly cache = new Map<string, Resolved>();
  /** What create() could not recreate as recorded (vectorizer modules, index kinds), reported by buildIndexes. */
  private readonly createNotes = new Map<string, api.IndexBuildReport['skipped']>();

  constructor(options: WeaviateAdapterOptions) {
    this.conn = new WeaviateConnection(
      parseOptions(WeaviateAdapterOptionsSchema, options, 'Weaviate adapter', PLUGIN, WEAVIATE_RENAMED_OPTIONS),
    );
    displayOnly(this, 'WeaviateAdapter', () => ({ engine: this.engine }));
  }

  async exists(collection: string): Promise<boolean> {
    return (await this.conn.rest.getClass(classNameOf(collection))) !== undefined;
  }

  checkCollectionName(name: string): void {
    classNameOf(name); // throws INVALID_IDENTIFIER with a suggested target
  }

  async describe(collection: string): Promise<CollectionSchema> {
    return (await resolveClass(this.conn, collection)).schema;
  }

  private async resolveCached(collection: string): Promise<Resolved> {
    let r = this.cache.get(collection);
    if (!r) {
      r = await resolveClass(this.conn, collection);
      this.cache.set(collection, r);
    }
    return r;
  }

  async count(collection: string): Promise<number> {
    await this.conn.settle(classNameOf(collection));
    return countObjects(this.conn, collection);
  }

  async scan(collection: string, options: api.ScanOptions): Promise<api.ScanSession> {
    await this.conn.settle(classNameOf(collection));
    const r = await resolveClass(this.conn, collection);
    // Every scan records where a timestamp feed continues from, so `startCapture` needs nothing more.
    const checkpoint = await timeCheckpoint(this.conn, options.signal);
    const estimatedRows = await this.count(collection);
    return scanSession(this.conn, r, options, checkpoint, estimatedRows);
  }

  /** `timestamp` when the class indexes timestamps, else `digest` with the reason (weaviate-capture.ts). */
  planCapture(collection: string): Promise<api.CapturePlan> {
    return planCapture(this.conn, collection);
  }

  /** The objects updated since `from` (minus `captureSkewMs`) and every id the class holds (weaviate-capture.ts). */
  async captureChanges(
    collection: string,
    from: Checkpoint,
    options: { captureId: string; signal?: AbortSignal },
  ): Promise<api.ChangeSession> {
    await this.conn.settle(classNameOf(collection));
    return captureChanges(this.conn, collection, from, options.signal);
  }

  preflightCreate(schema: CollectionSchema): void {
    planClass(schema, new Set(['none']), this.conn.options, this.conn.logger, true);
  }

  async create(schema: CollectionSchema, options: api.CreateOptions): Promise<void> {
    throwIfAborted(options.signal);
    const { cls, notes } = planClass(
      schema,
      await this.conn.enabledModules(),
      this.conn.options,
      this.conn.logger,
      false,
      options.definitions,
    );
    if (await this.conn.rest.getClass(cls.class)) {
      throw new InvalidInputError(
        'TARGET_EXISTS',
        `Weaviate collection ${JSON.stringify(schema.name)} (class ${cls.class}) already exists.`,
        {
          plugin: PLUGIN,
        },
      );
    }
    this.cache.delete(schema.name);
    await this.conn.rest.ok('POST', '/v1/schema', cls, options.signal);
    this.createNotes.set(cls.class, notes);
  }

  /** Waits until Weaviate has indexed what was written (weaviate-create.ts says why there is nothing to build). */
  async buildIndexes(collection: string, schema: CollectionSchema, options: { signal?: AbortSignal } = {}): Promise<api.IndexBuildReport> {
    await this.conn.settle(classNameOf(collection));
    const ms = await waitForIndexing(this.conn, collection, options.signal);
    const r = await resolveClass(this.conn, collection);
    return indexReport(r, schema, ms, this.createNotes.get(r.className) ?? []);
  }

  async write(collection: string, batch: RecordBatch, options: api.WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    await writeRecords(this.conn, await this.resolveCached(collection), batch, options);
  }

  async readMarker(collection: string): Promise<string | undefined> {
    await this.conn.settle(classNameOf(collection));
    return readMarker(this.conn, collection);
  }

  /**
   * While batch requests are in flight, the marker is queued behind them and written once they
   * were answered (weaviate-pending-writes.ts): the pipeline does not drain at every segment, and
   * the marker lags by at most the requests in flight. Otherwise, and for a removal, it is written now.
   */
  async writeMarker(collection: string, marker: string | undefined): Promise<void> {
    const pending = this.conn.pending(classNameOf(collection));
    if (marker !== undefined && pending.sending) {
      pending.queueMarker(() => writeMarker(this.conn, collection, marker));
      return;
    }
    if (marker === undefined) await pending.drain();
    else await pending.settle();
    await writeMarker(this.conn, collection, marker);
    // A removal runs also after a failed restore: it removes the marker, then reports the failure.
    await pending.settle();
  }

  async drop(collection: string): Promise<void> {
    this.cache.delete(collection);
    const className = classNameOf(collection);
    // What is still in flight is dropped with the collection: wait for it, its failures no longer matter.
    await this.conn.settle(className).catch(() => undefined);
    const { status, json } = await this.conn.rest.request('DELETE', `/v1/schema/${encodeURIComponent(className)}`);
    await this.conn.rest.request('DELETE', markerPath(className)).catch(() => undefined);
    if (status >= 300 && status !== 404)
      throw httpStatusError(`DELETE /v1/schema/${className}: HTTP ${status} ${JSON.stringify(json)?.slice(0, 200)}`, status);
  }

  async delete(collection: string, ids: Id[]): Promise<void> {
    if (ids.length === 0) return;
    await deleteRecords(this.conn, await this.resolveCached(collection), ids);
  }

  async fetch(collection: string, ids: Id[]): Promise<VectorRecord[]> {
    if (ids.length === 0) return [];
    await this.conn.settle(classNameOf(collection));
    return fetchRecords(this.conn, await resolveClass(this.conn, collection), ids);
  }

  /**
   * Nearest neighbours by the vector's distance (a multi-vector by MaxSim); `exact` searches flat
   * where Weaviate can (weaviate-search.ts says when).
   */
  async search(
    collection: string,
    query: Float32Array | VectorQuery,
    k: number,
    options: api.SearchOptions = {},
  ): Promise<api.SearchHit[]> {
    // Cached like write(): verifyRecall searches once per query, and resolving reads the schema (and
    // for collections vectordr did not create, samples objects) every time.
    await this.conn.settle(classNameOf(collection));
    return searchNearest(this.conn, await this.resolveCached(collection), query, k, options);
  }

  probe(): Promise<api.ProbeResult> {
    return this.conn.probe();
  }

  describeEndpoint(): Promise<{ engineVersion: string; endpoint: string }> {
    return this.conn.describeEndpoint();
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

/** Creates a Weaviate adapter. See `WeaviateAdapterOptions`. */
export function weaviateAdapter(options: WeaviateAdapterOptions): WeaviateAdapter {
  return new WeaviateAdapter(options);
}
