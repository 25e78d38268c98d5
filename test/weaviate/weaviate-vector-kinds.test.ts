/**
 * Weaviate multi-vectors (ColBERT-style named vectors, `multivector.enabled`) against the real
 * Weaviate (WEAVIATE_URL, WEAVIATE_GRPC): a class with a dense and a multi-vector named vector, made
 * over REST as a Weaviate user would, read as kind `multi`; snapshot → restore into Weaviate with
 * parity and recall by MaxSim; into pgvector (PG_URL) refused before anything is written unless the
 * multi-vector is left out; multi-vectors from another engine (the in-memory adapter) into Weaviate;
 * an empty multi-vector refused; a changed multi-vector through an incremental link; and writes into a
 * class the own gRPC encoder does not cover (over REST).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WeaviateAdapter, weaviateAdapter } from '../../adapters/weaviate/index.js';
import type { VectorAdapter } from '../../src/adapter.js';
import { type CollectionSchema, type MultiVector, type VectorField, type VectorRecord, batchFromRecords } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { kindSchema, memoryAdapter } from '../helpers/memory-adapter.js';
import { expectSameRecords } from '../helpers/records.js';
import { memoryRepository } from '../helpers/repository.js';
import { rng } from '../helpers/segment-gen.js';
import { weaviateRest as rest } from '../helpers/weaviate.js';

const url = process.env.WEAVIATE_URL;
const grpcAddress = process.env.WEAVIATE_GRPC;
const hasWeaviate = engineAvailable('weaviate', url !== undefined && grpcAddress !== undefined);
const PG_URL = process.env.PG_URL;
const hasPg = engineAvailable('pgvector', PG_URL !== undefined);

const ROWS = 150;
const TOKEN_DIMS = 4;
const DENSE_DIMS = 6;

/** 1 to 5 token vectors of TOKEN_DIMS each, as a Weaviate user sends them over REST. */
function tokens(seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: 1 + Math.floor(r() * 5) }, () => Array.from({ length: TOKEN_DIMS }, () => Math.fround(r() * 2 - 1)));
}

function dense(seed: number): number[] {
  const r = rng(seed + 100_000);
  return Array.from({ length: DENSE_DIMS }, () => Math.fround(r() * 2 - 1));
}

const uuidOf = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

function multiOf(rows: number[][]): MultiVector {
  return { kind: 'multi', dims: TOKEN_DIMS, data: Float32Array.from(rows.flat()) };
}

describe.runIf(hasWeaviate)('weaviate multi-vectors (ColBERT-style named vectors)', () => {
  let a: WeaviateAdapter;
  let repo: Repository;
  const { name, created } = createdNames();
  const source = name('H20weaviate_src').replace(/^h/, 'H');
  beforeAll(async () => {
    a = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string });
    repo = await memoryRepository();
    const cls = {
      class: source,
      properties: [{ name: 'title', dataType: ['text'] }],
      vectorConfig: {
        dense: { vectorizer: { none: {} }, vectorIndexType: 'hnsw', vectorIndexConfig: { distance: 'cosine' } },
        colbert: {
          vectorizer: { none: {} },
          vectorIndexType: 'hnsw',
          vectorIndexConfig: { distance: 'dot', multivector: { enabled: true } },
        },
      },
    };
    expect((await rest('POST', '/v1/schema', cls)).status).toBe(200);
    // Over REST, as a Weaviate user writes them: `vectors: { name: [[...], ...] }`; object 7 has no multi-vector.
    const objects = Array.from({ length: ROWS }, (_, i) => ({
      class: source,
      id: uuidOf(i),
      properties: { title: `doc ${i}` },
      vectors: i === 7 ? { dense: dense(i) } : { dense: dense(i), colbert: tokens(i) },
    }));
    const res = await rest('POST', '/v1/batch/objects', { objects });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.json)).not.toContain('"errors"');
  });
  afterAll(async () => {
    for (const c of created) await a.drop(c).catch(() => undefined);
    await a.close();
  });

  it('declares dense float32 and float32 multi-vectors, no sparse', () => {
    expect(a.capabilities.vectorKinds).toEqual({ dense: ['float32'], sparse: false, multi: ['float32'] });
  });

  it('describes a multi-vector as kind multi with the dims of each vector, and fetches it exactly', async () => {
    const schema = await a.describe(source);
    const colbert = schema.vectors.find((v) => v.name === 'colbert');
    expect(colbert).toMatchObject({ kind: 'multi', element: 'float32', dims: TOKEN_DIMS, metric: 'dot', nullable: true });
    expect(schema.vectors.find((v) => v.name === 'dense')).toMatchObject({ dims: DENSE_DIMS, metric: 'cosine' });
    expect(schema.vectors.find((v) => v.name === 'dense')?.kind).toBeUndefined();
    const [one, seven] = await a.fetch(source, [uuidOf(1), uuidOf(7)]);
    expect(one?.vectors.colbert).toEqual(multiOf(tokens(1)));
    expect(one?.vectors.dense).toEqual(Float32Array.from(dense(1)));
    expect(seven?.vectors.colbert).toBeNull();
  });

  it('searches a multi-vector by MaxSim and refuses a dense query on it', async () => {
    const hits = await a.search(source, { multi: multiOf(tokens(3)) }, 3, { vector: 'colbert' });
    expect(hits[0]?.id).toBe(uuidOf(3));
    await expectError(a.search(source, new Float32Array(TOKEN_DIMS), 3, { vector: 'colbert' }), 'UNSUPPORTED_OPERATION');
  });

  it('snapshot -> restore into Weaviate: the multi-vector index recreated, parity exact, recall by MaxSim', async () => {
    const { manifest } = await repo.snapshot(a, source);
    expect(manifest.features).toContain('vector-kinds');
    const into = name('H20weaviate_into').replace(/^h/, 'H');
    const result = await repo.restore(a, { collection: source, target: into });
    expect(result.rows).toBe(ROWS);
    expect(result.notCarriedOver).toEqual([]);
    const cls = (await rest('GET', `/v1/schema/${into}`)).json as {
      vectorConfig: Record<string, { vectorIndexConfig: Record<string, unknown> }>;
    };
    expect(cls.vectorConfig.colbert?.vectorIndexConfig.multivector).toMatchObject({ enabled: true, aggregation: 'maxSim' });
    // Read back over REST as Weaviate holds it: the written objects carry the same token vectors.
    const obj = (await rest('GET', `/v1/objects/${into}/${uuidOf(2)}?include=vector`)).json as { vectors: Record<string, unknown> };
    expect((obj.vectors.colbert as number[][]).map((t) => t.map(Math.fround))).toEqual(tokens(2));
    expect((await repo.verifyParity(a, { collection: source, live: into })).ok).toBe(true);
    const recall = await repo.verifyRecall(a, { collection: source, live: into, vector: 'colbert', k: 5, queries: 20, minRecall: 0.9 });
    expect(recall.ok).toBe(true);
    const dense = await repo.verifyRecall(a, { collection: source, live: into, vector: 'dense', k: 5, queries: 20, minRecall: 0.9 });
    expect(dense.ok).toBe(true);
  });

  it.runIf(hasPg)('into pgvector: refused before anything is written, unless the multi-vector is left out and listed', async () => {
    const { pgvectorAdapter } = await import('../../adapters/pgvector/index.js');
    const { pgvectorPool } = await import('../helpers/pg.js');
    const pool = await pgvectorPool(PG_URL as string);
    const pg = pgvectorAdapter({ pool });
    const table = `h20weaviate_pg_${Math.random().toString(36).slice(2, 10)}`;
    try {
      await repo.snapshot(a, source);
      const err = await expectError(repo.restore(pg, { collection: source, target: table }), 'UNSUPPORTED_OPERATION');
      expect(err.message).toMatch(/"colbert" is multi/);
      expect(await pg.exists(table)).toBe(false);
      const result = await repo.restore(pg, { collection: source, target: table, omitVectors: ['colbert'] });
      expect(result.rows).toBe(ROWS);
      const vectors = result.notCarriedOver.filter((n) => n.name.startsWith('vector '));
      expect(vectors.map((n) => `${n.name} ${n.action}`)).toEqual(['vector "colbert" dropped']);
      expect((await pg.describe(table)).vectors.map((v) => v.name)).toEqual(['dense']);
    } finally {
      await pg.drop(table).catch(() => undefined);
      await pool.end();
    }
  });

  it('multi-vectors from another engine (the in-memory adapter) into Weaviate: restored as is, parity and recall', async () => {
    const fields: VectorField[] = [
      { name: 'emb', dims: 8, metric: 'l2', element: 'float32', nullable: false },
      { name: 'late', kind: 'multi', dims: 3, metric: 'cosine', element: 'float32', nullable: true },
    ];
    const from: VectorAdapter = memoryAdapter();
    const coll = name('h20weaviate_mem');
    const schema: CollectionSchema = kindSchema(coll, fields);
    const r = rng(42);
    // Unit-length token vectors, as ColBERT models give: Weaviate's cosine on multi-vectors normalises the query's
    // vectors, not the stored ones (measured: distance = -Σ max q̂·d), which is cosine MaxSim only for unit vectors.
    const unitTokens = (n: number): Float32Array => {
      const data = Float32Array.from({ length: 3 * n }, () => r() - 0.5);
      for (let at = 0; at < data.length; at += 3) {
        const norm = Math.hypot(data[at] as number, data[at + 1] as number, data[at + 2] as number);
        for (let k = at; k < at + 3; k++) data[k] = (data[k] as number) / norm;
      }
      return data;
    };
    const records: VectorRecord[] = Array.from({ length: 80 }, (_, i) => ({
      id: BigInt(i + 1),
      vectors: {
        emb: Float32Array.from({ length: 8 }, () => Math.fround(r() - 0.5)),
        late: i % 11 === 3 ? null : { kind: 'multi', dims: 3, data: unitTokens(1 + (i % 4)) },
      },
      payload: { title: `doc ${i}` },
    }));
    await from.create(schema, { indexes: 'now' });
    await from.write(coll, batchFromRecords(schema, records), { mode: 'upsert' });
    const mem = await memoryRepository();
    await mem.snapshot(from, coll);
    const into = `H20weaviate_fromMem_${Math.random().toString(36).slice(2, 8)}`;
    created.push(into);
    const result = await mem.restore(a, { collection: coll, target: into });
    expect(result.notCarriedOver).toEqual([]);
    expect((await a.describe(into)).vectors.find((v) => v.name === 'late')).toMatchObject({ kind: 'multi', dims: 3, metric: 'cosine' });
    const back = await a.fetch(
      into,
      records.map((x) => x.id),
    );
    expectSameRecords(back, records, {});
    expect((await mem.verifyParity(a, { collection: coll, live: into })).ok).toBe(true);
    const recall = await mem.verifyRecall(a, { collection: coll, live: into, vector: 'late', k: 5, queries: 15, minRecall: 0.9 });
    expect(recall.ok, JSON.stringify(recall)).toBe(true);
  });

  it('refuses an empty multi-vector (Weaviate cannot store one) with nothing of the batch written', async () => {
    const coll = name('h20weaviate_empty');
    const schema = kindSchema(coll, [{ name: 'late', kind: 'multi', dims: 2, metric: 'dot', element: 'float32', nullable: true }]);
    await a.create(schema, { indexes: 'now' });
    const records: VectorRecord[] = [
      { id: 1n, vectors: { late: { kind: 'multi', dims: 2, data: Float32Array.of(1, 2) } }, payload: {} },
      { id: 2n, vectors: { late: { kind: 'multi', dims: 2, data: new Float32Array(0) } }, payload: {} },
    ];
    await expectError(a.write(coll, batchFromRecords(schema, records), { mode: 'upsert' }), 'INVALID_VECTOR');
    expect(await a.count(coll)).toBe(0);
  });

  it('an incremental snapshot carries a changed multi-vector, and its restore holds it', async () => {
    const chain = await memoryRepository();
    expect((await chain.snapshot(a, source, { incremental: true })).kind).toBe('full');
    const changed = tokens(9999);
    const put = await rest('PUT', `/v1/objects/${source}/${uuidOf(5)}`, {
      class: source,
      id: uuidOf(5),
      properties: { title: 'doc 5' },
      vectors: { dense: dense(5), colbert: changed },
    });
    expect(put.status).toBe(200);
    const link = await chain.snapshot(a, source, { incremental: true });
    expect(link.kind).toBe('incremental');
    expect(link.manifest.rows).toEqual({ upserts: 1, deletes: 0 });
    const into = name('H20weaviate_link').replace(/^h/, 'H');
    await chain.restore(a, { collection: source, target: into });
    const [five] = await a.fetch(into, [uuidOf(5)]);
    expect(five?.vectors.colbert).toEqual(multiOf(changed));
    expect((await chain.verifyParity(a, { collection: source, live: into })).ok).toBe(true);
  });

  it('writes multi-vectors over REST into a class the own encoder does not cover (an object property): the client cannot send them', async () => {
    const cls = name('H20weaviate_obj').replace(/^h/, 'H');
    const def = {
      class: cls,
      properties: [{ name: 'meta', dataType: ['object'], nestedProperties: [{ name: 'lang', dataType: ['text'] }] }],
      vectorConfig: {
        colbert: {
          vectorizer: { none: {} },
          vectorIndexType: 'hnsw',
          vectorIndexConfig: { distance: 'dot', multivector: { enabled: true } },
        },
      },
    };
    expect((await rest('POST', '/v1/schema', def)).status).toBe(200);
    await rest('POST', '/v1/batch/objects', {
      objects: [{ class: cls, id: uuidOf(1), properties: { meta: { lang: 'en' } }, vectors: { colbert: tokens(1) } }],
    });
    const schema = await a.describe(cls);
    const records: VectorRecord[] = [2, 3].map((i) => ({
      id: uuidOf(i),
      vectors: { colbert: multiOf(tokens(i)) },
      payload: { meta: { lang: 'de' } },
    }));
    await a.write(cls, batchFromRecords(schema, records), { mode: 'upsert' });
    const back = await a.fetch(cls, [uuidOf(2), uuidOf(3)]);
    expect(back.map((r) => r.vectors.colbert)).toEqual([multiOf(tokens(2)), multiOf(tokens(3))]);
  });
});
