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
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';

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

});
