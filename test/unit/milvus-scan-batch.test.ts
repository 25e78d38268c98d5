/**
 * rowsToBatch (adapters/milvus/milvus-scan.ts): a float vector column takes the page's chunk as its
 * own buffer when the rows' vectors are exactly that buffer, in order (QueryRequest.chunkRows), and
 * copies them in every other case; the batch says its buffers are its own either way.
 */
import { describe, expect, it } from 'vitest';
import { rowsToBatch } from '../../adapters/milvus/milvus-scan.js';
import { type CollectionSchema, isFloat32Column } from '../../src/model.js';

const DIMS = 3;
const schema: CollectionSchema = {
  name: 'c',
  idField: 'id',
  idType: 'int64',
  vectors: [{ name: 'v', dims: DIMS, metric: 'cosine', element: 'float32', nullable: false }],
  payload: [],
  indexes: [],
};

/** Rows 1..n whose vectors are views of `buffer` at `offsets` (in vectors). */
function rowsOver(buffer: Float32Array, offsets: number[]): Record<string, unknown>[] {
  return offsets.map((o, i) => ({ id: String(i + 1), v: buffer.subarray(o * DIMS, (o + 1) * DIMS) }));
}

function column(rows: Record<string, unknown>[]): Float32Array {
  const batch = rowsToBatch(schema, rows);
  expect(batch.exclusive).toBe(true);
  const col = batch.vectors.v;
  if (!col || !isFloat32Column(col)) throw new Error('no float32 column');
  return col.data;
}

const values = (n: number): Float32Array => Float32Array.from({ length: n * DIMS }, (_, i) => (i % 7 === 4 ? -0 : i / 8));

describe('milvus rowsToBatch: float vectors', () => {
  it('takes a buffer that is exactly the rows vectors, in order, without a copy', () => {
    const chunk = values(4);
    const data = column(rowsOver(chunk, [0, 1, 2, 3]));
    expect(data.buffer).toBe(chunk.buffer);
    expect(data.length).toBe(4 * DIMS);
  });

  it('copies when the rows are not the whole buffer in order, with the same values', () => {
    const chunk = values(4);
    const cases: Record<string, unknown>[][] = [
      rowsOver(chunk, [0, 1, 2]), // a prefix: the buffer is longer than the batch
      rowsOver(chunk, [1, 2, 3]), // not from the start
      rowsOver(chunk, [0, 2, 1, 3]), // out of order
      rowsOver(chunk, [0, 1, 1, 3]), // one vector twice
      [...rowsOver(chunk, [0, 1, 2]), { id: '4', v: values(1) }], // the last from another buffer
      rowsOver(chunk, [0, 1, 2, 3]).map((r) => ({ ...r, v: Array.from(r.v as Float32Array) })), // plain numbers
    ];
    for (const rows of cases) {
      const data = column(rows);
      expect(data.buffer).not.toBe(chunk.buffer);
      const expected = rows.flatMap((r) => Array.from(r.v as ArrayLike<number>));
      expect(Array.from(data)).toEqual(expected);
      expect(data.every((x, i) => Object.is(x, expected[i]))).toBe(true);
    }
  });

  it('a vector of the wrong length is refused whether or not the others were taken', () => {
    const chunk = values(2);
    const rows = rowsOver(chunk, [0, 1]);
    rows.push({ id: '3', v: new Float32Array(DIMS + 1) });
    expect(() => rowsToBatch(schema, rows)).toThrow(/vector v has 4 values, expected 3/);
  });
});
