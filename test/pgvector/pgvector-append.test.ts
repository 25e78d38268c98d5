/**
 * pgvector: restoring into an existing table (`ifExists: 'append'`, or `'fail'` into an empty one)
 * and resuming after an interruption between the index build and the "indexed" marker. Runs on
 * PGlite and, when PG_URL is set, on a real PostgreSQL (both copy modes).
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { EngineError } from '../../src/errors.js';
import type { Manifest } from '../../src/format/manifest.js';
import type { RestoreResult } from '../../src/restore/restore.js';
import type { Repository } from '../../src/repository/repository.js';
import { crashBeforeIndexedMarker } from '../conformance/adapter-suite.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgvectorPool } from '../helpers/pg.js';
import { memoryRepository } from '../helpers/repository.js';

const PG_URL = process.env.PG_URL;

interface Sql {
  query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
}

function appendSuite(name: string, open: () => Promise<{ sql: Sql; adapter: PgvectorAdapter; close(): Promise<void> }>): void {
  describe(`append and resume: ${name}`, () => {
    let sql: Sql;
    let adapter: PgvectorAdapter;
    let close: () => Promise<void>;
    let repo: Repository;
    let source: string;
    let manifest: Manifest;
    const { name: table, created: tables } = createdNames();

    /** Tables vectordr stages restores in (`<target>_vdr_<hash>`). */
    const stagingTables = async (target: string): Promise<string[]> =>
      (await sql.query(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE '${target}\\_vdr\\_%'`)).rows.map((r) =>
        String(r.relname),
      );

    /** What the target holds, in the engine's own text rendering: the refusal must leave exactly this. */
    const contents = async (t: string): Promise<string> =>
      (await sql.query(`SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x.id), '') AS s FROM ${t} x`)).rows[0]?.s as string;

    /** Restores the snapshot into the existing table `t` (`ifExists: 'append'`). */
    const appendInto = (t: string): Promise<RestoreResult> =>
      repo.restore(adapter, { collection: source, snapshot: manifest.id, target: t, ifExists: 'append' });

    /** Asserts a refused restore into `t` left it exactly as it was: rows, comment, no staging table. */
    const expectUntouched = async (t: string, before: string): Promise<void> => {
      expect(await contents(t)).toBe(before);
      expect(await adapter.readMarker(t)).toBeUndefined();
      expect(await stagingTables(t)).toEqual([]);
    };

    beforeAll(async () => {
      ({ sql, adapter, close } = await open());
      repo = await memoryRepository();
      source = table('app_src');
      // Notes are numeric text for the first 600 rows, so a text -> int target accepts the first
      // segments and refuses a later one: what used to leave a partial append behind.
      await sql.query(`CREATE TABLE ${source} (id int8 PRIMARY KEY, e vector(64), note text, n int4)`);
      await sql.query(
        `INSERT INTO ${source} SELECT g, array_fill(g::real, ARRAY[64])::vector, CASE WHEN g <= ` +
          `600 THEN g::text ELSE 'n' || g END, g FROM generate_series(1, 1000) g`,
      );
      ({ manifest } = await repo.snapshot(adapter, source, { segmentBytes: 64 * 1024 }));
      expect(manifest.segments.length).toBeGreaterThan(3);
    });
    afterAll(async () => {
      for (const t of tables) {
        for (const s of await stagingTables(t).catch(() => [])) await sql.query(`DROP TABLE IF EXISTS "${s}"`).catch(() => undefined);
        await sql.query(`DROP TABLE IF EXISTS "${t}"`).catch(() => undefined);
      }
      await close();
    });

    it(
      'refuses a column whose type differs (text -> int) before writing anything, naming table ' +
        'and column; a rerun refuses the same way',
      async () => {
        const t = table('app_types');
        await sql.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(64), note int4, n int4)`);
        await sql.query(`INSERT INTO ${t} VALUES (9001, array_fill(0::real, ARRAY[64])::vector, 7, 7)`);
        const before = await contents(t);
        for (let run = 0; run < 2; run++) {
          const err = await expectError(appendInto(t), 'SCHEMA_MISMATCH');
          expect(err.message).toContain(t);
          expect(err.message).toContain('"note"');
          expect(err.message).toMatch(/integer/);
          expect(err.message).toMatch(/replace/);
          expect(err.message).not.toMatch(/_vdr_|vectordr_stage/);
          await expectUntouched(t, before);
        }
      },
    );

    it('refuses a NOT NULL column where the snapshot allows NULL, before writing anything', async () => {
      const t = table('app_notnull');
      await sql.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(64), note text NOT NULL, n int4)`);
      const err = await expectError(appendInto(t), 'SCHEMA_MISMATCH');
      expect(err.message).toContain('"note"');
      await expectUntouched(t, '');
    });

    it('refuses an extra NOT NULL column without a default, naming it, leaving no marker or staging table', async () => {
      const t = table('app_extra');
      await sql.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(64), note text, n int4, extra int4 NOT NULL)`);
      await sql.query(`INSERT INTO ${t} VALUES (9001, array_fill(0::real, ARRAY[64])::vector, 'x', 1, 1)`);
      const before = await contents(t);
      for (let run = 0; run < 2; run++) {
        const err = await expectError(appendInto(t), 'SCHEMA_MISMATCH');
        expect(err.message).toContain(t);
        expect(err.message).toContain('"extra"');
        expect(err.message).not.toMatch(/_vdr_|vectordr_stage/);
        await expectUntouched(t, before);
      }
      // With a default (or as a generated / identity column), the extra column is filled by PostgreSQL.
      const ok = table('app_extra_def');
      await sql.query(
        `CREATE TABLE ${ok} (id int8 PRIMARY KEY, e vector(64), note text, n int4, extra int4 NOT ` +
          `NULL DEFAULT 5, seq int8 GENERATED ALWAYS AS IDENTITY)`,
      );
      const r = await appendInto(ok);
      expect(r.rows).toBe(1000);
      expect((await sql.query(`SELECT count(*)::int AS n FROM ${ok} WHERE extra = 5`)).rows[0]?.n).toBe(1000);
    });

    it('a CHECK constraint the rows violate: the whole append is refused, the target is exactly as it was', async () => {
      const t = table('app_check');
      // Row 900 is in a late segment: the earlier ones would have been written.
      await sql.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(64), note text, n int4 CHECK (n <> 900))`);
      await sql.query(
        `INSERT INTO ${t} VALUES (1, array_fill(9::real, ARRAY[64])::vector, 'kept', 1), (9001, ` +
          `array_fill(0::real, ARRAY[64])::vector, 'x', 1)`,
      );
      const before = await contents(t);
      for (let run = 0; run < 2; run++) {
        const err = await expectError(appendInto(t), 'SCHEMA_MISMATCH');
        expect(err.message).toContain(t);
        expect(err.message).toMatch(/check/i);
        expect(err.message).toMatch(/replace/);
        expect(err.message).not.toMatch(/_vdr_|vectordr_stage/);
        await expectUntouched(t, before);
      }
      // Same for ifExists: 'fail' into an empty table.
      await sql.query(`DELETE FROM ${t}`);
      await expectError(repo.restore(adapter, { collection: source, snapshot: manifest.id, target: t }), 'SCHEMA_MISMATCH');
      await expectUntouched(t, '');
    });

    it("a compatible append upserts every row and keeps the target's rows, indexes and comment", async () => {
      const t = table('app_ok');
      await sql.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(64), note text, n int4)`);
      await sql.query(`CREATE INDEX ON ${t} USING hnsw (e vector_l2_ops)`);
      await sql.query(`COMMENT ON TABLE ${t} IS 'user comment'`);
      await sql.query(
        `INSERT INTO ${t} VALUES (1, array_fill(9::real, ARRAY[64])::vector, 'overwritten', 1), ` +
          `(9001, array_fill(0::real, ARRAY[64])::vector, 'mine', 1)`,
      );
      const r = await appendInto(t);
      expect(r.rows).toBe(1000);
      expect(await adapter.count(t)).toBe(1001);
      expect((await sql.query(`SELECT note FROM ${t} WHERE id = 1`)).rows[0]?.note).toBe('1');
      expect((await sql.query(`SELECT note FROM ${t} WHERE id = 9001`)).rows[0]?.note).toBe('mine');
      expect(
        (await sql.query(`SELECT indexname FROM pg_indexes WHERE tablename = '${t}' ORDER BY 1`)).rows.map((x) => x.indexname),
      ).toEqual([`${t}_e_idx`, `${t}_pkey`]);
      expect((await sql.query(`SELECT obj_description('${t}'::regclass, 'pg_class') AS c`)).rows[0]?.c).toBe('user comment');
      expect(await stagingTables(t)).toEqual([]);
    });

    it(
      'into an existing empty table without an index: the result lists the recorded index not ' +
        'recreated, and recall says it searched without one',
      async () => {
        const src = table('app_noix');
        await sql.query(`CREATE TABLE ${src} (id int8 PRIMARY KEY, e vector(8), note text)`);
        await sql.query(`CREATE INDEX ON ${src} USING hnsw (e vector_l2_ops)`);
        await sql.query(
          `INSERT INTO ${src} SELECT g, ARRAY[sin(g), cos(g), sin(2*g), cos(3*g), g % 7, g % 5, ` +
            `sin(g*g), 1]::real[]::vector, 'n' || g FROM generate_series(1, 300) g`,
        );
        const { manifest: m } = await repo.snapshot(adapter, src);
        const target = table('app_noix_r');
        await sql.query(`CREATE TABLE ${target} (id int8 PRIMARY KEY, e vector(8), note text)`);
        const r = await repo.restore(adapter, { collection: src, snapshot: m.id, target });
        expect(r.rows).toBe(300);
        expect(r.notCarriedOver).toEqual([
          {
            what: 'index',
            name: 'hnsw index on "e"',
            reason: expect.stringMatching(/existing .*no index on "e".*replace/),
            action: 'not-recreated',
          },
        ]);
        expect(JSON.parse(JSON.stringify(r.notCarriedOver))).toEqual(r.notCarriedOver);
        const recall = await repo.verifyRecall(adapter, { collection: src, snapshot: m.id, live: target, k: 5, queries: 20 });
        expect(recall).toMatchObject({ indexed: false, index: null });
        expect(recall.warnings.join(' ')).toMatch(/no index on "e"/);
        // A new target gets the recorded index: nothing to report, and recall searched an index.
        const fresh = table('app_noix_n');
        expect((await repo.restore(adapter, { collection: src, snapshot: m.id, target: fresh })).notCarriedOver).toEqual([]);
        expect(await repo.verifyRecall(adapter, { collection: src, snapshot: m.id, live: fresh, k: 5, queries: 20 })).toMatchObject({
          indexed: true,
          index: 'hnsw',
          warnings: [],
        });
      },
    );

    it('a resume after a crash between the index build and the indexed marker builds no index twice', async () => {
      const src = table('app_idx');
      await sql.query(`CREATE TABLE ${src} (id int8 PRIMARY KEY, e vector(64), note text)`);
      await sql.query(`CREATE INDEX ON ${src} USING hnsw (e vector_cosine_ops) WITH (m = 8)`);
      await sql.query(`CREATE INDEX ON ${src} USING btree (note)`);
      await sql.query(`INSERT INTO ${src} SELECT g, array_fill(g::real, ARRAY[64])::vector, 'n' || g FROM generate_series(1, 1000) g`);
      const { manifest: m } = await repo.snapshot(adapter, src, { segmentBytes: 64 * 1024 });
      const target = table('app_idx_r');
      const crashing = crashBeforeIndexedMarker(adapter, m.segments.length);
      await expectError(repo.restore(crashing, { collection: src, snapshot: m.id, target }), 'ENGINE_ERROR');
      const r = await repo.restore(adapter, { collection: src, snapshot: m.id, target });
      expect(r.resumed).toBe(true);
      const idx = await sql.query(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = '${target}' ORDER BY 1`);
      expect(idx.rows.map((x) => x.indexname)).toEqual([`${target}_e_idx`, `${target}_note_idx`, `${target}_pkey`]);
      expect(String(idx.rows[0]?.indexdef)).toMatch(/hnsw \(e vector_cosine_ops\) WITH \(m='?8'?\)/);
      expect((await repo.verifyParity(adapter, { collection: src, snapshot: m.id, live: target })).ok).toBe(true);
      expect(await adapter.readMarker(target)).toBeUndefined();
    });

    it('a resume after a crash between two index builds builds only the missing one', async () => {
      const src = table('app_idx2');
      await sql.query(`CREATE TABLE ${src} (id int8 PRIMARY KEY, e vector(64), note text)`);
      await sql.query(`CREATE INDEX ON ${src} USING hnsw (e vector_l2_ops)`);
      await sql.query(`CREATE UNIQUE INDEX ON ${src} USING btree (note)`);
      await sql.query(`INSERT INTO ${src} SELECT g, array_fill(g::real, ARRAY[64])::vector, 'n' || g FROM generate_series(1, 300) g`);
      const { manifest: m } = await repo.snapshot(adapter, src);
      const target = table('app_idx2_r');
      // Builds the first recorded index, then "crashes" before the second.
      const halfway = new Proxy(adapter, {
        get(t, prop, receiver) {
          if (prop === 'buildIndexes') {
            return async (c: string, schema: Manifest['schema']) => {
              await t.buildIndexes(c, { ...schema, indexes: schema.indexes.slice(0, 1) });
              throw new EngineError('simulated crash between two index builds', 'transient', { plugin: 'test' });
            };
          }
          const v = Reflect.get(t, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
      await expectError(repo.restore(halfway, { collection: src, snapshot: m.id, target }), 'ENGINE_ERROR');
      const r = await repo.restore(adapter, { collection: src, snapshot: m.id, target });
      expect(r.resumed).toBe(true);
      expect(r.indexes.built).toHaveLength(1);
      const idx = await sql.query(`SELECT indexname FROM pg_indexes WHERE tablename = '${target}' ORDER BY 1`);
      expect(idx.rows.map((x) => x.indexname)).toEqual([`${target}_e_idx`, `${target}_note_idx`, `${target}_pkey`]);
    });

    it('an index of the same column but another definition is not taken for the recorded one', async () => {
      const src = table('app_idxdef');
      await sql.query(`CREATE TABLE ${src} (id int8 PRIMARY KEY, e vector(64))`);
      await sql.query(`CREATE INDEX ON ${src} USING hnsw (e vector_cosine_ops)`);
      await sql.query(`INSERT INTO ${src} SELECT g, array_fill(g::real, ARRAY[64])::vector FROM generate_series(1, 50) g`);
      const { manifest: m } = await repo.snapshot(adapter, src);
      const target = table('app_idxdef_r');
      await sql.query(`CREATE TABLE ${target} (id int8 PRIMARY KEY, e vector(64))`);
      await sql.query(`CREATE INDEX ON ${target} USING hnsw (e vector_l2_ops)`);
      const report = await adapter.buildIndexes(target, m.schema);
      expect(report.built.map((b) => b.kind)).toEqual(['hnsw']);
      const again = await adapter.buildIndexes(target, m.schema);
      expect(again.built).toEqual([]);
      const defs = (
        await sql.query(`SELECT indexdef FROM pg_indexes WHERE tablename = '${target}' AND indexdef LIKE '%hnsw%' ` + `ORDER BY 1`)
      ).rows.map((x) => String(x.indexdef));
      expect(defs.map((d) => /vector_\w+_ops/.exec(d)?.[0]).sort()).toEqual(['vector_cosine_ops', 'vector_l2_ops']);
    });
  });
}

appendSuite('PGlite', async () => {
  engineAvailable('pglite', true);
  const db = await PGlite.create({ extensions: { vector } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
  return { sql: { query: (q) => db.query(q) }, adapter: pgvectorAdapter({ pglite: db }), close: () => db.close() };
});

const hasPg = engineAvailable('pgvector', PG_URL !== undefined);

describe.runIf(hasPg)('real PostgreSQL', () => {
  for (const copy of ['auto', 'never'] as const) {
    appendSuite(`PostgreSQL (pg Pool, copy: ${copy})`, async () => {
      const pool = await pgvectorPool(PG_URL);
      return { sql: { query: (q) => pool.query(q) }, adapter: pgvectorAdapter({ pool, copy }), close: () => pool.end() };
    });
  }
});
