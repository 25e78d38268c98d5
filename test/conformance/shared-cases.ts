/**
 * Cases and checks of the engines that share a trait, which not every engine has (what every engine
 * must do is in adapter-suite.ts): Qdrant and Weaviate read uuid ids case-insensitively, and lack
 * some metrics.
 */
import { expect, it } from 'vitest';
import type { VectorAdapter } from '../../src/adapter.js';
import type { CollectionSchema, Metric, VectorRecord } from '../../src/model.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';
import { expectError } from '../helpers/errors.js';

/**
 * Two ids of one batch that differ only in letter case are one id to the engine: the batch is
 * refused whole. Registers the case, titled with what the engine calls a record (`point`, `object`);
 * `target()` runs when the case does: the adapter, and a name for the collection it creates.
 */
export function itRefusesUuidCaseCollision(record: string, target: () => { adapter: VectorAdapter; collection: string }): void {
  it(`refuses two ids that land on the same ${record} (ID_COLLISION), writing nothing`, async () => {
    const { adapter: a, collection: n } = target();
    const schema: CollectionSchema = { ...testSchema(n), idType: 'uuid' };
    await a.create(schema, { indexes: 'now' });
    const [r0, r1] = makeRecords(2);
    const recs = [
      { ...(r0 as VectorRecord), id: '6F1E0B36-1C4F-4B8E-9D1A-0C3F3B1A2B4C' },
      { ...(r1 as VectorRecord), id: '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c' },
    ];
    await expectError(a.write(n, makeBatch(schema, recs), { mode: 'insert' }), 'ID_COLLISION');
    expect(await a.count(n)).toBe(0);
  });
}

/**
 * An engine without `metric` refuses it, naming the metrics it has (`choices`), and refuses a vector
 * with no metric unless the caller names one (metricForUnindexed), creating nothing. The collections
 * are named `names`; returns the schema without a metric, for what the caller checks next.
 */
export async function expectMetricRefusals(
  a: VectorAdapter,
  names: [string, string],
  metric: Metric,
  choices: string,
): Promise<CollectionSchema> {
  const withMetric = (name: string, m: Metric): CollectionSchema => ({
    ...testSchema(name),
    vectors: [{ name: 'embedding', dims: 4, metric: m, element: 'float32', nullable: false }],
    indexes: [],
  });
  const s1 = withMetric(names[0], metric);
  const err = await expectError(a.create(s1, { indexes: 'now' }), 'UNSUPPORTED_OPERATION');
  expect(err.message).toContain(choices);
  const s2 = withMetric(names[1], 'unspecified');
  expect((await expectError(a.create(s2, { indexes: 'now' }), 'UNSUPPORTED_OPERATION')).message).toContain('metricForUnindexed');
  expect(await a.exists(s2.name)).toBe(false);
  return s2;
}
