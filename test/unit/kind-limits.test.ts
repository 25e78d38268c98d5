/**
 * Dimension limits by kind (issue 20): `capabilities.maxDimsOf` (binary counts bits, sparse declares
 * an index space, neither is held to `maxDims`), and invariant 8 re-checked on each decoded segment
 * before a restore writes it.
 */
import { describe, expect, it } from 'vitest';
import { defineCapabilities, maxDimsFor } from '../../src/adapter.js';
import { isVectordrError } from '../../src/errors.js';
import type { RecordBatch, SparseColumn, VectorField } from '../../src/model.js';
import { checkSparseRows, undecidedSparseFields } from '../../src/restore/sparse-rows.js';

const SPARSE: VectorField = { name: 's', kind: 'sparse', dims: 100, metric: 'dot', element: 'float32', nullable: true };

function sparseBatch(indices: number[][]): RecordBatch {
  const offsets = new Uint32Array(indices.length + 1);
  indices.forEach((row, i) => (offsets[i + 1] = (offsets[i] as number) + row.length));
  const col: SparseColumn = {
    kind: 'sparse',
    dims: 100,
    offsets,
    indices: Uint32Array.from(indices.flat()),
    values: Float32Array.from(indices.flat(), () => 1),
  };
  return { length: indices.length, ids: BigInt64Array.from(indices.map((_, i) => BigInt(i + 1))), vectors: { s: col }, payloads: [] };
}

describe('dimension limits by kind', () => {
  it('maxDimsFor: maxDims for dense and multi unless an element is named; sparse only when named', () => {
    const plain = defineCapabilities({ idTypes: ['int64'], maxDims: 16_000 });
    expect(maxDimsFor(plain, { element: 'binary' })).toBe(16_000);
    expect(maxDimsFor(plain, { kind: 'sparse', element: 'float32' })).toBeUndefined();
    const pg = defineCapabilities({ idTypes: ['int64'], maxDims: 16_000, maxDimsOf: { binary: 16_777_216, sparse: 1_000_000_000 } });
    expect(maxDimsFor(pg, { element: 'float32' })).toBe(16_000);
    expect(maxDimsFor(pg, { element: 'float16' })).toBe(16_000);
    expect(maxDimsFor(pg, { element: 'binary' })).toBe(16_777_216);
    expect(maxDimsFor(pg, { kind: 'multi', element: 'float32' })).toBe(16_000);
    expect(maxDimsFor(pg, { kind: 'sparse', element: 'float32' })).toBe(1_000_000_000);
    // A key from the prototype is no limit.
    expect(maxDimsFor({ maxDims: 5, maxDimsOf: JSON.parse('{"__proto__": {"binary": 1}}') as object }, { element: 'binary' })).toBe(5);
  });

  it('only sparse fields without a count need their rows read before the target is created', () => {
    const pg = defineCapabilities({ idTypes: ['int64'], maxDims: 16_000, maxDimsOf: { sparse: 1_000_000_000 } });
    const schema = {
      name: 'c',
      idField: 'id',
      idType: 'int64' as const,
      payload: [],
      indexes: [],
      vectors: [SPARSE, { ...SPARSE, name: 'u', dims: undefined }],
    };
    expect(undecidedSparseFields(schema, pg)).toEqual([{ name: 'u', limit: 1_000_000_000 }]);
    expect(undecidedSparseFields(schema, defineCapabilities({ idTypes: ['int64'], maxDims: 16_000 }))).toEqual([]);
  });

  it('a decoded segment whose sparse indices are out of order, repeated or past the count is SEGMENT_CORRUPT before it is written', () => {
    expect(() => checkSparseRows(sparseBatch([[1, 5], [], [0, 99]]), [SPARSE], 'data/ok')).not.toThrow();
    for (const bad of [
      [
        [1, 5],
        [7, 3],
      ],
      [[2, 2]],
      [[100]],
    ]) {
      let caught: unknown;
      try {
        checkSparseRows(sparseBatch(bad), [SPARSE], 'data/bad');
      } catch (err) {
        caught = err;
      }
      expect(isVectordrError(caught, 'SEGMENT_CORRUPT')).toBe(true);
      expect((caught as Error).message).toContain('data/bad');
    }
  });
});
