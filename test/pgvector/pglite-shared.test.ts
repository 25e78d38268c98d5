/**
 * PGlite is one connection shared with the application: an application write issued while a
 * snapshot scans must wait for the snapshot's transaction, not run inside it (it failed there with
 * "cannot execute INSERT in a read-only transaction", and the snapshot aborted).
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';

describe('PGlite shared with the application', () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    await db.exec(`CREATE EXTENSION vector;
      CREATE TABLE docs (id int8 PRIMARY KEY, e vector(3));
      INSERT INTO docs SELECT g, ARRAY[g, g + 1, g + 2]::vector FROM generate_series(1, 2000) g;
      CREATE TABLE app (id serial PRIMARY KEY, note text);`);
  });
  afterAll(async () => {
    await db.close();
  });

  for (const copy of ['auto', 'never'] as const) {
    it(`an application write during a snapshot waits for it and succeeds; the snapshot holds the rows of its start (copy: ${copy})`, async () => {
      const adapter = pgvectorAdapter({ pglite: db, copy });
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      const writes: Promise<unknown>[] = [];
      const { manifest } = await repo.snapshot(adapter, 'docs', {
        batchSize: 100,
        onProgress: (e) => {
          // Not awaited: the application does not know a snapshot runs.
          if (e.phase === 'segment' && writes.length < 3) {
            writes.push(
              db.query(`INSERT INTO app (note) VALUES ('during')`),
              db.query(`INSERT INTO docs VALUES (${100_000 + writes.length}, '[1,1,1]')`),
            );
          }
        },
      });
      const settled = await Promise.allSettled(writes);
      expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
      expect(writes.length).toBeGreaterThan(0);
      expect(manifest.rows.upserts).toBe(2000);
      await db.exec('DELETE FROM docs WHERE id > 2000');
    });
  }
});
