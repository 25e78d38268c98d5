/**
 * Parity in `cosine: 'normalized'` mode: a collection whose cosine vectors were normalised by the
 * engine (as Qdrant does on write) has parity with the snapshot of the raw vectors within a
 * tolerance; ids, payloads and a vector that really changed are still caught. On PGlite.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter, type PgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { VectorRecord } from '../../src/model.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';
import { engineAvailable } from '../helpers/engines.js';

const hasPglite = engineAvailable('pglite', true);

/** Normalises in float32 arithmetic, as Qdrant does. */
function f32Normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s = Math.fround(s + Math.fround(x * x));
  const n = Math.fround(Math.sqrt(s));
  return v.map((x) => Math.fround(x / n));
}

describe.runIf(hasPglite)('verifyParity with normalised cosine vectors', () => {
  let db: PGlite;
  let a: PgvectorAdapter;
  let repo: Repository;
  let records: VectorRecord[];
  let snapshot: string;
  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    a = pgvectorAdapter({ pglite: db });
    repo = await openRepository({ storage: memoryStorage(), create: true });
    records = makeRecords(300, 16, 5);
    await a.create(testSchema('raw'), { indexes: 'now' });
    await a.write('raw', makeBatch(testSchema('raw'), records), { mode: 'insert' });
    snapshot = (await repo.snapshot(a, 'raw')).manifest.id;
    const normalised = records.map((r) => ({ ...r, vectors: { embedding: f32Normalize(r.vectors.embedding as Float32Array) } }));
    await a.create(testSchema('unit'), { indexes: 'now' });
    await a.write('unit', makeBatch(testSchema('unit'), normalised), { mode: 'insert' });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('exact mode sees every normalised vector as changed', async () => {
    const p = await repo.verifyParity(a, { collection: 'raw', snapshot, live: 'unit', cosine: 'exact' });
    expect(p.ok).toBe(false);
    expect(p.vectors.mode).toBe('exact');
  });

  it('normalized mode has parity within the tolerance, and reports the largest difference', async () => {
    const p = await repo.verifyParity(a, { collection: 'raw', snapshot, live: 'unit', cosine: 'normalized' });
    expect(p.ok, JSON.stringify(p)).toBe(true);
    expect(p.vectors).toMatchObject({ mode: 'normalized', fields: ['embedding'], tolerance: 1e-5 });
    expect(p.vectors.maxDifference).toBeGreaterThan(0);
    expect(p.vectors.maxDifference).toBeLessThan(1e-6);
  });

  it('normalized mode still names a changed payload, a changed direction, and a missing record', async () => {
    const [r0, r1, r2] = records as [VectorRecord, VectorRecord, VectorRecord];
    const turned = f32Normalize((r1.vectors.embedding as Float32Array).map((x, i) => (i === 0 ? x + 0.01 : x)));
    await a.write(
      'unit',
      makeBatch(testSchema('unit'), [
        { ...r0, vectors: { embedding: f32Normalize(r0.vectors.embedding as Float32Array) }, payload: { ...r0.payload, title: 'x' } },
        { ...r1, vectors: { embedding: turned } },
      ]),
      { mode: 'upsert' },
    );
    await a.delete('unit', [r2.id]);
    const p = await repo.verifyParity(a, { collection: 'raw', snapshot, live: 'unit', cosine: 'normalized' });
    expect(p.ok).toBe(false);
    expect([...p.changed].sort()).toEqual([r0.id, r1.id].sort());
    expect(p.missing).toEqual([r2.id]);
  });
});
