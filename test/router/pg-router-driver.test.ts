/**
 * The RouterDriver conformance suite on the PostgreSQL driver, against the streaming-replication
 * pair (scripts/pg-replica.sh: PG_REPLICA_A_URL, PG_REPLICA_B_URL) and, as the member of another
 * cluster, the single test server (PG_URL). Read-only on both: the pair is shared with
 * pg-router.test.ts (which kills and promotes it; the vitest "router" project runs these files one
 * at a time), so which node is the primary is found out, never assumed, and nothing is fenced.
 */
import pg from 'pg';
import { describe } from 'vitest';
import { pgRouter } from '../../adapters/pgvector/index.js';
import { PgRouterDriver } from '../../adapters/pgvector/pgvector-router-driver.js';
import { silentLogger } from '../../src/index.js';
import {
  endpointsByRole,
  type LoopbackAddress,
  type ReportedRole,
  type RoutedWork,
  testRouterDriver,
} from '../conformance/router-driver-suite.js';
import { engineAvailable } from '../helpers/engines.js';
import { pgClient } from '../helpers/pg.js';
import { REPLICA_A_URL, REPLICA_B_URL } from '../helpers/pg-replica.js';

const hasPair = engineAvailable('pg-replica', REPLICA_A_URL !== undefined && REPLICA_B_URL !== undefined);
const PG_URL = process.env.PG_URL;

const ROLE_SQL = `SELECT pg_is_in_recovery() AS standby, current_setting('default_transaction_read_only') = 'on' AS read_only,
  (SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming')::int AS streaming`;

async function roleOf(url: string): Promise<'primary' | 'standby' | string> {
  const c = pgClient({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    const row = (await c.query(ROLE_SQL)).rows[0] as { standby: boolean; read_only: boolean; streaming: number };
    if (row.standby) return row.streaming > 0 ? 'standby' : 'standby, not streaming';
    return row.read_only ? 'primary, read-only' : 'primary';
  } catch (err) {
    return `unreachable (${(err as Error).message})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Which node is the primary and which its streaming standby now (a run of pg-router.test.ts may
 * have promoted b). Waits for the pair to settle; fails naming what each node looks like.
 */
async function currentRoles(): Promise<{ primary: string; standby: string }> {
  const urls = [REPLICA_A_URL as string, REPLICA_B_URL as string];
  let seen: string[] = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    seen = await Promise.all(urls.map(roleOf));
    const primary = urls[seen.indexOf('primary')];
    const standby = urls[seen.indexOf('standby')];
    if (primary !== undefined && standby !== undefined) return { primary, standby };
  }
  throw new Error(
    `The PG_REPLICA_* pair is not a primary with a streaming standby (a: ${seen[0]}; b: ${seen[1]}); ` +
      'restart it: scripts/pg-replica.sh reset && scripts/pg-replica.sh start',
  );
}

const url = (a: LoopbackAddress): string => `postgres://postgres@${a.host}:${a.port}/postgres`;

/** The same server, for a session that refuses writes (as a fenced primary refuses them to everyone). */
function readOnlySession(connectionString: string): string {
  const u = new URL(connectionString);
  u.searchParams.set('options', '-c default_transaction_read_only=on');
  return u.toString();
}

const IN_RECOVERY = 'SELECT pg_is_in_recovery() AS standby';
const reported = (rows: Record<string, unknown>[]): ReportedRole => (rows[0]?.standby === true ? 'standby' : 'primary');

describe.runIf(hasPair)('PostgreSQL streaming replication (PG_REPLICA_*)', () => {
  testRouterDriver({
    name: 'pgvector (PostgreSQL primary + streaming standby)',
    capabilities: { fence: true, detectsForeignProtocol: true },
    // Never on the shared pair: a fence ends every other session there.
    mayFence: false,
    create: async (fixtures) => {
      const roles = await currentRoles();
      const urls = new Map<string, string>([
        ['primary', roles.primary],
        ['standby', roles.standby],
        ['dead', url(fixtures.dead)],
        ['silent', url(fixtures.silent)],
        ['foreign', url(fixtures.foreign)],
        ['read-only-primary', readOnlySession(roles.primary)],
        ...(PG_URL !== undefined ? [['other-cluster', PG_URL] as [string, string]] : []),
      ]);
      const advance = pgClient({ connectionString: roles.primary });
      await advance.connect();
      return {
        endpoints: endpointsByRole(PG_URL !== undefined),
        // requireVector is pgRouter's own check (pg-router.test.ts); PG_URL's database need not have pgvector.
        driver: () => new PgRouterDriver(pg, urls, { requireVector: false, promoteWaitSeconds: 60, logger: silentLogger }),
        // A transactional WAL message, committed: the commit flushes the WAL (an xid alone would
        // commit asynchronously, and pg_current_wal_lsn() would lag); no table is touched.
        advance: async () => {
          await advance.query(`SELECT pg_logical_emit_message(true, 'vectordr-conformance', '')`);
        },
        route: (endpoints): RoutedWork => {
          const r = pgRouter({
            pg,
            endpoints: endpoints.map((name) => ({ name, connectionString: urls.get(name) as string })),
            probeIntervalMs: 200,
            fastProbeIntervalMs: 50,
            probeTimeoutMs: 200,
            startTimeoutMs: 15_000,
          });
          return {
            core: r.core,
            start: () => r.start(),
            write: async () => reported((await r.write((c) => c.query(IN_RECOVERY))).rows),
            session: async () => {
              const c = await r.asPool('primary').connect();
              try {
                return reported((await c.query(IN_RECOVERY)).rows);
              } finally {
                c.release();
              }
            },
            readPreferStandby: async () => reported((await r.read((c) => c.query(IN_RECOVERY), { policy: 'prefer-standby' })).rows),
            close: () => r.close(),
          };
        },
        cleanup: () => advance.end(),
      };
    },
  });
});
