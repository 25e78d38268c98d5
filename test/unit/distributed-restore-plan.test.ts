/**
 * Distributed restores without a server: the split of a snapshot's segments into parts, the typed
 * refusals (no swap, a link, an append, a plan id of another restore, damaged plan objects), and
 * the whole flow on PGlite with the workers in this process (the real runs, three processes on a
 * PostgreSQL server, are in test/pgvector/distributed-restore.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { isVectordrError } from '../../src/errors.js';
import { planKey } from '../../src/format/keys.js';
import { splitSegments } from '../../src/restore/distributed-restore-plan.js';
import { expectError } from '../helpers/errors.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { openPglite } from '../helpers/pglite.js';
import { memoryRepository } from '../helpers/repository.js';

describe('splitSegments', () => {
  it('gives contiguous spans that tile the segments, at most one per worker, of about equal rows', () => {
    expect(splitSegments([100, 100, 100, 100], 2)).toEqual([
      { from: 0, to: 2, rows: 200 },
      { from: 2, to: 4, rows: 200 },
    ]);
    expect(splitSegments([100, 100, 100, 100, 100, 100, 100, 100, 100, 40], 3).map((s) => s.rows)).toEqual([300, 300, 340]);
    // Fewer segments than workers: one segment each, the rest have nothing to do.
    expect(splitSegments([10, 20], 5)).toEqual([
      { from: 0, to: 1, rows: 10 },
      { from: 1, to: 2, rows: 20 },
    ]);
    expect(splitSegments([7], 1)).toEqual([{ from: 0, to: 1, rows: 7 }]);
    expect(splitSegments([], 3)).toEqual([]);
  });

  it('tiles any row counts for any worker count', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 500; round++) {
      const rows = Array.from({ length: 1 + rand(40) }, () => 1 + rand(5000));
      const workers = 1 + rand(12);
      const spans = splitSegments(rows, workers);
      expect(spans.length).toBeLessThanOrEqual(workers);
      let at = 0;
      for (const s of spans) {
        expect(s.from).toBe(at);
        expect(s.to).toBeGreaterThan(s.from);
        expect(s.rows).toBe(rows.slice(s.from, s.to).reduce((a, b) => a + b, 0));
        at = s.to;
      }
      expect(at).toBe(rows.length);
    }
  });
});

describe('distributed restore without a server', () => {
  it('refuses an engine without an atomic swap, by capability', async () => {
    const repo = await memoryRepository();
    const err = await expectError(repo.planRestore(memoryAdapter(), { collection: 'docs', workers: 2 }), 'UNSUPPORTED_OPERATION');
    expect(isVectordrError(err) && err.details).toMatchObject({ capability: 'swap' });
  });

  it('loads a PGlite table from two parts run here, resumes a plan by its id, and refuses what it does not do', async () => {
    const { adapter, db } = await openPglite(
      "CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE docs (id bigint PRIMARY KEY, v vector(2), note text DEFAULT 'none'); " +
        "INSERT INTO docs SELECT g, ARRAY[g, -g]::real[]::vector, 'n' || g FROM generate_series(1, 2000) g",
    );
    try {
      const repo = await memoryRepository();
      const { manifest } = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
      await expectError(repo.planRestore(adapter, { collection: 'docs', workers: 2 }), 'TARGET_EXISTS');
      await expectError(repo.planRestore(adapter, { collection: 'docs', workers: 2, ifExists: 'append' }), 'UNSUPPORTED_OPERATION');
      await expectError(repo.restorePart(adapter, 'missing', 0, { waitForPlanMs: 0 }), 'PLAN_INVALID');
      await repo.storage.put(planKey('broken', 'restore'), new TextEncoder().encode('{"type":"vectordr-restore-plan"}'));
      await expectError(repo.restorePart(adapter, 'broken', 0, { waitForPlanMs: 0 }), 'PLAN_INVALID');

      const coordinator = await repo.planRestore(adapter, { collection: 'docs', target: 'docs_copy', workers: 2, planId: 'p-1' });
      expect(coordinator.plan.parts.map((p) => p.rows).reduce((a, b) => a + b, 0)).toBe(2000);
      // The same id for another restore is refused; for the same one, the plan is taken over.
      await expectError(repo.planRestore(adapter, { collection: 'docs', target: 'elsewhere', workers: 2, planId: 'p-1' }), 'PLAN_INVALID');
      await coordinator.close();
      const again = await repo.planRestore(adapter, { collection: 'docs', target: 'docs_copy', workers: 2, planId: 'p-1' });
      expect(again.resumed).toBe(true);
      await expectError(repo.restorePart(adapter, 'p-1', 2), 'INVALID_ARGUMENT');
      const parts = [await repo.restorePart(adapter, 'p-1', 0), await repo.restorePart(adapter, 'p-1', 1)];
      expect(parts.map((p) => p.part?.done)).toEqual([true, true]);
      // A part run again after it is done does nothing.
      expect(await repo.restorePart(adapter, 'p-1', 0)).toMatchObject({ resumed: true, part: { done: true } });
      const result = await again.commit({ pollMs: 10 });
      expect(result).toMatchObject({ snapshot: manifest.id, target: 'docs_copy', rows: 2000, resumed: true });
      // The staging table was created by the first coordinator: what its trust gate held back is still reported.
      expect(result.notCarriedOver).toEqual([
        expect.objectContaining({ what: 'definition', action: 'not-recreated', reason: expect.stringMatching(/trustDefinitions/) }),
      ]);
      const same = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM docs a JOIN docs_copy b USING (id) WHERE a.v = b.v AND a.note = b.note',
      );
      expect(same.rows[0]?.n).toBe(2000);
      expect((await repo.verifyParity(adapter, { collection: 'docs', snapshot: manifest.id, live: 'docs_copy' })).ok).toBe(true);
      expect(await repo.storage.stat(planKey('p-1', 'restore'))).toBeUndefined();

      // A target created while the parts load (an application's CREATE TABLE) is not dropped without ifExists: 'replace'.
      const late = await repo.planRestore(adapter, { collection: 'docs', target: 'docs_late', workers: 2, planId: 'p-2' });
      for (const i of [0, 1]) await repo.restorePart(adapter, 'p-2', i);
      await db.exec('CREATE TABLE docs_late (id bigint PRIMARY KEY); INSERT INTO docs_late VALUES (42)');
      await expectError(late.commit({ pollMs: 10 }), 'TARGET_EXISTS');
      expect((await db.query('SELECT id FROM docs_late')).rows).toEqual([{ id: 42 }]);
      expect(await adapter.exists(late.plan.staging)).toBe(true);
      // Another option on takeover is another restore; the same options take the plan over and swap.
      await expectError(
        repo.planRestore(adapter, { collection: 'docs', target: 'docs_late', workers: 2, planId: 'p-2', ifExists: 'replace' }),
        'PLAN_INVALID',
      );
      await db.exec('DROP TABLE docs_late');
      const taken = await repo.planRestore(adapter, { collection: 'docs', target: 'docs_late', workers: 2, planId: 'p-2' });
      expect(await taken.commit({ pollMs: 10 })).toMatchObject({ rows: 2000, resumed: true });
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM docs_late')).rows[0]?.n).toBe(2000);
    } finally {
      await db.close();
    }
  });
});
