/**
 * Collection names each engine cannot hold are refused before anything is created, with a valid
 * target to restore into (`'docs/v2'` became a table literally named `docs/v2`); pgvector addresses
 * `schema.table` (`'public.documents'` looked for `public."public.documents"`).
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VectorAdapter } from '../../src/adapter.js';
import { milvusAdapter } from '../../adapters/milvus/index.js';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { qdrantAdapter } from '../../adapters/qdrant/index.js';
import { weaviateAdapter } from '../../adapters/weaviate/index.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { pgPool } from '../helpers/pg.js';

const { PG_URL, MILVUS_ADDRESS, QDRANT_URL, WEAVIATE_URL, WEAVIATE_GRPC } = process.env;

interface Sql {
  query(text: string): Promise<{ rows: Record<string, unknown>[] }>;
}

function pgvectorSuite(label: string, open: () => Promise<{ sql: Sql; adapter: VectorAdapter; close: () => Promise<void> }>): void {
  describe(`pgvector names: ${label}`, () => {
    let sql: Sql;
    let adapter: VectorAdapter;
    let close: () => Promise<void>;
    let repo: Repository;
    const schema = randomName('vdr_s');
    const slashed = `${randomName('docs')}/v2`;
    const tables = async (): Promise<string[]> =>
      (
        await sql.query(
          `SELECT n.nspname || '.' || c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = ` +
            `c.relnamespace WHERE c.relkind = 'r' AND n.nspname IN ('public', '${schema}') ORDER BY 1`,
        )
      ).rows.map((r) => String(r.t));

    beforeAll(async () => {
      ({ sql, adapter, close } = await open());
      await sql.query(`CREATE EXTENSION IF NOT EXISTS vector`);
      await sql.query(`CREATE SCHEMA ${schema}`);
      await sql.query(`CREATE TABLE ${schema}.docs (id int8 PRIMARY KEY, e vector(2), note text)`);
      await sql.query(`INSERT INTO ${schema}.docs VALUES (1, '[1,2]', 'a'), (2, '[3,4]', 'b')`);
      await sql.query(`CREATE TABLE "${slashed}" (id int8 PRIMARY KEY, e vector(2))`);
      await sql.query(`INSERT INTO "${slashed}" VALUES (1, '[1,2]')`);
      repo = await openRepository({ storage: memoryStorage(), create: true });
    });
    afterAll(async () => {
      await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.query(`DROP TABLE IF EXISTS "${slashed}", "${slashed.replace('/', '_')}"`);
      await close();
    });

    it('snapshots schema.table from that schema, and restores it there (new name, then replace through the swap)', async () => {
      const { manifest } = await repo.snapshot(adapter, `${schema}.docs`);
      expect(manifest.collection).toBe(`${schema}.docs`);
      expect(manifest.rows.upserts).toBe(2);
      await repo.restore(adapter, { collection: `${schema}.docs`, snapshot: manifest.id, target: `${schema}.docs_copy` });
      expect((await sql.query(`SELECT count(*)::int AS n FROM ${schema}.docs_copy`)).rows[0]?.n).toBe(2);
      await sql.query(`DELETE FROM ${schema}.docs WHERE id = 2`);
      await repo.restore(adapter, { collection: `${schema}.docs`, snapshot: manifest.id, ifExists: 'replace' });
      expect((await sql.query(`SELECT count(*)::int AS n FROM ${schema}.docs`)).rows[0]?.n).toBe(2);
      expect((await repo.verifyParity(adapter, { collection: `${schema}.docs`, snapshot: manifest.id })).ok).toBe(true);
      expect(await tables()).toEqual(
        [...(await tables()).filter((t) => !t.startsWith(`${schema}.`)), `${schema}.docs`, `${schema}.docs_copy`].sort(),
      );
    });

    it('refuses to create a table named docs/v2, suggesting a target, and creates nothing; the suggested target works', async () => {
      const { manifest } = await repo.snapshot(adapter, slashed);
      const before = await tables();
      const err = await expectError(
        repo.restore(adapter, { collection: slashed, snapshot: manifest.id, ifExists: 'replace' }),
        'INVALID_IDENTIFIER',
      );
      const suggested = slashed.replace('/', '_');
      expect(err.message).toContain(`target: "${suggested}"`);
      expect(await tables()).toEqual(before);
      await repo.restore(adapter, { collection: slashed, snapshot: manifest.id, target: suggested });
      expect((await sql.query(`SELECT count(*)::int AS n FROM "${suggested}"`)).rows[0]?.n).toBe(1);
    });

    it('refuses a name with two dots, and a part over 63 bytes', async () => {
      await expectError(repo.snapshot(adapter, 'a.b.c'), 'INVALID_IDENTIFIER');
      await expectError(repo.snapshot(adapter, `${schema}.${'x'.repeat(64)}`), 'INVALID_IDENTIFIER');
    });
  });
}

pgvectorSuite('PGlite', async () => {
  const db = await PGlite.create({ extensions: { vector } });
  return { sql: db, adapter: pgvectorAdapter({ pglite: db }), close: () => db.close() };
});
if (engineAvailable('pgvector', PG_URL !== undefined)) {
  pgvectorSuite('PostgreSQL', async () => {
    const pool = pgPool({ connectionString: PG_URL, max: 4 });
    return { sql: pool, adapter: pgvectorAdapter({ pool }), close: () => pool.end() };
  });
}

// Other engines: restoring the PGlite snapshot of `docs/v2` is refused before anything is created.
const others: [string, boolean, () => VectorAdapter, string][] = [
  ['milvus', engineAvailable('milvus', MILVUS_ADDRESS !== undefined), () => milvusAdapter({ url: MILVUS_ADDRESS as string }), 'docs_v2'],
  [
    'qdrant',
    engineAvailable('qdrant-real', QDRANT_URL !== undefined),
    () => qdrantAdapter({ url: QDRANT_URL as string, ...(process.env.QDRANT_API_KEY ? { apiKey: process.env.QDRANT_API_KEY } : {}) }),
    'docs_v2',
  ],
  [
    'weaviate',
    engineAvailable('weaviate', WEAVIATE_URL !== undefined && WEAVIATE_GRPC !== undefined),
    () => weaviateAdapter({ url: WEAVIATE_URL as string, grpcAddress: WEAVIATE_GRPC as string }),
    'Docs_v2',
  ],
];
describe('other engines refuse names they cannot hold', () => {
  let db: PGlite;
  let repo: Repository;
  let id: string;
  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    await db.exec(
      `CREATE EXTENSION vector; CREATE TABLE "docs/v2" (id int8 PRIMARY KEY, e vector(2)); INSERT INTO "docs/v2" VALUES (1, '[1,2]');`,
    );
    repo = await openRepository({ storage: memoryStorage(), create: true });
    id = (await repo.snapshot(pgvectorAdapter({ pglite: db }), 'docs/v2')).manifest.id;
  });
  afterAll(async () => {
    await db.close();
  });
  for (const [engine, available, make, suggested] of others) {
    it.skipIf(!available)(
      `${engine}: restore of "docs/v2" is INVALID_IDENTIFIER naming target "${suggested}", nothing created`,
      async () => {
        const adapter = make();
        try {
          const err = await expectError(
            repo.restore(adapter, { collection: 'docs/v2', snapshot: id, ifExists: 'replace' }),
            'INVALID_IDENTIFIER',
          );
          expect(err.message).toMatch(new RegExp(`target: .*"${suggested}"`));
          expect(await adapter.exists(suggested)).toBe(false);
        } finally {
          await adapter.close?.();
        }
      },
    );
  }
});
