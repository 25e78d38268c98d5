/**
 * Cross-engine restore Weaviate <-> pgvector and Weaviate <-> Milvus, both directions, against the
 * real servers: parity verified at every hop, ids (int64 above 2^53, text, UUID) and payload types
 * coming home unchanged, property names Weaviate cannot hold renamed and restored, metrics mapped
 * (or refused).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { milvusAdapter, type MilvusAdapter } from '../../adapters/milvus/index.js';
import { pgvectorAdapter, type PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { weaviateAdapter, type WeaviateAdapter } from '../../adapters/weaviate/index.js';
import { idToUuid } from '../../src/id-mapping.js';
import type { CollectionSchema, IndexSpec, VectorField, VectorRecord } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { type FieldTypes, makeBatch, nullableFields } from '../helpers/data.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgvectorPool } from '../helpers/pg.js';
import { memoryRepository } from '../helpers/repository.js';
import { columnTypes, EVERY_TYPE, expectRefusedWithoutMetric, keysRoundTrip, payloadTypes, roundTrip } from '../helpers/round-trip.js';

const PG_URL = process.env.PG_URL;
const MILVUS_ADDRESS = process.env.MILVUS_ADDRESS;
const WEAVIATE_URL = process.env.WEAVIATE_URL;
const WEAVIATE_GRPC = process.env.WEAVIATE_GRPC;
const all =
  engineAvailable('pgvector', PG_URL !== undefined) &&
  engineAvailable('milvus', MILVUS_ADDRESS !== undefined) &&
  engineAvailable('weaviate', WEAVIATE_URL !== undefined && WEAVIATE_GRPC !== undefined);

const sortById = (rs: VectorRecord[]): VectorRecord[] =>
  [...rs].sort((x, y) => (String(x.id) < String(y.id) ? -1 : String(x.id) > String(y.id) ? 1 : 0));

describe.runIf(all)('cross-engine restore: weaviate <-> pgvector, weaviate <-> milvus', () => {
  let pool: pg.Pool;
  let pgA: PgvectorAdapter;
  let mv: MilvusAdapter;
  let wv: WeaviateAdapter;
  let repo: Repository;
  const made: { adapter: () => { drop(n: string): Promise<void> }; name: string }[] = [];
  const named = (adapter: () => { drop(n: string): Promise<void> }, prefix: string): string => {
    const name = randomName(prefix);
    made.push({ adapter, name });
    return name;
  };
  const pgName = (p: string): string => named(() => pgA, p);
  const mvName = (p: string): string => named(() => mv, p);
  const wvName = (p: string): string => named(() => wv, p);
  /** Creates a Weaviate-native collection in Weaviate (uuid ids in `id`, nullable payload fields); its schema. */
  const createNative = async (
    name: string,
    vector: VectorField,
    payload: FieldTypes,
    indexes: IndexSpec[] = [],
  ): Promise<CollectionSchema> => {
    const schema: CollectionSchema = { name, idField: 'id', idType: 'uuid', vectors: [vector], payload: nullableFields(payload), indexes };
    await wv.create(schema, { indexes: 'now' });
    return schema;
  };

  beforeAll(async () => {
    pool = await pgvectorPool(PG_URL);
    pgA = pgvectorAdapter({ pool });
    mv = milvusAdapter({ url: MILVUS_ADDRESS as string });
    wv = weaviateAdapter({ url: WEAVIATE_URL as string, grpcAddress: WEAVIATE_GRPC as string });
    repo = await memoryRepository();
  });
  afterAll(async () => {
    for (const m of made)
      await m
        .adapter()
        .drop(m.name)
        .catch(() => undefined);
    await wv?.close();
    await mv?.close();
    await pool?.end();
  });

  it(
    'pgvector -> weaviate -> pgvector: bigint ids, every payload type, names Weaviate cannot ' +
      'hold, HNSW parameters, parity at each hop',
    async () => {
      const src = pgName('xw_src');
      await pool.query(`CREATE TABLE ${src} (id bigint PRIMARY KEY, embedding vector(16) NOT NULL, title text, n int4, big int8, f4 real, f8 double precision,
      ok boolean, tags text[], meta jsonb, ref uuid, at timestamptz, day date, "Weird Name" text, raw bytea)`);
      await pool.query(`INSERT INTO ${src} SELECT CASE WHEN g = 1 THEN 9007199254740993 ELSE g END, ARRAY(SELECT sin(g * 16 + d) FROM generate_series(1, 16) d)::vector,
      CASE WHEN g % 7 = 0 THEN NULL ELSE 'doc ' || g || ' "q" ✓' END, g * 3, g::int8 * 1000000007,
      g / 3.0, g / 7.0, g % 2 = 0, ARRAY['t' || (g % 5), 'u'], jsonb_build_object('k', g, 'nested', jsonb_build_object('ok', true), 'list', jsonb_build_array(1, 'two', null)),
      md5(g::text)::uuid, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute 0.123456 second', DATE '2024-02-29' + g, 'w' || g, decode(md5(g::text), 'hex')
      FROM generate_series(1, 600) g`);
      await pool.query(`CREATE INDEX ON ${src} USING hnsw (embedding vector_cosine_ops) WITH (m = 8, ef_construction = 32)`);
      // There and home again, into a new pgvector table: parity at each hop, the same digest in Weaviate.
      const inW = wvName('xw_w');
      const home = pgName('xw_home');
      const trip = await roundTrip({
        repo,
        from: pgA,
        collection: src,
        to: wv,
        target: inW,
        home,
        segmentBytes: 64 * 1024,
        sameDigest: true,
      });
      expect(trip.there.restore.rows).toBe(600);
      const d = await wv.describe(inW);
      expect(d.idType).toBe('int64');
      expect(d.vectors[0]).toMatchObject({ name: 'embedding', dims: 16, metric: 'cosine' });
      expect(d.indexes[0]).toMatchObject({ kind: 'hnsw', metric: 'cosine', params: { m: 8, ef_construction: 32 } });
      expect(payloadTypes(d)).toEqual({ ...EVERY_TYPE.payload, 'Weird Name': 'string', raw: 'bytes' });
      // The id above 2^53 is exact through Weaviate (kept as text beside its UUIDv5).
      const [big] = await wv.fetch(inW, [9_007_199_254_740_993n]);
      expect(big?.id).toBe(9_007_199_254_740_993n);
      expect(big?.payload.at).toBe('2024-01-01T00:01:00.123456Z');

      // Home: same ids, same column types.
      expect(await columnTypes(pool, home)).toMatchObject({ ...EVERY_TYPE.home, 'Weird Name': 'text', raw: 'bytea' });
      const ids = [1n, 2n, 3n, 599n, 9_007_199_254_740_993n];
      expect(sortById(await pgA.fetch(home, ids))).toEqual(sortById(await pgA.fetch(src, ids)));
    },
  );

  it('text and uuid keys: pgvector -> weaviate -> pgvector with the keys unchanged', async () => {
    const names = { source: () => pgName('xw_key'), target: () => wvName('xw_key_w'), home: () => pgName('xw_key_back') };
    await keysRoundTrip({ repo, sql: pool, from: pgA, to: wv, names }, async (keyType, w) => {
      const d = await wv.describe(w);
      expect([d.idType, d.idField, d.vectors[0]?.metric]).toEqual([keyType === 'uuid' ? 'uuid' : 'string', 'k', 'l2']);
    });
  });

  it('weaviate (native, UUIDs) -> pgvector -> weaviate: the UUIDs and payloads come home unchanged', async () => {
    const src = wvName('xw_native');
    const schema = await createNative(
      src,
      { name: 'content', dims: 8, metric: 'dot', element: 'float32', nullable: false },
      { title: 'string', views: 'int64', rating: 'float64', published: 'datetime', tags: 'string[]' },
      [{ kind: 'hnsw', field: 'content', metric: 'dot', params: { m: 16, ef_construction: 64 } }],
    );
    const records: VectorRecord[] = Array.from({ length: 300 }, (_, i) => ({
      id: idToUuid(BigInt(i), 'int64'),
      vectors: { content: Float32Array.from({ length: 8 }, (_, d) => Math.cos(i + d)) },
      payload: {
        title: `t${i}`,
        views: i * 7,
        rating: i / 9,
        published: `2025-06-0${(i % 9) + 1}T01:02:03.${String(100000 + i)}Z`,
        tags: ['x', `y${i % 4}`],
      },
    }));
    await wv.write(src, makeBatch(schema, records), { mode: 'insert' });
    const inPg = pgName('xw_native_pg');
    const home = wvName('xw_native_home');
    await roundTrip({ repo, from: wv, collection: src, to: pgA, target: inPg, home, segmentBytes: 64 * 1024 });
    const keyType = await pool.query(`SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = 'id'`, [
      inPg,
    ]);
    expect(keyType.rows[0].data_type).toBe('uuid');
    const some = records.slice(0, 5).map((r) => r.id);
    expect(sortById(await wv.fetch(home, some))).toEqual(sortById(records.slice(0, 5)));
    expect((await wv.describe(home)).vectors[0]?.metric).toBe('dot');
  });

  it('milvus -> weaviate -> milvus and weaviate -> milvus -> weaviate, int64 and VarChar keys, parity at each hop', async () => {
    for (const idType of ['int64', 'string'] as const) {
      const schema: CollectionSchema = {
        name: mvName('xw_mv'),
        idField: 'pk',
        idType,
        vectors: [{ name: 'vec', dims: 8, metric: 'l2', element: 'float32', nullable: false }],
        payload: nullableFields({ title: 'string', n: 'int32', score: 'float32', flag: 'bool', meta: 'json' }),
        indexes: [{ kind: 'hnsw', field: 'vec', metric: 'l2', params: { m: 12, ef_construction: 48 } }],
      };
      const records: VectorRecord[] = Array.from({ length: 400 }, (_, i) => ({
        id: idType === 'int64' ? BigInt(i) * 1_000_003n + 9_007_199_254_740_000n : `pk-${i}-ü`,
        vectors: { vec: Float32Array.from({ length: 8 }, (_, d) => Math.sin(i * 8 + d)) },
        payload: { title: `m${i}`, n: i, score: Math.fround(i / 3), flag: i % 3 === 0, meta: { i, deep: { a: [1, 2] } } },
      }));
      await mv.create(schema, { indexes: 'now' });
      await mv.write(schema.name, makeBatch(schema, records), { mode: 'insert' });
      const w = wvName('xw_mv_w');
      const home = mvName('xw_mv_home');
      await roundTrip({ repo, from: mv, collection: schema.name, to: wv, target: w, home, segmentBytes: 64 * 1024, sameDigest: true });
      const d = await mv.describe(home);
      expect([d.idType, d.idField, d.vectors[0]?.metric]).toEqual([idType, 'pk', 'l2']);
      expect(d.indexes[0]).toMatchObject({ kind: 'hnsw', params: { m: 12, ef_construction: 48 } });
    }

    // Weaviate first: native UUIDs into Milvus (VarChar(36) with a uuid hint) and back.
    const wsrc = wvName('xw_wm');
    const wschema = await createNative(
      wsrc,
      { name: 'vec', dims: 4, metric: 'cosine', element: 'float32', nullable: false },
      { title: 'string', n: 'int64', tags: 'string[]' },
    );
    const wrecords: VectorRecord[] = Array.from({ length: 120 }, (_, i) => ({
      id: idToUuid(`w${i}`, 'string'),
      vectors: { vec: Float32Array.from([i, 1, 2, 3]) },
      payload: { title: `w${i}`, n: i * 11, tags: [`a${i % 2}`] },
    }));
    await wv.write(wsrc, makeBatch(wschema, wrecords), { mode: 'insert' });
    const inMv = mvName('xw_wm_mv');
    const wHome = wvName('xw_wm_home');
    await roundTrip({ repo, from: wv, collection: wsrc, to: mv, target: inMv, home: wHome });
    expect((await mv.describe(inMv)).idType).toBe('uuid');
    expect(
      sortById(
        await wv.fetch(
          wHome,
          wrecords.slice(0, 3).map((r) => r.id),
        ),
      ),
    ).toEqual(sortById(wrecords.slice(0, 3)));
  });

  it('a vector without a metric is refused into Weaviate unless the caller names one, and nothing is created or dropped', async () => {
    const src = pgName('xw_nometric');
    const target = wvName('xw_nometric_w');
    const s = await expectRefusedWithoutMetric({ repo, sql: pool, from: pgA, table: src, to: wv, target });
    // ifExists 'replace' (no atomic swap in Weaviate: drop, then load): the refusal comes before the drop.
    const keep = wvName('xw_keep');
    const keepSchema: CollectionSchema = {
      name: keep,
      idField: 'id',
      idType: 'int64',
      vectors: [{ name: 'v', dims: 4, metric: 'l2', element: 'float32', nullable: false }],
      payload: [],
      indexes: [],
    };
    await wv.create(keepSchema, { indexes: 'now' });
    await wv.write(keep, makeBatch(keepSchema, [{ id: 1n, vectors: { v: Float32Array.from([1, 2, 3, 4]) }, payload: {} }]), {
      mode: 'insert',
    });
    await expectError(
      repo.restore(wv, { collection: src, snapshot: s.manifest.id, target: keep, ifExists: 'replace' }),
      'UNSUPPORTED_OPERATION',
    );
    expect(await wv.count(keep)).toBe(1);
    const withMetric = weaviateAdapter({ url: WEAVIATE_URL as string, grpcAddress: WEAVIATE_GRPC as string, metricForUnindexed: 'l2' });
    await repo.restore(withMetric, { collection: src, snapshot: s.manifest.id, target });
    expect((await repo.verifyParity(withMetric, { collection: src, snapshot: s.manifest.id, live: target })).ok).toBe(true);
    await withMetric.close();
  });
});
