import { z } from 'zod';
import type { Logger } from '../../src/logger.js';
import type { PgPoolLike, PgQueryable } from './pgvector-driver.js';
import type { PgReplicationClientFactory } from './pgvector-replication.js';

const isQueryable = (v: unknown): boolean => typeof v === 'object' && v !== null && typeof (v as { query?: unknown }).query === 'function';

export const PgvectorAdapterOptionsSchema = z
  .strictObject({
    /** A `pg` Pool. Preferred: snapshots hold one connection for their transaction and COPY; the app keeps the rest. */
    pool: z.custom<PgPoolLike>((v) => isQueryable(v) && typeof (v as { connect?: unknown }).connect === 'function', 'a pg Pool').optional(),
    /** A connected `pg` Client, used exclusively (operations take turns on it). */
    client: z.custom<PgQueryable>(isQueryable, 'a pg Client').optional(),
    /** A PGlite instance with the pgvector extension loaded (in-process; binary COPY through its /dev/blob device, keyset-paged scans). */
    pglite: z.custom<PgQueryable>(isQueryable, 'a PGlite instance').optional(),
    /**
     * PostgreSQL schema the collections (tables) live in.
     * @default 'public'
     */
    schema: z.string().min(1).default('public'),
    /**
     * Use binary `COPY` for scans and loads (`pg`: COPY protocol; PGlite: /dev/blob).
     * @default 'auto' — 'never' forces keyset SELECTs and batched INSERTs (slower; for proxies that block COPY).
     */
    copy: z.enum(['auto', 'never']).default('auto'),
    /** Rows per INSERT statement on the non-COPY path; bigger is faster until statements get huge. Formerly `insertBatchRows`. @default 500 */
    writeBatchRows: z.number().int().min(1).max(50_000).default(500),
    /**
     * Makes the replication connection native change capture streams on (logical decoding): an
     * unconnected `pg.Client` made from `{ connectionString, replication: 'database' }` (vectordr
     * connects it, listens to its errors and ends it).
     * @default derived from `pool` (its Client class and options) or `client` (its connection
     * parameters); without one (a router's `asPool()`, a wrapper) capture falls back to fingerprints.
     */
    replicationClient: z.custom<PgReplicationClientFactory>((v) => typeof v === 'function', 'a function returning a pg Client').optional(),
    /** Label recorded in manifests instead of host:port/database (never put credentials here). */
    endpointLabel: z.string().optional(),
    logger: z.custom<Logger>().optional(),
  })
  .refine((o) => [o.pool, o.client, o.pglite].filter((x) => x !== undefined).length === 1, {
    message: 'pass exactly one of pool, client or pglite',
  });
/** Former option names, read until 0.5 (`parseOptions`). */
export const PGVECTOR_RENAMED_OPTIONS = { insertBatchRows: 'writeBatchRows' } as const;
export type PgvectorAdapterOptions = z.input<typeof PgvectorAdapterOptionsSchema> & {
  /** @deprecated Renamed `writeBatchRows` (read until 0.5). */
  insertBatchRows?: number;
};
