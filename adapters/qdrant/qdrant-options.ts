import type { QdrantClient } from '@qdrant/js-client-rest';
import { z } from 'zod';
import type { Logger } from '../../src/logger.js';

export const QdrantAdapterOptionsSchema = z
  .strictObject({
    /** REST URL, e.g. `http://qdrant.internal:6333`; the adapter creates its own client. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** API key (header `api-key`). Never logged or recorded. */
    apiKey: z.string().min(1).optional(),
    /**
     * A QdrantClient you configured. Checked by shape (`scroll`, `upsert`, `getCollection`, `api`), so a
     * client from your application's own copy of the package works.
     */
    client: z
      .custom<QdrantClient>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          ['scroll', 'upsert', 'getCollection', 'api'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
        'a QdrantClient',
      )
      .optional(),
    /**
     * How scans and restores move points. `grpc`: Qdrant's gRPC API, vectors as binary floats (a
     * 100k x 768 snapshot: client CPU 17.8 -> 7.5 s, Qdrant's 10.2 -> 0.9 s; docs/adapters/qdrant.md); `rest`:
     * JSON over the REST URL; `auto`: gRPC when `grpcUrl` (or the REST URL's port + 1) answers
     * Qdrant's gRPC health check, else REST. Schema, markers, search and fetch always use REST.
     * @default 'auto'
     */
    transport: z.enum(['auto', 'grpc', 'rest']).default('auto'),
    /**
     * Qdrant's gRPC endpoint, `http://host:6334` (`https://` for TLS). The API key is sent as with
     * REST. @default the REST `url` with its port + 1 (Qdrant's defaults: 6333 REST, 6334 gRPC)
     */
    grpcUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Bytes of point data per upsert request (Qdrant's default request limit is 32 MiB). Formerly `upsertBatchBytes`. @default 4194304 */
    writeBatchBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(30 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    /** Upsert requests in flight within one write. @default 2 */
    writeConcurrency: z.number().int().min(1).max(16).default(2),
    /** Points per scroll page. @default 1000 */
    scanPageRows: z.number().int().min(1).max(10_000).default(1000),
    /**
     * A payload key the application sets on every write to a value that only grows: an integer
     * (epoch milliseconds, or a version) or an RFC 3339 datetime. With it, an incremental link reads
     * only the points whose key is at least the parent's value minus `changeFieldLagMs` (plus an
     * ids-only scroll for deletes) instead of every point with its vectors; give the key a payload
     * index (`integer` or `datetime`) so the range filter and the maximum are index reads. A point
     * written without it is never seen by a link: a collection with such points gets fingerprint
     * diffs (docs/adapters/qdrant.md, "Change capture"). @default undefined (fingerprint diff)
     */
    changeField: z.string().min(1).optional(),
    /**
     * How far below the parent's largest `changeField` value a link starts reading, for writers
     * whose value arrives late (clock skew, a value set before a slow write): milliseconds for a
     * datetime, units of the integer otherwise (right for epoch milliseconds; 0 for a version that
     * is set at commit). Larger re-reads more points each link; smaller risks missing a late writer. @default 5000
     */
    changeFieldLagMs: z.number().int().min(0).default(5000),
    /**
     * @deprecated A restore decision: pass `metricForUnindexed` to `repo.restore` (this adapter-level default is read until 0.5).
     * The restore option, when given, wins.
     */
    metricForUnindexed: z.enum(['cosine', 'l2', 'dot', 'l1']).optional(),
    /** Deadline of one request of the client the adapter creates, in milliseconds. @default 600000 */
    timeoutMs: z.number().int().min(1_000).default(600_000),
    /** Label recorded in manifests instead of the URL (never put credentials here). */
    endpointLabel: z.string().optional(),
    logger: z.custom<Logger>().optional(),
  })
  .refine((o) => (o.client === undefined) !== (o.url === undefined), { message: 'pass exactly one of client or url' })
  .refine((o) => o.transport !== 'grpc' || o.url !== undefined || o.grpcUrl !== undefined, {
    message: "transport 'grpc' with a client needs grpcUrl",
  });
/** Former option names, read until 0.5 (`parseOptions`). */
export const QDRANT_RENAMED_OPTIONS = { upsertBatchBytes: 'writeBatchBytes' } as const;
export type QdrantAdapterOptions = z.input<typeof QdrantAdapterOptionsSchema> & {
  /** @deprecated Renamed `writeBatchBytes` (read until 0.5). */
  upsertBatchBytes?: number;
};
/** The options after parsing: defaults filled in. */
export type QdrantAdapterConfig = z.output<typeof QdrantAdapterOptionsSchema>;
