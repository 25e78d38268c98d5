export { PgvectorAdapter, pgvectorAdapter } from './pgvector-adapter.js';
export { PgvectorAdapterOptionsSchema } from './pgvector-options.js';
export type { PgvectorAdapterOptions } from './pgvector-options.js';
export type { PgPoolClientLike, PgPoolLike, PgQueryResult, PgQueryable } from './pgvector-driver.js';
export { PgRouter, PgRouterSession, pgRouter, PgRouterOptionsSchema, PgRouterEndpointSchema, isEndpointFailure, parseLsn, formatLsn } from './pgvector-router.js';
export type { PgRouterOptions, PgRouterEndpoint, PgRouterClient, PgRouterPool, PgModuleLike, PgWorkOptions, PgReadOptions, ReadPolicy } from './pgvector-router.js';
export { pgLease, PgLeaseOptionsSchema } from './pgvector-lease.js';
export type { PgLeaseOptions } from './pgvector-lease.js';
