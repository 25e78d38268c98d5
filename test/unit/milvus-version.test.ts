/** What the Milvus adapter decides from the version a server reports (adapters/milvus/milvus-version.ts). */
import { describe, expect, it } from 'vitest';
import { milvusServerInfo } from '../../adapters/milvus/milvus-version.js';
import { queryToMilvus, reverseBits, sparseFromMilvus, sparseToMilvus } from '../../adapters/milvus/milvus-vectors.js';
import type { VectordrError } from '../../src/errors.js';
import { expectError } from '../helpers/errors.js';

describe('milvusServerInfo', () => {
  it.each([
    ['v2.3.5-lite', false, false],
    ['v2.3.0', false, false],
    ['v2.4.17', false, false],
    ['v2.5.0', true, true],
    ['2.6.3', true, true],
    ['v3.0.0', true, true],
    ['milvus_lite-3.2.2', true, true],
    ['Zilliz Cloud (compatible with Milvus 2.4)', false, false],
    ['something else', true, true],
  ])('%s: nullable fields %s, dropCollectionProperties %s', (version, nullable, drop) => {
    expect(milvusServerInfo(version)).toMatchObject({ version, nullableFields: nullable, dropProperties: drop });
  });

  it('reads key 2^63-1 back on milvus-lite only', () => {
    expect(milvusServerInfo('milvus_lite-3.2.2').readsMaxInt64Key).toBe(true);
    expect(milvusServerInfo('v2.3.5-lite').readsMaxInt64Key).toBe(false);
  });

  it('serialises writes on milvus-lite only', () => {
    expect(milvusServerInfo('milvus_lite-3.2.2').serialWrites).toBe(true);
    expect(milvusServerInfo('v2.3.5-lite').serialWrites).toBe(false);
    expect(milvusServerInfo('v2.5.4').serialWrites).toBe(false);
  });

  it.each([
    ['milvus_lite-3.2.2', ['float32'], true, true],
    ['v2.3.5-lite', ['float32', 'float16', 'binary'], false, false],
    ['v2.4.17', ['float32', 'float16', 'binary'], true, true],
    ['something else', ['float32', 'float16', 'binary'], true, true],
  ])('%s stores dense %j, sparse %s; float16 search and writes into a loaded collection: %s', (version, dense, sparse, float16Search) => {
    const info = milvusServerInfo(version);
    expect(info.vectorKinds).toEqual({ dense, sparse, multi: [] });
    expect(info.float16Search).toBe(float16Search);
    expect(info.float16WhileLoaded).toBe(float16Search);
  });

  it.each(['v2.2.16', 'v2.1.4', '1.1.0'])('refuses %s, naming it and the minimum', async (version) => {
    const err = await expectError(
      Promise.resolve().then(() => milvusServerInfo(version)),
      'UNSUPPORTED_OPERATION',
    );
    expect(err.message).toContain(JSON.stringify(version));
    expect((err as VectordrError).details).toMatchObject({ version, minimum: '2.3.0' });
  });
});

describe('Milvus vector values', () => {
  it('reverses the bits of every byte: Milvus dimension i is bit i % 8 (least significant first), the neutral model most significant first', () => {
    expect(reverseBits([0x80, 0x01, 0b1100_0000, 0xff, 0])).toEqual([0x01, 0x80, 0b0000_0011, 0xff, 0]);
    const all = Array.from({ length: 256 }, (_, b) => b);
    expect(reverseBits(reverseBits(all))).toEqual(all);
  });

  it('reads a sparse row in ascending index order, and refuses weights Milvus would not give back', async () => {
    expect(sparseFromMilvus({ '40': 1, '3': 0.5, '4294967294': 2 })).toEqual({
      indices: Uint32Array.from([3, 40, 4_294_967_294]),
      values: Float32Array.from([0.5, 1, 2]),
    });
    expect(sparseToMilvus([1, 5], [0.5, 2], 's', '1')).toEqual({ indices: [1, 5], values: [0.5, 2] });
    for (const [indices, values, dims] of [
      [[], [], undefined],
      [[1], [0], undefined],
      [[1], [-1], undefined],
      [[1], [Number.NaN], undefined],
      [[4_294_967_295], [1], undefined],
      [[1000], [1], 1000],
    ] as const) {
      const err = await expectError(
        Promise.resolve().then(() => sparseToMilvus(indices, values, 's', '7', dims)),
        'INVALID_VECTOR',
      );
      expect(err.message).toContain('Row 7: sparse vector "s"');
    }
  });

  it("takes a query of the field's kind only", async () => {
    const binary = { name: 'b', element: 'binary' as const };
    expect(queryToMilvus({ dense: { kind: 'dense', element: 'binary', data: Uint8Array.from([0x80]) } }, binary)).toEqual([0x01]);
    expect(queryToMilvus(Float32Array.from([1, 2]), { name: 'f', element: 'float32' })).toEqual([1, 2]);
    const half = queryToMilvus(
      { dense: { kind: 'dense', element: 'float16', data: Uint16Array.from([0x3c00]) } },
      { name: 'h', element: 'float16' },
    );
    expect(Array.from(half as Buffer)).toEqual([0x00, 0x3c]);
    await expectError(
      Promise.resolve().then(() => queryToMilvus(Float32Array.from([1]), binary)),
      'INVALID_ARGUMENT',
    );
  });
});
