/**
 * Fixtures of the segment worker tests (segment-pool, verify-workers): a small segment layout, an
 * encode job and a verify job of it, and a PGlite `docs` table to snapshot.
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { packText } from '../../src/format/packed-text.js';
import { segmentLayout } from '../../src/format/segment-codec.js';
import type { SegmentJob } from '../../src/parallel/segment-job.js';
import type { VerifyJob } from '../../src/parallel/verify-job.js';
import { openPglite } from './pglite.js';

/** int64 ids and one 4-dim vector `e`. */
export const smallLayout = segmentLayout({ idType: 'int64', vectors: [{ name: 'e', dims: 4 }] as never });

/** An encode job of `rows` rows of `smallLayout` (row 1's vector null when rows > 2); `seed` varies ids and values. */
export function encodeJob(rows: number, seed: number): SegmentJob {
  const data = new Float32Array(rows * 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed + i);
  const valid = new Uint8Array(rows).fill(1);
  if (rows > 2) valid[1] = 0;
  return {
    layout: smallLayout,
    order: ['e'],
    buckets: 16,
    length: rows,
    ids: BigInt64Array.from({ length: rows }, (_, i) => BigInt(seed * 1000 + i)),
    vectors: { e: { dims: 4, data, valid } },
    payloadJson: packText(Array.from({ length: rows }, (_, i) => `{"n":${i},"t":"row ${i} é😀"}`)),
    ops: new Array(rows).fill('upsert'),
    vectorCompression: 'none',
  };
}

/** A verify job of `bytes` as a 3-row segment of `smallLayout`. */
export function verifyJob(bytes: Uint8Array, sha256?: string): VerifyJob {
  return { key: 'data/00/x', bytes, sha256, rows: 3, layout: smallLayout, order: ['e'], buckets: 16, link: false };
}

/**
 * A PGlite database for the suite, opened before its tests and closed after: table `docs` (id int8
 * primary key, e vector(8), t text) with rows 1..`rows`. Read `db` and `adapter` inside the tests.
 */
export function useDocsTable(rows: number): { db: PGlite; adapter: PgvectorAdapter } {
  const fixture = {} as { db: PGlite; adapter: PgvectorAdapter };
  beforeAll(async () => {
    Object.assign(
      fixture,
      await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(8), t text);
        INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3, 4, 5, 6, g % 7]::real[]::vector, 'row ' || g FROM generate_series(1, ${rows}) g;`),
    );
  });
  afterAll(async () => {
    await fixture.db.close();
  });
  return fixture;
}
