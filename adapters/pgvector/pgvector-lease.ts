/**
 * A promotion lease in a PostgreSQL table, for routers in many processes. Keep it on a database
 * outside the cluster it guards (a small witness instance, or the application's control-plane
 * database): a lease stored on the primary disappears with it, and then nobody can promote (safe,
 * but no failover). Expiry is computed with the lease server's clock (`now()`), so the application
 * hosts' clocks do not matter.
 */
import { z } from 'zod';
import { InvalidInputError } from '../../src/errors.js';
import type { Lease, LeaseGrant } from '../../src/router/lease.js';
import { quoteIdent } from './pgvector-sql.js';

interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

const isQueryable = (v: unknown): boolean => typeof v === 'object' && v !== null && typeof (v as Queryable).query === 'function';

export const PgLeaseOptionsSchema = z.object({
  /** A `pg` Pool (or anything with `query`) on the witness database. */
  pool: z.custom<Queryable>(isQueryable, 'a pg Pool on the witness database'),
  /** Table holding one row per lease; created when missing. @default 'vectordr_router_lease' */
  table: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
    .default('vectordr_router_lease'),
  /** Schema of the table. @default 'public' */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
    .default('public'),
});
export type PgLeaseOptions = z.input<typeof PgLeaseOptionsSchema>;

export function pgLease(options: PgLeaseOptions): Lease {
  const parsed = PgLeaseOptionsSchema.safeParse(options);
  if (!parsed.success)
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      `Invalid pgLease options: ` + `${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      { plugin: 'pgvector' },
    );
  const { pool, table, schema } = parsed.data;
  const t = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  let ready: Promise<void> | undefined;
  const ensure = (): Promise<void> => {
    ready ??= pool
      .query(
        `CREATE TABLE IF NOT EXISTS ${t} (name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL, expires_at timestamptz NOT NULL)`,
      )
      .then(() => undefined)
      .catch((err: unknown) => {
        ready = undefined;
        throw err;
      });
    return ready;
  };
  return {
    async acquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant> {
      await ensure();
      // One statement: takes a free or expired lease (new epoch) or renews our own; row-locked by the upsert.
      const { rows } = await pool.query(
        `INSERT INTO ${t} AS l (name, holder, epoch, expires_at) VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,
           epoch = CASE WHEN l.holder = EXCLUDED.holder THEN l.epoch ELSE l.epoch + 1 END
         WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
         RETURNING epoch::text AS epoch`,
        [name, holder, ttlMs],
      );
      if (rows[0] !== undefined) return { acquired: true, holder, epoch: Number(rows[0].epoch) };
      const cur = await pool.query(`SELECT holder, epoch::text AS epoch FROM ${t} WHERE name = $1`, [name]);
      return { acquired: false, holder: String(cur.rows[0]?.holder ?? ''), epoch: Number(cur.rows[0]?.epoch ?? 0) };
    },
    async release(name: string, holder: string): Promise<void> {
      await ensure();
      await pool.query(`UPDATE ${t} SET expires_at = now() - interval '1 millisecond' WHERE name = $1 AND holder = $2`, [name, holder]);
    },
  };
}
