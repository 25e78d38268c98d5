export { PgvectorAdapter, pgvectorAdapter } from './pgvector-adapter.js';
export { PgvectorAdapterOptionsSchema } from './pgvector-options.js';
export type { PgvectorAdapterOptions } from './pgvector-options.js';
export type { PgPoolClientLike, PgPoolLike, PgQueryResult, PgQueryable } from './pgvector-driver.js';
