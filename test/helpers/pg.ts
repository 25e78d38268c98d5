/**
 * `pg` clients and pools for tests and benchmarks, each with an 'error' listener. pg reports a
 * connection lost outside a query (a backend ended by pg_terminate_backend(), 57P01, as the
 * router's fence does; a killed server) as an 'error' event on the Client, or on the Pool for an
 * idle pooled connection; with no listener Node turns that event into an uncaught exception, which
 * kills the test run. A statement in flight rejects with the error anyway: the listener only keeps
 * the event from crashing the process. Tests and benchmarks make their pg clients here
 * (test/unit/pg-error-listeners.test.ts checks that every one made anywhere has a listener).
 */
import pg from 'pg';

const ignoreLost = (): void => undefined;

export function pgClient(config: string | pg.ClientConfig): pg.Client {
  const c = new pg.Client(config);
  c.on('error', ignoreLost);
  return c;
}

export function pgPool(config: pg.PoolConfig): pg.Pool {
  const p = new pg.Pool(config);
  p.on('error', ignoreLost);
  return p;
}

/** A pool of four on `connectionString` (a test server's PG_URL), with the vector extension created: what pgvector suites run on. */
export async function pgvectorPool(connectionString: string | undefined): Promise<pg.Pool> {
  const pool = pgPool({ connectionString, max: 4 });
  await pool.query('CREATE EXTENSION IF NOT EXISTS vector');
  return pool;
}
