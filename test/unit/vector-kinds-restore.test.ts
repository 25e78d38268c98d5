/**
 * Vector kinds end to end, in memory: snapshot of every kind, restore planned by the target's
 * `capabilities.vectorKinds` (as is, exact widening, named conversion, left out, refused before
 * writing), parity of widened fields after exact re-narrowing, recall by each kind's similarity.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { VectorKindCapability } from '../../src/adapter.js';
import { type CollectionSchema, type VectorField, type VectorRecord, batchFromRecords } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { expectError } from '../helpers/errors.js';
import { kindSchema, memoryAdapter } from '../helpers/memory-adapter.js';
import { expectSameRecords } from '../helpers/records.js';
import { memoryRepository } from '../helpers/repository.js';
import { KIND_FIELDS, randomVector, rng } from '../helpers/segment-gen.js';

const FLOAT32_ONLY: VectorKindCapability = { dense: ['float32'], sparse: false, multi: [] };

function records(schema: CollectionSchema, n: number, seed: number): VectorRecord[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: BigInt(i + 1),
    vectors: Object.fromEntries(schema.vectors.map((f) => [f.name, i % 9 === 4 ? null : randomVector(f as VectorField, r)])),
    payload: { title: `doc ${i}` },
  }));
}

describe('vector kinds: restore planning, parity and recall', () => {
  const source = memoryAdapter();
  const schema = kindSchema('kinds', KIND_FIELDS);
  const denseSchema = kindSchema(
    'dense_kinds',
    KIND_FIELDS.filter((f) => f.kind === undefined && f.element !== 'binary'),
  );
  let repo: Repository;
  let all: VectorRecord[];

  beforeAll(async () => {
    repo = await memoryRepository();
    for (const s of [schema, denseSchema]) {
      await source.create(s, { indexes: 'now' });
      const recs = records(s, 120, s === schema ? 1 : 2);
      if (s === schema) all = recs;
      await source.write(s.name, batchFromRecords(s, recs), { mode: 'upsert' });
      await repo.snapshot(source, s.name);
    }
  });

  it('a snapshot of other kinds than dense float32 carries feature vector-kinds', async () => {
    expect((await repo.readManifest('kinds', 'latest')).features).toEqual(['vector-kinds']);
    expect((await repo.readManifest('dense_kinds', 'latest')).features).toEqual(['vector-kinds']);
  });

  it('into an engine that stores every kind: as is, exactly, with parity and recall by each kind', async () => {
    const target = memoryAdapter();
    const result = await repo.restore(target, { collection: 'kinds' });
    expect(result.notCarriedOver).toEqual([]);
    const back = await target.fetch(
      'kinds',
      all.map((r) => r.id),
    );
    expectSameRecords(back, all, {});
    expect((await repo.verifyParity(target, { collection: 'kinds' })).ok).toBe(true);
    for (const f of KIND_FIELDS) {
      const recall = await repo.verifyRecall(target, { collection: 'kinds', vector: f.name, k: 5, queries: 10 });
      expect(recall.recall, f.name).toBe(1);
    }
  });

  it('into a float32-only engine: refused before anything is written, naming the field, its kind, what the target stores and the option', async () => {
    const target = memoryAdapter(FLOAT32_ONLY);
    const err = await expectError(repo.restore(target, { collection: 'kinds' }), 'UNSUPPORTED_OPERATION');
    expect(err.message).toMatch(/"bits" is binary; memory stores dense float32, and bits are never widened implicitly/);
    expect(err.message).toMatch(/convertVectors: \{ "bits": 'float32' \}|omitVectors: \["bits"\]/);
    expect(target.collections.size).toBe(0);
    const sparse = await expectError(
      repo.restore(target, { collection: 'kinds', convertVectors: { bits: 'float32' } }),
      'UNSUPPORTED_OPERATION',
    );
    expect(sparse.message).toMatch(/"sparse" is sparse; .*omitVectors: \["sparse"\]/);
    expect(target.collections.size).toBe(0);
  });

  it('with the options named: widened exactly, converted and left out, each listed in notCarriedOver', async () => {
    const target = memoryAdapter(FLOAT32_ONLY);
    const result = await repo.restore(target, {
      collection: 'kinds',
      convertVectors: { bits: 'float32' },
      omitVectors: ['sparse', 'multi'],
    });
    const listed = result.notCarriedOver.map((n) => `${n.name} ${n.action}`);
    expect(listed.sort()).toEqual(
      [
        '"bits" converted',
        '"brain" converted',
        '"bytes" converted',
        '"half" converted',
        '"signed" converted',
        '"multi" dropped',
        '"sparse" dropped',
      ]
        .map((s) => `vector ${s}`)
        .sort(),
    );
    expect(result.notCarriedOver.find((n) => n.name === 'vector "half"')?.reason).toMatch(/float16 vectors stored as float32, exactly/);
    expect(result.notCarriedOver.find((n) => n.name === 'vector "bits"')?.reason).toMatch(
      /binary vectors stored as float32 \(convertVectors\)/,
    );
    const stored = target.collections.get('kinds');
    expect(stored?.schema.vectors.map((v) => `${v.name}:${v.element}`)).toEqual([
      'dense:float32',
      'half:float32',
      'brain:float32',
      'bytes:float32',
      'signed:float32',
      'bits:float32',
    ]);
  });

  it('parity compares an exactly widened field as its source kind, and finds a value changed in the engine', async () => {
    const target = memoryAdapter(FLOAT32_ONLY);
    const result = await repo.restore(target, { collection: 'dense_kinds' });
    expect(result.notCarriedOver.map((n) => n.action)).toEqual(['converted', 'converted', 'converted', 'converted']);
    expect((await repo.verifyParity(target, { collection: 'dense_kinds' })).ok).toBe(true);
    const recall = await repo.verifyRecall(target, { collection: 'dense_kinds', vector: 'half', k: 5, queries: 10 });
    expect(recall.recall).toBe(1);
    // 0.1 is no float16: the re-narrowing is not exact, so the record differs.
    const row = [...(target.collections.get('dense_kinds')?.rows.values() ?? [])].find((r) => r.vectors.half);
    (row?.vectors.half as Float32Array)[0] = 0.1;
    const parity = await repo.verifyParity(target, { collection: 'dense_kinds' });
    expect(parity.ok).toBe(false);
  });

  it('a lossy narrowing is never implicit; named, it is done and counted', async () => {
    const target = memoryAdapter({ dense: ['float16', 'bfloat16', 'uint8', 'int8'], sparse: false, multi: [] });
    const err = await expectError(repo.restore(target, { collection: 'dense_kinds', target: 'narrow' }), 'UNSUPPORTED_OPERATION');
    expect(err.message).toMatch(
      /"dense" is float32; memory stores dense float16\/bfloat16\/uint8\/int8\. Nothing was written\. Pass convertVectors: \{ "dense": 'float16' \}/,
    );
    const result = await repo.restore(target, {
      collection: 'dense_kinds',
      target: 'narrow',
      convertVectors: { dense: 'float16', bytes: 'float16' },
    });
    const dense = result.notCarriedOver.find((n) => n.name === 'vector "dense"');
    expect(dense?.reason).toMatch(/float32 vectors stored as float16 \(convertVectors\); \d+ vectors changed by the conversion/);
    expect(Number(/; (\d+) vectors changed/.exec(dense?.reason ?? '')?.[1])).toBeGreaterThan(0);
    // uint8 and int8 fit float16 exactly: nothing changed.
    expect(result.notCarriedOver.find((n) => n.name === 'vector "bytes"')?.reason).toMatch(/; 0 vectors changed/);
  });

  it('refuses options that name no field, and omitting every vector', async () => {
    const target = memoryAdapter();
    await expectError(repo.restore(target, { collection: 'kinds', omitVectors: ['nope'] }), 'INVALID_OPTIONS');
    await expectError(repo.restore(target, { collection: 'kinds', omitVectors: KIND_FIELDS.map((f) => f.name) }), 'INVALID_OPTIONS');
    expect(target.collections.size).toBe(0);
  });
});
