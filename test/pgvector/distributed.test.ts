/**
 * A distributed snapshot on a real PostgreSQL: a coordinator here, three worker processes
 * (distributed-worker.ts), writes to the table all the while. The committed manifest must hold
 * exactly the state at the export — row by row after a restore, and digest for digest against a
 * single-process snapshot of that state — and a worker that comes after the view ended must fail
 * with VIEW_EXPIRED instead of scanning another state.
 */
import { rm } from 'node:fs/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgClient, pgvectorPool } from '../helpers/pg.js';
import { runPartWorker, rowsOf } from '../helpers/distributed.js';
import { tempDir } from '../helpers/repository.js';

const PG_URL = process.env.PG_URL;
const ROWS = 3000;
const DIMS = 16;

describe.skipIf(!engineAvailable('pgvector', PG_URL !== undefined))('distributed snapshot (pgvector, 3 worker processes)', () => {
  let pool: pg.Pool;
  let adapter: PgvectorAdapter;
  let dir: string;
  let repo: Repository;
  const { name, created } = createdNames();

  beforeAll(async () => {
    pool = await pgvectorPool(PG_URL);
    adapter = pgvectorAdapter({ pool });
    dir = await tempDir('vdr-distributed-');
    repo = await openRepository({ storage: fsStorage({ path: dir, fsync: false }), create: true });
  });

  afterAll(async () => {
    for (const t of created) await pool?.query(`DROP TABLE IF EXISTS ${t}`);
    await pool?.end();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('commits exactly the state at the export while the table is written to, and restores it', async () => {
    const table = name('h18workers_dist');
    await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, embedding vector(${DIMS}) NOT NULL, note text, meta jsonb)`);
    await pool.query(
      `INSERT INTO ${table} SELECT g, (SELECT array_agg(((g * 31 + d) % 97) / 7.0)::real[] FROM generate_series(1, ${DIMS}) d)::vector, ` +
        `'row ' || g, jsonb_build_object('g', g, 'odd', g % 2 = 1) FROM generate_series(1, ${ROWS}) g`,
    );
    const coordinator = await repo.planSnapshot(adapter, table, { workers: 3, segmentBytes: 64 * 1024, tags: { test: 'distributed' } });
    const { plan } = coordinator;
    expect(plan.ranges).toHaveLength(3);

    // The state at the export, read in the exported snapshot itself before anything changes.
    const witness = pgClient(PG_URL as string);
    await witness.connect();
    await witness.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await witness.query(`SET TRANSACTION SNAPSHOT '${plan.view}'`);
    const atExport = await rowsOf(witness, table);
    await witness.query('COMMIT');
    await witness.end();
    expect(atExport).toHaveLength(ROWS);

    // Writers in every range for as long as the workers run: updates, deletes, inserts.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      for (let k = 0; writing; k++) {
        const id = 1 + ((k * 997) % ROWS);
        await pool.query(`UPDATE ${table} SET note = 'changed ${k}', embedding = embedding + embedding WHERE id = $1`, [id]);
        await pool.query(`DELETE FROM ${table} WHERE id = $1`, [1 + ((k * 389 + 7) % ROWS)]);
        await pool.query(`INSERT INTO ${table} VALUES ($1, $2, 'new', '{}') ON CONFLICT (id) DO NOTHING`, [
          ROWS + 1 + k,
          `[${Array.from({ length: DIMS }, () => 1).join(',')}]`,
        ]);
        writes += 3;
      }
    })();
    const workers = await Promise.all([0, 1, 2].map((i) => runPartWorker(PG_URL, dir, plan.id, i, 'snapshot')));
    writing = false;
    await writer;
    for (const w of workers) expect(w.code, JSON.stringify(w.out)).toBe(0);
    expect(writes).toBeGreaterThan(0);
    expect(workers.map((w) => w.out.rows as number).reduce((a, b) => a + b, 0)).toBe(ROWS);

    const result = await coordinator.commit({ pollMs: 50, timeoutMs: 60_000 });
    const m = result.manifest;
    expect(m.rows.upserts).toBe(ROWS);
    expect(m.tags).toEqual({ test: 'distributed' });
    expect(m.checkpoint?.kind).toBe('pg-lsn');
    // Only the last segment of each part may be short; the parts' segments follow in key order.
    const perSegment = m.segments[0]?.rows ?? 0;
    expect(m.segments.filter((s) => s.rows !== perSegment).length).toBeLessThanOrEqual(3);
    expect((await repo.verify({ snapshot: m.id, collection: table })).ok).toBe(true);
    // The plan's objects are gone; list and prune never saw them.
    expect(await repo.storage.stat(`plans/${plan.id}/plan.json`)).toBeUndefined();
    expect((await repo.list({ collection: table })).map((s) => s.id)).toEqual([m.id]);

    // The table moved on, the snapshot did not: a restore gives exactly the state at the export.
    expect(await rowsOf(pool, table)).not.toEqual(atExport);
    const restored = name('h18workers_restored');
    await repo.restore(adapter, { collection: table, snapshot: m.id, target: restored });
    expect(await rowsOf(pool, restored)).toEqual(atExport);
    // Digest for digest: a single-process snapshot of that state records the same buckets.
    const single = await repo.snapshot(adapter, restored, { segmentBytes: 64 * 1024 });
    expect(single.manifest.digest.collection).toBe(m.digest.collection);
    expect(single.manifest.digest.sums).toEqual(m.digest.sums);
    expect((await repo.verifyParity(adapter, { collection: table, snapshot: m.id, live: restored })).ok).toBe(true);

    // A worker after the view ended scans nothing: VIEW_EXPIRED.
    await expectError(repo.snapshotPart(adapter, plan, 0), 'VIEW_EXPIRED');
  }, 180_000);

  it('refuses a part of another plan, a gap in the ranges, and a second commit', async () => {
    const table = name('h18workers_dist');
    await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, embedding vector(4))`);
    await pool.query(`INSERT INTO ${table} SELECT 'k' || g, '[1,2,3,4]' FROM generate_series(1, 50) g`);
    const coordinator = await repo.planSnapshot(adapter, table, { workers: 2, planId: 'h18workers-plan-a' });
    const { plan } = coordinator;
    expect(plan.ranges).toHaveLength(2);
    for (const i of [0, 1]) await repo.snapshotPart(adapter, plan.id, i);
    // A part rewritten with another range: the commit refuses it and commits nothing.
    const key = `plans/${plan.id}/part-1.json`;
    const part = JSON.parse(new TextDecoder().decode(await repo.storage.get(key))) as { range: { lo: string | null } };
    part.range.lo = 'k2';
    await repo.storage.put(key, new TextEncoder().encode(JSON.stringify(part)));
    await expectError(coordinator.commit({ pollMs: 20 }), 'PLAN_INVALID');
    await expectError(coordinator.commit(), 'PLAN_INVALID');
    expect(await repo.list({ collection: table })).toEqual([]);

    // A worker that fails records it; the coordinator stops waiting and commits nothing.
    const second = await repo.planSnapshot(adapter, table, { workers: 2 });
    await repo.snapshotPart(adapter, second.plan.id, 0);
    await expectError(repo.snapshotPart(adapter, second.plan.id, 1, { signal: AbortSignal.abort() }), 'ABORTED');
    const failed = await expectError(second.commit({ pollMs: 20, timeoutMs: 30_000 }), 'PLAN_INVALID');
    expect(failed.message).toMatch(/Part 1 .* failed \(ABORTED/);
    expect(await repo.list({ collection: table })).toEqual([]);
    expect(await repo.locks()).toEqual([]);
    // A plan id is used once: its view died with its coordinator.
    await expectError(repo.planSnapshot(adapter, table, { workers: 2, planId: second.plan.id }), 'PLAN_INVALID');
  }, 60_000);
});
