/** PGlite (in-process PostgreSQL) with pgvector, as the source engine of the suites that need no server. */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';

/** A new PGlite database with the pgvector extension loaded (`setupSql`, when given, run in it) and an adapter on it; the caller closes `db`. */
export async function openPglite(setupSql?: string): Promise<{ db: PGlite; adapter: PgvectorAdapter }> {
  const db = await PGlite.create({ extensions: { vector } });
  if (setupSql !== undefined) await db.exec(setupSql);
  return { db, adapter: pgvectorAdapter({ pglite: db }) };
}
