/**
 * Qdrant's vector kinds against the real Qdrant (QDRANT_URL; CI: VECTORDR_REQUIRE_ENGINES=qdrant-real):
 * a collection with a dense float32, a float16, a uint8, a multivector and two sparse vectors (one
 * with the `idf` modifier), written with Qdrant's own REST API, read over gRPC and REST alike,
 * restored into Qdrant with the same datatypes (parity, recall per kind), into pgvector (PG_URL:
 * sparse → sparsevec, float16 → halfvec, uint8 widened and reported, multi refused unless left
 * out), and a pgvector halfvec/sparsevec/bit table into Qdrant (bit refused: Qdrant has no bits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { type QdrantAdapter, qdrantAdapter } from '../../adapters/qdrant/index.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/format/vector-elements.js';
import { type AnyVector, type SparseVector, type VectorRecord, batchFromRecords } from '../../src/model.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { rng } from '../helpers/data.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgvectorPool } from '../helpers/pg.js';

const QDRANT_URL = process.env.QDRANT_URL;
const PG_URL = process.env.PG_URL;
const real = engineAvailable('qdrant-real', QDRANT_URL !== undefined);
const ROWS = 300;

const headers = { 'content-type': 'application/json', ...(process.env.QDRANT_API_KEY ? { 'api-key': process.env.QDRANT_API_KEY } : {}) };
async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${QDRANT_URL as string}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${method} ${path}: ${JSON.stringify(json.status)}`);
  return json;
}
const configOf = async (
  c: string,
): Promise<{ vectors: Record<string, Record<string, unknown>>; sparse_vectors?: Record<string, unknown> }> =>
  ((await call('GET', `/collections/${c}`)).result as { config: { params: never } }).config.params;

/** The points: every kind, some missing (null), sparse indices sent unsorted. */
function points(): { id: number; vector: Record<string, unknown>; payload: Record<string, unknown> }[] {
  const r = rng(2020);
  const f = (): number => Math.fround((r() - 0.5) * 4);
  const half = (): number => float16ToFloat32(float32ToFloat16((r() - 0.5) * 8));
  return Array.from({ length: ROWS }, (_, i) => {
    const vector: Record<string, unknown> = { dense: Array.from({ length: 8 }, f) };
    if (i % 7 !== 3) vector.half = Array.from({ length: 6 }, half);
    if (i % 5 !== 1) vector.bytes = Array.from({ length: 5 }, () => Math.floor(r() * 256));
    if (i % 6 !== 2) vector.multi = Array.from({ length: 1 + (i % 4) }, () => Array.from({ length: 4 }, () => f() + 0.001));
    for (const s of ['sparse', 'plain']) {
      if (i % 9 === 4) continue;
      const set = new Set<number>();
      while (set.size < 1 + (i % 6)) set.add(Math.floor(r() * 50));
      const indices = [...set]; // unsorted: Qdrant keeps (and may return) them in any order
      vector[s] = { indices, values: indices.map(() => Math.fround(0.05 + r())) };
    }
    return { id: i + 1, vector, payload: { title: `p${i}` } };
  });
}

describe.runIf(real)('qdrant vector kinds (real server at QDRANT_URL)', () => {
  let grpc: QdrantAdapter;
  let rest: QdrantAdapter;
  let repo: Repository;
  const { name, created } = createdNames();
  let source: string;

  beforeAll(async () => {
    grpc = qdrantAdapter({ url: QDRANT_URL as string, apiKey: process.env.QDRANT_API_KEY, transport: 'grpc', scanPageRows: 64 });
    rest = qdrantAdapter({ url: QDRANT_URL as string, apiKey: process.env.QDRANT_API_KEY, transport: 'rest', scanPageRows: 64 });
    repo = await openRepository({ storage: memoryStorage(), create: true });
    source = name('h20qdrant_kinds');
    await call('PUT', `/collections/${source}`, {
      vectors: {
        dense: { size: 8, distance: 'Cosine' },
        half: { size: 6, distance: 'Dot', datatype: 'float16' },
        bytes: { size: 5, distance: 'Euclid', datatype: 'uint8' },
        multi: { size: 4, distance: 'Dot', multivector_config: { comparator: 'max_sim' } },
      },
      sparse_vectors: { sparse: { modifier: 'idf' }, plain: {} },
    });
    await call('PUT', `/collections/${source}/points?wait=true`, { points: points() });
  });

  afterAll(async () => {
    for (const c of created) await rest.drop(c).catch(() => undefined);
    await grpc.close();
  });

  it('describes every kind, reads the same records over gRPC and REST, sparse indices sorted', async () => {
    const schema = await grpc.describe(source);
    const shape = Object.fromEntries(schema.vectors.map((v) => [v.name, [v.kind ?? 'dense', v.element, v.dims, v.modifier]]));
    expect(shape).toEqual({
      dense: ['dense', 'float32', 8, undefined],
      half: ['dense', 'float16', 6, undefined],
      bytes: ['dense', 'uint8', 5, undefined],
      multi: ['multi', 'float32', 4, undefined],
      sparse: ['sparse', 'float32', undefined, 'idf'],
      plain: ['sparse', 'float32', undefined, undefined],
    });
    expect(grpc.capabilities.vectorKinds).toEqual({ dense: ['float32', 'float16', 'uint8'], sparse: true, multi: ['float32'] });
    const viaGrpc = await repo.snapshot(grpc, source);
    const viaRest = await repo.snapshot(rest, source);
    expect(viaGrpc.manifest.features).toContain('vector-kinds');
    expect(viaRest.manifest.segments.map((g) => g.key)).toEqual(viaGrpc.manifest.segments.map((g) => g.key));
    const [rec] = await grpc.fetch(source, [1n]);
    const sparse = rec?.vectors.sparse as SparseVector;
    expect([...sparse.indices]).toEqual([...sparse.indices].sort((a, b) => a - b));
    const sent = points()[0]?.vector.sparse as { indices: number[]; values: number[] };
    expect(Object.fromEntries([...sparse.indices].map((x, k) => [x, sparse.values[k]]))).toEqual(
      Object.fromEntries(sent.indices.map((x, k) => [x, sent.values[k]])),
    );
  });

  it('restores into Qdrant with the same datatypes, sparse modifier and multivector; parity and recall per kind', async () => {
    const target = name('h20qdrant_back');
    const result = await repo.restore(grpc, { collection: source, target });
    expect(result.notCarriedOver.filter((n) => n.what === 'value')).toEqual([]);
    const params = await configOf(target);
    expect(params.vectors.half?.datatype).toBe('float16');
    expect(params.vectors.bytes?.datatype).toBe('uint8');
    expect(params.vectors.multi?.multivector_config).toEqual({ comparator: 'max_sim' });
    expect(params.sparse_vectors).toEqual({ sparse: { modifier: 'idf' }, plain: {} });
    expect((await repo.verifyParity(rest, { collection: source, live: target })).ok).toBe(true);
    // Exact search: recall measures what was restored, not the HNSW of a 300-point collection. The idf
    // field ranks by idf-weighted products, not the inner product recall compares with: checked to run only.
    for (const vector of ['dense', 'half', 'bytes', 'multi', 'plain']) {
      const recall = await repo.verifyRecall(grpc, { collection: source, live: target, vector, k: 5, queries: 20, exact: true });
      expect(recall.recall, vector).toBeGreaterThanOrEqual(0.95);
    }
    const idf = await repo.verifyRecall(grpc, { collection: source, live: target, vector: 'sparse', k: 5, queries: 5, minRecall: 0 });
    expect(idf.recall).toBeGreaterThan(0);
  });

  it('a write Qdrant cannot take is refused before any request: an empty multivector; over REST, a two-vector multivector of whole numbers', async () => {
    const target = name('h20qdrant_empty');
    const schema = { ...(await grpc.describe(source)), name: target, indexes: [] };
    await grpc.create(schema, { indexes: 'now' });
    const rec: VectorRecord = {
      id: 1n,
      vectors: { dense: new Float32Array(8).fill(1), multi: { kind: 'multi', dims: 4, data: new Float32Array(0) } as AnyVector },
      payload: {},
    };
    await expectError(grpc.write(target, batchFromRecords(schema, [rec]), { mode: 'upsert' }), 'INVALID_VECTOR');
    // Two vectors, the first of whole numbers: Qdrant's REST parser takes it for a sparse vector; gRPC sends it.
    const ints: VectorRecord = {
      ...rec,
      vectors: { ...rec.vectors, multi: { kind: 'multi', dims: 4, data: Float32Array.of(1, 2, 3, 4, 0.5, 6, 7, 8) } },
    };
    await expectError(rest.write(target, batchFromRecords(schema, [ints]), { mode: 'upsert' }), 'UNSUPPORTED_OPERATION');
    expect(await grpc.count(target)).toBe(0);
    await grpc.write(target, batchFromRecords(schema, [ints]), { mode: 'upsert' });
    expect((await rest.fetch(target, [1n]))[0]?.vectors.multi).toEqual(ints.vectors.multi);
  });

  it('restores over REST too, with parity', async () => {
    const target = name('h20qdrant_rest');
    await repo.restore(rest, { collection: source, target });
    expect((await repo.verifyParity(grpc, { collection: source, live: target })).ok).toBe(true);
  });

  describe.runIf(engineAvailable('pgvector', PG_URL !== undefined))('across to pgvector (PG_URL)', () => {
    let pool: Awaited<ReturnType<typeof pgvectorPool>>;
    const tables: string[] = [];
    beforeAll(async () => {
      pool = await pgvectorPool(PG_URL as string);
    });
    afterAll(async () => {
      for (const t of tables) await pool.query(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      await pool.end();
    });

    it('into pgvector: multi refused unless left out; sparse → sparsevec, float16 → halfvec, uint8 widened and reported', async () => {
      const pgv = pgvectorAdapter({ pool });
      const table = `h20qdrant_pg_${Math.random().toString(36).slice(2, 10)}`;
      tables.push(table);
      const err = await expectError(repo.restore(pgv, { collection: source, target: table }), 'UNSUPPORTED_OPERATION');
      expect(err.message).toContain('"multi"');
      expect(await pgv.exists(table)).toBe(false);
      const result = await repo.restore(pgv, { collection: source, target: table, omitVectors: ['multi'] });
      expect(result.notCarriedOver.filter((n) => n.what === 'value' || n.what === 'column').map((n) => [n.name, n.action])).toEqual(
        expect.arrayContaining([
          [expect.stringContaining('bytes'), 'converted'],
          [expect.stringContaining('multi'), 'dropped'],
        ]),
      );
      const types = await pool.query(
        `SELECT attname, format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '${table}'::regclass AND attnum > 0`,
      );
      const typeOf = Object.fromEntries(types.rows.map((x: { attname: string; t: string }) => [x.attname, x.t]));
      expect(typeOf.half).toBe('halfvec(6)');
      expect(typeOf.bytes).toBe('vector(5)');
      expect(typeOf.sparse).toMatch(/^sparsevec/);
      const back = await pgv.fetch(table, [1n, 2n, 3n]);
      const orig = await grpc.fetch(source, [1n, 2n, 3n]);
      for (const [k, rec] of back.entries()) {
        for (const f of ['dense', 'half', 'sparse', 'plain']) expect(rec.vectors[f], f).toEqual(orig[k]?.vectors[f]);
        const bytes = orig[k]?.vectors.bytes as { data: Uint8Array } | null;
        expect(rec.vectors.bytes).toEqual(bytes === null ? null : Float32Array.from(bytes.data));
      }
    });

    it('a pgvector halfvec/sparsevec table restores into Qdrant as float16 and sparse with parity; a bit column is refused', async () => {
      const t = `h20qdrant_pgsrc_${Math.random().toString(36).slice(2, 10)}`;
      tables.push(t);
      const ddl = [
        `CREATE TABLE ${t} (id bigint PRIMARY KEY, h halfvec(4) NOT NULL, s sparsevec(100), b bit(12), note text)`,
        `INSERT INTO ${t} SELECT i, ('[' || (i * 0.5) || ',1.25,-2,' || (i % 7) || ']')::halfvec, ` +
          `('{' || (i % 90 + 1) || ':' || (i * 0.25) || ',95:1.5}/100')::sparsevec, (i % 4096)::bit(12), 'n' || i FROM generate_series(1, 120) i`,
        `CREATE INDEX ON ${t} USING hnsw (h halfvec_l2_ops)`,
        `CREATE INDEX ON ${t} USING hnsw (s sparsevec_ip_ops)`,
      ];
      for (const s of ddl) await pool.query(s);
      const pgv = pgvectorAdapter({ pool });
      await repo.snapshot(pgv, t);
      const into = name('h20qdrant_frompg');
      const err = await expectError(repo.restore(grpc, { collection: t, target: into }), 'UNSUPPORTED_OPERATION');
      expect(err.message).toContain('"b"');
      expect(await grpc.exists(into)).toBe(false);
      const restored = await repo.restore(grpc, { collection: t, target: into, omitVectors: ['b'] });
      expect(restored.notCarriedOver.filter((n) => n.action === 'converted' && n.what === 'value')).toEqual([]);
      const params = await configOf(into);
      expect(params.vectors.h?.datatype).toBe('float16');
      expect(Object.keys(params.sparse_vectors ?? {})).toEqual(['s']);
      // Parity needs every field on both sides: the same table without its bit column.
      await pool.query(`ALTER TABLE ${t} DROP COLUMN b`);
      await repo.snapshot(pgv, t);
      const whole = name('h20qdrant_frompg2');
      await repo.restore(grpc, { collection: t, target: whole });
      expect((await repo.verifyParity(grpc, { collection: t, live: whole })).ok).toBe(true);
      const back = await rest.describe(whole);
      expect(back.vectors.find((v) => v.name === 's')?.dims).toBe(100);
    });
  });
});
