/**
 * Milvus adapter on @zilliz/milvus2-sdk-node. One Milvus collection = one vectordr collection.
 *
 * The class only composes; each concern has its file: the client and what the parts share
 * (milvus-client.ts), errors (milvus-errors.ts), schemas (milvus-describe.ts), the ordered keyset
 * scan (milvus-scan.ts), creation and indexes (milvus-create.ts), writes (milvus-write.ts), the
 * restore marker (milvus-marker.ts), search (milvus-search.ts), types (milvus-types.ts), server
 * versions (milvus-version.ts) and incremental links from the `changeField` option
 * (milvus-change-field.ts). See docs/adapters/milvus.md.
 */
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import * as api from '../../src/adapter.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import type { Checkpoint, CollectionSchema, Id, RecordBatch, VectorQuery, VectorRecord } from '../../src/model.js';
import { parseOptions } from '../../src/options.js';
import { displayOnly } from '../../src/display.js';
import { openFieldCapture, planMilvusCapture, startCheckpoint } from './milvus-change-field.js';
import { type MilvusContext, openClient } from './milvus-client.js';
import { buildIndexes, createCollection, preflightCreate } from './milvus-create.js';
import { checkCollectionName, collectionExists, describeSchema } from './milvus-describe.js';
import { type MilvusStatus, milvusCall } from './milvus-errors.js';
import { readMarker, writeMarker } from './milvus-marker.js';
import {
  type MilvusAdapterOptions,
  MilvusAdapterOptionsSchema,
  MILVUS_RENAMED_OPTIONS,
  type ParsedMilvusOptions,
} from './milvus-options.js';
import { countRows, fetchRecords, scanCollection } from './milvus-scan.js';
import { searchCollection } from './milvus-search.js';
import { MAX_DIMS, PLUGIN } from './milvus-types.js';
import { DECLARED_VECTOR_KINDS } from './milvus-vectors.js';
import { type MilvusServerInfo, milvusServerInfo } from './milvus-version.js';
import { MilvusWriter } from './milvus-write.js';

/** `getVersion` as the adapter reads it (the SDK's type has no status). */
type VersionResponse = { status?: MilvusStatus; version: string };

export class MilvusAdapter implements api.VectorAdapter {
  readonly engine = 'milvus' as const;
  /**
   * `changeCapture` is this instance's best: `timestamp` with the `changeField` option (per
   * collection `planCapture` may still say `digest`, e.g. where the field is missing or nullable),
   * else `digest` (Milvus has no change feed).
   */
  private readonly declared: api.AdapterCapabilities;
  private readonly client: MilvusClient;
  private readonly ownsClient: boolean;
  private readonly address: string;
  /** What the parts (describe, scan, create, write, marker, search) work with. */
  private readonly ctx: MilvusContext;
  private readonly writer: MilvusWriter;
  private serverInfo: Promise<MilvusServerInfo> | undefined;
  /** The answer of `serverInfo`, once it came. */
  private known: MilvusServerInfo | undefined;

  constructor(options: MilvusAdapterOptions) {
    const o: ParsedMilvusOptions = parseOptions(MilvusAdapterOptionsSchema, options, 'Milvus adapter', PLUGIN, MILVUS_RENAMED_OPTIONS);
    const logger: Logger = o.logger ?? silentLogger;
    this.declared = api.defineCapabilities({
      idTypes: ['int64', 'string', 'uuid'],
      namedVectors: true,
      atomicMarker: false,
      maxDims: MAX_DIMS,
      changeCapture: o.changeField === undefined ? 'digest' : 'timestamp',
      vectorKinds: DECLARED_VECTOR_KINDS,
    });
    const { client, ownsClient, endpoint } = openClient(o);
    this.client = client;
    this.ownsClient = ownsClient;
    this.address = endpoint;
    this.ctx = { client, options: o, logger, server: () => this.server() };
    this.writer = new MilvusWriter(this.ctx);
    displayOnly(this, 'MilvusAdapter', () => ({ engine: this.engine, endpoint: this.address }));
  }

  /**
   * What this adapter stores. `vectorKinds` follows the server once it has been asked (`probe`,
   * `describeEndpoint`, a write, or a restore's `preflightCreate`): Milvus 2.3
   * stores dense float32, float16 and binary; milvus-lite 3 dense float32 and sparse (see
   * milvus-version.ts). Before that every kind some Milvus stores is declared, and `preflightCreate`
   * refuses a field the server lacks, naming it, before anything is created.
   */
  get capabilities(): api.AdapterCapabilities {
    if (this.known === undefined) return this.declared;
    return {
      ...this.declared,
      namedVectors: this.declared.namedVectors && this.known.multipleVectorFields,
      vectorKinds: this.known.vectorKinds,
    };
  }

  /**
   * The server's version and what it can store, asked once per adapter (`getVersion`); refuses a
   * Milvus older than 2.3 (UNSUPPORTED_OPERATION) before anything is read or written. A failed
   * call is not cached, so a server that was down is asked again.
   */
  async server(): Promise<MilvusServerInfo> {
    const getVersion = (): Promise<VersionResponse> => this.client.getVersion() as unknown as Promise<VersionResponse>;
    this.serverInfo ??= milvusCall('getVersion', undefined, getVersion).then(
      (v) => (this.known = milvusServerInfo(String(v.version))),
      (err: unknown) => {
        this.serverInfo = undefined;
        throw err;
      },
    );
    return this.serverInfo;
  }

  exists(collection: string): Promise<boolean> {
    return collectionExists(this.client, collection);
  }

  checkCollectionName(name: string, use: 'read' | 'create'): void {
    checkCollectionName(name, use);
  }

  describe(collection: string): Promise<CollectionSchema> {
    return describeSchema(this.ctx, collection);
  }

  count(collection: string): Promise<number> {
    return countRows(this.client, collection);
  }

  scan(collection: string, options: api.ScanOptions): Promise<api.ScanSession> {
    return scanCollection(this.ctx, collection, options, (schema) => startCheckpoint(this.ctx, schema));
  }

  /** `timestamp` where the `changeField` option is usable in `collection`, else `digest` with the reason. */
  planCapture(collection: string): Promise<api.CapturePlan> {
    return planMilvusCapture(this.ctx, collection);
  }

  /**
   * The entities whose `changeField` is at least the parent's largest value minus `changeFieldLagMs`,
   * and every id (for deletes). Throws CHAIN_BROKEN `no-feed` when the field cannot be followed.
   */
  captureChanges(collection: string, from: Checkpoint, options: { captureId: string; signal?: AbortSignal }): Promise<api.ChangeSession> {
    return openFieldCapture(this.ctx, collection, from, options.signal);
  }

  /**
   * Refuses, before anything is written, a target with a scalar field that is neither nullable nor
   * defaulted and that the snapshot does not have: Milvus would refuse every insert without it.
   */
  preflightAppend(collection: string, schema: CollectionSchema): Promise<void> {
    return this.writer.preflightAppend(collection, schema);
  }

  /**
   * Refuses, before anything is created or dropped, what Milvus cannot store: a server older than
   * 2.3, dims over 32768, metrics it lacks, vector kinds the server lacks.
   */
  preflightCreate(schema: CollectionSchema): Promise<void> {
    return preflightCreate(this.ctx, schema);
  }

  create(schema: CollectionSchema, options: api.CreateOptions): Promise<void> {
    this.writer.forget(schema.name);
    return createCollection(this.ctx, schema, options);
  }

  buildIndexes(collection: string, schema: CollectionSchema, options: { signal?: AbortSignal } = {}): Promise<api.IndexBuildReport> {
    return buildIndexes(this.ctx, collection, schema, options);
  }

  write(collection: string, batch: RecordBatch, options: api.WriteOptions): Promise<void> {
    return this.writer.write(collection, batch, options);
  }

  readMarker(collection: string): Promise<string | undefined> {
    return readMarker(this.ctx, collection);
  }

  writeMarker(collection: string, marker: string | undefined): Promise<void> {
    return writeMarker(this.ctx, collection, marker);
  }

  async drop(collection: string): Promise<void> {
    this.writer.forget(collection);
    if (!(await this.exists(collection))) return;
    await milvusCall('dropCollection', collection, () => this.client.dropCollection({ collection_name: collection }));
  }

  delete(collection: string, ids: Id[]): Promise<void> {
    return this.writer.delete(collection, ids);
  }

  async fetch(collection: string, ids: Id[]): Promise<VectorRecord[]> {
    if (ids.length === 0) return [];
    return fetchRecords(this.ctx, collection, ids);
  }

  /** The k nearest records to `query`, of the field's kind: dense float32/float16/binary or sparse. */
  search(collection: string, query: Float32Array | VectorQuery, k: number, options: api.SearchOptions = {}): Promise<api.SearchHit[]> {
    return searchCollection(this.ctx, collection, query, k, options);
  }

  async probe(): Promise<api.ProbeResult> {
    const t0 = performance.now();
    try {
      const h = await this.client.checkHealth();
      const v = await this.client.getVersion().catch(() => undefined);
      await this.server().catch(() => undefined); // capabilities follow the server from here on
      const unhealthy = h.isHealthy ? {} : { error: (h.reasons ?? []).join('; ') || 'unhealthy' };
      return {
        reachable: Boolean(h.isHealthy),
        role: 'primary',
        latencyMs: performance.now() - t0,
        engineVersion: v?.version,
        ...unhealthy,
      };
    } catch (err) {
      return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: (err as Error).message };
    }
  }

  async describeEndpoint(): Promise<{ engineVersion: string; endpoint: string }> {
    const v = await this.client.getVersion().catch(() => undefined);
    await this.server().catch(() => undefined);
    return { engineVersion: v?.version ?? 'unknown', endpoint: this.address };
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.closeConnection();
  }
}

/** Creates a Milvus adapter. See `MilvusAdapterOptions`. */
export function milvusAdapter(options: MilvusAdapterOptions): MilvusAdapter {
  return new MilvusAdapter(options);
}
