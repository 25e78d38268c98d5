/** Deterministic test data: the same seed gives the same vectors and payloads on every engine. */
import type { CollectionSchema, Payload, PayloadField, PayloadType, RecordBatch, VectorRecord } from '../../src/model.js';
import { batchFromRecords } from '../../src/model.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Payload field types by name, `[]` marking an array: `{ title: 'string', tags: 'string[]' }`. */
export type FieldTypes = Record<string, PayloadType | `${PayloadType}[]`>;

/**
 * Nullable payload fields, in the order written: `nullableFields({ title: 'string', tags: 'string[]' })`
 * (`[]` marks an array). A name that reads as an array index ('1') would move first: use none.
 */
export function nullableFields(types: FieldTypes): PayloadField[] {
  return Object.entries(types).map(([name, t]) => ({
    name,
    type: t.replace(/\[\]$/, '') as PayloadType,
    array: t.endsWith('[]'),
    nullable: true,
  }));
}

export function testSchema(name: string, dims = 16): CollectionSchema {
  return {
    name,
    idField: 'id',
    idType: 'int64',
    vectors: [{ name: 'embedding', dims, metric: 'cosine', element: 'float32', nullable: false }],
    payload: nullableFields({ title: 'string', n: 'int64', score: 'float64', flag: 'bool', tags: 'string[]', meta: 'json' }),
    indexes: [{ kind: 'hnsw', field: 'embedding', metric: 'cosine', params: { m: 8, ef_construction: 32 } }],
  };
}

export function makeRecords(count: number, dims = 16, seed = 1, firstId = 1n): VectorRecord[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const v = new Float32Array(dims);
    for (let d = 0; d < dims; d++) v[d] = r() * 2 - 1;
    const payload: Payload = {
      title: `doc ${i} ✓ "quoted"`,
      n: i * 1000,
      score: r(),
      flag: i % 2 === 0,
      tags: ['a', `t${i % 5}`],
      meta: { k: i, nested: { ok: true } },
    };
    if (i % 7 === 3) delete payload.title; // absent == null
    return { id: firstId + BigInt(i), vectors: { embedding: v }, payload };
  });
}

export function makeBatch(schema: CollectionSchema, records: VectorRecord[]): RecordBatch {
  return batchFromRecords(schema, records);
}
