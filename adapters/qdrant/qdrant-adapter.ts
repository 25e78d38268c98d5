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
 *
 * This class only composes; each concern has its file: `qdrant-client.ts` (the client subset, connect,
 * probe), `qdrant-errors.ts` (error classification), `qdrant-describe.ts` (schema of a collection),
 * `qdrant-create.ts` (create and indexes), `qdrant-scan.ts` (scan, fetch), `qdrant-write.ts` (upsert,
 * delete), `qdrant-marker.ts`, `qdrant-search.ts`, `qdrant-types.ts` (id, metric and index mapping),
 * `qdrant-change-field.ts` (incremental links from the `changeField` option).
 */
import * as api from '../../src/adapter.js';
import { engineCall, engineRead } from '../../src/engine-errors.js';
import { InvalidInputError, throwIfAborted } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import type { Checkpoint, CollectionSchema, Id, RecordBatch, VectorQuery, VectorRecord } from '../../src/model.js';
import { parseOptions } from '../../src/options.js';
import { displayOnly } from '../../src/display.js';
import { openFieldCapture, planQdrantCapture, startCheckpoint } from './qdrant-change-field.js';
import { type QdrantContext, connectQdrant, connectQdrantGrpc, probeQdrant } from './qdrant-client.js';
import { createCollection, createPayloadIndexes, planCollection, waitForHnsw } from './qdrant-create.js';
import { type ResolvedCollection, checkCollectionName, collectionExists, resolveCollection } from './qdrant-describe.js';
import { qdrantErrors } from './qdrant-errors.js';
import { readMarker, writeMarker } from './qdrant-marker.js';
import { type QdrantAdapterOptions, QdrantAdapterOptionsSchema, QDRANT_RENAMED_OPTIONS } from './qdrant-options.js';
import { fetchRecords, openScan } from './qdrant-scan.js';
import { searchPoints } from './qdrant-search.js';
import { MAX_DIMS, PLUGIN } from './qdrant-types.js';
import { deletePoints, writePoints } from './qdrant-write.js';
import { QDRANT_ELEMENTS } from './qdrant-vectors.js';

export class QdrantAdapter implements api.VectorAdapter {
  readonly engine = 'qdrant' as const;
  /**
   * `changeCapture` is this instance's best: `timestamp` with the `changeField` option (per
   * collection `planCapture` may still say `digest`, e.g. where no point has the key), else
   * `digest` (Qdrant has no change feed).
   */
  readonly capabilities: api.AdapterCapabilities;
  private readonly ctx: QdrantContext;
  private readonly endpoint: string;
  /** Resolved collections for write, delete and search (called per batch / per query). */
  private readonly cache = new Map<string, ResolvedCollection>();
  /** What create() could not keep as recorded, reported by buildIndexes(). */
  private readonly createNotes = new Map<string, api.IndexBuildReport['skipped']>();

  constructor(options: QdrantAdapterOptions) {
    const o = parseOptions(QdrantAdapterOptionsSchema, options, 'Qdrant adapter', PLUGIN, QDRANT_RENAMED_OPTIONS);
    this.capabilities = api.defineCapabilities({
      idTypes: ['int64', 'string', 'uuid'],
      namedVectors: true,
      atomicMarker: false,
      maxDims: MAX_DIMS,
      normalizesCosine: true,
      payloadFloatExact: false,
      changeCapture: o.changeField === undefined ? 'digest' : 'timestamp',
      // Qdrant's datatypes, sparse vectors and (float32 in the model) multivectors; no int8, bfloat16 or bits.
      vectorKinds: { dense: QDRANT_ELEMENTS, sparse: true, multi: ['float32'] },
    });
    const { client, endpoint } = connectQdrant(o);
    const logger = o.logger ?? silentLogger;
    this.ctx = { client, options: o, logger, grpc: connectQdrantGrpc(o, logger) };
    this.endpoint = endpoint;
    displayOnly(this, 'QdrantAdapter', () => ({ engine: this.engine, endpoint: this.endpoint }));
  }

  async exists(collection: string): Promise<boolean> {
    return collectionExists(this.ctx, collection);
  }

  checkCollectionName(name: string, use: 'read' | 'create'): void {
    checkCollectionName(name, use);
  }

  async describe(collection: string): Promise<CollectionSchema> {
    return (await resolveCollection(this.ctx, collection)).schema;
  }

  private async resolveCached(collection: string): Promise<ResolvedCollection> {
    let r = this.cache.get(collection);
    if (!r) {
      r = await resolveCollection(this.ctx, collection);
      this.cache.set(collection, r);
    }
    return r;
  }

  async count(collection: string): Promise<number> {
    return (await engineRead(qdrantErrors, 'count', collection, () => this.ctx.client.count(collection, { exact: true }))).count;
  }

  async scan(collection: string, options: api.ScanOptions): Promise<api.ScanSession> {
    const r = await resolveCollection(this.ctx, collection);
    // Every scan (a chain's full snapshot, a fingerprint-diff link) can start a change-field feed: taken
    // before the scan reads anything, so the next link reads every write the scan may miss.
    const checkpoint = await startCheckpoint(this.ctx, r);
    return openScan(this.ctx, r, await this.count(collection), options, checkpoint);
  }

  /** `timestamp` where the `changeField` option is usable in `collection`, else `digest` with the reason. */
  async planCapture(collection: string): Promise<api.CapturePlan> {
    return planQdrantCapture(this.ctx, collection);
  }

  /**
   * The points whose `changeField` is at least the parent's largest value minus `changeFieldLagMs`,
   * and every id (for deletes). Throws CHAIN_BROKEN `no-feed` when the field cannot be followed.
   */
  async captureChanges(
    collection: string,
    from: Checkpoint,
    options: { captureId: string; signal?: AbortSignal },
  ): Promise<api.ChangeSession> {
    return openFieldCapture(this.ctx, await resolveCollection(this.ctx, collection), from, options.signal);
  }

  preflightCreate(schema: CollectionSchema): void {
    planCollection(schema, this.ctx.options.metricForUnindexed);
  }

  async create(schema: CollectionSchema, options: api.CreateOptions): Promise<void> {
    throwIfAborted(options.signal);
    const plan = planCollection(schema, this.ctx.options.metricForUnindexed);
    if (await this.exists(schema.name)) {
      throw new InvalidInputError('TARGET_EXISTS', `Qdrant collection ${JSON.stringify(schema.name)} already exists.`, { plugin: PLUGIN });
    }
    this.cache.delete(schema.name);
    await createCollection(this.ctx, schema.name, plan);
    this.createNotes.set(schema.name, plan.notes);
    if (options.indexes === 'now') await createPayloadIndexes(this.ctx, schema.name, schema, plan.notes);
  }

  async buildIndexes(collection: string, schema: CollectionSchema, options: { signal?: AbortSignal } = {}): Promise<api.IndexBuildReport> {
    const skipped = [...(this.createNotes.get(collection) ?? [])];
    const built = await createPayloadIndexes(this.ctx, collection, schema, skipped);
    built.push(...(await waitForHnsw(this.ctx, collection, schema, options.signal)));
    return { built, skipped };
  }

  async write(collection: string, batch: RecordBatch, options: api.WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    await writePoints(this.ctx, await this.resolveCached(collection), batch, options);
  }

  async readMarker(collection: string): Promise<string | undefined> {
    return readMarker(this.ctx, collection);
  }

  async writeMarker(collection: string, marker: string | undefined): Promise<void> {
    await writeMarker(this.ctx, collection, marker);
  }

  async drop(collection: string): Promise<void> {
    this.cache.delete(collection);
    if (!(await this.exists(collection))) return;
    await engineCall(qdrantErrors, 'deleteCollection', collection, () => this.ctx.client.deleteCollection(collection));
  }

  async delete(collection: string, ids: Id[]): Promise<void> {
    if (ids.length === 0) return;
    await deletePoints(this.ctx, await this.resolveCached(collection), ids);
  }

  async fetch(collection: string, ids: Id[]): Promise<VectorRecord[]> {
    if (ids.length === 0) return [];
    return fetchRecords(this.ctx, await resolveCollection(this.ctx, collection), ids);
  }

  async search(
    collection: string,
    query: Float32Array | VectorQuery,
    k: number,
    options: api.SearchOptions = {},
  ): Promise<api.SearchHit[]> {
    // Cached like write(): verifyRecall searches once per query, and resolving reads the schema (and
    // for collections vectordr did not create, samples objects) every time.
    return searchPoints(this.ctx, await this.resolveCached(collection), query, k, options);
  }

  async probe(): Promise<api.ProbeResult> {
    return probeQdrant(this.ctx);
  }

  /** Closes the gRPC session (the REST client holds none). */
  async close(): Promise<void> {
    this.ctx.grpc?.close();
  }

  async describeEndpoint(): Promise<{ engineVersion: string; endpoint: string }> {
    const v = await this.ctx.client.versionInfo().catch(() => undefined);
    return { engineVersion: v?.version ?? 'unknown', endpoint: this.endpoint };
  }
}

/** Creates a Qdrant adapter. See `QdrantAdapterOptions`. */
export function qdrantAdapter(options: QdrantAdapterOptions): QdrantAdapter {
  return new QdrantAdapter(options);
}
