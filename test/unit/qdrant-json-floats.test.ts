import { describe, expect, it } from 'vitest';
import { restRow, setJsonFloats } from '../../adapters/qdrant/qdrant-vectors.js';
import { EngineError } from '../../src/errors.js';
import type { VectorField } from '../../src/model.js';

// On Node 22+ @qdrant/js-client-rest parses an integer above 2^53 to a bigint (JSON.rawJSON is
// there), so a float vector holding 2^60 arrives as [1.5, 1152921504606846976n]. CI went red on
// exactly this (bfloat16 conformance on Node 24).
const src = { collection: 'c', vector: 'v', point: () => '7' };
const big = 2 ** 60;

describe('REST vectors as the client parses them', () => {
  it('keeps a bigint element exact (the double JSON.parse gives) in dense, sparse and multi rows', () => {
    const dense = new Float32Array(3);
    setJsonFloats(dense, [1.5, BigInt(big), -BigInt(big)], 0, src);
    expect(Array.from(dense)).toEqual([1.5, big, -big]);

    const sparse: VectorField = { name: 'v', kind: 'sparse', metric: 'dot', element: 'float32', nullable: false };
    expect(restRow(sparse, { indices: [9, 2], values: [BigInt(big), 0.25] }, src)).toEqual({
      indices: new Uint32Array([2, 9]),
      values: new Float32Array([0.25, big]),
    });

    const multi: VectorField = { name: 'v', kind: 'multi', dims: 2, metric: 'dot', element: 'float32', nullable: false };
    expect(
      restRow(
        multi,
        [
          [BigInt(big), 1],
          [2, 3],
        ],
        src,
      ),
    ).toEqual(new Float32Array([big, 1, 2, 3]));
  });

  it('refuses what is not a number, and a bigint sparse index, with a typed error naming the point', () => {
    expect(() => setJsonFloats(new Float32Array(2), [1, '2'], 0, src)).toThrow(EngineError);
    expect(() => setJsonFloats(new Float32Array(2), [1, '2'], 0, src)).toThrow(/Point 7 .*string at position 1/);
    const sparse: VectorField = { name: 'v', kind: 'sparse', metric: 'dot', element: 'float32', nullable: false };
    expect(() => restRow(sparse, { indices: [BigInt(2 ** 40)], values: [1] }, src)).toThrow(/not a u32/);
  });
});
