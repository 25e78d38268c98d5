/**
 * Milvus adapter: the shared conformance suite against a real Milvus-protocol server (milvus-lite,
 * started by scripts/milvus-server.sh; MILVUS_ADDRESS), Milvus specifics and bad input.
 */
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { milvusAdapter, type MilvusAdapter } from '../../adapters/milvus/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { testAdapter } from '../conformance/adapter-suite.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';

const address = process.env.MILVUS_ADDRESS;
const hasMilvus = engineAvailable('milvus', address !== undefined);

describe.runIf(hasMilvus)('milvus', () => {
  testAdapter({
    name: 'milvus (milvus-lite server over gRPC)',
    rows: 1500,
    create: async () => {
      const adapter = milvusAdapter({ address: address as string });
      return { adapter, cleanup: () => adapter.close() };
    },
  });

  describe('milvus specifics and bad input', () => {
    let adapter: MilvusAdapter;
    let client: MilvusClient;
    const created: string[] = [];
    const name = (p: string): string => {
      const n = randomName(p);
      created.push(n);
      return n;
    };
    beforeAll(() => {
      adapter = milvusAdapter({ address: address as string });
      client = new MilvusClient({ address: address as string, logLevel: 'error' });
    });
    afterAll(async () => {
      for (const c of created) await adapter.drop(c).catch(() => undefined);
      await adapter.close();
      await client.closeConnection();
    });

    it('a missing collection is COLLECTION_NOT_FOUND for describe, scan and count', async () => {
      const missing = randomName('nope');
      await expectError(adapter.describe(missing), 'COLLECTION_NOT_FOUND');
      await expectError(adapter.scan(missing, { batchSize: 10 }), 'COLLECTION_NOT_FOUND');
      await expectError(adapter.count(missing), 'COLLECTION_NOT_FOUND');
    });

    it('dims over the Milvus limit are refused before anything is created', async () => {
      const schema = testSchema(name('big'), 40_000);
      const err = await expectError(adapter.create(schema, { indexes: 'deferred' }), 'DIMENSION_MISMATCH');
      expect(err.message).toContain('at most 32768');
      expect(await adapter.exists(schema.name)).toBe(false);
    });

    it('a string id longer than the key max_length is VALUE_TOO_LONG and nothing is written', async () => {
      const schema = { ...testSchema(name('longid')), idType: 'string' as const, idNativeType: 'VarChar(16)' };
      await adapter.create(schema, { indexes: 'now' });
      const records = makeRecords(3).map((r, i) => ({ ...r, id: i === 2 ? 'x'.repeat(17) : `id-${i}` }));
      const err = await expectError(adapter.write(schema.name, makeBatch(schema, records), { mode: 'insert' }), 'VALUE_TOO_LONG');
      expect(err.message).toContain('at most 16');
      expect(await adapter.count(schema.name)).toBe(0);
    });

    it('sparse, binary and float16 vector fields are refused by name, never dropped', async () => {
      let tested = 0;
      for (const [type, extra] of [
        [DataType.BinaryVector, { dim: 16 }],
        [DataType.Float16Vector, { dim: 8 }],
        [DataType.SparseFloatVector, {}],
      ] as const) {
        const n = name('unsup');
        const res = await client
          .createCollection({
            collection_name: n,
            fields: [
              { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
              { name: 'dense', data_type: DataType.FloatVector, dim: 4 },
              { name: 'odd_vec', data_type: type, ...extra },
            ],
          } as never)
          .catch(() => undefined);
        // milvus-lite has only FloatVector and SparseFloatVector; a type the server lacks cannot be described.
        if (!res || (res.error_code !== 'Success' && res.code !== 0)) continue;
        const err = await expectError(adapter.describe(n), 'UNSUPPORTED_OPERATION');
        expect(err.message).toContain('"odd_vec"');
        tested++;
      }
      expect(tested).toBeGreaterThanOrEqual(1);
    });

    it('keeps uuid ids, datetime/date/bytes payloads and dynamic fields through a snapshot and restore', async () => {
      const schemaName = name('types');
      await client.createCollection({
        collection_name: schemaName,
        fields: [
          { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, autoID: false, max_length: 64 },
          { name: 'v', data_type: DataType.FloatVector, dim: 4 },
          { name: 'small', data_type: DataType.Int8, nullable: true },
          { name: 'tags', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 8, nullable: true },
        ],
        enable_dynamic_field: true,
      } as never);
      await client.createIndex({ collection_name: schemaName, field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 40 } } as never);
      await client.loadCollectionSync({ collection_name: schemaName });
      await client.insert({
        collection_name: schemaName,
        data: [
          { pk: 'a', v: [1, 2, 3, 4], small: 7, tags: ['9007199254740993', '1'], extra: 'dyn', nested: { k: [1, 2] } },
          { pk: 'b"\\q', v: [0, 0, 0, 1], small: null, tags: null },
        ],
      } as never);
      const d = await adapter.describe(schemaName);
      expect(d.idType).toBe('string');
      expect(d.vectors).toEqual([{ name: 'v', dims: 4, metric: 'l2', element: 'float32', nullable: false, nativeType: 'FloatVector(4)' }]);
      expect(d.indexes[0]).toMatchObject({ kind: 'hnsw', field: 'v', metric: 'l2', params: { m: 8, ef_construction: 40 } });
      expect(d.payload.map((p) => [p.name, p.type, p.array])).toEqual([['small', 'int32', false], ['tags', 'int64', true], ['$meta', 'json', false]]);
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      const { manifest } = await repo.snapshot(adapter, schemaName);
      const target = name('types_r');
      await repo.restore(adapter, { collection: schemaName, snapshot: manifest.id, target });
      expect((await repo.verifyParity(adapter, { collection: schemaName, snapshot: manifest.id, live: target })).ok).toBe(true);
      const got = await adapter.fetch(target, ['a', 'b"\\q']);
      expect(got.map((r) => r.payload)).toEqual([{ small: 7, tags: ['9007199254740993', 1], $meta: { extra: 'dyn', nested: { k: [1, 2] } } }, {}]);
      expect((await adapter.describe(target)).indexes[0]).toMatchObject({ kind: 'hnsw', params: { m: 8, ef_construction: 40 }, metric: 'l2' });
    });

    it('rows of every partition are captured, with a warning that partition membership is not', async () => {
      const n = name('parts');
      await client.createCollection({
        collection_name: n,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
          { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        ],
      } as never);
      await client.createIndex({ collection_name: n, field_name: 'v', index_type: 'FLAT', metric_type: 'L2', params: {} } as never);
      await client.createPartition({ collection_name: n, partition_name: 'p1' });
      await client.loadCollectionSync({ collection_name: n });
      await client.insert({ collection_name: n, data: [{ id: 1, v: [1, 0] }] } as never);
      await client.insert({ collection_name: n, partition_name: 'p1', data: [{ id: 2, v: [0, 1] }, { id: 3, v: [1, 1] }] } as never);
      const warnings: string[] = [];
      const noisy = milvusAdapter({ address: address as string, logger: { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_o, m) => warnings.push(String(m)) } });
      try {
        const repo = await openRepository({ storage: memoryStorage(), create: true });
        const { manifest } = await repo.snapshot(noisy, n);
        expect(manifest.rows.upserts).toBe(3);
        expect(warnings.some((w) => w.includes('partitions are not captured'))).toBe(true);
      } finally {
        await noisy.close();
      }
    });

    it('a resumed restore resends the batch after its marker as an upsert (Milvus keeps duplicate keys on insert)', async () => {
      const src = name('resume_src');
      const schema = testSchema(src);
      await adapter.create(schema, { indexes: 'now' });
      await adapter.write(src, makeBatch(schema, makeRecords(600)), { mode: 'insert' });
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      const { manifest } = await repo.snapshot(adapter, src, { segmentBytes: 64 * 1024 });
      expect(manifest.segments.length).toBeGreaterThan(2);
      const target = name('resume_dst');
      const ac = new AbortController();
      let segments = 0;
      await expectError(repo.restore(adapter, { collection: src, target, signal: ac.signal, onProgress: (e) => e.phase === 'segment' && ++segments === 1 && ac.abort() }), 'ABORTED');
      const modes: string[] = [];
      const spy = Object.create(adapter) as MilvusAdapter;
      spy.write = (c, b, o) => {
        modes.push(o.mode);
        return adapter.write(c, b, o);
      };
      const r = await repo.restore(spy, { collection: src, target });
      expect(r.resumed).toBe(true);
      expect(modes[0]).toBe('upsert');
      expect(modes.slice(1).every((m) => m === 'insert')).toBe(true);
      expect(await adapter.count(target)).toBe(600);
    });

    it('a $meta that is not an object, or a dynamic key named like a field, is refused and nothing is written', async () => {
      const schema = { ...testSchema(name('dyn_bad')), payload: [...testSchema('x').payload, { name: '$meta', type: 'json' as const, array: false, nullable: true }] };
      await adapter.create(schema, { indexes: 'now' });
      const bad1 = makeRecords(2).map((r) => ({ ...r, payload: { ...r.payload, $meta: [1, 2] } }));
      await expectError(adapter.write(schema.name, makeBatch(schema, bad1), { mode: 'insert' }), 'SCHEMA_MISMATCH');
      const bad2 = makeRecords(2).map((r) => ({ ...r, payload: { ...r.payload, $meta: { title: 'clash' } } }));
      await expectError(adapter.write(schema.name, makeBatch(schema, bad2), { mode: 'insert' }), 'SCHEMA_MISMATCH');
      expect(await adapter.count(schema.name)).toBe(0);
    });

    it('a restore marker lives in the collection properties and is cleared at the end', async () => {
      const schema = testSchema(name('marker'));
      await adapter.create(schema, { indexes: 'now' });
      await adapter.writeMarker(schema.name, 'vectordr-restore/v1 X 1 0 i');
      expect(await adapter.readMarker(schema.name)).toBe('vectordr-restore/v1 X 1 0 i');
      await adapter.writeMarker(schema.name, undefined);
      expect(await adapter.readMarker(schema.name)).toBeUndefined();
    });

    it('probe reports health and version', async () => {
      const p = await adapter.probe();
      expect(p).toMatchObject({ reachable: true, role: 'primary' });
      expect(p.engineVersion).toMatch(/\d/);
      const down = milvusAdapter({ address: '127.0.0.1:9' });
      expect((await down.probe()).reachable).toBe(false);
      await down.close();
    });

    it('invalid options are refused', () => {
      expect(() => milvusAdapter({} as never)).toThrow(/exactly one of client or address/);
      expect(() => milvusAdapter({ address: 'x:1', insertBatchBytes: 10 })).toThrow(/Invalid Milvus adapter options/);
    });
  });
});
