/**
 * pgvector's vector types beside each other — vector, halfvec, sparsevec, bit, nullable or not —
 * through snapshot, restore and parity on PostgreSQL 18 (PG_URL), PostgreSQL 16 (PG16_URL) and
 * PGlite, with binary COPY and with INSERT; every operator class and the three expression indexes
 * pgvector documents recreated; search by each type's distance; and a restore into a pgvector older
 * than the types refused before anything is written (an old pgvector is simulated by a pool whose
 * version probe answers 0.6.2: no server here has one).
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { PgQueryable } from '../../adapters/pgvector/pgvector-driver.js';
import type { VectordrError } from '../../src/errors.js';
import type { Change } from '../../src/adapter.js';
import type { Checkpoint, SparseVector } from '../../src/model.js';
import { openRepository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgvectorPool } from '../helpers/pg.js';

const PG_URL = process.env.PG_URL;
const PG16_URL = process.env.PG16_URL;

/** What a suite runs on: SQL for setup and checks, and an adapter per COPY setting. */
interface Target {
  sql(text: string): Promise<Record<string, unknown>[]>;
  adapter(copy: 'auto' | 'never'): PgvectorAdapter;
  /** An adapter whose version probe answers `version`, as an older pgvector would. */
  olderAdapter(version: string): PgvectorAdapter;
  close(): Promise<void>;
}

/** A query function that answers the pgvector version probes with `version` and passes everything else on. */
function fakeVersion(query: PgQueryable['query'], version: string): PgQueryable['query'] {
  return async (text, values) => {
    if (!text.includes("extname = 'vector'")) return query(text, values);
    const r = await query(text, values);
    return {
      ...r,
      rows: r.rows.map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k === 'installed' || k === 'ev' || k === 'available' ? version : v])),
      ),
    };
  };
}

async function pgTarget(url: string): Promise<Target> {
  const pool = await pgvectorPool(url);
  const older = (version: string): pg.Pool =>
    new Proxy(pool, {
      get: (t, p) => (p === 'query' ? fakeVersion(t.query.bind(t) as PgQueryable['query'], version) : Reflect.get(t, p, t)),
    });
  return {
    sql: async (text) => (await pool.query(text)).rows as Record<string, unknown>[],
    adapter: (copy) => pgvectorAdapter({ pool, copy }),
    olderAdapter: (version) => pgvectorAdapter({ pool: older(version) }),
    close: () => pool.end(),
  };
}

async function pgliteTarget(): Promise<Target> {
  const db = await PGlite.create({ extensions: { vector } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
  return {
    sql: async (text) => {
      const results = await db.exec(text);
      return (results.at(-1)?.rows ?? []) as Record<string, unknown>[];
    },
    adapter: (copy) => pgvectorAdapter({ pglite: db, copy }),
    olderAdapter: () => {
      throw new Error('simulated on PostgreSQL only');
    },
    close: () => db.close(),
  };
}

const SUITES: { name: string; engine: string; url: string | undefined; open: () => Promise<Target> }[] = [
  { name: 'PostgreSQL 18', engine: 'pgvector', url: PG_URL, open: () => pgTarget(PG_URL as string) },
  { name: 'PostgreSQL 16', engine: 'pgvector', url: PG16_URL, open: () => pgTarget(PG16_URL as string) },
  { name: 'PGlite', engine: 'pglite', url: 'in-process', open: pgliteTarget },
];

const ROWS = 240;

/** The table of every type: vector, halfvec (NOT NULL), sparsevec, bit, with NULLs, and a payload column. */
function tableDdl(t: string): string[] {
  return [
    `CREATE TABLE ${t} (id bigint PRIMARY KEY, e vector(8), h halfvec(8) NOT NULL, s sparsevec(1000), b bit(20), note text)`,
    // Deterministic values: halfvec edge values (-0, subnormal, 65504), sparse rows of 0..4 entries, NULL in every nullable column.
    `INSERT INTO ${t}
       SELECT g,
              CASE WHEN g % 7 = 0 THEN NULL ELSE ARRAY(SELECT sin(g * 13 + k)::real FROM generate_series(1, 8) k)::vector END,
              CASE WHEN g = 1 THEN '[-0,5.9604645e-08,65504,-65504,0.000061035156,1,0.5,-2]'::halfvec
                   ELSE ARRAY(SELECT cos(g * 7 + k)::real FROM generate_series(1, 8) k)::halfvec END,
              CASE WHEN g % 5 = 0 THEN NULL WHEN g % 11 = 0 THEN '{}/1000'::sparsevec
                   ELSE ('{' || (g % 1000) + 1 || ':' || (g / 10.0) || ',' || ((g * 37) % 1000) + 1 || ':-1.5}/1000')::sparsevec END,
              CASE WHEN g % 9 = 0 THEN NULL ELSE (g * 2654435761 % 1048576)::bit(20) END,
              CASE WHEN g % 2 = 0 THEN 'n' || g END
         FROM generate_series(1, ${ROWS}) g`,
  ];
}

/** Every operator class pgvector has for these types, on hnsw and ivfflat, and the three expression indexes. */
function indexDdl(t: string): string[] {
  const ix = (using: string, col: string, with_ = ''): string => `CREATE INDEX ON ${t} USING ${using} (${col})${with_}`;
  return [
    ix('hnsw', 'e vector_cosine_ops', ' WITH (m = 8, ef_construction = 32)'),
    ix('hnsw', 'h halfvec_l2_ops'),
    ix('hnsw', 'h halfvec_ip_ops'),
    ix('hnsw', 'h halfvec_cosine_ops'),
    ix('hnsw', 'h halfvec_l1_ops'),
    ix('ivfflat', 'h halfvec_l2_ops', ' WITH (lists = 2)'),
    ix('ivfflat', 'h halfvec_ip_ops', ' WITH (lists = 3)'),
    ix('ivfflat', 'h halfvec_cosine_ops', ' WITH (lists = 4)'),
    ix('hnsw', 's sparsevec_ip_ops'),
    ix('hnsw', 's sparsevec_l2_ops'),
    ix('hnsw', 's sparsevec_cosine_ops'),
    ix('hnsw', 's sparsevec_l1_ops'),
    ix('hnsw', 'b bit_hamming_ops'),
    ix('hnsw', 'b bit_jaccard_ops'),
    ix('ivfflat', 'b bit_hamming_ops', ' WITH (lists = 2)'),
    ix('hnsw', '(binary_quantize(e)::bit(8)) bit_hamming_ops', ' WITH (m = 12)'),
    ix('hnsw', '(binary_quantize(h)::bit(8)) bit_jaccard_ops'),
    ix('hnsw', '(e::halfvec(8)) halfvec_cosine_ops'),
    ix('hnsw', '(subvector(e, 2, 3)::vector(3)) vector_l2_ops'),
    ix('ivfflat', '(subvector(h, 1, 4)::halfvec(4)) halfvec_ip_ops', ' WITH (lists = 2)'),
  ];
}

/** The table's index definitions without names (sorted), to compare a restored table with its source. */
async function indexShapes(target: Target, t: string): Promise<string[]> {
  const rows = await target.sql(
    `SELECT regexp_replace(pg_get_indexdef(indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', '') AS d FROM pg_index WHERE indrelid = '${t}'::regclass ORDER BY 1`,
  );
  return rows.map((r) => String(r.d));
}

async function rowsText(target: Target, t: string): Promise<string[]> {
  return (await target.sql(`SELECT t::text AS r FROM ${t} t ORDER BY id`)).map((r) => String(r.r));
}

for (const suite of SUITES) {
  describe.runIf(engineAvailable(suite.engine, suite.url !== undefined))(`vector kinds on ${suite.name}`, () => {
    let target: Target;
    const { name, created } = createdNames();
    beforeAll(async () => {
      target = await suite.open();
    });
    afterAll(async () => {
      for (const t of created) await target.sql(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      await target.close();
    });

    it('records vector, halfvec, sparsevec and bit columns with their kinds, metrics and structured expression indexes', async () => {
      const t = name('h20pg_desc');
      for (const s of [...tableDdl(t), ...indexDdl(t)]) await target.sql(s);
      const schema = await target.adapter('auto').describe(t);
      expect(schema.vectors).toEqual([
        { name: 'e', dims: 8, metric: 'cosine', element: 'float32', nullable: true, nativeType: 'vector(8)' },
        { name: 'h', dims: 8, metric: expect.any(String), element: 'float16', nullable: false, nativeType: 'halfvec(8)' },
        {
          name: 's',
          kind: 'sparse',
          dims: 1000,
          metric: expect.any(String),
          element: 'float32',
          nullable: true,
          nativeType: 'sparsevec(1000)',
        },
        { name: 'b', dims: 20, metric: expect.any(String), element: 'binary', nullable: true, nativeType: 'bit(20)' },
      ]);
      const expressions = schema.indexes.filter((i) => i.params.expression !== undefined);
      expect(expressions.map(({ kind, field, metric, params }) => ({ kind, field, metric, params }))).toEqual(
        expect.arrayContaining([
          { kind: 'hnsw', field: 'e', metric: 'hamming', params: { expression: 'binary_quantize', dims: 8, m: 12 } },
          { kind: 'hnsw', field: 'h', metric: 'jaccard', params: { expression: 'binary_quantize', dims: 8 } },
          { kind: 'hnsw', field: 'e', metric: 'cosine', params: { expression: 'halfvec', dims: 8 } },
          { kind: 'hnsw', field: 'e', metric: 'l2', params: { expression: 'subvector', start: 2, dims: 3 } },
          { kind: 'ivfflat', field: 'h', metric: 'dot', params: { expression: 'subvector', start: 1, dims: 4, lists: 2 } },
        ]),
      );
      expect(expressions).toHaveLength(5);
      // Expression indexes come after the plain ones, and no index is left "unsupported".
      expect(schema.indexes.slice(-5)).toEqual(expressions);
      expect(schema.indexes.filter((i) => i.params.unsupported !== undefined)).toEqual([]);
      expect(new Set(schema.indexes.map((i) => i.metric))).toEqual(new Set(['cosine', 'l2', 'dot', 'l1', 'hamming', 'jaccard']));
    });

    for (const copy of ['auto', 'never'] as const) {
      it(`the adapter alone: create from the described schema, write the scanned batches, build every index (copy: ${copy})`, async () => {
        const t = name('h20pg_rt');
        const into = name('h20pg_rtdst');
        for (const s of [...tableDdl(t), ...indexDdl(t)]) await target.sql(s);
        const adapter = target.adapter(copy);
        const schema = await adapter.describe(t);
        const scan = await adapter.scan(t, { batchSize: 50 });
        const batches = [];
        try {
          for await (const batch of scan.batches()) batches.push(batch);
        } finally {
          await scan.close();
        }
        const copySchema = { ...schema, name: into };
        await adapter.preflightCreate(copySchema);
        await adapter.create(copySchema, { indexes: 'deferred' });
        for (const batch of batches) await adapter.write(into, batch, { mode: 'insert' });
        const built = await adapter.buildIndexes(into, copySchema);
        expect(built.skipped).toEqual([]);
        expect(built.built).toHaveLength(indexDdl(t).length);
        expect(await rowsText(target, into)).toEqual(await rowsText(target, t));
        expect(await indexShapes(target, into)).toEqual(await indexShapes(target, t));
        // A resumed restore finds every index, plain or expression, and builds none again.
        expect((await adapter.buildIndexes(into, copySchema)).built).toEqual([]);
        // Upserts (a staging table on the COPY path) of the same rows change nothing.
        for (const batch of batches) await adapter.write(into, batch, { mode: 'upsert' });
        expect(await rowsText(target, into)).toEqual(await rowsText(target, t));
      });

      it(`snapshot -> restore -> parity is exact, indexes recreated (copy: ${copy})`, async () => {
        const t = name('h20pg_src');
        const into = name('h20pg_dst');
        for (const s of [...tableDdl(t), ...indexDdl(t)]) await target.sql(s);
        const adapter = target.adapter(copy);
        const repo = await openRepository({ storage: memoryStorage(), create: true });
        const { manifest } = await repo.snapshot(adapter, t);
        expect(manifest.rows.upserts).toBe(ROWS);
        expect(manifest.features).toContain('vector-kinds');
        const restored = await repo.restore(adapter, { collection: t, target: into });
        expect(restored.rows).toBe(ROWS);
        expect(restored.indexes.skipped).toEqual([]);
        expect(restored.indexes.built).toHaveLength(indexDdl(t).length);
        expect(await rowsText(target, into)).toEqual(await rowsText(target, t));
        expect(await indexShapes(target, into)).toEqual(await indexShapes(target, t));
        const parity = await repo.verifyParity(adapter, { collection: t, live: into });
        expect(parity.ok).toBe(true);
        // A changed value of each kind is found.
        await target.sql(`UPDATE ${into} SET h = '[1,1,1,1,1,1,1,1]', s = '{3:1}/1000', b = B'11111111111111111111' WHERE id = 2`);
        const changed = await repo.verifyParity(adapter, { collection: t, live: into });
        expect(changed.ok).toBe(false);
      });
    }

    it('search orders by each type and metric: <->, <#>, <=>, <+>, <~>, <%>', async () => {
      const t = name('h20pg_search');
      for (const s of tableDdl(t)) await target.sql(s);
      const adapter = target.adapter('auto');
      // Distances, not ids: Hamming distances tie, and ties may come in any order.
      const exact = async (col: string, op: string, literal: string): Promise<number[]> =>
        (await target.sql(`SELECT (${col} ${op} ${literal})::float8 AS d FROM ${t} WHERE ${col} IS NOT NULL ORDER BY 1 LIMIT 5`)).map((r) =>
          Number(r.d),
        );
      // Columns without an index have metric 'unspecified': l2 for halfvec, inner product for sparse, Hamming for bits.
      const half = new Float32Array([0.5, -0.25, 1, 0, 0.125, -1, 0.75, 2]);
      const hits = await adapter.search(t, half, 5, { vector: 'h', exact: true });
      expect(hits.map((h) => h.score)).toEqual(await exact('h', '<->', `'[0.5,-0.25,1,0,0.125,-1,0.75,2]'::halfvec`));
      const sparse: SparseVector = { kind: 'sparse', indices: new Uint32Array([0, 36, 500]), values: new Float32Array([1, -2, 0.5]) };
      const sparseHits = await adapter.search(t, { sparse }, 5, { vector: 's', exact: true });
      expect(sparseHits.map((h) => h.score)).toEqual(await exact('s', '<#>', `'{1:1,37:-2,501:0.5}/1000'::sparsevec`));
      const bits = { kind: 'dense', element: 'binary', data: new Uint8Array([0xa5, 0x0f, 0x30]) } as const;
      const bitHits = await adapter.search(t, { dense: bits }, 5, { vector: 'b', exact: true });
      expect(bitHits.map((h) => h.score)).toEqual(await exact('b', '<~>', `B'10100101000011110011'`));
      // With an index, the index's metric: jaccard on the bits, l1 and cosine on halfvec.
      for (const s of [`CREATE INDEX ON ${t} USING hnsw (b bit_jaccard_ops)`]) await target.sql(s);
      const jaccard = await adapter.search(t, { dense: bits }, 5, { vector: 'b', exact: true });
      expect(jaccard.map((h) => h.score)).toEqual(await exact('b', '<%>', `B'10100101000011110011'`));
      await expectError(adapter.search(t, half, 5, { vector: 's' }), 'DIMENSION_MISMATCH');
    });

    it.runIf(suite.engine === 'pgvector' && suite.url === PG_URL)(
      'change capture (pgoutput) renders every type as the scan does',
      async () => {
        const t = name('h20pg_cap');
        for (const s of tableDdl(t)) await target.sql(s);
        const adapter = target.adapter('auto');
        const captureId = `h20pg${Math.random().toString(36).slice(2, 10)}`;
        const scan = await adapter.scan(t, { batchSize: 100, startCapture: { captureId } });
        try {
          for await (const _ of scan.batches());
        } finally {
          await scan.close();
        }
        try {
          await target.sql(
            `UPDATE ${t} SET h = '[1,-0,2,3,4,5,6,65504]', s = '{1:2,1000:-1}/1000', b = B'10000000000000000001', e = NULL WHERE id = 3`,
          );
          await target.sql(`UPDATE ${t} SET s = NULL, b = NULL WHERE id = 4`);
          await target.sql(`DELETE FROM ${t} WHERE id = 6`);
          const session = await adapter.captureChanges(t, scan.checkpoint as Checkpoint, { captureId });
          const changes: Change[] = [];
          try {
            for await (const batch of session.changes()) changes.push(...batch);
            await session.commit(session.end().checkpoint);
          } finally {
            await session.close();
          }
          const upserts = changes.filter((c): c is Extract<Change, { op: 'upsert' }> => c.op === 'upsert');
          expect(upserts.map((c) => c.record.id)).toEqual([3n, 4n]);
          expect(changes.filter((c) => c.op === 'delete').map((c) => c.id)).toEqual([6n]);
          expect(upserts.map((c) => c.record)).toEqual(await adapter.fetch(t, [3n, 4n]));
        } finally {
          await adapter.dropCapture(captureId);
        }
      },
    );

    it.runIf(suite.engine === 'pgvector')('preflightCreate names the pgvector version each type needs', async () => {
      const t = name('h20pg_pre');
      for (const s of tableDdl(t)) await target.sql(s);
      const schema = await target.adapter('auto').describe(t);
      const onlyBits = { ...schema, vectors: schema.vectors.filter((v) => v.name === 'b') };
      for (const [version, ok] of [
        ['0.5.1', false],
        ['0.6.2', false],
        ['0.7.0', true],
        ['0.8.5', true],
      ] as const) {
        const old = target.olderAdapter(version);
        if (ok) await old.preflightCreate(schema);
        else {
          const err = await expectError(old.preflightCreate(onlyBits), 'UNSUPPORTED_OPERATION');
          expect((err as VectordrError).details).toMatchObject({ field: 'b', type: 'bit', needs: '0.7.0', pgvector: version });
        }
      }
    });

    it.runIf(suite.engine === 'pgvector')(
      'refuses, before writing, a restore into a pgvector without halfvec, naming the version needed',
      async () => {
        const t = name('h20pg_old');
        const into = name('h20pg_olddst');
        for (const s of tableDdl(t)) await target.sql(s);
        const repo = await openRepository({ storage: memoryStorage(), create: true });
        await repo.snapshot(target.adapter('auto'), t);
        const old = target.olderAdapter('0.6.2');
        const err = await expectError(repo.restore(old, { collection: t, target: into }), 'UNSUPPORTED_OPERATION');
        expect(err.message).toContain('0.7.0');
        expect(err.message).toContain('0.6.2');
        expect((err as VectordrError).details).toMatchObject({ field: 'h', type: 'halfvec', needs: '0.7.0', pgvector: '0.6.2' });
        expect(await target.sql(`SELECT 1 FROM pg_class WHERE relname LIKE '${into}%'`)).toEqual([]);
        // Once the version is known, the capability says what it stores.
        await old.describeEndpoint();
        expect(old.capabilities.vectorKinds).toEqual({ dense: ['float32'], sparse: false, multi: [] });
        expect(target.adapter('auto').capabilities.vectorKinds).toEqual({
          dense: ['float32', 'float16', 'binary'],
          sparse: true,
          multi: [],
        });
      },
    );
  });
}

const QDRANT_URL = process.env.QDRANT_URL;

describe.runIf(engineAvailable('pgvector', PG_URL !== undefined) && engineAvailable('qdrant-real', QDRANT_URL !== undefined))(
  'vector kinds from pgvector into Qdrant (real server)',
  () => {
    let target: Target;
    const { name, created } = createdNames();
    beforeAll(async () => {
      target = await pgTarget(PG_URL as string);
    });
    afterAll(async () => {
      for (const t of created) await target.sql(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      await target.close();
    });

    it('a halfvec field is stored as Qdrant float16 and sparsevec as a sparse vector; bit is refused unless left out; parity holds', async () => {
      const { qdrantAdapter } = await import('../../adapters/qdrant/index.js');
      const qdrant = qdrantAdapter({ url: QDRANT_URL as string });
      const t = name('h20pg_xq');
      const into = `h20pg_xq_${Math.random().toString(36).slice(2, 10)}`;
      const denseInto = `${into}_dense`;
      // Indexes give the two dense fields their metrics (Qdrant needs a distance per vector).
      for (const s of [
        ...tableDdl(t),
        `CREATE INDEX ON ${t} USING hnsw (e vector_cosine_ops)`,
        `CREATE INDEX ON ${t} USING hnsw (h halfvec_l2_ops)`,
      ])
        await target.sql(s);
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      await repo.snapshot(target.adapter('auto'), t);
      try {
        // Qdrant has no bits (as its adapter declares): the bit field is refused before anything is written.
        await expectError(repo.restore(qdrant, { collection: t, target: into }), 'UNSUPPORTED_OPERATION');
        expect(await qdrant.exists(into)).toBe(false);
        const restored = await repo.restore(qdrant, { collection: t, target: into, omitVectors: ['s', 'b'] });
        expect(restored.rows).toBe(ROWS);
        const notes = restored.notCarriedOver.map(({ name: n, action }) => ({ name: n, action }));
        expect(notes).toEqual(
          expect.arrayContaining([
            { name: expect.stringContaining('s'), action: 'dropped' },
            { name: expect.stringContaining('b'), action: 'dropped' },
          ]),
        );
        // Parity needs every field on both sides: a table of the vector and halfvec fields alone,
        // restored without options: float16 stays float16 (Qdrant's datatype), parity holds.
        const dense = name('h20pg_xqd');
        for (const s of [
          `CREATE TABLE ${dense} AS SELECT id, e, h, note FROM ${t}`,
          `ALTER TABLE ${dense} ADD PRIMARY KEY (id), ALTER COLUMN h SET NOT NULL`,
          `CREATE INDEX ON ${dense} USING hnsw (e vector_cosine_ops)`,
          `CREATE INDEX ON ${dense} USING hnsw (h halfvec_l2_ops)`,
        ])
          await target.sql(s);
        await repo.snapshot(target.adapter('auto'), dense);
        const widened = await repo.restore(qdrant, { collection: dense, target: denseInto });
        expect(widened.notCarriedOver.map((n) => n.action)).not.toContain('converted');
        const parity = await repo.verifyParity(qdrant, { collection: dense, live: denseInto });
        expect(parity.ok).toBe(true);
        const hits = await qdrant.search(denseInto, new Float32Array([0.5, -0.25, 1, 0, 0.125, -1, 0.75, 2]), 3, { vector: 'h' });
        expect(hits).toHaveLength(3);
      } finally {
        await qdrant.drop(denseInto).catch(() => undefined);
        await qdrant.drop(into).catch(() => undefined);
        await qdrant.close?.();
      }
    });
  },
);
