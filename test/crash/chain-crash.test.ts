/**
 * Crash proof for chains: a process taking an incremental link, restoring a chain head, or
 * compacting a chain is SIGKILLed at every storage write (or, for the restore, every adapter step
 * that changes the engine) in turn. After each kill the repository holds the old chain or the old
 * chain plus the whole new snapshot (a snapshot exists iff its manifest does), verify is clean, a
 * rerun succeeds and gives exactly the live table's rows, and prune deletes only orphans.
 *
 * Incrementals run twice: through the native change feed (pgoutput: the kill can fall between the
 * manifest and the slot advance) and by fingerprint diff (a table with REPLICA IDENTITY NOTHING,
 * which the adapter plans as 'digest'). Small tables in 64 KiB segments, so each link has several
 * segments; the filesystem storage (the S3 write path is crash.test.ts's).
 */
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { manifestKey } from '../../src/format/keys.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { stagingName } from '../../src/restore/restore.js';
import type { Storage } from '../../src/storage/storage.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { pgPool } from '../helpers/pg.js';
import { tempDir } from '../helpers/repository.js';
import { type ChildJob, type ChildRun, type CrashPoint, type StorageSpec, allKeys, crashPointsOf, runChild, storageOf } from './harness.js';

const pgUrl = process.env.PG_URL;
const pgAvailable = engineAvailable('pgvector', pgUrl !== undefined);
const SEGMENT_BYTES = 64 * 1024;
const ROWS = 900;

/** A table on the shared server and a fresh filesystem repository, with the rows each snapshot recorded. */
interface Fixture {
  pool: pg.Pool;
  adapter: PgvectorAdapter;
  table: string;
  spec: StorageSpec;
  storage: Storage;
  repo: Repository;
  /** Rows of the source table when each snapshot was taken, by snapshot id. */
  states: Map<string, string[]>;
  /** Applies a round of changes: about half the rows' payload, a vector, three deletes, three inserts. */
  churn(): Promise<void>;
  rows(table?: string): Promise<string[]>;
  child(job: ChildJob, crash: CrashPoint | null): Promise<ChildRun>;
  close(): Promise<void>;
}

async function fixture(prefix: string, options: { replicaIdentityNothing?: boolean } = {}): Promise<Fixture> {
  const pool = pgPool({ connectionString: pgUrl, max: 3 });
  const adapter = pgvectorAdapter({ pool });
  const table = randomName(prefix);
  await pool.query(`CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE ${table} (id int8 PRIMARY KEY, e vector(32), t text);
    INSERT INTO ${table} SELECT g, array_fill(g::real, ARRAY[32])::vector, 'v0 ' || g FROM generate_series(1, ${ROWS}) g;
    ${options.replicaIdentityNothing ? `ALTER TABLE ${table} REPLICA IDENTITY NOTHING;` : ''}`);
  const dir = await tempDir('vectordr-chain-crash-');
  const spec: StorageSpec = { kind: 'fs', path: dir, fsync: false };
  const storage = await storageOf(spec);
  const repo = await openRepository({ storage, create: true });
  let round = 0;
  let nextId = ROWS;
  const tables = new Set([table]);
  const rows = async (t = table): Promise<string[]> => {
    tables.add(t);
    return (await pool.query<{ r: string }>(`SELECT (id, e::text, t)::text AS r FROM ${t} ORDER BY id`)).rows.map((x) => x.r);
  };
  return {
    pool,
    adapter,
    table,
    spec,
    storage,
    repo,
    states: new Map(),
    rows,
    async churn() {
      round++;
      await pool.query(`UPDATE ${table} SET t = 'v${round} ' || id WHERE id % 2 = ${round % 2};
        UPDATE ${table} SET e = array_fill((id + ${round})::real, ARRAY[32])::vector WHERE id % 97 = ${round % 97};
        DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} ORDER BY id LIMIT 3 OFFSET ${(round * 11) % 300});
        INSERT INTO ${table} SELECT g, array_fill(-g::real, ARRAY[32])::vector, 'new ' || g FROM generate_series(${nextId + 1}, ${nextId + 3}) g;`);
      nextId += 3;
    },
    child: (job, crash) => runChild({ pgUrl: pgUrl as string, storage: spec, job, crash }),
    async close() {
      await repo.dropCapture(adapter, table).catch(() => undefined);
      for (const t of tables) await pool.query(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      const staging = await pool.query<{ n: string }>(`SELECT tablename AS n FROM pg_tables WHERE tablename LIKE $1`, [`${table}%_vdr_%`]);
      for (const { n } of staging.rows) await pool.query(`DROP TABLE IF EXISTS "${n}"`);
      await pool.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Keys under data/ that some manifest names (segments and delta index chunks). */
async function referencedKeys(repo: Repository): Promise<string[]> {
  const keys = new Set<string>();
  for (const s of await repo.list()) {
    const m = await repo.readManifest(s.collection, s.id);
    for (const ref of [...m.segments, ...(m.deltaIndex ?? [])]) keys.add(ref.key);
  }
  return [...keys].sort();
}

/**
 * Prune after a crash: the dead run's lock and orphans go, nothing a snapshot names goes (the data
 * left is exactly what the manifests name, and includes everything stored before the kill that
 * was referenced then), and verify stays clean.
 */
async function pruneOnlyOrphans(f: Fixture, referencedBefore: readonly string[], at: string): Promise<void> {
  const pruned = await f.repo.prune({ graceMs: 0 }); // the orphans are seconds old
  const left = await allKeys(f.storage, 'data/');
  expect(left, at).toEqual(await referencedKeys(f.repo));
  expect(
    left.filter((k) => referencedBefore.includes(k)),
    at,
  ).toEqual([...referencedBefore]);
  expect(pruned.referenced.segments, at).toBe(left.length);
  expect(await allKeys(f.storage, 'locks/'), at).toEqual([]);
  expect((await f.repo.verify()).ok, at).toBe(true);
}

const snapshotPut = (l: string): boolean => /^put \d+ snapshots\//.test(l);
const dataPuts = (run: ChildRun): number => run.lines.filter((l) => /^put \d+ data\//.test(l)).length;

function incrementalCrash(mode: 'native' | 'fingerprint'): void {
  describe.runIf(pgAvailable)(`crash safety of an incremental link (${mode})`, () => {
    let f: Fixture;
    let points: CrashPoint[] = [];
    const job = (): ChildJob => ({ kind: 'snapshot', table: f.table, segmentBytes: SEGMENT_BYTES, incremental: true });

    beforeAll(async () => {
      f = await fixture('crash_inc', { replicaIdentityNothing: mode === 'fingerprint' });
      const first = await f.repo.snapshot(f.adapter, f.table, { incremental: true, segmentBytes: SEGMENT_BYTES });
      expect(first.kind).toBe('full');
      f.states.set(first.manifest.id, await f.rows());
      // A clean run tells which writes a link makes: its lock, its segments, its delta index, its manifest, the lock release.
      await f.churn();
      const clean = await f.child(job(), null);
      const link = await f.repo.readManifest(f.table, 'latest');
      expect(link).toMatchObject({ kind: 'incremental', parent: first.manifest.id });
      expect(link.capture?.mode).toBe(mode === 'native' ? 'pgoutput' : 'fingerprint-diff');
      expect(link.segments.length).toBeGreaterThanOrEqual(3);
      expect(dataPuts(clean)).toBe(link.segments.length + (link.deltaIndex?.length ?? 0));
      f.states.set(link.id, await f.rows());
      points = crashPointsOf(clean.lines, ['put', 'delete']);
    }, 180_000);

    afterAll(async () => {
      await f?.close();
    });

    it('SIGKILL at every storage write: old chain or old chain + whole link; a rerun links on; the head restores exactly; prune: orphans only', async () => {
      expect(points.length).toBeGreaterThanOrEqual(8);
      const target = `${f.table}_r`;
      let iteration = 0;
      for (const point of points) {
        iteration++;
        const at = JSON.stringify(point);
        await f.churn();
        const live = await f.rows();
        const before = (await f.repo.list({ collection: f.table })).map((s) => s.id);
        const head = before[before.length - 1] as string;
        const referencedBefore = await referencedKeys(f.repo);
        const child = await f.child(job(), point);
        expect(child.signal, `${at} should die`).toBe('SIGKILL');

        // 1. No half-visible link: the old chain, or the old chain and the dead run's whole link on its head.
        const committed = child.lines.some(snapshotPut);
        const after = (await f.repo.list({ collection: f.table })).map((s) => s.id);
        expect(after.slice(0, before.length), at).toEqual(before);
        expect(after.length, at).toBe(before.length + (committed ? 1 : 0));
        expect((await f.repo.verify()).ok, at).toBe(true);
        if (committed) {
          const dead = await f.repo.readManifest(f.table, after[after.length - 1] as string);
          expect(dead, at).toMatchObject({ kind: 'incremental', parent: head });
          f.states.set(dead.id, live);
        }

        // 2. A rerun links onto the newest link. Every other time the data changes first, so the dead run's uploads become orphans.
        if (iteration % 2 === 0 && !committed) await f.churn();
        const rerun = await f.repo.snapshot(f.adapter, f.table, { incremental: true, segmentBytes: SEGMENT_BYTES });
        expect(rerun.kind, `${at}: ${rerun.autoFull ?? ''}`).toBe('incremental');
        expect(rerun.manifest.parent, at).toBe(after[after.length - 1]);
        f.states.set(rerun.manifest.id, await f.rows());

        // 3. Prune deletes only what no snapshot names; then the head (and a link the dead run committed) restores exactly.
        await pruneOnlyOrphans(f, referencedBefore, at);
        await f.repo.restore(f.adapter, { collection: f.table, snapshot: rerun.manifest.id, target, ifExists: 'replace' });
        expect(await f.rows(target), at).toEqual(await f.rows());
        if (committed) {
          const dead = after[after.length - 1] as string;
          await f.repo.restore(f.adapter, { collection: f.table, snapshot: dead, target, ifExists: 'replace' });
          expect(await f.rows(target), at).toEqual(f.states.get(dead));
        }
      }
      expect((await f.repo.verifyParity(f.adapter, { collection: f.table, snapshot: 'latest' })).ok).toBe(true);
    }, 900_000);
  });
}

incrementalCrash('native');
incrementalCrash('fingerprint');

/** A chain of a full snapshot and two links; `states` holds each one's rows. */
async function chainFixture(prefix: string): Promise<{ f: Fixture; ids: string[] }> {
  const f = await fixture(prefix);
  await f.pool.query(`CREATE INDEX ON ${f.table} USING hnsw (e vector_l2_ops)`);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await f.churn();
    const r = await f.repo.snapshot(f.adapter, f.table, { incremental: true, segmentBytes: SEGMENT_BYTES });
    expect(r.kind).toBe(i === 0 ? 'full' : 'incremental');
    ids.push(r.manifest.id);
    f.states.set(r.manifest.id, await f.rows());
  }
  return { f, ids };
}

describe.runIf(pgAvailable)('crash safety of a chain restore', () => {
  let f: Fixture;
  let ids: string[];
  let points: CrashPoint[] = [];

  beforeAll(async () => {
    ({ f, ids } = await chainFixture('crash_rst'));
    // A clean run tells the steps of a chain restore: create staging, marker, a write per segment
    // (commitBytes 0: one writeBatches per segment, its marker with it), indexes, the loaded marker,
    // swap, marker cleared. The reruns commit the default groups of segments.
    const clean = await f.child(
      { kind: 'restore', collection: f.table, snapshot: ids[2] as string, target: `${f.table}_r`, commitBytes: 0 },
      null,
    );
    expect(clean.lines.filter((l) => / swap /.test(l)).length).toBe(1);
    points = crashPointsOf(clean.lines, ['adapter']);
  }, 180_000);

  afterAll(async () => {
    await f?.close();
  });

  it('SIGKILL at every adapter step: the target is the previous state or the new one, never partial; a rerun resumes (marker v2) and ends exact', async () => {
    expect(points.length).toBeGreaterThanOrEqual(10);
    const target = `${f.table}_r`;
    const snapshot = ids[2] as string;
    const expected = f.states.get(snapshot) as string[];
    let resumed = 0;
    for (const point of points) {
      // The target holds another state than the one being restored (the clean run or the last rerun restored the head).
      await f.pool.query(`UPDATE ${target} SET t = 'before the kill' WHERE id % 5 = 0; DELETE FROM ${target} WHERE id % 7 = 0`);
      const previous = await f.rows(target);
      const at = JSON.stringify(point);
      const child = await f.child({ kind: 'restore', collection: f.table, snapshot, target, commitBytes: 0 }, point);
      expect(child.signal, `${at} should die`).toBe('SIGKILL');

      // Untouched until the swap, whole after it.
      const swapped = child.lines.some((l) => / swap /.test(l));
      expect(await f.rows(target), at).toEqual(swapped ? expected : previous);
      const staging = stagingName(target, snapshot);
      const marker = (await f.adapter.exists(staging)) ? await f.adapter.readMarker(staging) : undefined;
      if (marker !== undefined) expect(marker, at).toMatch(new RegExp(`^vectordr-restore/v2 ${snapshot} \\d+ \\d+ i$`));

      const r = await f.repo.restore(f.adapter, { collection: f.table, snapshot, target, ifExists: 'replace' });
      expect(r.resumed, at).toBe(marker !== undefined);
      if (r.resumed) resumed++;
      expect(await f.rows(target), at).toEqual(expected);
      expect(await f.adapter.exists(staging), at).toBe(false);
      expect(await f.adapter.readMarker(target), at).toBeUndefined();
      const comment = await f.pool.query(`SELECT obj_description($1::regclass, 'pg_class') AS c`, [target]);
      expect(comment.rows[0]?.c ?? null, `${at}: no marker line left on the table`).toBeNull();
    }
    expect(resumed).toBeGreaterThanOrEqual(points.length / 2);
    const left = await f.pool.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE $1`, [`${target}_vdr_%`]);
    expect(left.rows).toEqual([]);
  }, 900_000);
});

describe.runIf(pgAvailable)('crash safety of a compaction', () => {
  let f: Fixture;
  let ids: string[];
  let points: CrashPoint[] = [];
  const job = (): ChildJob => ({ kind: 'compact', collection: f.table, snapshot: ids[2] as string });
  /** Takes the compacted snapshots out again (there is no forget by id), so the next compaction uploads anew. */
  const dropCompacted = async (): Promise<void> => {
    for (const s of await f.repo.list({ collection: f.table })) if (!ids.includes(s.id)) await f.storage.delete(manifestKey(f.table, s.id));
    await f.repo.prune({ graceMs: 0 });
  };

  beforeAll(async () => {
    ({ f, ids } = await chainFixture('crash_cpt'));
    // A clean run tells which writes a compaction makes: its lock, the full snapshot's segments and delta index, its manifest, the release.
    const clean = await f.child(job(), null);
    expect(clean.lines.some(snapshotPut)).toBe(true);
    // One segment and one delta index chunk: compact takes no segmentBytes, and 900 rows fit the default 4 MiB segment.
    expect(dataPuts(clean)).toBe(2);
    points = crashPointsOf(clean.lines, ['put', 'delete']);
  }, 180_000);

  afterAll(async () => {
    await f?.close();
  });

  it('SIGKILL at every storage write: the chain, or the chain + the whole compacted snapshot; a rerun is the same state; prune: orphans', async () => {
    expect(points.length).toBeGreaterThanOrEqual(6);
    const head = await f.repo.readManifest(f.table, ids[2] as string);
    const expected = f.states.get(head.id) as string[];
    const target = `${f.table}_r`;
    for (const point of points) {
      const at = JSON.stringify(point);
      await dropCompacted();
      expect((await f.repo.list({ collection: f.table })).map((s) => s.id)).toEqual(ids);
      const referencedBefore = await referencedKeys(f.repo);
      const child = await f.child(job(), point);
      expect(child.signal, `${at} should die`).toBe('SIGKILL');

      const committed = child.lines.some(snapshotPut);
      const after = (await f.repo.list({ collection: f.table })).map((s) => s.id);
      expect(after.slice(0, ids.length), at).toEqual(ids);
      expect(after.length, at).toBe(ids.length + (committed ? 1 : 0));
      expect((await f.repo.verify()).ok, at).toBe(true);
      if (committed) {
        const dead = await f.repo.readManifest(f.table, after[after.length - 1] as string);
        expect(dead.kind, at).toBe('full');
        expect(dead.digest.collection, at).toBe(head.digest.collection);
      }

      const rerun = await f.repo.compact(f.table, { snapshot: head.id });
      expect(rerun.manifest, at).toMatchObject({ kind: 'full', watermark: head.watermark, digest: { collection: head.digest.collection } });
      await pruneOnlyOrphans(f, referencedBefore, at);
      await f.repo.restore(f.adapter, { collection: f.table, snapshot: rerun.manifest.id, target, ifExists: 'replace' });
      expect(await f.rows(target), at).toEqual(expected);
    }
    // The chain goes on from the last compacted snapshot.
    await f.churn();
    const latest = (await f.repo.list({ collection: f.table })).at(-1);
    expect(latest?.kind).toBe('full');
    const next = await f.repo.snapshot(f.adapter, f.table, { incremental: true, segmentBytes: SEGMENT_BYTES });
    expect(next.manifest).toMatchObject({ kind: 'incremental', parent: latest?.id });
    await f.repo.restore(f.adapter, { collection: f.table, snapshot: next.manifest.id, target, ifExists: 'replace' });
    expect(await f.rows(target)).toEqual(await f.rows());
  }, 900_000);
});
