/**
 * A connection whose backend is terminated (pg_terminate_backend(), 57P01: what the router's fence
 * and an administrator do) must never become an uncaught exception: pg emits the loss as an 'error'
 * event on the Client (or on the Pool for an idle pooled connection), and Node throws an event
 * nobody listens to. Covers the connections the library holds (a scan's client checked out of the
 * caller's pool; the router's pools) and the test helpers' (test/helpers/pg.ts, pg-replica.ts).
 * Vitest reports an uncaught exception as a failed run; the listener counts make each case fail on
 * its own too.
 */
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgRouter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { Logger } from '../../src/logger.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { pgClient, pgPool } from '../helpers/pg.js';

const PG_URL = process.env.PG_URL;

/** A logger that keeps what it is given. */
function recordingLogger(): Logger & { lines: { level: string; obj: Record<string, unknown>; msg?: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe.runIf(engineAvailable('pgvector', PG_URL !== undefined))('a terminated backend is never an uncaught exception', () => {
  let admin: pg.Client;
  const terminate = async (pid: number): Promise<void> => {
    const { rows } = await admin.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(rows[0]?.ok).toBe(true);
  };
  beforeAll(async () => {
    admin = pgClient({ connectionString: PG_URL });
    await admin.connect();
    await admin.query('CREATE EXTENSION IF NOT EXISTS vector');
  });
  afterAll(async () => {
    await admin?.end();
  });

  it('test helpers: pgClient and pgPool survive their backend being terminated', async () => {
    const c = pgClient({ connectionString: PG_URL });
    await c.connect();
    expect(c.listenerCount('error')).toBeGreaterThan(0);
    const ended = new Promise((resolve) => c.once('end', resolve)); // (events.once would reject on the 'error')
    await terminate((c as unknown as { processID: number }).processID);
    await ended;
    await expect(c.query('SELECT 1')).rejects.toThrow();

    const pool = pgPool({ connectionString: PG_URL, max: 1, application_name: 'vdr-idle-loss' });
    await pool.query('SELECT 1'); // leaves one idle connection
    expect(pool.listenerCount('error')).toBeGreaterThan(0);
    const lost = once(pool, 'error');
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vdr-idle-loss'`);
    await lost;
    expect((await pool.query('SELECT 1 AS one')).rows[0]?.one).toBe(1); // a new connection
    await pool.end();
  });

  it("the pgvector adapter: a scan's connection, checked out of the caller's pool, lost mid-scan is logged and discarded", async () => {
    const table = randomName('lost');
    await admin.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, embedding vector(3))`);
    await admin.query(`INSERT INTO ${table} SELECT g, ARRAY[g, 1, 2]::float4[]::vector FROM generate_series(1, 50) g`);
    // The caller's pool (with its own listener for idle connections, as a caller's should have);
    // connect() is wrapped only to see the client the adapter checks out.
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    pool.on('error', () => undefined);
    const held: pg.PoolClient[] = [];
    const spy = Object.assign(Object.create(pool) as pg.Pool, {
      connect: async () => {
        const c = await pool.connect();
        held.push(c);
        return c;
      },
    });
    const logger = recordingLogger();
    const adapter = pgvectorAdapter({ pool: spy, logger });
    const session = await adapter.scan(table, { batchSize: 10 });
    const client = held[0] as pg.PoolClient;
    expect(client.listenerCount('error')).toBeGreaterThan(0);
    const ended = new Promise((resolve) => client.once('end', resolve));
    await terminate((client as unknown as { processID: number }).processID);
    await ended;
    await expect(
      (async () => {
        for await (const b of session.batches()) void b;
      })(),
    ).rejects.toThrow();
    await session.close();
    expect(logger.lines.some((l) => l.level === 'warn' && /connection vectordr held from the pool was lost/.test(l.msg ?? ''))).toBe(true);
    expect(pool.totalCount).toBe(0); // the lost connection was discarded, not returned to the pool
    expect(await pgvectorAdapter({ pool, logger }).count(table)).toBe(50); // the pool goes on with a new connection
    await admin.query(`DROP TABLE ${table}`);
    await pool.end();
  });

  it("the router: an idle pooled connection lost is logged through the router's logger and reported", async () => {
    const logger = recordingLogger();
    const router = pgRouter({
      pg,
      endpoints: [{ name: 'only', connectionString: PG_URL as string }],
      requireVector: false,
      logger,
      probeIntervalMs: 60_000,
      probeTimeoutMs: 5_000,
    });
    try {
      await router.start();
      await router.runOn('only', (c) => c.query('SELECT 1'));
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vectordr-router'`);
      const deadline = Date.now() + 5000;
      while (!logger.lines.some((l) => /idle pooled connection was lost/.test(l.msg ?? '')) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(logger.lines.find((l) => /idle pooled connection was lost/.test(l.msg ?? ''))).toMatchObject({
        level: 'warn',
        obj: { endpoint: 'only' },
      });
    } finally {
      await router.close();
    }
  });
});
