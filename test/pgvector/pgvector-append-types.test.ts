/**
 * An append of another engine's snapshot into an existing PostgreSQL table (merged through a staging
 * table): values reach the target's own column types exactly as a direct write would convert them —
 * no implicit cast between two engine types shifts a timestamp by the session's zone, and a column
 * held as neutral text (numeric, json) is not refused after the whole load.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { manifestKey } from '../../src/format/keys.js';
import { withChecksum } from '../../src/format/manifest.js';
import { openRepository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';

describe("append of another engine's snapshot into existing PostgreSQL column types", () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    await db.exec(`CREATE EXTENSION vector; SET TimeZone = 'Europe/Berlin';
      CREATE TABLE src (id int8 PRIMARY KEY, e vector(3), ts timestamptz, n text, j text);
      INSERT INTO src VALUES (1, '[1,2,3]', '2024-06-01T00:00:00Z', '12.50', '{"b": 1, "a": 1.50}'), (2, '[4,5,6]', '1999-12-31T23:30:00Z', '-0.001', '[]');
      CREATE TABLE dst (id int8 PRIMARY KEY, e vector(3), ts timestamp, n numeric, j json);`);
  });
  afterAll(async () => {
    await db.close();
  });

  it('a timestamp, numeric and json target column gets the value a direct write gives, under a non-UTC session zone', async () => {
    const adapter = pgvectorAdapter({ pglite: db });
    const storage = memoryStorage();
    const repo = await openRepository({ storage, create: true });
    const { manifest } = await repo.snapshot(adapter, 'src');
    // The same snapshot as if another engine had written it: no native types, another source engine.
    const { checksum: _c, ...rest } = manifest;
    const foreign = {
      ...rest,
      source: { ...rest.source, engine: 'milvus' as const },
      schema: {
        ...rest.schema,
        idNativeType: undefined,
        payload: rest.schema.payload.map(({ nativeType: _n, ...p }) => p),
        vectors: rest.schema.vectors.map(({ nativeType: _n, ...v }) => v),
      },
    };
    await storage.put(manifestKey('src', manifest.id), withChecksum(foreign));
    await repo.restore(adapter, { collection: 'src', snapshot: manifest.id, target: 'dst', ifExists: 'append' });
    const rows = (await db.query<{ r: string }>(`SELECT (id, ts, n, j)::text AS r FROM dst ORDER BY id`)).rows.map((r) => r.r);
    const direct = (
      await db.query<{
        r: string;
      }>(`SELECT (1, '2024-06-01T00:00:00.000000Z'::timestamp, '12.50'::numeric, '{"b": 1, "a": 1.50}'::json)::text AS r
      UNION ALL SELECT (2, '1999-12-31T23:30:00.000000Z'::timestamp, '-0.001'::numeric, '[]'::json)::text`)
    ).rows.map((r) => r.r);
    expect(rows).toEqual(direct);
    expect(rows[0]).toContain('2024-06-01 00:00:00');
  });
});
