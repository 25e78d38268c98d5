/**
 * `pgRouter` options and the slices of the `pg` module the router uses (declared minimally, so
 * `pg`'s types are never imported): what work receives, what `asPool()` returns, and what the
 * router creates per endpoint.
 */
import { z } from 'zod';
import { EndpointNameSchema } from '../../src/router/router-options.js';
import type { RouterCoreOptions } from '../../src/router/router-options.js';
import type { RetryOptions } from '../../src/router/retry.js';

/** What work receives: a `pg` PoolClient (declared minimally; cast to `pg.PoolClient` for more). */
export interface PgRouterClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** What `asPool()` returns: the slice of `pg.Pool` that `pgvectorAdapter({ pool })` uses. */
export interface PgRouterPool {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
  connect(): Promise<PgRouterClient & { release(destroy?: boolean | Error): void }>;
}

export interface PgClientLike extends PgRouterClient {
  connect(): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error' | 'end', listener: (err: Error) => void): unknown;
}
export interface PgPoolClient extends PgRouterClient {
  release(destroy?: boolean | Error): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}
export interface PgPoolLike {
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
/** The parts of the `pg` module the router uses (pass `import pg from 'pg'`). */
export interface PgModuleLike {
  Pool: new (config: Record<string, unknown>) => PgPoolLike;
  Client: new (config: Record<string, unknown>) => PgClientLike;
}

const isPgModule = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as PgModuleLike).Pool === 'function' && typeof (v as PgModuleLike).Client === 'function';

export const PgRouterEndpointSchema = z.object({
  /** Appears in events, errors and metric labels (never the URL). */
  name: EndpointNameSchema,
  /** libpq-style URL; credentials in it are never logged or reported. */
  connectionString: z.string().min(1, 'a connectionString (postgres://user@host:port/db)'),
});
export type PgRouterEndpoint = z.input<typeof PgRouterEndpointSchema>;

export const PgRouterOptionsSchema = z.object({
  /** The `pg` module (`import pg from 'pg'`): the router creates one Pool per endpoint and a probe Client. */
  pg: z.custom<PgModuleLike>(isPgModule, 'the pg module (import pg from "pg")'),
  /** Every member of the cluster, in priority order (ties between equally advanced standbys go to the first). */
  endpoints: z.array(PgRouterEndpointSchema).min(1, 'at least one endpoint'),
  /** Connections per endpoint pool. @default 10 */
  poolMax: z.number().int().min(1).max(1000).default(10),
  /**
   * Refuse (as misconfigured) an endpoint whose database lacks the pgvector extension.
   * @default true
   */
  requireVector: z.boolean().default(true),
  /** `pg_promote(wait => true, wait_seconds)` waits this long for the promotion to finish. @default 60 */
  promoteWaitSeconds: z.number().int().min(1).max(3600).default(60),
});

export type PgRouterOptions = z.input<typeof PgRouterOptionsSchema> & RouterCoreOptions;

export type ReadPolicy = 'primary' | 'prefer-standby';

export interface PgWorkOptions {
  /** Retry on retryable routing errors (the work must be idempotent). @default false for writes, true for reads */
  idempotent?: boolean;
  retry?: RetryOptions;
  signal?: AbortSignal;
}

export interface PgReadOptions extends PgWorkOptions {
  /** @default 'primary' */
  policy?: ReadPolicy;
  /** For `prefer-standby`: the most a standby may lag. @default the router's maxLagBytes */
  maxLagBytes?: number;
}
