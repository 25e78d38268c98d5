/**
 * pgvector adapter: the shared conformance suite on PGlite (in-process) and on a real PostgreSQL 18
 * + pgvector (PG_URL, started by scripts/test-all.sh), plus what is specific to PostgreSQL.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { testAdapter } from '../conformance/adapter-suite.js';
import { expectError } from '../helpers/errors.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { serializeManifest } from '../../src/format/manifest.js';
import { pgClient, pgPool, pgvectorPool } from '../helpers/pg.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';
import type { RecordBatch, VectorColumn } from '../../src/model.js';

const PG_URL = process.env.PG_URL;

testAdapter({
  name: 'pgvector on PGlite',
  rows: 1200,
  create: async () => {
    engineAvailable('pglite', true);
    const db = await PGlite.create({ extensions: { vector } });
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
    return { adapter: pgvectorAdapter({ pglite: db }), cleanup: () => db.close() };
  },
});

const hasPg = engineAvailable('pgvector', PG_URL !== undefined);

describe.runIf(hasPg)('real PostgreSQL', () => {
  testAdapter({
    name: 'pgvector on PostgreSQL (pg Pool, binary COPY)',
    create: async () => {
      const pool = await pgvectorPool(PG_URL);
      return { adapter: pgvectorAdapter({ pool }), cleanup: () => pool.end() };
    },
  });

  testAdapter({
    name: 'pgvector on PostgreSQL (pg Client, no COPY)',
    rows: 800,
    create: async () => {
      const client = pgClient({ connectionString: PG_URL });
      await client.connect();
      return { adapter: pgvectorAdapter({ client, copy: 'never' }), cleanup: () => client.end() };
    },
  });

  describe('PostgreSQL specifics', () => {
    let pool: pg.Pool;
    let adapter: PgvectorAdapter;
    const { name: table, created: tables } = createdNames();
    beforeAll(async () => {
      pool = pgPool({ connectionString: PG_URL, max: 4 });
      adapter = pgvectorAdapter({ pool });
    });
    afterAll(async () => {
      for (const t of tables) await pool.query(`DROP TABLE IF EXISTS "${t.replaceAll('"', '""')}"`).catch(() => undefined);
      await pool.end();
    });

    it('round-trips every supported column type, on the COPY path and the INSERT path', async () => {
      const t = table('types');
      await pool.query(`CREATE TABLE ${t} (id uuid PRIMARY KEY, a vector(4) NOT NULL, b vector(3), title varchar(40), body text, n int8, i int4, s int2,
        r real, d double precision, ok boolean, ts timestamptz, tsn timestamp, day date, raw bytea, j json, jb jsonb, tags text[], nums int4[], money numeric(10,2), ip inet,
        bigs int8[], amounts numeric[], days date[], docs jsonb[])`);
      await pool.query(`INSERT INTO ${t} SELECT gen_random_uuid(), ARRAY[g, 1, 2, 3]::real[]::vector, CASE WHEN g % 3 = 0 THEN NULL ELSE ARRAY[g, -1.5, 1e-7]::real[]::vector END,
        'title ' || g, repeat('x', g % 50), 9007199254740993 + g, g, 7, g / 3.0, g / 7.0, g % 2 = 0, now() - g * interval '1 hour 1 microsecond', '2024-02-29 12:34:56.789012',
        '2024-02-29'::date + g, '\\x00ff10'::bytea, '{"a": [1, 2]}', jsonb_build_object('g', g, 'deep', jsonb_build_object('x', 'y')), ARRAY['a', NULL, 'c'], ARRAY[1, 2], g * 1.25, '10.0.0.1',
        ARRAY[9007199254740993, -g], ARRAY[1.5, g / 3.0], ARRAY['2024-01-01'::date, NULL], ARRAY['{"k": 1}'::jsonb]
        FROM generate_series(1, 300) g`);
      await pool.query(
        `INSERT INTO ${t} (id, a, ts, tsn, day) VALUES ('00000000-0000-0000-0000-000000000001', ` +
          `'[0,0,0,0]', 'infinity', '-infinity', 'infinity')`,
      );
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      const { manifest } = await repo.snapshot(adapter, t);
      expect(manifest.schema.idType).toBe('uuid');
      expect(manifest.schema.vectors.map((v) => [v.name, v.dims, v.nullable])).toEqual([
        ['a', 4, false],
        ['b', 3, true],
      ]);
      // numeric and inet have no binary codec: this restore takes the INSERT path (the next test covers COPY).
      const target = table('types_r');
      await repo.restore(adapter, { collection: t, snapshot: manifest.id, target });
      expect((await repo.verifyParity(adapter, { collection: t, snapshot: manifest.id, live: target })).ok).toBe(true);
      const [row] = await adapter.fetch(target, ['00000000-0000-0000-0000-000000000001']);
      expect(row?.vectors.b).toBeNull();
      expect(row?.payload).toMatchObject({ ts: 'infinity', tsn: '-infinity', day: 'infinity' });
      const exact = await pool.query(`SELECT bigs[1]::text AS b FROM ${target} WHERE bigs IS NOT NULL LIMIT 1`);
      expect(exact.rows[0].b).toBe('9007199254740993');
    });

    it('restores multi-dimensional arrays and arrays with explicit bounds exactly (their text form)', async () => {
      const t = table('multidim');
      await pool.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(2), m int4[])`);
      await pool.query(`INSERT INTO ${t} VALUES (1, '[1,2]', '{{1,2},{3,4}}'), (2, '[1,2]', '[0:2]={1,2,3}'), (3, '[1,2]', '{1,2}')`);
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      const { manifest } = await repo.snapshot(adapter, t);
      const target = table('multidim_r');
      await repo.restore(adapter, { collection: t, snapshot: manifest.id, target });
      const rows = await pool.query(`SELECT m::text AS m FROM ${target} ORDER BY id`);
      expect(rows.rows.map((r) => r.m)).toEqual(['{{1,2},{3,4}}', '[0:2]={1,2,3}', '{1,2}']);
      expect((await repo.verifyParity(adapter, { collection: t, snapshot: manifest.id, live: target })).ok).toBe(true);
    });

    it('uses binary COPY for tables whose columns all have binary codecs', async () => {
      const t = table('copyable');
      await pool.query(
        `CREATE TABLE ${t} (id text PRIMARY KEY, e vector(3), ts timestamptz, day date, u uuid, raw bytea, jb jsonb, f float8)`,
      );
      await pool.query(`INSERT INTO ${t} SELECT 'k' || g, ARRAY[g, 0, 1]::real[]::vector, '2020-01-01T00:00:00.000001Z'::timestamptz + g * interval '1 day', '1999-12-31'::date + g,
        gen_random_uuid(), '\\xdeadbeef', '{"z": 1, "a": [true, null]}', 'NaN'::float8 FROM generate_series(1, 100) g`);
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      const { manifest } = await repo.snapshot(adapter, t);
      const target = table('copyable_r');
      const queries: string[] = [];
      const spy = pgvectorAdapter({
        pool: {
          query: (q: string, v?: unknown[]) => pool.query(q, v),
          connect: async () => {
            const c = await pool.connect();
            return {
              query: (q: unknown, v?: unknown[]) => {
                if (typeof q === 'string') queries.push(q);
                else queries.push(String((q as { text?: string }).text));
                return (c.query as (q: unknown, v?: unknown[]) => Promise<pg.QueryResult>)(q, v);
              },
              release: (e?: Error | boolean) => c.release(e),
            };
          },
        },
      });
      await repo.restore(spy, { collection: t, snapshot: manifest.id, target });
      expect(queries.some((q) => q.startsWith('COPY') && q.includes('FROM STDIN'))).toBe(true);
      expect((await repo.verifyParity(adapter, { collection: t, snapshot: manifest.id, live: target })).ok).toBe(true);
    });

    it('writeBatches: several batches in one transaction with the marker; a bad batch rolls back all of them', async () => {
      const t = table('batches');
      const schema = testSchema(t, 8);
      await adapter.create(schema, { indexes: 'deferred' });
      const records = makeRecords(400, 8);
      const batches = async function* (...parts: RecordBatch[]): AsyncGenerator<RecordBatch> {
        yield* parts;
      };
      const part = (from: number, to: number): RecordBatch => makeBatch(schema, records.slice(from, to));
      await adapter.writeBatches(t, batches(part(0, 150), part(150, 150), part(150, 200)), { mode: 'insert', marker: 'm1' });
      expect(await adapter.count(t)).toBe(200);
      expect(await adapter.readMarker(t)).toBeUndefined(); // not a vectordr-restore line: set, but not read back as one
      const bad = part(300, 400);
      (bad.vectors.embedding as VectorColumn | undefined)?.data.fill(Number.NaN, 8 * 50, 8 * 51);
      await expectError(adapter.writeBatches(t, batches(part(200, 300), bad), { mode: 'insert', marker: 'm2' }), 'INVALID_VECTOR');
      expect(await adapter.count(t)).toBe(200); // the batch sent before the bad one is rolled back with it
      const comment = await pool.query(`SELECT obj_description($1::regclass, 'pg_class') AS c`, [t]);
      expect(comment.rows[0]?.c).toBe('m1');
      // Upserts take the staging-table path per batch; the pool's connections are all usable again.
      await adapter.writeBatches(t, batches(part(150, 300), part(300, 350)), { mode: 'upsert', marker: 'm3' });
      expect(await adapter.count(t)).toBe(350);
      expect((await adapter.fetch(t, [records[349]?.id as bigint]))[0]?.payload).toEqual(records[349]?.payload);
    });

    it('a swap that fails keeps the loaded staging table; the rerun only repeats the swap', async () => {
      const t = table('swapfail');
      await pool.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(3), note text)`);
      await pool.query(`CREATE INDEX ON ${t} USING hnsw (e vector_l2_ops)`);
      await pool.query(`INSERT INTO ${t} SELECT g, ARRAY[g, 1, 2]::real[]::vector, 'n' || g FROM generate_series(1, 500) g`);
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      const { manifest } = await repo.snapshot(adapter, t);
      const view = table('swapfail_view');
      await pool.query(`CREATE VIEW ${view} AS SELECT id FROM ${t}`);
      await pool.query(`DELETE FROM ${t} WHERE id > 250`);
      await expect(repo.restore(adapter, { collection: t, snapshot: manifest.id, ifExists: 'replace' })).rejects.toThrow(/depend/);
      expect(await adapter.count(t)).toBe(250); // the old table is untouched
      await pool.query(`DROP VIEW ${view}`);
      const r = await repo.restore(adapter, { collection: t, snapshot: manifest.id, ifExists: 'replace' });
      expect(r.resumed).toBe(true);
      expect(r.indexes.built).toEqual([]); // built by the first run, kept with the staging table
      expect((await repo.verifyParity(adapter, { collection: t, snapshot: manifest.id })).ok).toBe(true);
      const idx = await pool.query(`SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY 1`, [t]);
      expect(idx.rows.map((x) => x.indexname)).toEqual([`${t}_e_idx`, `${t}_pkey`]);
      expect(await adapter.readMarker(t)).toBeUndefined();
    });

    it('scans one consistent snapshot: rows written during the export are not in it', async () => {
      const t = table('consistent');
      await pool.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(3))`);
      await pool.query(`INSERT INTO ${t} SELECT g, '[1,2,3]' FROM generate_series(1, 5000) g`);
      const session = await adapter.scan(t, { batchSize: 500 });
      let seen = 0;
      let first = true;
      try {
        for await (const b of session.batches()) {
          if (first) {
            await pool.query(`INSERT INTO ${t} SELECT g, '[1,2,3]' FROM generate_series(5001, 6000) g`);
            await pool.query(`DELETE FROM ${t} WHERE id <= 1000`);
            first = false;
          }
          seen += b.length;
        }
      } finally {
        await session.close();
      }
      expect(seen).toBe(5000);
    });

    it('an abandoned COPY scan never leaves a connection stuck: Pool connections are discarded, a Client is drained', async () => {
      const t = table('abandon');
      await pool.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(64))`);
      await pool.query(`INSERT INTO ${t} SELECT g, array_fill(g::real, ARRAY[64])::vector FROM generate_series(1, 20000) g`);
      const client = pgClient({ connectionString: PG_URL });
      await client.connect();
      try {
        for (const a of [adapter, pgvectorAdapter({ client })]) {
          const session = await a.scan(t, { batchSize: 100 });
          for await (const _ of session.batches()) break; // abandon after the first batch
          await session.close();
          expect(await a.count(t)).toBe(20000); // the adapter (and its connection) still works
        }
        expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
        // Only this test's COPYs: other suites (the crash matrix) run snapshots on the same server meanwhile.
        const stuck = await pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND ` +
            `query LIKE 'COPY%' AND position($1 in query) > 0`,
          [t],
        );
        expect(stuck.rows[0].n).toBe(0);
      } finally {
        await client.end();
      }
    });

    it('refuses a table without a primary key', async () => {
      const t = table('nopk');
      await pool.query(`CREATE TABLE ${t} (id int8, e vector(3))`);
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      await expectError(repo.snapshot(adapter, t), 'NO_PRIMARY_KEY');
      expect(await repo.list()).toEqual([]);
    });

    it('quotes hostile identifiers instead of interpolating them', async () => {
      const victim = table('victim');
      await pool.query(`CREATE TABLE ${victim} (id int8 PRIMARY KEY)`);
      const hostile = `x"; DROP TABLE ${victim}; --`;
      tables.push(hostile);
      const col = `e"); DROP TABLE ${victim}; --`;
      await pool.query(
        `CREATE TABLE "${hostile.replaceAll('"', '""')}" (id int8 PRIMARY KEY, ` + `"${col.replaceAll('"', '""')}" vector(2), "it's" text)`,
      );
      await pool.query(`INSERT INTO "${hostile.replaceAll('"', '""')}" VALUES (1, '[1,2]', 'o''clock')`);
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      const { manifest } = await repo.snapshot(adapter, hostile);
      await adapter.drop(hostile);
      // A restore creates no table of such a name (docs/adapters/pgvector.md, "Collection names"); the hostile column still goes through create.
      await expectError(repo.restore(adapter, { collection: hostile, snapshot: manifest.id }), 'INVALID_IDENTIFIER');
      const copy = table('hostile_copy');
      tables.push(copy);
      await repo.restore(adapter, { collection: hostile, snapshot: manifest.id, target: copy });
      expect((await repo.verifyParity(adapter, { collection: hostile, snapshot: manifest.id, live: copy })).ok).toBe(true);
      expect(await adapter.exists(victim)).toBe(true);
      await expectError(adapter.describe('a'.repeat(64)), 'INVALID_IDENTIFIER');
    });

    it('refuses a tampered manifest whose column type tries SQL injection', async () => {
      const t = table('inj');
      const victim = table('victim2');
      await pool.query(`CREATE TABLE ${victim} (id int8 PRIMARY KEY)`);
      await pool.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(2), note text)`);
      const storage = memoryStorage();
      const repo = await openRepository({ storage, create: true });
      const { manifest } = await repo.snapshot(adapter, t);
      const key = `snapshots/${t}/${manifest.id}.json`;
      const m = JSON.parse(Buffer.from(await storage.get(key)).toString());
      m.schema.payload[0].nativeType = `text); DROP TABLE ${victim}; --`;
      // The checksum is no defence against someone who can write the repository: recompute it.
      await storage.put(key, serializeManifest(m));
      await expectError(repo.restore(adapter, { collection: t, snapshot: manifest.id, target: table('inj_r') }), 'INVALID_IDENTIFIER');
      expect(await adapter.exists(victim)).toBe(true);
    });

    it('refuses vector columns the adapter does not support, naming the column', async () => {
      const t = table('novdim');
      await pool.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector)`);
      const err = await expectError(adapter.describe(t), 'UNSUPPORTED_OPERATION');
      expect(err.message).toContain('Column e');
    });

    it('probe reports role and version', async () => {
      const p = await adapter.probe();
      expect(p).toMatchObject({ reachable: true, role: 'primary' });
      const { rows } = await pool.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
      expect(p.engineVersion).toBe(rows[0]?.v.split(' ')[0]);
      const dead = pgvectorAdapter({
        pool: pgPool({ connectionString: 'postgres://postgres@127.0.0.1:1/x', connectionTimeoutMillis: 500 }),
      });
      expect((await dead.probe()).reachable).toBe(false);
    });

    it('manifests record the endpoint without credentials', async () => {
      const t = table('cred');
      await pool.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, e vector(2))`);
      const secretPool = pgPool({ connectionString: (PG_URL as string).replace('postgres@', 'postgres:s3cret-pass@') });
      try {
        const repo = await openRepository({ storage: memoryStorage(), create: true });
        const { manifest } = await repo.snapshot(pgvectorAdapter({ pool: secretPool }), t);
        expect(JSON.stringify(manifest)).not.toContain('s3cret');
        expect(manifest.source.endpoint).toMatch(/^127\.0\.0\.1:\d+\/postgres$/);
      } finally {
        await secretPool.end();
      }
    });
  });
});
