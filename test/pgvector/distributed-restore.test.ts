/**
 * A distributed restore on a real PostgreSQL: a coordinator here, three worker processes
 * (distributed-worker.ts) loading one staging table. The swapped-in table must equal the snapshot
 * row for row (parity exact) with its indexes; a part interrupted mid-way resumes under the same
 * plan (its uncertain group as upserts); parts that do not add up to the manifest swap nothing in.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgvectorPool } from '../helpers/pg.js';
import { runPartWorker, rowsOf } from '../helpers/distributed.js';
import { tempDir } from '../helpers/repository.js';

const PG_URL = process.env.PG_URL;
const ROWS = 6000;
const DIMS = 16;

async function indexesOf(q: pg.Pool, table: string): Promise<string[]> {
  const r = await q.query(`SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`, [table]);
  return r.rows.map((x: { indexdef: string }) => x.indexdef.replace(/^.* USING /, 'USING '));
}

describe.skipIf(!engineAvailable('pgvector', PG_URL !== undefined))('distributed restore (pgvector, 3 worker processes)', () => {
  let pool: pg.Pool;
  let adapter: PgvectorAdapter;
  let dir: string;
  let repo: Repository;
  const { name, created } = createdNames();

  beforeAll(async () => {
    pool = await pgvectorPool(PG_URL);
    adapter = pgvectorAdapter({ pool });
    dir = await tempDir('vdr-distributed-restore-');
    repo = await openRepository({ storage: fsStorage({ path: dir, fsync: false }), create: true });
  });

  afterAll(async () => {
    for (const t of created) await pool?.query(`DROP TABLE IF EXISTS ${t}`);
    await pool?.end();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function source(): Promise<{ table: string; snapshot: string }> {
    const table = name('h18restore_src');
    await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, embedding vector(${DIMS}) NOT NULL, note text, meta jsonb)`);
    await pool.query(
      `INSERT INTO ${table} SELECT g, (SELECT array_agg(((g * 31 + d) % 97) / 7.0)::real[] FROM generate_series(1, ${DIMS}) d)::vector, ` +
        `'row ' || g, jsonb_build_object('g', g, 'odd', g % 2 = 1) FROM generate_series(1, ${ROWS}) g`,
    );
    await pool.query(`CREATE INDEX ON ${table} USING hnsw (embedding vector_cosine_ops)`);
    const { manifest } = await repo.snapshot(adapter, table, { segmentBytes: 64 * 1024 });
    expect(manifest.segments.length).toBeGreaterThan(6);
    return { table, snapshot: manifest.id };
  }

  it('loads one staging table from three processes and swaps it in over the old table: parity exact, indexes built', async () => {
    const { table, snapshot } = await source();
    const target = name('h18restore_dst');
    await pool.query(`CREATE TABLE ${target} (id bigint PRIMARY KEY, old text)`);
    await pool.query(`INSERT INTO ${target} VALUES (1, 'before')`);
    await expectError(repo.planRestore(adapter, { collection: table, target, workers: 3 }), 'TARGET_EXISTS');
    await expectError(repo.planRestore(adapter, { collection: table, target, workers: 3, ifExists: 'append' }), 'UNSUPPORTED_OPERATION');

    const coordinator = await repo.planRestore(adapter, {
      collection: table,
      target,
      workers: 3,
      ifExists: 'replace',
      commitBytes: 64 * 1024,
    });
    const { plan } = coordinator;
    expect(plan.snapshot).toBe(snapshot);
    expect(plan.parts).toHaveLength(3);
    expect(plan.parts.map((p) => p.rows).reduce((a, b) => a + b, 0)).toBe(ROWS);
    for (const p of plan.parts) expect(Math.abs(p.rows - ROWS / 3)).toBeLessThan(ROWS / 6);
    // Until the swap the old table is untouched.
    const workers = await Promise.all([0, 1, 2].map((i) => runPartWorker(PG_URL, dir, plan.id, i, 'restore')));
    for (const w of workers) expect(w.code, JSON.stringify(w.out)).toBe(0);
    expect(workers.map((w) => w.out.rows as number)).toEqual(plan.parts.map((p) => p.rows));
    expect((await pool.query(`SELECT old FROM ${target}`)).rows).toEqual([{ old: 'before' }]);

    const result = await coordinator.commit({ pollMs: 50, timeoutMs: 60_000 });
    expect(result).toMatchObject({ snapshot, target, rows: ROWS, resumed: false });
    expect(result.indexes.built.map((b) => b.kind)).toContain('hnsw');
    expect(await rowsOf(pool, target)).toEqual(await rowsOf(pool, table));
    expect(await indexesOf(pool, target)).toEqual(await indexesOf(pool, table));
    expect((await repo.verifyParity(adapter, { collection: table, snapshot, live: target })).ok).toBe(true);
    // The plan's objects are gone, the staging table swapped away, no lock left.
    expect(await repo.storage.stat(`plans/${plan.id}/restore.json`)).toBeUndefined();
    expect(await adapter.exists(plan.staging)).toBe(false);
    expect(await repo.locks()).toEqual([]);
    // A worker after the swap writes nothing.
    await expectError(repo.restorePart(adapter, plan, 0), 'PLAN_INVALID');
    created.push(plan.staging);
  }, 180_000);

  it('resumes an interrupted part under the same plan, and swaps nothing in when the parts do not add up', async () => {
    const { table, snapshot } = await source();
    const target = name('h18restore_dst');
    const planId = `h18restore-${Date.now()}`;
    const options = { collection: table, target, workers: 2, planId, commitBytes: 48 * 1024 };
    const first = await repo.planRestore(adapter, options);
    created.push(first.plan.staging);
    // Part 0 stops after its first committed group (as a killed pod would), part 1 finishes.
    const abort = new AbortController();
    await expectError(
      repo.restorePart(adapter, planId, 0, { onProgress: (e) => e.phase === 'segment' && abort.abort(), signal: abort.signal }),
      'ABORTED',
    );
    await repo.restorePart(adapter, planId, 1);
    const parts = await first.parts();
    expect(parts.get(0)).toMatchObject({ done: false });
    expect(parts.get(0)?.segments).toBeGreaterThan(0);
    expect(parts.get(1)).toMatchObject({ done: true, rows: first.plan.parts[1]?.rows });
    const failed = await expectError(first.commit({ pollMs: 20, timeoutMs: 30_000 }), 'PLAN_INVALID');
    expect(failed.message).toMatch(/Part 0 .* failed \(ABORTED/);
    expect(await adapter.exists(target)).toBe(false);

    // The coordinator planned again under the same id takes the plan over; the part reruns from its
    // last recorded group. Its record is first set back to "nothing loaded", as if the process had
    // died between its first commit and recording it: that group is in the table, and goes in again as upserts.
    const again = await repo.planRestore(adapter, options);
    expect(again.resumed).toBe(true);
    const key = path.join(dir, `plans/${planId}/restored-0.json`);
    const recorded = JSON.parse(await readFile(key, 'utf8')) as Record<string, unknown> & { digest: { counts: number[]; sums: string[] } };
    await writeFile(
      key,
      JSON.stringify({
        ...recorded,
        segments: 0,
        rows: 0,
        digest: { ...recorded.digest, counts: recorded.digest.counts.map(() => 0), sums: recorded.digest.sums.map(() => '0'.repeat(64)) },
      }),
    );
    expect(Number((await pool.query(`SELECT count(*) AS n FROM ${again.plan.staging}`)).rows[0].n)).toBeGreaterThan(
      first.plan.parts[1]?.rows ?? 0,
    );
    const rerun = await repo.restorePart(adapter, planId, 0);
    expect(rerun).toMatchObject({ resumed: true, skipped: false });
    const result = await again.commit({ pollMs: 20, timeoutMs: 30_000 });
    expect(result).toMatchObject({ snapshot, rows: ROWS, resumed: true });
    expect((await repo.verifyParity(adapter, { collection: table, snapshot, live: target })).ok).toBe(true);

    // Parts whose digests do not add up to the manifest's: nothing is swapped in, the staging table is kept.
    const target2 = name('h18restore_dst');
    const third = await repo.planRestore(adapter, { collection: table, target: target2, workers: 2 });
    created.push(third.plan.staging);
    for (const i of [0, 1]) await repo.restorePart(adapter, third.plan.id, i);
    const partKey = path.join(dir, `plans/${third.plan.id}/restored-1.json`);
    const part = JSON.parse(await readFile(partKey, 'utf8')) as { digest: { sums: string[] } };
    const at = part.digest.sums.findIndex((s) => s !== '0'.repeat(64));
    part.digest.sums[at] = (part.digest.sums[at] as string).replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
    await writeFile(partKey, JSON.stringify(part));
    await expectError(third.commit({ pollMs: 20 }), 'DIGEST_MISMATCH');
    expect(await adapter.exists(target2)).toBe(false);
    expect(await adapter.exists(third.plan.staging)).toBe(true);
  }, 180_000);
});
