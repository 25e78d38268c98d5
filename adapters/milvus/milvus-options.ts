import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { z } from 'zod';
import type { Logger } from '../../src/logger.js';

export const MilvusAdapterOptionsSchema = z
  .strictObject({
    /** A MilvusClient you configured (TLS, auth, timeouts). The adapter never closes a client it was given. */
    // Duck-typed: an app may have its own copy of the SDK, whose class is not this one.
    client: z
      .custom<MilvusClient>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          ['query', 'insert', 'describeCollection'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
        'a MilvusClient',
      )
      .optional(),
    /**
     * Milvus's gRPC endpoint, `host:port` or `http(s)://host:port` (e.g. `milvus.internal:19530`); the
     * adapter creates (and closes) its own client. Formerly `address`.
     */
    url: z.string().min(1).optional(),
    /** API key (Zilliz Cloud) or `user:password`, sent as Milvus's token. Never logged or recorded. Formerly `token`. */
    apiKey: z.string().optional(),
    /** Database. @default 'default' */
    database: z.string().min(1).optional(),
    ssl: z.boolean().optional(),
    /**
     * Deadline of each call of the client the adapter creates. The SDK's default (15 s) is too short
     * for createIndex on a restored collection (measured: HNSW on 100k x 768 took 14.9 s on
     * milvus-lite, and the restore failed with DEADLINE_EXCEEDED). @default 600000
     */
    timeoutMs: z.number().int().min(1_000).default(600_000),
    /**
     * Bytes of row data per insert/upsert request; Milvus rejects messages over its gRPC limit
     * (64 MiB by default). Formerly `insertBatchBytes`. @default 1048576
     */
    writeBatchBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(60 * 1024 * 1024)
      .default(1024 * 1024),
    /**
     * Insert requests in flight within one `write` (insert mode; upserts go one at a time, so two
     * writes of one id keep their order). More than one overlaps the client's encoding of one
     * request with Milvus's ingest of another; not yet shown faster (a 100k × 768 run on Milvus
     * 2.3.5 with 2 was no faster, on a heavily loaded machine). milvus-lite serialises writes to a
     * collection: always 1 there. @default 1
     */
    writeConcurrency: z.number().int().min(1).max(16).optional(),
    /**
     * @deprecated A restore decision: pass `metricForUnindexed` to `repo.restore` (this adapter-level default is read until 0.5).
     * The restore option, when given, wins.
     */
    metricForUnindexed: z.enum(['cosine', 'l2', 'dot']).optional(),
    /** max_length of VarChar fields created for strings whose source records no bound. @default 65535 */
    varcharMaxLength: z.number().int().min(1).max(65_535).default(65_535),
    /** max_capacity of Array fields created for arrays. @default 4096 */
    arrayMaxCapacity: z.number().int().min(1).max(4096).default(4096),
    /**
     * Rows per scan query (Milvus caps a query window at 16384). Larger pages mean fewer passes over
     * the collection; memory is about a page of rows as JS arrays (~25 KB per 768-dim row). @default 4096
     */
    scanPageRows: z.number().int().min(1).max(16_384).default(4096),
    /**
     * An integer scalar field (Int64, not nullable) the application sets on every insert and upsert
     * to a value that only grows, e.g. updated-at in epoch milliseconds. With it, an incremental link
     * queries only the entities with `field >= ` the parent's largest value minus `changeFieldLagMs`
     * (plus a primary-key-only pass for deletes) instead of reading every entity with its vectors; a
     * scalar index on it makes the filter cheaper (docs/adapters/milvus.md, "Change capture").
     * @default undefined (fingerprint diff)
     */
    changeField: z.string().min(1).optional(),
    /**
     * How far below the parent's largest `changeField` value a link starts reading, in the field's
     * units (right for epoch milliseconds; 0 for a version set at commit), for writers whose value
     * arrives late. Larger re-reads more entities each link; smaller risks missing a late writer. @default 5000
     */
    changeFieldLagMs: z.number().int().min(0).default(5000),
    /** Level of the SDK's own (process-wide, console) logger, set when the adapter creates the client. @default 'error' */
    sdkLogLevel: z.enum(['error', 'warn', 'info', 'debug']).default('error'),
    /** Label recorded in manifests instead of the url (never put credentials here). */
    endpointLabel: z.string().optional(),
    logger: z.custom<Logger>().optional(),
  })
  .refine((o) => (o.client === undefined) !== (o.url === undefined), { message: 'pass exactly one of client or url' });
/** Former option names, read until 0.5 (`parseOptions`). */
export const MILVUS_RENAMED_OPTIONS = { address: 'url', token: 'apiKey', insertBatchBytes: 'writeBatchBytes' } as const;
export type MilvusAdapterOptions = z.input<typeof MilvusAdapterOptionsSchema> & {
  /** @deprecated Renamed `url` (read until 0.5). */
  address?: string;
  /** @deprecated Renamed `apiKey` (read until 0.5). */
  token?: string;
  /** @deprecated Renamed `writeBatchBytes` (read until 0.5). */
  insertBatchBytes?: number;
};
/** The options after parsing (defaults filled in), as the adapter's parts read them. */
export type ParsedMilvusOptions = z.output<typeof MilvusAdapterOptionsSchema>;
