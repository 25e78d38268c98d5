/**
 * Honest reports and clear refusals (issue 14), on PGlite: parity says when its id lists are
 * partial, every report survives JSON.stringify with ids as strings, a misspelled collection or a
 * missing adapter is a typed error instead of an "ok" that checked nothing, and progress reports a
 * total on a never-analyzed table and each advance once.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { VectorAdapter } from '../../src/adapter.js';
import type { ProgressEvent } from '../../src/progress.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { expectError } from '../helpers/errors.js';

describe('honest reports and clear refusals', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let repo: Repository;
  let table: string;
  let n = 0;

  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    await db.exec('CREATE EXTENSION vector');
    adapter = pgvectorAdapter({ pglite: db });
  });
  afterAll(async () => {
    await db.close();
  });
  beforeEach(async () => {
    table = `docs${++n}`;
    await db.exec(`CREATE TABLE ${table} (id int8 PRIMARY KEY, e vector(8), t text);
      INSERT INTO ${table} SELECT g, ARRAY[g, 1, 2, 3, 4, 5, 6, 7]::real[]::vector, 'row ' || g FROM generate_series(1, 2000) g;`);
    repo = await openRepository({ storage: memoryStorage(), create: true });
  });

  describe('parity says when its id lists are partial', () => {
    it('100 deleted ids over ~83 buckets: only the first 16 buckets are examined, and the report says so', async () => {
      await repo.snapshot(adapter, table);
      await db.exec(`DELETE FROM ${table} WHERE id % 20 = 0`); // 100 ids
      const r = await repo.verifyParity(adapter, { collection: table });
      expect(r.ok).toBe(false);
      expect(r.mismatchedBuckets.length).toBeGreaterThan(16);
      expect(r.examinedBuckets).toBe(16);
      expect(r.truncated).toBe(true);
      expect(r.missing.length).toBeLessThan(100);

      const all = await repo.verifyParity(adapter, { collection: table, maxBuckets: 256 });
      expect(all).toMatchObject({ ok: false, examinedBuckets: all.mismatchedBuckets.length, truncated: false });
      expect(all.missing.length).toBe(100);
      expect(all.missing.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => 20 * (i + 1)));
    });

    it('a list that stops at maxIds makes the report truncated; a clean report is not', async () => {
      await repo.snapshot(adapter, table);
      expect(await repo.verifyParity(adapter, { collection: table })).toMatchObject({ ok: true, examinedBuckets: 0, truncated: false });
      await db.exec(`DELETE FROM ${table} WHERE id % 20 = 0`);
      const capped = await repo.verifyParity(adapter, { collection: table, maxBuckets: 256, maxIds: 10 });
      expect(capped.missing).toHaveLength(10);
      expect(capped.examinedBuckets).toBe(capped.mismatchedBuckets.length);
      expect(capped.truncated).toBe(true);
      const none = await repo.verifyParity(adapter, { collection: table, maxIds: 0 });
      expect(none).toMatchObject({ ok: false, examinedBuckets: 0, truncated: true, missing: [] });
    });
  });

  describe('every report has a JSON form, ids as strings', () => {
    it('snapshot, parity, recall, verify, restore, forget and prune reports survive JSON.stringify', async () => {
      await db.exec(`CREATE INDEX ON ${table} USING hnsw (e vector_l2_ops)`); // recall needs a metric
      const snap = await repo.snapshot(adapter, table);
      await db.exec(
        `UPDATE ${table} SET t = 'changed' WHERE id IN (7, 1999); DELETE FROM ${table} WHERE id = ` +
          `42; INSERT INTO ${table} VALUES (9007199254740993, '[1,1,1,1,1,1,1,1]', 'big')`,
      );
      const parity = await repo.verifyParity(adapter, { collection: table, maxBuckets: 256 });
      expect(parity.missing).toEqual([42n]); // bigint in memory
      const pj = JSON.parse(JSON.stringify(parity));
      expect(pj.missing).toEqual(['42']);
      expect(pj.extra).toEqual(['9007199254740993']); // beyond 2^53, exact
      expect([...pj.changed].sort()).toEqual(['1999', '7']);
      expect(pj).toMatchObject({ ok: false, truncated: false, rows: parity.rows, mismatchedBuckets: parity.mismatchedBuckets });
      expect(parity.toJSON()).toEqual(pj);
      expect(Object.keys(parity)).not.toContain('toJSON'); // the report's own fields are unchanged

      const reports: [string, object][] = [
        ['snapshot', snap],
        ['verify', await repo.verify()],
        ['recall', await repo.verifyRecall(adapter, { collection: table, queries: 5, exact: true })],
        ['restore', await repo.restore(adapter, { collection: table, target: `${table}_copy` })],
        ['forget', await repo.forget({ keepLast: 1 }, { dryRun: true })],
        ['prune', await repo.prune({ dryRun: true })],
      ];
      for (const [name, report] of reports) {
        const text = JSON.stringify(report);
        expect(typeof text, name).toBe('string');
        expect(JSON.parse(text), name).toEqual(
          JSON.parse(JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))),
        );
      }
    });
  });

  describe('typed refusals instead of silent no-ops', () => {
    it('verify({ collection }) of a collection without snapshots is SNAPSHOT_NOT_FOUND naming what exists', async () => {
      await repo.snapshot(adapter, table);
      const err = await expectError(repo.verify({ collection: 'nope' }), 'SNAPSHOT_NOT_FOUND');
      expect(err.message).toContain('"nope"');
      expect(err.message).toContain(JSON.stringify(table));
      expect(err.message).toContain('repo.list()');
      expect((await repo.verify({ collection: table })).ok).toBe(true);
    });

    it('forget with a collection that has no snapshot is SNAPSHOT_NOT_FOUND, dry run or not, and removes nothing', async () => {
      await repo.snapshot(adapter, table);
      await repo.snapshot(adapter, table);
      for (const dryRun of [true, false]) {
        const err = await expectError(repo.forget({ keepLast: 1 }, { collection: `${table}x`, dryRun }), 'SNAPSHOT_NOT_FOUND');
        expect(err.message).toContain(JSON.stringify(`${table}x`));
        expect(err.message).toContain('repo.list()');
      }
      expect(await repo.list()).toHaveLength(2);
      expect((await repo.forget({ keepLast: 1 }, { collection: table })).removed).toBe(1);
    });

    it('a non-adapter given to snapshot, restore, verifyParity or verifyRecall is INVALID_ARGUMENT, not a TypeError', async () => {
      await repo.snapshot(adapter, table);
      for (const bad of [null, undefined, {}, 'pgvector', { engine: 'pgvector' }] as unknown as VectorAdapter[]) {
        const e1 = await expectError(repo.snapshot(bad, table), 'INVALID_ARGUMENT');
        expect(e1.message).toContain('repo.snapshot() needs a VectorAdapter');
        await expectError(repo.restore(bad, { collection: table, target: 'x' }), 'INVALID_ARGUMENT');
        await expectError(repo.verifyParity(bad, { collection: table }), 'INVALID_ARGUMENT');
        await expectError(repo.verifyRecall(bad, { collection: table }), 'INVALID_ARGUMENT');
      }
      await expectError(repo.snapshot(adapter, null as unknown as string), 'INVALID_ARGUMENT');
      expect(await repo.list()).toHaveLength(1);
    });
  });

  describe('progress', () => {
    it('a never-analyzed table still has totalRows, and each advance is reported once', async () => {
      expect((await db.query<{ reltuples: number }>(`SELECT reltuples FROM pg_class WHERE relname = $1`, [table])).rows[0]?.reltuples).toBe(
        -1,
      );
      const events: ProgressEvent[] = [];
      await repo.snapshot(adapter, table, { segmentBytes: 64 * 1024, onProgress: (e) => events.push(e) });
      expect(events.every((e) => e.totalRows === 2000)).toBe(true);
      const key = (e: ProgressEvent): string => `${e.rows} ${e.segments} ${e.bytes}`;
      for (let i = 1; i < events.length; i++) {
        const [prev, cur] = [events[i - 1] as ProgressEvent, events[i] as ProgressEvent];
        if (cur.phase === 'scan' || cur.phase === 'segment')
          expect(key(cur), `event ${i} (${cur.phase}) repeats event ${i - 1} (${prev.phase})`).not.toBe(key(prev));
      }
      expect(events.filter((e) => e.phase === 'segment')).toHaveLength(9);
      expect(events.map((e) => e.phase).at(0)).toBe('start');
      expect(events.map((e) => e.phase).slice(-2)).toEqual(['commit', 'done']);
    });

    it('an empty never-analyzed table has totalRows 0', async () => {
      await db.exec(`CREATE TABLE ${table}_empty (id int8 PRIMARY KEY, e vector(8))`);
      const events: ProgressEvent[] = [];
      await repo.snapshot(adapter, `${table}_empty`, { onProgress: (e) => events.push(e) });
      expect(events[0]).toMatchObject({ phase: 'start', totalRows: 0 });
    });
  });
});
