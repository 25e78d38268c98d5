/**
 * verifyRecall on PGlite: exact search gives recall 1, the HNSW index a high recall, and a restore
 * whose vectors do not match the snapshot fails the check.
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { Repository } from '../../src/repository/repository.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';
import { engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { memoryRepository } from '../helpers/repository.js';

describe.runIf(engineAvailable('pglite', true))('verifyRecall', () => {
  let db: PGlite;
  let a: PgvectorAdapter;
  let repo: Repository;
  let snapshot: string;
  beforeAll(async () => {
    ({ db, adapter: a } = await openPglite());
    repo = await memoryRepository();
    await a.create(testSchema('docs'), { indexes: 'now' });
    await a.write('docs', makeBatch(testSchema('docs'), makeRecords(800, 16, 11)), { mode: 'insert' });
    snapshot = (await repo.snapshot(a, 'docs')).manifest.id;
    // Same ids, other vectors: what a botched restore (or a re-embedding with another model) looks like.
    await a.create(testSchema('wrong'), { indexes: 'now' });
    await a.write('wrong', makeBatch(testSchema('wrong'), makeRecords(800, 16, 99)), { mode: 'insert' });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('exact search has recall 1; the HNSW index a high one; the same queries every run', async () => {
    const exact = await repo.verifyRecall(a, { collection: 'docs', snapshot, k: 10, queries: 40, exact: true });
    expect(exact).toMatchObject({ ok: true, recall: 1, minQueryRecall: 1, k: 10, queries: 40, metric: 'cosine', vector: 'embedding' });
    const indexed = await repo.verifyRecall(a, { collection: 'docs', snapshot, k: 10, queries: 40 });
    expect(indexed.ok).toBe(true);
    expect(indexed.recall).toBeGreaterThanOrEqual(0.9);
    expect((await repo.verifyRecall(a, { collection: 'docs', snapshot, k: 10, queries: 40 })).recall).toBe(indexed.recall);
  });

  it(
    'search effort is explicit: pgvector sets hnsw.ef_search per search (the server default 40 ' +
      'cut k=60 to 40 hits), and the report says which effort it used',
    async () => {
      const q = makeRecords(1, 16, 5)[0]?.vectors.embedding as Float32Array;
      expect((await a.search('docs', q, 60, { effort: 100 })).length).toBe(60);
      const r = await repo.verifyRecall(a, { collection: 'docs', snapshot, k: 50, queries: 20 });
      expect(r).toMatchObject({
        ok: true,
        effort: { requested: 100, perQuery: true },
        indexed: true,
        index: 'hnsw',
        warnings: [],
        minRecall: 0.95,
      });
      expect(r.recall).toBeGreaterThanOrEqual(0.95);
      expect((await repo.verifyRecall(a, { collection: 'docs', snapshot, k: 10, queries: 20, effort: 10 })).effort).toEqual({
        requested: 10,
        perQuery: true,
      });
    },
  );

  it('a collection whose vectors do not match the snapshot fails', async () => {
    const r = await repo.verifyRecall(a, { collection: 'docs', snapshot, live: 'wrong', k: 10, queries: 40, exact: true });
    expect(r.ok).toBe(false);
    expect(r.recall).toBeLessThan(0.5);
  });

  it('bad options are INVALID_OPTIONS', async () => {
    await expectError(repo.verifyRecall(a, { collection: 'docs', snapshot, k: 0 }), 'INVALID_OPTIONS');
    await expectError(repo.verifyRecall(a, { collection: 'docs', snapshot, vector: 'nope' }), 'INVALID_OPTIONS');
  });
});
