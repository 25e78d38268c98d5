/**
 * pgvector's limits by kind (issue 20), on PostgreSQL 18 (PG_URL), 16 (PG16_URL) and PGlite: a bit(n)
 * field counts bits and a sparsevec(n) declares an index space, so neither is held to vector(n)'s
 * 16,000; a sparse field without a declared count becomes sparsevec(1000000000) (pgvector's
 * SPARSEVEC_MAX_DIM), and a row with an index at or beyond it is refused before anything is created.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { VectordrError } from '../../src/errors.js';
import { type CollectionSchema, type VectorRecord, batchFromRecords } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { pgvectorPool } from '../helpers/pg.js';
import { memoryRepository } from '../helpers/repository.js';

interface Target {
  sql(text: string): Promise<Record<string, unknown>[]>;
  adapter: PgvectorAdapter;
  close(): Promise<void>;
}

async function pgTarget(url: string): Promise<Target> {
  const pool = await pgvectorPool(url);
  return {
    sql: async (t) => (await pool.query(t)).rows as Record<string, unknown>[],
    adapter: pgvectorAdapter({ pool }),
    close: () => pool.end(),
  };
}

async function pgliteTarget(): Promise<Target> {
  const db = await PGlite.create({ extensions: { vector } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
  return {
    sql: async (t) => ((await db.exec(t)).at(-1)?.rows ?? []) as Record<string, unknown>[],
    adapter: pgvectorAdapter({ pglite: db }),
    close: () => db.close(),
  };
}

const SUITES = [
  { name: 'PostgreSQL 18', engine: 'pgvector', url: process.env.PG_URL, open: () => pgTarget(process.env.PG_URL as string) },
  { name: 'PostgreSQL 16', engine: 'pgvector', url: process.env.PG16_URL, open: () => pgTarget(process.env.PG16_URL as string) },
  { name: 'PGlite', engine: 'pglite', url: 'in-process', open: pgliteTarget },
];

const BITS = 20_000;

function schemaOf(name: string, vectors: CollectionSchema['vectors']): CollectionSchema {
  return { name, idField: 'id', idType: 'int64', vectors, payload: [], indexes: [] };
}

/** A bit field of 20,000 bits, a sparse field over a 30,522-word vocabulary, and a sparse field without a count (indices up to `top`). */
const WIDE = (name: string): CollectionSchema =>
  schemaOf(name, [
    { name: 'b', dims: BITS, metric: 'hamming', element: 'binary', nullable: true },
    { name: 'w', kind: 'sparse', dims: 30_522, metric: 'dot', element: 'float32', nullable: true },
    { name: 'u', kind: 'sparse', metric: 'dot', element: 'float32', nullable: true },
  ]);

function wideRecords(top: number): VectorRecord[] {
  return Array.from({ length: 5 }, (_, i) => {
    const bits = new Uint8Array(BITS / 8);
    bits[i] = 0x80 >> i;
    bits[BITS / 8 - 1] = i;
    return {
      id: BigInt(i + 1),
      vectors: {
        b: { kind: 'dense', element: 'binary', data: bits },
        w: { kind: 'sparse', indices: Uint32Array.of(i, 30_521), values: Float32Array.of(1 + i, -2) },
        u:
          i === 3 ? null : { kind: 'sparse', indices: Uint32Array.of(7, i === 4 ? top : 999_999_999), values: Float32Array.of(0.5, i + 1) },
      },
      payload: {},
    };
  });
}

for (const suite of SUITES) {
  describe.runIf(engineAvailable(suite.engine, suite.url !== undefined))(`pgvector limits by kind on ${suite.name}`, () => {
    let target: Target;
    let repo: Repository;
    const source = memoryAdapter();
    const { name, created } = createdNames();
    beforeAll(async () => {
      target = await suite.open();
      repo = await memoryRepository();
    });
    afterAll(async () => {
      for (const t of created) await target.sql(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      await target.close();
    });

    /** Tables whose name starts with `prefix` (the target, or its staging collection `<target>_vdr_<hash>`). */
    const tablesLike = async (prefix: string): Promise<string[]> =>
      (await target.sql(`SELECT relname FROM pg_class WHERE relkind = 'r' AND starts_with(relname, '${prefix}') ORDER BY 1`)).map((r) =>
        String(r.relname),
      );

    it('bit(20000), sparsevec(30522) and a sparse field without a count (sparsevec(1000000000)) restore exactly, parity ok', async () => {
      const src = name('h22finish_wide');
      await source.create(WIDE(src), { indexes: 'now' });
      await source.write(src, batchFromRecords(WIDE(src), wideRecords(999_999_999)), { mode: 'upsert' });
      await repo.snapshot(source, src);
      const t = name('h22finish_wide_pg');
      const result = await repo.restore(target.adapter, { collection: src, target: t });
      expect(result.notCarriedOver).toEqual([]);
      const types = await target.sql(
        `SELECT attname, format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '${t}'::regclass AND attnum > 1 ORDER BY attnum`,
      );
      expect(types.map((r) => `${String(r.attname)} ${String(r.t)}`)).toEqual([
        'b bit(20000)',
        'w sparsevec(30522)',
        'u sparsevec(1000000000)',
      ]);
      expect((await target.sql(`SELECT u::text AS u FROM ${t} WHERE id = 5`))[0]?.u).toBe('{8:0.5,1000000000:5}/1000000000');
      expect((await repo.verifyParity(target.adapter, { collection: src, live: t })).ok).toBe(true);
    });

    it('a sparse index at or beyond 1,000,000,000 in a field without a count is refused before anything is created', async () => {
      const src = name('h22finish_far');
      await source.create(WIDE(src), { indexes: 'now' });
      await source.write(src, batchFromRecords(WIDE(src), wideRecords(1_000_000_000)), { mode: 'upsert' });
      await repo.snapshot(source, src);
      const t = name('h22finish_far_pg');
      let creates = 0;
      const create = target.adapter.create.bind(target.adapter);
      const spied = Object.assign(Object.create(Object.getPrototypeOf(target.adapter) as object) as PgvectorAdapter, target.adapter, {
        create: async (...args: Parameters<PgvectorAdapter['create']>) => {
          creates++;
          return create(...args);
        },
      });
      const err = (await expectError(repo.restore(spied, { collection: src, target: t }), 'DIMENSION_MISMATCH')) as VectordrError;
      expect(err.message).toContain('index 1000000000');
      expect(err.message).toContain('omitVectors: ["u"]');
      expect(err.details).toMatchObject({ field: 'u', id: '5', index: 1_000_000_000, limit: 1_000_000_000 });
      expect(creates).toBe(0);
      expect(await tablesLike(t)).toEqual([]);
      // Left out as the error says: the rest restores.
      const result = await repo.restore(target.adapter, { collection: src, target: t, omitVectors: ['u'] });
      expect(result.notCarriedOver.map((n) => n.name)).toEqual(['vector "u"']);
      expect(await tablesLike(t)).toEqual([t]);
    });

    it('a sparse field declaring more than 1,000,000,000 dimensions is refused by its schema, before anything is read or created', async () => {
      const src = name('h22finish_huge');
      const schema = schemaOf(src, [{ name: 's', kind: 'sparse', dims: 2_000_000_000, metric: 'dot', element: 'float32', nullable: true }]);
      await source.create(schema, { indexes: 'now' });
      await source.write(
        src,
        batchFromRecords(schema, [
          { id: 1n, vectors: { s: { kind: 'sparse', indices: Uint32Array.of(5), values: Float32Array.of(1) } }, payload: {} },
        ]),
        { mode: 'upsert' },
      );
      await repo.snapshot(source, src);
      const t = name('h22finish_huge_pg');
      const err = (await expectError(repo.restore(target.adapter, { collection: src, target: t }), 'DIMENSION_MISMATCH')) as VectordrError;
      expect(err.message).toContain('at most 1000000000');
      expect(await tablesLike(t)).toEqual([]);
    });
  });
}
