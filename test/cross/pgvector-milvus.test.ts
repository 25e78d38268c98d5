/**
 * Cross-engine restore pgvector <-> Milvus, both directions, against the real servers: parity
 * verified, id and payload types kept, metrics and index parameters translated (or refused). Runs
 * once per configured Milvus server (milvus-lite, the real Milvus standalone).
 */
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { milvusAdapter, type MilvusAdapter } from '../../adapters/milvus/index.js';
import { pgvectorAdapter, type PgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { Repository } from '../../src/repository/repository.js';
import { createdNames, engineAvailable, milvusTestServers } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgvectorPool } from '../helpers/pg.js';
import { memoryRepository } from '../helpers/repository.js';
import {
  columnTypes,
  crossOver,
  EVERY_TYPE,
  expectRefusedWithoutMetric,
  keysRoundTrip,
  payloadTypes,
  roundTrip,
} from '../helpers/round-trip.js';

const PG_URL = process.env.PG_URL;
const hasPg = engineAvailable('pgvector', PG_URL !== undefined);
const servers = hasPg ? milvusTestServers() : [];

describe('cross-engine restore: pgvector <-> milvus', () => {
  if (servers.length === 0) it.skip('needs PG_URL and MILVUS_ADDRESS or MILVUS_STANDALONE_ADDRESS', () => undefined);
  for (const { label, address: MILVUS_ADDRESS } of servers) describe(label, () => crossSuite(MILVUS_ADDRESS));
});

function crossSuite(MILVUS_ADDRESS: string): void {
  let pool: pg.Pool;
  let pgA: PgvectorAdapter;
  let mv: MilvusAdapter;
  let repo: Repository;
  const { name: pgName, created: pgTables } = createdNames();
  const { name: mvName, created: mvCollections } = createdNames();

  beforeAll(async () => {
    pool = await pgvectorPool(PG_URL);
    pgA = pgvectorAdapter({ pool });
    mv = milvusAdapter({ url: MILVUS_ADDRESS as string });
    repo = await memoryRepository();
  });
  afterAll(async () => {
    for (const t of pgTables) await pgA.drop(t).catch(() => undefined);
    for (const c of mvCollections) await mv.drop(c).catch(() => undefined);
    await mv?.close();
    await pool?.end();
  });

  it('pgvector -> milvus -> pgvector: bigint ids, every payload type, HNSW parameters and metric, parity at each hop', async () => {
    const src = pgName('x_src');
    await pool.query(`CREATE TABLE ${src} (id bigint PRIMARY KEY, embedding vector(16) NOT NULL, title text, n int4, big int8, f4 real, f8 double precision,
      ok boolean, tags text[], meta jsonb, ref uuid, at timestamptz, day date)`);
    await pool.query(`INSERT INTO ${src} SELECT g, ARRAY(SELECT sin(g * 16 + d) FROM generate_series(1, 16) d WHERE g > 0)::vector,
      CASE WHEN g % 7 = 0 THEN NULL ELSE 'doc ' || g || ' "q" ✓' END, g * 3, CASE WHEN g = 5 THEN 9007199254740993 ELSE g::int8 * 1000000007 END,
      g / 3.0, g / 7.0, g % 2 = 0, ARRAY['t' || (g % 5), 'u'], jsonb_build_object('k', g, 'nested', jsonb_build_object('ok', true)),
      md5(g::text)::uuid, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute 0.123456 second', DATE '2024-02-29' + g
      FROM generate_series(1, 700) g`);
    await pool.query(`CREATE INDEX ON ${src} USING hnsw (embedding vector_cosine_ops) WITH (m = 8, ef_construction = 32)`);
    // There and home again, into a new pgvector table: parity at each hop, the same digest in Milvus.
    const inMilvus = mvName('x_mv');
    const home = pgName('x_home');
    const trip = await roundTrip({
      repo,
      from: pgA,
      collection: src,
      to: mv,
      target: inMilvus,
      home,
      segmentBytes: 64 * 1024,
      sameDigest: true,
    });
    expect(trip.there.restore.indexes.built).toEqual([expect.objectContaining({ kind: 'hnsw', field: 'embedding' })]);
    const d = await mv.describe(inMilvus);
    expect(d.vectors[0]).toMatchObject({ name: 'embedding', dims: 16, metric: 'cosine' });
    expect(d.indexes[0]).toMatchObject({ kind: 'hnsw', metric: 'cosine', params: { m: 8, ef_construction: 32 } });
    expect(payloadTypes(d)).toEqual(EVERY_TYPE.payload);
    expect(await columnTypes(pool, home)).toMatchObject(EVERY_TYPE.home);
    const row = (await pool.query(`SELECT big::text, at, ref FROM ${home} WHERE id = 5`)).rows[0];
    expect(row.big).toBe('9007199254740993');
  });

  it('uuid and text keys travel as VarChar and come back as uuid and text', async () => {
    const names = { source: () => pgName('x_key'), target: () => mvName('x_key_mv'), home: () => pgName('x_key_back') };
    await keysRoundTrip({ repo, sql: pool, from: pgA, to: mv, names }, async (keyType, m) => {
      expect((await mv.describe(m)).idType).toBe(keyType === 'uuid' ? 'uuid' : 'string');
    });
  });

  it('a vector without a metric is refused into Milvus unless the caller names one; then it restores with parity', async () => {
    const src = pgName('x_nometric');
    const target = mvName('x_nometric_mv');
    const s = await expectRefusedWithoutMetric({ repo, sql: pool, from: pgA, table: src, to: mv, target });
    // ifExists 'replace' on an engine without atomic swap drops the old collection first: the refusal
    // must come before that drop.
    const existing = mvName('x_keep');
    const keepSnap = await repo.snapshot(pgA, src);
    const l2 = milvusAdapter({ url: MILVUS_ADDRESS as string, metricForUnindexed: 'l2' });
    await repo.restore(l2, { collection: src, snapshot: keepSnap.manifest.id, target: existing });
    await l2.close();
    await expectError(
      repo.restore(mv, { collection: src, snapshot: s.manifest.id, target: existing, ifExists: 'replace' }),
      'UNSUPPORTED_OPERATION',
    );
    expect(await mv.count(existing)).toBe(20);
    const withMetric = milvusAdapter({ url: MILVUS_ADDRESS as string, metricForUnindexed: 'l2' });
    try {
      await repo.restore(withMetric, { collection: src, snapshot: s.manifest.id, target });
      expect((await repo.verifyParity(withMetric, { collection: src, snapshot: s.manifest.id, live: target })).ok).toBe(true);
    } finally {
      await withMetric.close();
    }
    // The metric is a decision about the restore: the restore option gives it to any adapter.
    const byRestore = mvName('x_nometric_opt');
    await repo.restore(mv, { collection: src, snapshot: s.manifest.id, target: byRestore, metricForUnindexed: 'l2' });
    expect((await mv.describe(byRestore)).vectors[0]?.metric).toBe('l2');
    expect((await repo.verifyParity(mv, { collection: src, snapshot: s.manifest.id, live: byRestore })).ok).toBe(true);
  });

  it('an inner-product pgvector index becomes IP in Milvus, and Milvus dynamic fields become a jsonb column in pgvector', async () => {
    const src = pgName('x_ip');
    await pool.query(`CREATE TABLE ${src} (id bigint PRIMARY KEY, v vector(4) NOT NULL, extra jsonb)`);
    await pool.query(
      `INSERT INTO ${src} SELECT g, ARRAY[g, 1, 0, 0]::real[]::vector, jsonb_build_object('g', g) FROM generate_series(1, 30) g`,
    );
    await pool.query(`CREATE INDEX ON ${src} USING ivfflat (v vector_ip_ops) WITH (lists = 4)`);
    const m = mvName('x_ip_mv');
    await crossOver({ repo, from: pgA, collection: src, to: mv, target: m });
    expect((await mv.describe(m)).indexes[0]).toMatchObject({ kind: 'ivfflat', metric: 'dot', params: { lists: 4 } });

    const dyn = mvName('x_dyn');
    const client = new MilvusClient({ address: MILVUS_ADDRESS as string, logLevel: 'error' });
    try {
      await client.createCollection({
        collection_name: dyn,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
          { name: 'v', data_type: DataType.FloatVector, dim: 4 },
        ],
        enable_dynamic_field: true,
      } as never);
      await client.createIndex({
        collection_name: dyn,
        field_name: 'v',
        index_type: 'HNSW',
        metric_type: 'COSINE',
        params: { M: 8, efConstruction: 16 },
      } as never);
      await client.loadCollectionSync({ collection_name: dyn });
      await client.insert({
        collection_name: dyn,
        data: [
          { id: 1, v: [1, 0, 0, 0], color: 'red', n: 3 },
          { id: 2, v: [0, 1, 0, 0] },
        ],
      } as never);
    } finally {
      await client.closeConnection();
    }
    const home = pgName('x_dyn_pg');
    await crossOver({ repo, from: mv, collection: dyn, to: pgA, target: home });
    const rows = await pool.query(`SELECT id::int, "$meta" AS meta FROM ${home} ORDER BY id`);
    expect(rows.rows).toEqual([
      { id: 1, meta: { color: 'red', n: 3 } },
      { id: 2, meta: null },
    ]);
  });
}
