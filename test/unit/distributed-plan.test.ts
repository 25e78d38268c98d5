/**
 * Distributed snapshots without a server: the checks the commit makes on the plan's key ranges and
 * on each part, plan ids, damaged plan objects, and the typed refusal of an engine without an
 * exported view (the real runs are in test/pgvector/distributed.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { KeyRange } from '../../src/adapter.js';
import { isVectordrError } from '../../src/errors.js';
import { planKey } from '../../src/format/keys.js';
import { type SnapshotPart, type SnapshotPlan, assertPartOf, assertTiling } from '../../src/snapshot/distributed-plan.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { memoryRepository } from '../helpers/repository.js';

const ZERO = '0'.repeat(64);

function plan(ranges: KeyRange[]): SnapshotPlan {
  return {
    type: 'vectordr-snapshot-plan',
    version: 1,
    id: 'p1',
    collection: 'docs',
    engine: 'pgvector',
    view: '00000003-0000001B-1',
    createdAt: new Date(0).toISOString(),
    workers: ranges.length,
    ranges,
    schema: { name: 'docs', idField: 'id', idType: 'int64', vectors: [], payload: [], indexes: [] },
    checkpoint: null,
    buckets: 2,
    options: { segmentBytes: 65536, vectorCompression: 'none' },
    tags: {},
  };
}

function part(p: SnapshotPlan, index: number, over: Partial<SnapshotPart> = {}): SnapshotPart {
  return {
    type: 'vectordr-snapshot-part',
    version: 1,
    plan: p.id,
    index,
    view: p.view,
    range: p.ranges[index] as KeyRange,
    segments: [{ key: `data/00/${ZERO}`, sha256: ZERO, bytes: 10, rows: 3 }],
    rows: 3,
    digest: { buckets: 2, counts: [1, 2], sums: [ZERO, ZERO] },
    timings: { scanMs: 1, encodeMs: 1, storeMs: 1, totalMs: 3 },
    uploadedSegments: 1,
    uploadedBytes: 10,
    completedAt: new Date(0).toISOString(),
    ...over,
  };
}

const code = (fn: () => void): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isVectordrError(err) ? err.code : String(err);
  }
  return undefined;
};

describe('distributed snapshot plans', () => {
  const three: KeyRange[] = [
    { lo: null, hi: '100' },
    { lo: '100', hi: '200' },
    { lo: '200', hi: null },
  ];

  it('accepts ranges that tile the key space, and refuses gaps, overlaps and bounded ends', () => {
    expect(code(() => assertTiling(three, 'x'))).toBeUndefined();
    expect(code(() => assertTiling([{ lo: null, hi: null }], 'x'))).toBeUndefined();
    expect(code(() => assertTiling([], 'x'))).toBe('PLAN_INVALID');
    expect(code(() => assertTiling([{ lo: '1', hi: null }], 'x'))).toBe('PLAN_INVALID');
    expect(code(() => assertTiling([{ lo: null, hi: '1' }], 'x'))).toBe('PLAN_INVALID');
    expect(
      code(() =>
        assertTiling(
          [
            { lo: null, hi: '100' },
            { lo: '150', hi: null },
          ],
          'gap',
        ),
      ),
    ).toBe('PLAN_INVALID');
    expect(
      code(() =>
        assertTiling(
          [
            { lo: null, hi: null },
            { lo: null, hi: null },
          ],
          'overlap',
        ),
      ),
    ).toBe('PLAN_INVALID');
  });

  it('accepts a part only for its own plan, view, index and range, with rows that add up', () => {
    const p = plan(three);
    expect(code(() => assertPartOf(p, part(p, 1), 1, 'k'))).toBeUndefined();
    for (const bad of [
      part(p, 1, { plan: 'other' }),
      part(p, 1, { view: 'another-view' }),
      part(p, 1, { index: 2 }),
      part(p, 1, { range: { lo: '100', hi: '150' } }),
      part(p, 1, { rows: 4 }),
      part(p, 1, { digest: { buckets: 2, counts: [1, 1], sums: [ZERO, ZERO] } }),
      part(p, 1, { digest: { buckets: 3, counts: [1, 1, 1], sums: [ZERO, ZERO, ZERO] } }),
    ]) {
      expect(
        code(() => assertPartOf(p, bad, 1, 'k')),
        JSON.stringify(bad),
      ).toBe('PLAN_INVALID');
    }
  });

  it('names plan objects under plans/ and refuses plan ids that are not one key segment', () => {
    expect(planKey('p1', 'plan')).toBe('plans/p1/plan.json');
    expect(planKey('p1', { part: 3 })).toBe('plans/p1/part-3.json');
    expect(planKey('8b0c-uid', { failed: 0 })).toBe('plans/8b0c-uid/failed-0.json');
    for (const id of ['', '../x', 'a/b', '.hidden', 'x'.repeat(65)])
      expect(
        code(() => planKey(id, 'plan')),
        id,
      ).toBe('INVALID_IDENTIFIER');
  });

  it('refuses a damaged plan object, and a worker with a plan that does not exist, with typed errors', async () => {
    const { adapter, db } = await openPglite(
      'CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE docs (id bigint PRIMARY KEY, v vector(2))',
    );
    try {
      const repo = await memoryRepository();
      await repo.storage.put(planKey('broken', 'plan'), new TextEncoder().encode('{"type":"vectordr-snapshot-plan"'));
      await expectError(repo.snapshotPart(adapter, 'missing', 0, { waitForPlanMs: 0 }), 'PLAN_INVALID');
      await expectError(repo.snapshotPart(adapter, 'broken', 0, { waitForPlanMs: 0 }), 'PLAN_INVALID');
      await expectError(repo.snapshotPart(adapter, '../x', 0), 'INVALID_IDENTIFIER');
      // PGlite (one in-process connection) has no view to export: refused with the capability named.
      const err = await expectError(repo.planSnapshot(adapter, 'docs', { workers: 2 }), 'UNSUPPORTED_OPERATION');
      expect((err as { details?: Record<string, unknown> }).details?.capability).toBe('exportView');
      expect(await repo.locks()).toEqual([]);
      // An adapter without the capability at all: the core refuses before touching the engine.
      const bare = new Proxy(adapter, { get: (t, k) => (k === 'exportView' || k === 'scanRange' ? undefined : Reflect.get(t, k, t)) });
      const e2 = await expectError(repo.planSnapshot(bare, 'docs', { workers: 2 }), 'UNSUPPORTED_OPERATION');
      expect((e2 as { details?: Record<string, unknown> }).details?.capability).toBe('exportView');
      await expectError(repo.planSnapshot(adapter, 'docs', { workers: 0 }), 'INVALID_OPTIONS');
    } finally {
      await db.close();
    }
  });
});
