/**
 * Milvus vector kinds against the servers that store them: BinaryVector and Float16Vector on the
 * real Milvus 2.3.5 (MILVUS_STANDALONE_ADDRESS; one vector field per collection there), and
 * SparseFloatVector on milvus-lite 3.2.2 (MILVUS_ADDRESS). Snapshot -> restore into the same server
 * and into pgvector (PG_URL) and back, parity and recall with each kind's similarity, the bit order
 * checked with a known pattern, and what each server lacks refused before anything is written.
 */
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { milvusAdapter, type MilvusAdapter } from '../../adapters/milvus/index.js';
import { pgvectorAdapter, type PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { float32ToFloat16 } from '../../src/format/vector-elements.js';
import { batchFromRecords, type CollectionSchema, type VectorRecord } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgvectorPool } from '../helpers/pg.js';
import { memoryRepository } from '../helpers/repository.js';

const STANDALONE = process.env.MILVUS_STANDALONE_ADDRESS;
const LITE = process.env.MILVUS_ADDRESS;
const PG_URL = process.env.PG_URL;
const hasStandalone = engineAvailable('milvus-standalone', STANDALONE !== undefined);
const hasLite = engineAvailable('milvus', LITE !== undefined);
const hasPg = engineAvailable('pgvector', PG_URL !== undefined);

const ROWS = 300;
const ID = { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false };

/** A deterministic byte of row `g`, position `k`. */
const byteOf = (g: number, k: number): number => (g * 131 + k * 29 + ((g * k) % 7)) & 0xff;

/** Float16 bit patterns of row `g` (row 1: -0, the smallest subnormal, ±65504, 2^-14, 1, 0.5, -2, then sines). */
function halfRow(g: number, dims: number): number[] {
  const edge = [0x8000, 0x0001, 0x7bff, 0xfbff, 0x0400, 0x3c00, 0x3800, 0xc000];
  return Array.from({ length: dims }, (_, k) => (g === 1 && k < edge.length ? (edge[k] as number) : float32ToFloat16(Math.sin(g * 7 + k))));
}

/**
 * Sparse weights of row `g`: 1 to 5 positive entries from 40 indices (so that queries share indices
 * with many rows: a row sharing none scores nothing and Milvus does not return it), given to Milvus
 * in descending index order.
 */
function sparseRow(g: number): { indices: number[]; values: number[] } {
  const n = 1 + (g % 5);
  const indices = [...new Set(Array.from({ length: n }, (_, k) => ((g * 37 + k * 11) % 40) * 25 + (g === 7 ? 3 : 0)))].sort(
    (a, b) => b - a,
  );
  return { indices, values: indices.map((i, k) => Math.fround(0.25 + ((g + i + k) % 13) / 4)) };
}

/** Milvus raw rows of `field` by id, straight from the client (the bytes Milvus keeps). */
async function rawRows(client: MilvusClient, collection: string, field: string): Promise<Map<string, unknown>> {
  await client.loadCollectionSync({ collection_name: collection });
  const res = await client.query({
    collection_name: collection,
    filter: 'id > 0',
    output_fields: ['id', field],
    consistency_level: 'Strong',
    transformers: { [DataType.Float16Vector]: (b: Uint8Array) => Array.from(b) },
  } as never);
  return new Map((res.data as Record<string, unknown>[]).map((r) => [String(r.id), r[field]]));
}

describe('milvus vector kinds', () => {
  if (!hasStandalone && !hasLite) it.skip('needs MILVUS_STANDALONE_ADDRESS and/or MILVUS_ADDRESS, and PG_URL', () => undefined);
  let repo: Repository;
  let pool: pg.Pool | undefined;
  let pgA: PgvectorAdapter | undefined;
  const mv = createdNames();
  const pgNames = createdNames();
  const adapters: MilvusAdapter[] = [];
  const open = (address: string): MilvusAdapter => {
    const a = milvusAdapter({ address });
    adapters.push(a);
    return a;
  };
  beforeAll(async () => {
    repo = await memoryRepository();
    if (hasPg) {
      pool = await pgvectorPool(PG_URL);
      pgA = pgvectorAdapter({ pool });
    }
  });
  afterAll(async () => {
    for (const a of adapters) for (const c of mv.created) await a.drop(c).catch(() => undefined);
    for (const t of pgNames.created) await pool?.query(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
    for (const a of adapters) await a.close();
    await pool?.end();
  });
  const pgType = async (table: string, column: string): Promise<string> =>
    String(
      (
        await (pool as pg.Pool).query(
          `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`,
          [table, column],
        )
      ).rows[0]?.t,
    );

  describe.runIf(hasStandalone)('binary and float16 on Milvus 2.3.5', () => {
    let client: MilvusClient;
    let adapter: MilvusAdapter;
    let bin: string;
    let half: string;
    beforeAll(async () => {
      client = new MilvusClient({ address: STANDALONE as string, logLevel: 'error' });
      adapter = open(STANDALONE as string);
      bin = mv.name('h20milvus_bin');
      half = mv.name('h20milvus_half');
      const note = { name: 'note', data_type: DataType.VarChar, max_length: 32 };
      await client.createCollection({
        collection_name: bin,
        fields: [ID, { name: 'b', data_type: DataType.BinaryVector, dim: 64 }, note],
      } as never);
      await client.createCollection({
        collection_name: half,
        fields: [ID, { name: 'h', data_type: DataType.Float16Vector, dim: 16 }, note],
      } as never);
      const ids = Array.from({ length: ROWS }, (_, i) => i + 1);
      // Row 1 is the known pattern: Milvus dimension 0 (bit 0 of byte 0, as Milvus documents it) and dimension 63.
      const bytes = (g: number): number[] => (g === 1 ? [0x01, 0, 0, 0, 0, 0, 0, 0x80] : Array.from({ length: 8 }, (_, k) => byteOf(g, k)));
      await client.insert({ collection_name: bin, data: ids.map((g) => ({ id: g, b: bytes(g), note: `n${g}` })) } as never);
      const halfBytes = (g: number): Buffer => Buffer.from(new Uint16Array(halfRow(g, 16)).buffer);
      await client.insert({ collection_name: half, data: ids.map((g) => ({ id: g, h: halfBytes(g), note: `n${g}` })) } as never);
      await client.createIndex({
        collection_name: bin,
        field_name: 'b',
        index_type: 'BIN_IVF_FLAT',
        metric_type: 'HAMMING',
        params: { nlist: 8 },
      } as never);
      await client.createIndex({
        collection_name: half,
        field_name: 'h',
        index_type: 'HNSW',
        metric_type: 'L2',
        params: { M: 8, efConstruction: 64 },
      } as never);
      // Flushed before loading: Milvus 2.3.5's query node panics when it replays float16 inserts (milvus-version.ts).
      await client.flushSync({ collection_names: [bin, half] });
      await client.loadCollectionSync({ collection_name: bin });
      await client.loadCollectionSync({ collection_name: half });
    }, 60_000);
    afterAll(() => client?.closeConnection());

    it('declares what Milvus 2.3.5 stores once asked, and reads binary (bits reversed to the neutral order) and float16 exactly', async () => {
      expect(adapter.capabilities.vectorKinds.sparse).toBe(true); // before asking: every kind some Milvus stores
      await adapter.probe();
      expect(adapter.capabilities.vectorKinds).toEqual({ dense: ['float32', 'float16', 'binary'], sparse: false, multi: [] });
      const b = (await adapter.describe(bin)).vectors[0];
      expect(b).toMatchObject({ name: 'b', element: 'binary', dims: 64, metric: 'hamming', nativeType: 'BinaryVector(64)' });
      expect(b?.kind).toBeUndefined();
      expect((await adapter.describe(half)).vectors[0]).toMatchObject({ name: 'h', element: 'float16', dims: 16, metric: 'l2' });
      const [r1, r2] = await adapter.fetch(bin, [1n, 2n]);
      // Milvus's dimension 0 (low bit of byte 0) is the neutral high bit of byte 0; dimension 63 the low bit of byte 7.
      expect(Array.from((r1?.vectors.b as { data: Uint8Array }).data)).toEqual([0x80, 0, 0, 0, 0, 0, 0, 0x01]);
      expect((r2?.vectors.b as { data: Uint8Array }).data[0]).toBe(
        parseInt(byteOf(2, 0).toString(2).padStart(8, '0').split('').reverse().join(''), 2),
      );
      const [h1] = await adapter.fetch(half, [1n]);
      expect(h1?.vectors.h).toMatchObject({ kind: 'dense', element: 'float16' });
      expect(Array.from((h1?.vectors.h as { data: Uint16Array }).data)).toEqual(halfRow(1, 16));
      const hits = await adapter.search(bin, { dense: r1?.vectors.b as never }, 3);
      expect(hits[0]).toMatchObject({ id: 1n, score: 0 });
    });

    it('snapshot -> restore into Milvus 2.3.5: the same bytes, parity ok, recall with Hamming (float16 search refused: 2.3.5 answers wrongly)', async () => {
      for (const [src, field] of [
        [bin, 'b'],
        [half, 'h'],
      ] as const) {
        await repo.snapshot(adapter, src);
        const into = mv.name(`${src.slice(0, 14)}_r`);
        const restored = await repo.restore(adapter, { collection: src, target: into });
        expect(restored.rows).toBe(ROWS);
        expect((await repo.verifyParity(adapter, { collection: src, live: into })).ok).toBe(true);
        const recall = repo.verifyRecall(adapter, { collection: src, live: into, k: 5, queries: 20 });
        if (field === 'b') expect(await recall).toMatchObject({ ok: true, metric: 'hamming', indexed: true });
        else expect((await expectError(recall, 'UNSUPPORTED_OPERATION')).message).toContain('wrong float16 search distances');
        expect(await rawRows(client, into, field)).toEqual(await rawRows(client, src, field));
        const index = (await adapter.describe(into)).indexes[0];
        expect(index?.kind).toBe(field === 'b' ? 'bin_ivf_flat' : 'hnsw');
      }
    }, 60_000);

    it.runIf(hasPg)(
      'restores into pgvector as bit(64) and halfvec(16), parity ok, the bit order kept',
      async () => {
        for (const [src, field, type] of [
          [bin, 'b', 'bit(64)'],
          [half, 'h', 'halfvec(16)'],
        ] as const) {
          const into = pgNames.name(`h20milvus_pg${field}`);
          await repo.restore(pgA as PgvectorAdapter, { collection: src, target: into });
          expect(await pgType(into, field)).toBe(type);
          expect((await repo.verifyParity(pgA as PgvectorAdapter, { collection: src, live: into })).ok).toBe(true);
        }
        const [bits] = (await (pool as pg.Pool).query(`SELECT b::text AS b FROM ${pgNames.created.at(-2) as string} WHERE id = 1`)).rows;
        expect(bits.b).toBe(`1${'0'.repeat(62)}1`);
      },
      60_000,
    );

    it.runIf(hasPg)(
      'a pgvector halfvec table and a bit table restore into Milvus 2.3.5 with parity',
      async () => {
        const hv = pgNames.name('h20milvus_hv');
        const bt = pgNames.name('h20milvus_bt');
        const p = pool as pg.Pool;
        await p.query(`CREATE TABLE ${hv} (id bigint PRIMARY KEY, h halfvec(8) NOT NULL)`);
        await p.query(
          `INSERT INTO ${hv} SELECT g, ARRAY(SELECT cos(g * 3 + k)::real FROM generate_series(1, 8) k)::halfvec FROM generate_series(1, 120) g`,
        );
        await p.query(`CREATE INDEX ON ${hv} USING hnsw (h halfvec_cosine_ops)`);
        await p.query(`CREATE TABLE ${bt} (id bigint PRIMARY KEY, b bit(16) NOT NULL)`);
        await p.query(
          `INSERT INTO ${bt} SELECT g, CASE WHEN g = 1 THEN B'1000000000000001' ELSE (g * 2654435761 % 65536)::bit(16) END FROM generate_series(1, 120) g`,
        );
        await p.query(`CREATE INDEX ON ${bt} USING hnsw (b bit_hamming_ops)`);
        for (const [t, field] of [
          [hv, 'h'],
          [bt, 'b'],
        ] as const) {
          await repo.snapshot(pgA as PgvectorAdapter, t);
          const into = mv.name(`h20milvus_from_${field}`);
          const restored = await repo.restore(adapter, { collection: t, target: into });
          expect(restored.rows).toBe(120);
          expect((await repo.verifyParity(adapter, { collection: t, live: into })).ok).toBe(true);
          if (field === 'b') {
            // pgvector has no HNSW on bits in Milvus 2.3.5: BIN_FLAT, reported; Milvus's dimension 0 is bit 0 of byte 0.
            expect(restored.notCarriedOver.some((n) => n.what === 'index' && n.name.includes('b'))).toBe(true);
            expect((await rawRows(client, into, 'b')).get('1')).toEqual([0x01, 0x80]);
          } else {
            expect((await adapter.describe(into)).vectors[0]).toMatchObject({ element: 'float16', metric: 'cosine' });
          }
        }
      },
      60_000,
    );
  });

  describe.runIf(hasLite)('sparse on milvus-lite', () => {
    let client: MilvusClient;
    let adapter: MilvusAdapter;
    let sp: string;
    beforeAll(async () => {
      client = new MilvusClient({ address: LITE as string, logLevel: 'error' });
      adapter = open(LITE as string);
      sp = mv.name('h20milvus_sp');
      await client.createCollection({ collection_name: sp, fields: [ID, { name: 's', data_type: DataType.SparseFloatVector }] } as never);
      await client.insert({
        collection_name: sp,
        data: Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, s: sparseRow(i + 1) })),
      } as never);
      await client.createIndex({
        collection_name: sp,
        field_name: 's',
        index_type: 'SPARSE_INVERTED_INDEX',
        metric_type: 'IP',
        params: { drop_ratio_build: 0 },
      } as never);
      await client.loadCollectionSync({ collection_name: sp });
    }, 60_000);
    afterAll(() => client?.closeConnection());

    it('declares dense float32 and sparse, reads sparse rows in ascending index order', async () => {
      await adapter.probe();
      expect(adapter.capabilities.vectorKinds).toEqual({ dense: ['float32'], sparse: true, multi: [] });
      const s = (await adapter.describe(sp)).vectors[0];
      expect(s).toMatchObject({ name: 's', kind: 'sparse', metric: 'dot', nativeType: 'SparseFloatVector' });
      expect(s?.dims).toBeUndefined();
      const [r] = await adapter.fetch(sp, [4n]);
      const want = sparseRow(4);
      const order = want.indices.map((_, k) => k).sort((a, b) => (want.indices[a] as number) - (want.indices[b] as number));
      expect(r?.vectors.s).toEqual({
        kind: 'sparse',
        indices: Uint32Array.from(order.map((k) => want.indices[k] as number)),
        values: Float32Array.from(order.map((k) => want.values[k] as number)),
      });
    });

    it('snapshot -> restore into milvus-lite: parity ok, recall by inner product', async () => {
      await repo.snapshot(adapter, sp);
      const into = mv.name('h20milvus_sp_r');
      expect((await repo.restore(adapter, { collection: sp, target: into })).rows).toBe(ROWS);
      expect((await repo.verifyParity(adapter, { collection: sp, live: into })).ok).toBe(true);
      const rr = await repo.verifyRecall(adapter, { collection: sp, live: into, k: 5, queries: 20 });
      expect(rr).toMatchObject({ ok: true, metric: 'dot' });
      expect((await adapter.describe(into)).indexes[0]?.kind).toBe('sparse_inverted_index');
    }, 60_000);

    it.runIf(hasPg)(
      'a pgvector sparsevec(1000) table -> milvus-lite -> pgvector: the declared dims kept, parity at each hop',
      async () => {
        const own = pgNames.name('h20milvus_sv');
        const p = pool as pg.Pool;
        await p.query(`CREATE TABLE ${own} (id bigint PRIMARY KEY, s sparsevec(1000) NOT NULL, note text)`);
        await p.query(
          `INSERT INTO ${own} SELECT g, ('{' || (g % 20) + 1 || ':' || (g / 10.0) || ',' || ((g * 37) % 20) + 21 || ':1.5}/1000')::sparsevec, 'n' || g FROM generate_series(1, 150) g`,
        );
        await p.query(`CREATE INDEX ON ${own} USING hnsw (s sparsevec_ip_ops)`);
        await repo.snapshot(pgA as PgvectorAdapter, own);
        const into = mv.name('h20milvus_sv_r');
        expect((await repo.restore(adapter, { collection: own, target: into })).rows).toBe(150);
        expect((await repo.verifyParity(adapter, { collection: own, live: into })).ok).toBe(true);
        expect((await adapter.describe(into)).vectors[0]).toMatchObject({ kind: 'sparse', dims: 1000, metric: 'dot' });
        expect(await repo.verifyRecall(adapter, { collection: own, live: into, k: 5, queries: 10 })).toMatchObject({ ok: true });

        await repo.snapshot(adapter, into);
        const back = pgNames.name('h20milvus_sv_back');
        await repo.restore(pgA as PgvectorAdapter, { collection: into, target: back });
        expect(await pgType(back, 's')).toBe('sparsevec(1000)');
        expect((await repo.verifyParity(pgA as PgvectorAdapter, { collection: into, live: back })).ok).toBe(true);
        expect((await repo.verifyParity(pgA as PgvectorAdapter, { collection: own, live: back })).ok).toBe(true);
      },
      60_000,
    );

    it.runIf(hasPg)(
      'a Milvus sparse field (no declared dims) restores into pgvector as sparsevec',
      async () => {
        const pgT = pgNames.name('h20milvus_pgs');
        expect((await repo.restore(pgA as PgvectorAdapter, { collection: sp, target: pgT })).rows).toBe(ROWS);
        expect(await pgType(pgT, 's')).toMatch(/^sparsevec\(/);
        const [row] = (await (pool as pg.Pool).query(`SELECT s::text AS s FROM ${pgT} WHERE id = 4`)).rows;
        expect(String(row.s)).toMatch(/^\{\d+:/);
      },
      60_000,
    );

    it('refuses sparse values Milvus would not give back as written: a repeated index, a negative or zero weight, an empty vector', async () => {
      const schema: CollectionSchema = {
        name: mv.name('h20milvus_bad'),
        idField: 'id',
        idType: 'int64',
        vectors: [{ name: 's', kind: 'sparse', element: 'float32', metric: 'dot', nullable: false }],
        payload: [],
        indexes: [],
      };
      await adapter.create(schema, { indexes: 'now' });
      const write = (indices: number[], values: number[]): Promise<void> => {
        const rec: VectorRecord = {
          id: 1n,
          vectors: { s: { kind: 'sparse', indices: Uint32Array.from(indices), values: Float32Array.from(values) } },
          payload: {},
        };
        return adapter.write(schema.name, batchFromRecords(schema, [rec]), { mode: 'insert' });
      };
      expect((await expectError(write([3, 3], [1, 2]), 'INVALID_VECTOR')).message).toContain('repeated (3, 3)');
      await expectError(write([9, 2], [1, 2]), 'INVALID_VECTOR');
      expect((await expectError(write([1, 2], [1, -1]), 'INVALID_VECTOR')).message).toContain('weight -1');
      await expectError(write([1], [0]), 'INVALID_VECTOR');
      await expectError(write([], []), 'INVALID_VECTOR');
      expect(await adapter.count(schema.name)).toBe(0);
      await write([2, 4_294_967_294], [2, 1]);
      const [r] = await adapter.fetch(schema.name, [1n]);
      expect(r?.vectors.s).toEqual({ kind: 'sparse', indices: Uint32Array.from([2, 4_294_967_294]), values: Float32Array.from([2, 1]) });
    });
  });

  describe.runIf(hasStandalone && hasLite)('what a server lacks', () => {
    it('a sparse snapshot into Milvus 2.3.5 is refused before anything is written, naming the field', async () => {
      const src = mv.created.find((c) => c.startsWith('h20milvus_sp_')) as string;
      for (const probed of [false, true]) {
        const fresh = open(STANDALONE as string);
        if (probed) await fresh.probe();
        const into = mv.name('h20milvus_sp_no');
        const err = await expectError(repo.restore(fresh, { collection: src, target: into }), 'UNSUPPORTED_OPERATION');
        expect(err.message).toContain('"s"');
        expect(err.message).toContain('sparse');
        expect(await fresh.exists(into)).toBe(false);
      }
    });

    it('a float16 snapshot into milvus-lite: refused as is, widened to float32 once the adapter knows the server (reported)', async () => {
      const src = mv.created.find((c) => c.startsWith('h20milvus_half_')) as string;
      const fresh = open(LITE as string);
      const err = await expectError(repo.restore(fresh, { collection: src, target: mv.name('h20milvus_h_no') }), 'UNSUPPORTED_OPERATION');
      expect(err.message).toContain('convertVectors');
      await fresh.probe();
      const into = mv.name('h20milvus_h_wide');
      const restored = await repo.restore(fresh, { collection: src, target: into });
      expect(restored.notCarriedOver).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'vector "h"', action: 'converted' })]),
      );
      expect((await fresh.describe(into)).vectors[0]).toMatchObject({ element: 'float32', dims: 16 });
      expect((await repo.verifyParity(fresh, { collection: src, live: into })).ok).toBe(true);
    }, 60_000);
  });
});
