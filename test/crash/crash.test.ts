/**
 * Crash proof: a snapshot process is SIGKILLed before and after every storage write it makes (its
 * lock, each segment, the manifest, the lock release). After each kill: no partial snapshot is ever
 * listed, a rerun succeeds (reusing what the dead run stored), verify is clean, and prune removes the
 * dead run's orphans and its stale lock. Runs against the real S3 server and the filesystem.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { encodeWorkersFor } from '../../src/snapshot/snapshot.js';
import type { Storage } from '../../src/storage/storage.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { s3Available, s3Config } from '../helpers/s3.js';
import { pgPool } from '../helpers/pg.js';
import { type ChildRun, type CrashPoint, type StorageSpec, allKeys, runChild as run, storageOf } from './harness.js';

const pgUrl = process.env.PG_URL;
const pgAvailable = engineAvailable('pgvector', pgUrl !== undefined);
const SEGMENT_BYTES = 64 * 1024;
const ROWS = 1700; // 10 segments of 170 rows at 32 dims

function runChild(table: string, storage: StorageSpec, crash: CrashPoint | null): Promise<ChildRun> {
  return run({ pgUrl: pgUrl as string, storage, job: { kind: 'snapshot', table, segmentBytes: SEGMENT_BYTES }, crash });
}

function crashMatrix(name: string, spec: () => Promise<StorageSpec>, every: number): void {
  describe.runIf(pgAvailable)(`crash safety: ${name}`, () => {
    let pool: pg.Pool;
    const table = randomName('crash');
    let storageSpec: StorageSpec;
    let storage: Storage;
    let repo: Repository;
    let points: CrashPoint[] = [];

    beforeAll(async () => {
      pool = pgPool({ connectionString: pgUrl, max: 2 });
      await pool.query(`CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE ${table} (id int8 PRIMARY KEY, e vector(32), t text);
        INSERT INTO ${table} SELECT g, array_fill(g::real, ARRAY[32])::vector, 'v0 ' || g FROM generate_series(1, ${ROWS}) g;`);
      storageSpec = await spec();
      storage = await storageOf(storageSpec);
      repo = await openRepository({ storage, create: true });
      // A clean run tells which writes a snapshot makes: its lock, each segment, the manifest, then the lock release.
      const clean = await runChild(table, storageSpec, null);
      const puts = clean.lines.filter((l) => l.startsWith('put ')).length;
      const deletes = clean.lines.filter((l) => l.startsWith('delete ')).length;
      expect(puts).toBeGreaterThanOrEqual(12);
      const all: CrashPoint[] = [];
      for (let n = 1; n <= puts; n++) for (const when of ['before', 'after'] as const) all.push({ op: 'put', nth: n, when });
      for (let n = 1; n <= deletes; n++) for (const when of ['before', 'after'] as const) all.push({ op: 'delete', nth: n, when });
      points = all.filter((_, i) => i % every === 0);
    }, 120_000);

    afterAll(async () => {
      await pool?.query(`DROP TABLE IF EXISTS ${table}`);
      await pool?.end();
      if (storage) for (const k of await allKeys(storage, '')) await storage.delete(k);
      await storage?.close?.();
      if (storageSpec?.kind === 'fs') await rm(storageSpec.path, { recursive: true, force: true });
    });

    it(`SIGKILL at every storage write: nothing partial is listed, a rerun succeeds, verify is clean, prune removes orphans`, async () => {
      expect(points.length).toBeGreaterThanOrEqual(every === 1 ? 20 : 6);
      const adapter = pgvectorAdapter({ pool });
      let iteration = 0;
      for (const point of points) {
        iteration++;
        // New content, so everything the dead run uploads is new.
        await pool.query(`UPDATE ${table} SET t = 'v${iteration} ' || id`);
        const listedBefore = (await repo.list()).map((s) => s.id);
        const child = await runChild(table, storageSpec, point);
        expect(child.signal, `${JSON.stringify(point)} should die`).toBe('SIGKILL');
        const uploadedByChild = child.lines.filter((l) => / data\//.test(l) && l.startsWith('put ')).length;
        const committed = child.lines.some((l) => / snapshots\//.test(l) && l.startsWith('put '));

        // 1. Only committed snapshots are listed, and each is whole.
        const listed = (await repo.list()).map((s) => s.id);
        expect(listed.length, JSON.stringify(point)).toBe(listedBefore.length + (committed ? 1 : 0));
        expect((await repo.verify()).ok, JSON.stringify(point)).toBe(true);

        // 2. Every other iteration the data changes before the rerun: the dead run's segments become orphans.
        const changeFirst = iteration % 2 === 0 && !committed;
        if (changeFirst) await pool.query(`UPDATE ${table} SET t = 'v${iteration}b ' || id`);
        const rerun = await repo.snapshot(adapter, table, { segmentBytes: SEGMENT_BYTES });
        if (!changeFirst) expect(rerun.reusedSegments, JSON.stringify(point)).toBeGreaterThanOrEqual(uploadedByChild);
        expect((await repo.verify({ collection: table, snapshot: rerun.manifest.id })).ok).toBe(true);

        // 3. Prune: orphans of the dead run go, the stale lock goes, every kept snapshot still verifies.
        const pruned = await repo.prune({ graceMs: 0 }); // the orphans are seconds old
        // Uploads still in flight when the process died may have landed unlogged: as many as the storage's
        // writeConcurrency plus one per segment worker (the child's snapshot starts one on a machine with 2+ cores).
        const inFlight = (storage.writeConcurrency ?? 0) + encodeWorkersFor(undefined, Number.MAX_SAFE_INTEGER, 1);
        if (changeFirst) expect(pruned.deleted, JSON.stringify(point)).toBeGreaterThanOrEqual(uploadedByChild);
        if (changeFirst) expect(pruned.deleted, JSON.stringify(point)).toBeLessThanOrEqual(uploadedByChild + inFlight);
        const dataKeys = await allKeys(storage, 'data/');
        expect(dataKeys.length).toBe(pruned.referenced.segments);
        expect(await allKeys(storage, 'locks/')).toEqual([]);
        expect((await repo.verify()).ok).toBe(true);
        // Keep the repository small: the newest two snapshots, and no garbage going into the next kill.
        await repo.forget({ keepLast: 2 });
        await repo.prune({ graceMs: 0 });
      }
    }, 600_000);
  });
}

const s3 = s3Config();
if (s3Available && s3) {
  crashMatrix(
    's3',
    async () => ({
      kind: 's3',
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      region: s3.region,
      credentials: s3.credentials,
      prefix: randomName('crash'),
    }),
    1,
  );
}
crashMatrix('fs', async () => ({ kind: 'fs', path: await mkdtemp(path.join(tmpdir(), 'vectordr-crash-')) }), 3);
