export { PgvectorAdapter, pgvectorAdapter } from './pgvector-adapter.js';
export { PgvectorAdapterOptionsSchema } from './pgvector-options.js';
export type { PgvectorAdapterOptions } from './pgvector-options.js';
export type { PgPoolClientLike, PgPoolLike, PgQueryResult, PgQueryable } from './pgvector-driver.js';
export { PgRouter, pgRouter } from './pgvector-router.js';
export { PgRouterSession } from './pgvector-router-session.js';
export { PgRouterOptionsSchema, PgRouterEndpointSchema } from './pgvector-router-options.js';
export type {
  PgRouterOptions,
  PgRouterEndpoint,
  PgRouterClient,
  PgRouterPool,
  PgModuleLike,
  PgWorkOptions,
  PgReadOptions,
  ReadPolicy,
} from './pgvector-router-options.js';
export { isEndpointFailure } from './pgvector-router-errors.js';
export { parseLsn, formatLsn } from './pgvector-lsn.js';
export type { PgReplicationClient, PgReplicationClientFactory } from './pgvector-replication.js';
export { pgLease, PgLeaseOptionsSchema } from './pgvector-lease.js';
export type { PgLeaseOptions } from './pgvector-lease.js';
