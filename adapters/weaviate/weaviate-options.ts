import { z } from 'zod';
import type { Logger } from '../../src/logger.js';
import type { WeaviateClient } from 'weaviate-client';

export const WeaviateAdapterOptionsSchema = z.strictObject({
  /**
   * REST base URL, e.g. `http://weaviate.internal:8080`. Always needed: schema operations
   * (describe, create, markers) go over REST as raw class definitions, so nothing Weaviate records
   * about a collection is lost in a client-side translation.
   */
  url: z.url({ protocol: /^https?$/ }),
  /** gRPC address `host:port` for data (scan, write, search). @default the REST host, port 50051 */
  grpcAddress: z
    .string()
    .regex(/^[^\s:/]+:\d{1,5}$/, 'host:port')
    .optional(),
  /** TLS for gRPC. @default true when `url` is https */
  grpcSecure: z.boolean().optional(),
  /** API key (sent as a Bearer token). Never logged or recorded. */
  apiKey: z.string().min(1).optional(),
  /** Extra headers on every request (e.g. a vectorizer's API key header). Never logged or recorded. */
  headers: z.record(z.string(), z.string()).optional(),
  /**
   * A connected weaviate-client v3 client you configured (auth, proxies, timeouts); used for the gRPC
   * calls vectordr does not encode itself (search, fetch, deletes; scan pages unless `grpcAddress` is
   * given too). Batch writes go over vectordr's own gRPC session to `grpcAddress` (default: url's
   * host, port 50051), with the client's token and headers. The adapter never closes a client it was
   * given. Without it, the adapter connects its own from `url`/`grpcAddress` and closes it in `close()`.
   */
  client: z
    .custom<WeaviateClient>(
      (v) => typeof v === 'object' && v !== null && typeof (v as { collections?: { use?: unknown } }).collections?.use === 'function',
      'a weaviate-client v3 client',
    )
    .optional(),
  /**
   * Bytes of object data (vectors + properties) per batch insert request. Weaviate's gRPC limit is
   * `GRPC_MAX_MESSAGE_SIZE` (100 MB by default). Measured on 20k x 768 into a flat index: 1 MiB with
   * 4 requests in flight 3950 objects/s, 4 MiB with 2 3350. Formerly `insertBatchBytes`. @default 1048576
   */
  writeBatchBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /**
   * Batch insert requests in flight within one write (vectordr encodes the next while Weaviate
   * ingests one; Weaviate spreads concurrent batches over its cores). @default 4
   */
  writeConcurrency: z.number().int().min(1).max(16).default(4),
  /**
   * Objects per cursor page of a scan (`fetchObjects({ after, limit })`); the next page is read while
   * one is stored. Weaviate caps a page at `QUERY_MAXIMUM_RESULTS` (10000 by default). Measured on
   * 100k x 768: 1000 as fast as 2000 at 280 MB peak instead of 290-300 (docs/benchmarks.md). @default 1000
   */
  scanPageRows: z.number().int().min(1).max(10_000).default(1000),
  /**
   * Objects per page of an incremental link (change capture by modification time). Weaviate sorts
   * every matching object for each page, so larger pages read a large link faster (40k changes:
   * 18.2 s with 2000, 5.6 s with 10000). @default 2000
   */
  capturePageRows: z.number().int().min(1).max(10_000).default(2000),
  /**
   * Who decodes a scan page: `vectordr` reads Weaviate's answer in place, vectors straight into
   * float32 (weaviate-grpc-search.ts, over `grpcAddress` or url's host:50051; a page holding anything
   * it does not read goes through the client); `client` reads every page through weaviate-client's
   * `fetchObjects`. @default 'vectordr', or 'client' when a `client` is given without `grpcAddress`
   */
  scanDecoder: z.enum(['vectordr', 'client']).optional(),
  /**
   * @deprecated A restore decision: pass `metricForUnindexed` to `repo.restore` (this adapter-level default is read until 0.5).
   * The restore option, when given, wins.
   */
  metricForUnindexed: z.enum(['cosine', 'l2', 'dot', 'l1', 'hamming']).optional(),
  /**
   * Create classes with `invertedIndexConfig.indexTimestamps: true`, so incremental snapshots of a
   * restored collection read only what changed (change capture by modification time) instead of
   * every object. A snapshot that recorded `indexTimestamps: false` explicitly keeps it; `false`
   * here creates classes exactly as recorded (Weaviate's default: no timestamp index). The index
   * costs a little disk and write time per object. @default true
   */
  indexTimestamps: z.boolean().default(true),
  /**
   * How far before the previous link's start an incremental re-reads objects, in milliseconds:
   * objects carry the clock of the node that wrote them, and the start is taken from the node that
   * answers REST (whole seconds). Larger is safer across skewed clocks; objects updated within this
   * window before a link started are sent again by the next one. @default 5000
   */
  captureSkewMs: z.number().int().min(0).max(3_600_000).default(5000),
  /** Deadline of one REST or gRPC call, in milliseconds. @default 600000 */
  timeoutMs: z.number().int().min(1_000).default(600_000),
  /** Label recorded in manifests instead of the URL (never put credentials here). */
  endpointLabel: z.string().optional(),
  logger: z.custom<Logger>().optional(),
});
/** Former option names, read until 0.5 (`parseOptions`). */
export const WEAVIATE_RENAMED_OPTIONS = { insertBatchBytes: 'writeBatchBytes' } as const;
export type WeaviateAdapterOptions = z.input<typeof WeaviateAdapterOptionsSchema> & {
  /** @deprecated Renamed `writeBatchBytes` (read until 0.5). */
  insertBatchBytes?: number;
};
