/**
 * Weaviate adapter: the shared conformance suite against a real Weaviate (weaviate-server built
 * from its Go module by scripts/weaviate-server.sh; WEAVIATE_URL, WEAVIATE_GRPC), Weaviate
 * specifics and bad input.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type WeaviateAdapter, weaviateAdapter } from '../../adapters/weaviate/index.js';
import { canonicalPayload, parseExactJson } from '../../src/format/canonical-json.js';
import { idToUuid } from '../../src/id-mapping.js';
import { type CollectionSchema, type PayloadField, type VectorRecord, recordAt } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { testAdapter } from '../conformance/adapter-suite.js';
import { expectMetricRefusals, itRefusesUuidCaseCollision } from '../conformance/shared-cases.js';
import { makeBatch, makeRecords, nullableFields, testSchema } from '../helpers/data.js';
import { createdNames, engineAvailable, randomName } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { memoryRepository } from '../helpers/repository.js';
import { weaviateRest } from '../helpers/weaviate.js';

const url = process.env.WEAVIATE_URL;
const grpcAddress = process.env.WEAVIATE_GRPC;
const hasWeaviate = engineAvailable('weaviate', url !== undefined && grpcAddress !== undefined);

const rest = weaviateRest;

/** Every record of a scan, in scan order. */
async function scanAll(adapter: WeaviateAdapter, collection: string): Promise<VectorRecord[]> {
  const session = await adapter.scan(collection, { batchSize: 5 });
  const out: VectorRecord[] = [];
  try {
    for await (const b of session.batches()) for (let i = 0; i < b.length; i++) out.push(recordAt(b, i));
  } finally {
    await session.close();
  }
  return out;
}

function vec(dims: number, seed: number): number[] {
  return Array.from({ length: dims }, (_, d) => Math.fround(Math.sin(seed * 31 + d)));
}

describe.runIf(hasWeaviate)('weaviate', () => {
  testAdapter({
    name: 'weaviate (weaviate-server over REST + gRPC)',
    rows: 1500,
    create: async () => {
      const adapter = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string });
      return { adapter, cleanup: () => adapter.close() };
    },
  });

  describe('weaviate specifics and bad input', () => {
    let a: WeaviateAdapter;
    let repo: Repository;
    const { name, created } = createdNames();
    beforeAll(async () => {
      a = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string });
      repo = await memoryRepository();
    });
    afterAll(async () => {
      for (const c of created) await a.drop(c).catch(() => undefined);
      await a.close();
    });

    it('capitalises collection names as Weaviate does, and refuses names it cannot hold before creating anything', async () => {
      const n = name('lower');
      await a.create(testSchema(n), { indexes: 'now' });
      expect((await rest('GET', `/v1/schema/${n.charAt(0).toUpperCase()}${n.slice(1)}`)).status).toBe(200);
      expect(await a.exists(n)).toBe(true);
      const err = await expectError(a.create(testSchema('my-docs.v2'), { indexes: 'now' }), 'INVALID_IDENTIFIER');
      expect(err.message).toContain('"My_docs_v2"');
      await expectError(a.exists('my docs'), 'INVALID_IDENTIFIER');
    });

    it('renames property and vector names Weaviate cannot hold by the documented rule, and gives the originals back', async () => {
      const n = name('names');
      const schema: CollectionSchema = {
        ...testSchema(n),
        vectors: [{ name: 'text-embedding', dims: 4, metric: 'l2', element: 'float32', nullable: false }],
        indexes: [],
        payload: nullableFields({ id: 'string', Title: 'string', '2nd': 'int32', 'with space': 'string', vdr_id: 'string' }),
      };
      await a.create(schema, { indexes: 'now' });
      const cls = (await rest('GET', `/v1/schema/${n.charAt(0).toUpperCase()}${n.slice(1)}`)).json;
      expect((cls.properties as { name: string }[]).map((p) => p.name).sort()).toEqual([
        '_2nd',
        'id_',
        'title',
        'vdr_id',
        'vdr_id_',
        'with_space',
      ]);
      expect(Object.keys(cls.vectorConfig as object)).toEqual(['text_embedding']);
      const d = await a.describe(n);
      expect(d.payload.map((p) => p.name)).toEqual(['id', 'Title', '2nd', 'with space', 'vdr_id']);
      expect(d.vectors.map((v) => [v.name, v.metric])).toEqual([['text-embedding', 'l2']]);
      const rec: VectorRecord = {
        id: 7n,
        vectors: { 'text-embedding': new Float32Array([1, 2, 3, 4]) },
        payload: { id: 'x', Title: 'T', '2nd': 2, 'with space': 's', vdr_id: 'mine' },
      };
      await a.write(n, makeBatch(schema, [rec]), { mode: 'insert' });
      const [got] = await a.fetch(n, [7n]);
      expect(got?.id).toBe(7n);
      expect(got?.payload).toEqual(rec.payload);
    });

    it('refuses two names that collide after renaming, before anything is created', async () => {
      const n = name('collide');
      const schema: CollectionSchema = {
        ...testSchema(n),
        payload: [
          { name: 'a-b', type: 'string', array: false, nullable: true },
          { name: 'a_b', type: 'string', array: false, nullable: true },
        ],
      };
      const err = await expectError(a.create(schema, { indexes: 'now' }), 'SCHEMA_MISMATCH');
      expect(err.message).toContain('"a-b" and "a_b"');
      expect(await a.exists(n)).toBe(false);
    });

    it(
      'snapshots a Weaviate-native collection (UUIDs, every property type, two named vectors, a ' +
        'vectorizer) and restores it faithfully',
      async () => {
        const n = name('native');
        const cls = `${n.charAt(0).toUpperCase()}${n.slice(1)}`;
        const created = await rest('POST', '/v1/schema', {
          class: cls,
          description: 'support articles',
          properties: [
            { name: 'title', dataType: ['text'], tokenization: 'lowercase' },
            { name: 'body', dataType: ['text'], indexFilterable: false },
            { name: 'views', dataType: ['int'] },
            { name: 'rating', dataType: ['number'] },
            { name: 'live', dataType: ['boolean'] },
            { name: 'published', dataType: ['date'] },
            { name: 'owner', dataType: ['uuid'] },
            { name: 'tags', dataType: ['text[]'] },
            { name: 'counts', dataType: ['int[]'] },
            { name: 'where', dataType: ['geoCoordinates'] },
            {
              name: 'author',
              dataType: ['object'],
              nestedProperties: [
                { name: 'name', dataType: ['text'] },
                { name: 'age', dataType: ['int'] },
              ],
            },
          ],
          vectorConfig: {
            content: {
              vectorizer: { 'text2vec-openai': { sourceProperties: ['body'] } },
              vectorIndexType: 'hnsw',
              vectorIndexConfig: { distance: 'dot', maxConnections: 12, efConstruction: 96 },
            },
            title_vec: { vectorizer: { none: {} }, vectorIndexType: 'flat', vectorIndexConfig: { distance: 'l2-squared' } },
          },
          invertedIndexConfig: { indexTimestamps: true },
        });
        expect(created.status, JSON.stringify(created.json)).toBe(200);
        const uuids: string[] = [];
        for (let i = 0; i < 30; i++) {
          const id = idToUuid(`obj-${i}`, 'string'); // any UUIDs
          uuids.push(id);
          const r = await rest('POST', '/v1/objects', {
            class: cls,
            id,
            properties: {
              title: `Title ${i}`,
              body: `body ${i} ✓`,
              views: i * 10,
              rating: i / 3,
              live: i % 2 === 0,
              published: `2024-03-0${(i % 9) + 1}T10:11:12.${String(123456 + i)}Z`,
              owner: idToUuid(BigInt(i), 'int64'),
              tags: ['a', `t${i % 3}`],
              counts: [i, i + 1],
              where: { latitude: 52.5 + i / 100, longitude: 13.4 },
              author: { name: `A${i}`, age: 30 + i },
            },
            vectors: { content: vec(8, i), title_vec: vec(3, i + 100) },
          });
          expect(r.status, JSON.stringify(r.json)).toBe(200);
        }
        const d = await a.describe(n);
        expect(d.idType).toBe('uuid');
        expect(d.vectors.map((v) => [v.name, v.dims, v.metric])).toEqual([
          ['content', 8, 'dot'],
          ['title_vec', 3, 'l2'],
        ]);
        expect(JSON.parse(d.vectors[0]?.nativeType ?? '{}')).toEqual({
          vectorizer: { 'text2vec-openai': expect.objectContaining({ sourceProperties: ['body'] }) },
        });
        expect(d.indexes.map((i) => [i.field, i.kind, i.params])).toEqual([
          ['content', 'hnsw', { m: 12, ef_construction: 96 }],
          ['title_vec', 'flat', {}],
        ]);
        expect(Object.fromEntries(d.payload.map((p) => [p.name, `${p.type}${p.array ? '[]' : ''}`]))).toEqual({
          title: 'string',
          body: 'string',
          views: 'int64',
          rating: 'float64',
          live: 'bool',
          published: 'datetime',
          owner: 'uuid',
          tags: 'string[]',
          counts: 'int64[]',
          where: 'json',
          author: 'json',
        });

        // The scan's own page decoder (the default) reads exactly what weaviate-client reads, over
        // pages that end mid-collection and a REST merge per page.
        const viaClient = weaviateAdapter({
          url: url as string,
          grpcAddress: grpcAddress as string,
          scanDecoder: 'client',
          scanPageRows: 7,
        });
        const own = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string, scanPageRows: 7 });
        onTestFinished(async () => {
          await viaClient.close();
          await own.close();
        });
        const ownRecords = await scanAll(own, n);
        expect(ownRecords).toHaveLength(30);
        expect(ownRecords).toEqual(await scanAll(viaClient, n));
        expect(ownRecords[0]?.vectors.content).toBeInstanceOf(Float32Array);

        const { manifest } = await repo.snapshot(a, n, { segmentBytes: 65536 });
        expect(manifest.rows.upserts).toBe(30);
        const target = name('native_r');
        // The module configuration is applied from a plaintext repository only with the opt-in (docs/format.md, decision 6).
        const r = await repo.restore(a, { collection: n, snapshot: manifest.id, target, trustDefinitions: true });
        expect(r.indexes.skipped).toEqual([]);
        const untrusted = await repo.restore(a, { collection: n, snapshot: manifest.id, target: name('native_u') });
        expect(untrusted.notCarriedOver).toContainEqual({
          what: 'setting',
          name: 'vectorizer text2vec-openai of "content"',
          reason: expect.stringContaining('trustDefinitions'),
          action: 'not-recreated',
        });
        expect((await repo.verifyParity(a, { collection: n, snapshot: manifest.id, live: target })).ok).toBe(true);
        const [orig] = await a.fetch(n, [uuids[4] as string]);
        const [back] = await a.fetch(target, [uuids[4] as string]);
        expect(back).toEqual(orig);
        expect(back?.payload.published).toBe('2024-03-05T10:11:12.123460Z'); // microseconds kept (the client alone rounds to ms)
        expect(back?.payload.author).toEqual({ name: 'A4', age: 34 });
        // The class definition came back as Weaviate had it: tokenization, index flags, vectorizer, index types.
        const restored = (await rest('GET', `/v1/schema/${target.charAt(0).toUpperCase()}${target.slice(1)}`)).json;
        const props = Object.fromEntries((restored.properties as { name: string }[]).map((p) => [p.name, p]));
        expect(props.title).toMatchObject({ tokenization: 'lowercase' });
        expect(props.body).toMatchObject({ indexFilterable: false });
        expect(props.author).toMatchObject({ dataType: ['object'] });
        expect(restored.vectorConfig).toMatchObject({
          content: {
            vectorizer: { 'text2vec-openai': expect.anything() },
            vectorIndexType: 'hnsw',
            vectorIndexConfig: { distance: 'dot', maxConnections: 12, efConstruction: 96 },
          },
          title_vec: { vectorIndexType: 'flat', vectorIndexConfig: { distance: 'l2-squared' } },
        });
        expect(restored.invertedIndexConfig).toMatchObject({ indexTimestamps: true });
        expect(String(restored.description)).toMatch(/^support articles\n\[vectordr:v1\]/);
      },
    );

    it('a vectorizer module missing on the target: the stored vectors are restored as they are, and the restore says so', async () => {
      const n = name('novec');
      const schema: CollectionSchema = {
        ...testSchema(n, 4),
        idType: 'uuid',
        payload: [{ name: 'body', type: 'string', array: false, nullable: true }],
        vectors: [
          {
            name: 'content',
            dims: 4,
            metric: 'cosine',
            element: 'float32',
            nullable: false,
            nativeType: JSON.stringify({ vectorizer: { 'text2vec-transformers': { poolingStrategy: 'masked_mean' } } }),
          },
        ],
        indexes: [],
      };
      await a.create(schema, { indexes: 'deferred' });
      const report = await a.buildIndexes(n, schema);
      expect(report.skipped).toEqual([
        expect.objectContaining({
          kind: 'vectorizer text2vec-transformers',
          field: 'content',
          reason: expect.stringContaining('restored as they are'),
        }),
      ]);
      const cls = (await rest('GET', `/v1/schema/${n.charAt(0).toUpperCase()}${n.slice(1)}`)).json;
      expect((cls.vectorConfig as Record<string, { vectorizer: unknown }>).content?.vectorizer).toEqual({ none: {} });
    });

    it('keeps restore markers out of the class definition (a schema update flips shards to READONLY), and removes them at the end', async () => {
      const n = name('marker');
      const schema = testSchema(n);
      await a.create(schema, { indexes: 'now' });
      const cls = `${n.charAt(0).toUpperCase()}${n.slice(1)}`;
      const before = (await rest('GET', `/v1/schema/${cls}`)).json.description;
      await a.writeMarker(n, 'vectordr-restore/v1 01J00000000000000000000000 3 70 i');
      expect(await a.readMarker(n)).toBe('vectordr-restore/v1 01J00000000000000000000000 3 70 i');
      await a.writeMarker(n, 'vectordr-restore/v1 01J00000000000000000000000 4 0 i');
      expect(await a.readMarker(n)).toBe('vectordr-restore/v1 01J00000000000000000000000 4 0 i');
      expect((await rest('GET', `/v1/schema/${cls}`)).json.description).toBe(before);
      expect(await a.count(n)).toBe(0); // not an object of the collection
      await a.writeMarker(n, undefined);
      expect(await a.readMarker(n)).toBeUndefined();
    });

    it('refuses multi-tenant collections with a clear error', async () => {
      const n = name('tenants');
      const cls = `${n.charAt(0).toUpperCase()}${n.slice(1)}`;
      expect(
        (
          await rest('POST', '/v1/schema', {
            class: cls,
            multiTenancyConfig: { enabled: true },
            properties: [{ name: 't', dataType: ['text'] }],
            vectorizer: 'none',
          })
        ).status,
      ).toBe(200);
      const err = await expectError(repo.snapshot(a, n), 'UNSUPPORTED_OPERATION');
      expect(err.message).toContain('multi-tenant');
    });

    it('refuses cross-references and empty collections it cannot size, naming why', async () => {
      const target = name('reftarget');
      const tcls = `${target.charAt(0).toUpperCase()}${target.slice(1)}`;
      expect((await rest('POST', '/v1/schema', { class: tcls, vectorizer: 'none' })).status).toBe(200);
      const err0 = await expectError(a.describe(target), 'UNSUPPORTED_OPERATION');
      expect(err0.message).toContain('dimensions');
      const n = name('refs');
      const cls = `${n.charAt(0).toUpperCase()}${n.slice(1)}`;
      expect(
        (await rest('POST', '/v1/schema', { class: cls, vectorizer: 'none', properties: [{ name: 'ref', dataType: [tcls] }] })).status,
      ).toBe(200);
      expect((await rest('POST', '/v1/objects', { class: cls, properties: {}, vector: [1, 2] })).status).toBe(200);
      const err = await expectError(a.describe(n), 'UNSUPPORTED_OPERATION');
      expect(err.message).toContain('cross-reference');
    });

    it('a class with the unnamed (legacy) vector round-trips as such', async () => {
      const n = name('legacy');
      const cls = `${n.charAt(0).toUpperCase()}${n.slice(1)}`;
      expect(
        (
          await rest('POST', '/v1/schema', {
            class: cls,
            vectorizer: 'none',
            vectorIndexConfig: { distance: 'cosine' },
            properties: [{ name: 'k', dataType: ['int'] }],
          })
        ).status,
      ).toBe(200);
      for (let i = 0; i < 5; i++)
        expect((await rest('POST', '/v1/objects', { class: cls, properties: { k: i }, vector: vec(6, i) })).status).toBe(200);
      const { manifest } = await repo.snapshot(a, n);
      expect(manifest.schema.vectors.map((v) => [v.name, v.dims])).toEqual([['default', 6]]);
      const target = name('legacy_r');
      await repo.restore(a, { collection: n, snapshot: manifest.id, target });
      const restored = (await rest('GET', `/v1/schema/${target.charAt(0).toUpperCase()}${target.slice(1)}`)).json;
      expect(restored.vectorConfig ?? {}).toEqual({});
      expect(restored.vectorIndexConfig).toMatchObject({ distance: 'cosine' });
      expect((await repo.verifyParity(a, { collection: n, snapshot: manifest.id, live: target })).ok).toBe(true);
    });

    itRefusesUuidCaseCollision('object', () => ({ adapter: a, collection: name('collide_ids') }));

    it('refuses int64 payload values Weaviate would round, writing nothing of the batch', async () => {
      const n = name('bigint');
      const schema = testSchema(n);
      await a.create(schema, { indexes: 'now' });
      const records = makeRecords(4);
      (records[2] as VectorRecord).payload.n = '9007199254740993';
      const err = await expectError(a.write(n, makeBatch(schema, records), { mode: 'insert' }), 'SCHEMA_MISMATCH');
      expect(err.message).toContain('2^53');
      expect(await a.count(n)).toBe(0);
    });

    it('refuses a metric Weaviate lacks, and an unspecified one unless the caller names it', async () => {
      const s2 = await expectMetricRefusals(a, [name('jac'), name('nometric')], 'jaccard', 'cosine, dot, l2-squared, manhattan, hamming');
      const withDefault = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string, metricForUnindexed: 'l2' });
      await withDefault.create(s2, { indexes: 'now' });
      expect((await withDefault.describe(s2.name)).vectors[0]?.metric).toBe('l2');
      await withDefault.close();
    });

    it('keeps credentials out of options errors and manifests', async () => {
      expect(() => weaviateAdapter({ url: 'http://admin:hunter2@127.0.0.1:1' })).toThrow(/apiKey or headers/);
      const withKey = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string, apiKey: 'sekret-key-123' });
      const e = await withKey.describeEndpoint();
      expect(JSON.stringify(e)).not.toContain('sekret');
      await withKey.close();
      await expectError(
        Promise.resolve().then(() => weaviateAdapter({ url: 'ftp://x' })),
        'INVALID_OPTIONS',
      );
    });

    it('probe reports an unreachable endpoint without throwing', async () => {
      const dead = weaviateAdapter({ url: 'http://127.0.0.1:9', grpcAddress: '127.0.0.1:9', timeoutMs: 2000 });
      const p = await dead.probe();
      expect(p.reachable).toBe(false);
      expect(p.error).toBeTruthy();
    });
  });
});

describe.runIf(hasWeaviate)('weaviate: exact values', () => {
  /**
   * A new adapter and collection `source` (`testSchema` with the one payload field `field`), and the
   * name `target` to restore it under; both dropped, and the adapter closed, when the case ends.
   */
  const freshCollection = async (prefix: string, field: PayloadField) => {
    const adapter = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string });
    const source = randomName(prefix);
    const target = `${source}R`;
    onTestFinished(async () => {
      await adapter.drop(source).catch(() => undefined);
      await adapter.drop(target).catch(() => undefined);
      await adapter.close?.();
    });
    const schema: CollectionSchema = { ...testSchema(source), payload: [field] };
    await adapter.create(schema, { indexes: 'now' });
    return { adapter, schema, source, target };
  };

  it('a json property keeps numbers a float64 would change (big integers, 1.50) through write, fetch, snapshot and restore', async () => {
    const { adapter, schema, source, target } = await freshCollection('Exactj', {
      name: 'meta',
      type: 'json',
      array: false,
      nullable: true,
    });
    const meta = parseExactJson('{"big":9007199254740993,"price":1.50,"list":[1e400,-0]}');
    const records: VectorRecord[] = makeRecords(2).map((r) => ({ ...r, payload: { meta } }));
    await adapter.write(source, makeBatch(schema, records), { mode: 'insert' });
    const back = await adapter.fetch(
      source,
      records.map((r) => r.id),
    );
    expect(back.map((r) => canonicalPayload(r.payload))).toEqual(records.map((r) => canonicalPayload(r.payload)));
    expect(canonicalPayload(back[0]?.payload ?? {})).toBe('{"meta":{"big":9007199254740993,"list":[1e400,-0],"price":1.50}}');
    const repo = await memoryRepository();
    const { manifest } = await repo.snapshot(adapter, source);
    await repo.restore(adapter, { collection: source, snapshot: manifest.id, target });
    expect((await repo.verifyParity(adapter, { collection: source, snapshot: manifest.id, live: target })).ok).toBe(true);
  });

  it('a float -0 survives snapshot and restore into Weaviate (written back from the neutral "-0"), with parity', async () => {
    const { adapter, schema, source, target } = await freshCollection('Negz', {
      name: 'f64',
      type: 'float64',
      array: false,
      nullable: true,
    });
    const records: VectorRecord[] = makeRecords(4).map((r, i) => ({ ...r, payload: { f64: i % 2 === 1 ? -0 : 1.5 } }));
    await adapter.write(source, makeBatch(schema, records), { mode: 'insert' });
    const repo = await memoryRepository();
    const { manifest } = await repo.snapshot(adapter, source);
    await repo.restore(adapter, { collection: source, snapshot: manifest.id, target });
    const back = await adapter.fetch(
      target,
      records.map((r) => r.id),
    );
    expect(back.map((r) => r.payload.f64)).toEqual([1.5, '-0', 1.5, '-0']); // read as the neutral float -0
    expect((await repo.verifyParity(adapter, { collection: source, snapshot: manifest.id, live: target })).ok).toBe(true);
  });
});
