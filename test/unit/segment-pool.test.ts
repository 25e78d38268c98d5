/**
 * Segment workers (src/parallel): a snapshot hashed and encoded on worker threads is byte-identical
 * to one encoded on the main thread, and a worker's failure fails the snapshot with its error.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { SegmentPool } from '../../src/parallel/segment-pool.js';
import { type SegmentJob, runSegmentJob } from '../../src/parallel/segment-job.js';
import { segmentLayout } from '../../src/format/segment-codec.js';
import { InvalidInputError } from '../../src/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { tempDir } from '../helpers/repository.js';
import type { VectorColumn } from '../../src/model.js';

function job(rows: number, seed: number): SegmentJob {
  const data = new Float32Array(rows * 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed + i);
  const valid = new Uint8Array(rows).fill(1);
  if (rows > 2) valid[1] = 0;
  return {
    layout: segmentLayout({ idType: 'int64', vectors: [{ name: 'e', dims: 4 }] as never }),
    order: ['e'],
    buckets: 16,
    length: rows,
    ids: BigInt64Array.from({ length: rows }, (_, i) => BigInt(seed * 1000 + i)),
    vectors: { e: { dims: 4, data, valid } },
    payloadJson: Array.from({ length: rows }, (_, i) => `{"n":${i},"t":"row ${i}"}`),
    ops: new Array(rows).fill('upsert'),
    vectorCompression: 'none',
  };
}

describe('segment pool', () => {
  it('a worker computes exactly what the main thread does, with and without transfer', async () => {
    const pool = await SegmentPool.open(2);
    try {
      expect(pool.workers).toBe(2);
      for (const rows of [0, 1, 3, 500]) {
        const inline = runSegmentJob(job(rows, rows));
        const copied = await pool.run(job(rows, rows));
        const moved = job(rows, rows);
        const transferred = await pool.run(moved, true);
        for (const out of [copied, transferred]) {
          expect(out.sha256).toBe(inline.sha256);
          expect(Buffer.from(out.bytes).equals(Buffer.from(inline.bytes))).toBe(true);
          expect(Buffer.from(out.digests).equals(Buffer.from(inline.digests))).toBe(true);
          expect([...out.buckets]).toEqual([...inline.buckets]);
        }
        if (rows > 0) expect((moved.vectors.e as VectorColumn | undefined)?.data.length).toBe(0); // detached: it moved, not copied
      }
    } finally {
      await pool.close();
    }
  });

  it("a job that throws in a worker rejects with the worker's error, and the pool keeps working", async () => {
    const pool = await SegmentPool.open(1);
    try {
      const bad = { ...job(3, 1), order: ['missing'] };
      await expect(pool.run(bad)).rejects.toThrow(/./);
      expect((await pool.run(job(3, 1))).sha256).toBe(runSegmentJob(job(3, 1)).sha256);
    } finally {
      await pool.close();
    }
  });

  it('a vector a worker refuses fails with the same typed error as on the main thread', async () => {
    const pool = await SegmentPool.open(1);
    try {
      const bad = job(3, 1);
      ((bad.vectors.e as VectorColumn).data as Float32Array)[5] = Number.NaN;
      const check = { fields: [{ name: 'e', dims: 4, nullable: true }], plugin: 'test' };
      const inline = (() => {
        try {
          runSegmentJob({ ...bad, check });
        } catch (err) {
          return err;
        }
      })();
      const err = await pool.run({ ...bad, check }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err).toMatchObject({ code: 'INVALID_VECTOR', plugin: 'test', details: { field: 'e', row: 1 } });
      expect((err as Error).message).toBe((inline as Error).message);
    } finally {
      await pool.close();
    }
  });

  it('with no worker, jobs run inline', async () => {
    const pool = await SegmentPool.open(0);
    expect(pool.workers).toBe(0);
    expect((await pool.run(job(5, 2))).sha256).toBe(runSegmentJob(job(5, 2)).sha256);
    await pool.close();
  });
});

describe('snapshot with segment workers', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(8), t text);
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3, 4, 5, 6, g % 7]::real[]::vector, 'row ' || g FROM generate_series(1, 3000) g;`));
  });
  afterAll(async () => {
    await db.close();
  });

  it('0, 1 and 2 workers write the same segments and the same manifest digest', async () => {
    const results = [];
    for (const encodeWorkers of [0, 1, 2]) {
      const dir = await tempDir('vectordr-pool-');
      const repo = await openRepository({ storage: fsStorage({ path: dir }), create: true });
      // 64 KiB segments: 3000 rows make many segments, so several are in flight at once.
      const r = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024, encodeWorkers, deltaIndex: true });
      const files = (await readdir(path.join(dir, 'data'), { recursive: true })).filter((f) => f.includes('/')).sort();
      const verified = await repo.verify({ collection: 'docs' });
      expect(verified.ok).toBe(true);
      results.push({ segments: r.manifest.segments, digest: r.manifest.digest, index: r.manifest.deltaIndex, files });
      await rm(dir, { recursive: true, force: true });
    }
    expect(results[0]?.segments.length).toBeGreaterThan(5);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});
