/**
 * Segment workers (src/parallel): a snapshot hashed and encoded on worker threads is byte-identical
 * to one encoded on the main thread, and a worker's failure fails the snapshot with its error.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { SegmentPool } from '../../src/parallel/segment-pool.js';
import { runSegmentJob } from '../../src/parallel/segment-job.js';
import { InvalidInputError } from '../../src/errors.js';
import { tempDir } from '../helpers/repository.js';
import { encodeJob, useDocsTable } from '../helpers/segment-fixtures.js';
import type { VectorColumn } from '../../src/model.js';

describe('segment pool', () => {
  it('a worker computes exactly what the main thread does, with and without transfer', async () => {
    const pool = await SegmentPool.open(2);
    try {
      expect(pool.workers).toBe(2);
      for (const rows of [0, 1, 3, 500]) {
        const inline = runSegmentJob(encodeJob(rows, rows));
        const copied = await pool.run(encodeJob(rows, rows));
        const moved = encodeJob(rows, rows);
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
      const bad = { ...encodeJob(3, 1), order: ['missing'] };
      await expect(pool.run(bad)).rejects.toThrow(/./);
      expect((await pool.run(encodeJob(3, 1))).sha256).toBe(runSegmentJob(encodeJob(3, 1)).sha256);
    } finally {
      await pool.close();
    }
  });

  it('a vector a worker refuses fails with the same typed error as on the main thread', async () => {
    const pool = await SegmentPool.open(1);
    try {
      const bad = encodeJob(3, 1);
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
    expect((await pool.run(encodeJob(5, 2))).sha256).toBe(runSegmentJob(encodeJob(5, 2)).sha256);
    await pool.close();
  });
});

describe('snapshot with segment workers', () => {
  const docs = useDocsTable(3000);

  it('0, 1 and 2 workers write the same segments and the same manifest digest', async () => {
    const results = [];
    for (const encodeWorkers of [0, 1, 2]) {
      const dir = await tempDir('vectordr-pool-');
      const repo = await openRepository({ storage: fsStorage({ path: dir }), create: true });
      // 64 KiB segments: 3000 rows make many segments, so several are in flight at once.
      const r = await repo.snapshot(docs.adapter, 'docs', { segmentBytes: 64 * 1024, encodeWorkers, deltaIndex: true });
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
