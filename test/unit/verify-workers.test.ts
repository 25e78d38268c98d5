/**
 * verify on worker threads (src/parallel/verify-job.ts): the same report as inline on a repository
 * with damaged, missing and good segments; the fast record hashing gives exactly what recordDigest
 * and bucketOf give; a segment's bad bytes are a problem, never an exception.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalPayload } from '../../src/format/canonical-json.js';
import { bucketOf, idBytes, recordDigest } from '../../src/format/digest.js';
import { withChecksum } from '../../src/format/manifest.js';
import { hashRecords } from '../../src/format/rows.js';
import { packText } from '../../src/format/packed-text.js';
import type { IdType } from '../../src/model.js';
import { SegmentPool } from '../../src/parallel/segment-pool.js';
import { runVerifyJob } from '../../src/parallel/verify-job.js';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { tempDir } from '../helpers/repository.js';
import { useDocsTable, verifyJob } from '../helpers/segment-fixtures.js';

describe('record hashing', () => {
  it('hashRecords gives recordDigest and bucketOf of every row (nulls, string ids, a 40 KB id, long and non-ASCII payloads, packed or not)', () => {
    for (const idType of ['int64', 'string'] as IdType[]) {
      const n = 40;
      const a = {
        dims: 3,
        data: Float32Array.from({ length: n * 3 }, (_, i) => Math.sin(i)),
        valid: Uint8Array.from({ length: n }, (_, i) => (i % 5 ? 1 : 0)),
      };
      const b = { dims: 2, data: Float32Array.from({ length: n * 2 }, (_, i) => i / 7) };
      const ids =
        idType === 'int64'
          ? BigInt64Array.from({ length: n }, (_, i) => BigInt(i) - 3n)
          : Array.from({ length: n }, (_, i) => (i === 9 ? `long-${'é'.repeat(20_000)}` : `id-${i}-é😀`));
      const payloads = Array.from({ length: n }, (_, i) => canonicalPayload({ t: i === 7 ? 'x'.repeat(40_000) : `row ${i} ü 😀`, n: i }));
      const out = hashRecords(idType, ['a', 'b'], { length: n, ids, vectors: { a, b } }, payloads, 16);
      const fromPacked = hashRecords(idType, ['a', 'b'], { length: n, ids, vectors: { a, b } }, packText(payloads), 16);
      expect(Buffer.from(fromPacked.digests).equals(Buffer.from(out.digests))).toBe(true);
      expect([...fromPacked.buckets]).toEqual([...out.buckets]);
      for (let i = 0; i < n; i++) {
        const ib = idBytes(idType, ids[i] as bigint | string);
        const vecs = [a.valid[i] ? a.data.subarray(i * 3, i * 3 + 3) : null, b.data.subarray(i * 2, i * 2 + 2)];
        expect(Buffer.from(out.digests.subarray(i * 32, i * 32 + 32)).equals(recordDigest(ib, vecs, payloads[i] as string))).toBe(true);
        expect(out.buckets[i]).toBe(createHash('sha256').update(ib).digest().readUInt32BE(0) % 16);
        expect(bucketOf(ib, 16)).toBe(out.buckets[i]);
      }
    }
  });
});

describe('verify job', () => {
  it('bad bytes are a problem, never an exception', () => {
    for (const bytes of [new Uint8Array(0), new Uint8Array(100), Buffer.from('PAR1 not a parquet file PAR1')]) {
      const out = runVerifyJob(verifyJob(bytes));
      expect('problem' in out && out.problem.code).toBe('SEGMENT_CORRUPT');
    }
    const wrongHash = runVerifyJob(verifyJob(new Uint8Array(10), '0'.repeat(64)));
    expect('problem' in wrongHash && wrongHash.problem.message).toMatch(/SHA-256/);
  });
});

describe('verify with workers', () => {
  const docs = useDocsTable(2000);

  it('gives the same report as inline: a flipped byte, a missing segment, a re-addressed damaged one and good ones', async () => {
    const dir = await tempDir('vectordr-verify-workers-');
    try {
      const repo = await openRepository({ storage: fsStorage({ path: dir, fsync: false }), create: true });
      const first = (await repo.snapshot(docs.adapter, 'docs', { segmentBytes: 64 * 1024 })).manifest;
      await docs.db.query(`UPDATE docs SET t = 'changed' WHERE id = 1`);
      const second = (await repo.snapshot(docs.adapter, 'docs', { segmentBytes: 64 * 1024 })).manifest;
      const refs = second.segments;
      expect(refs.length).toBeGreaterThan(5);
      const file = (key: string): string => path.join(dir, key);
      // 1: one bit flipped (its SHA-256 fails); 2: missing; 3: damaged, then stored under the address
      // of its new bytes with the manifest pointing there (the SHA-256 passes, the record digests fail).
      const one = await readFile(file((refs[1] as { key: string }).key));
      one[one.length >> 1] = (one[one.length >> 1] as number) ^ 1;
      await writeFile(file((refs[1] as { key: string }).key), one);
      await rm(file((refs[2] as { key: string }).key));
      const three = refs[3] as { key: string; sha256: string };
      const bytes = await readFile(file(three.key));
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 1;
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const key = `data/${sha256.slice(0, 2)}/${sha256}`;
      await rm(file(three.key));
      await mkdir(path.dirname(file(key)), { recursive: true });
      await writeFile(file(key), bytes);
      const manifestFile = path.join(dir, 'snapshots', 'docs', `${second.id}.json`);
      const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
      manifest.segments[3] = { ...manifest.segments[3], key, sha256 };
      await writeFile(`${manifestFile}.tmp`, withChecksum(manifest));
      await rename(`${manifestFile}.tmp`, manifestFile);

      const inline = await repo.verify({ workers: 0 });
      expect(inline.ok).toBe(false);
      const problems = inline.snapshots.map((s) => s.problems.map((p) => p.code));
      // The re-addressed segment's flipped byte fails its record digests, or its decoding when it lands
      // in a compressed column or the page structure (the direct codec of issue 18 checks both).
      expect(problems[1]).toEqual(['SEGMENT_CORRUPT', 'SEGMENT_MISSING', expect.stringMatching(/^(DIGEST_MISMATCH|SEGMENT_CORRUPT)$/)]);
      expect(inline.snapshots.map((s) => s.snapshot)).toEqual([first.id, second.id]);
      for (const workers of [1, 2]) {
        const events: string[] = [];
        const parallel = await repo.verify({ workers, onProgress: (e) => events.push(`${e.phase}:${e.segments}`) });
        expect(parallel).toEqual(inline);
        expect(events.at(-1)).toBe(`done:${first.segments.length + second.segments.length}`);
      }
      expect((await readdir(path.join(dir, 'data'))).length).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an abort stops a verify on workers with the abort error', async () => {
    const dir = await tempDir('vectordr-verify-abort-');
    try {
      const repo = await openRepository({ storage: fsStorage({ path: dir, fsync: false }), create: true });
      await repo.snapshot(docs.adapter, 'docs', { segmentBytes: 64 * 1024 });
      const ac = new AbortController();
      const run = repo.verify({ workers: 2, signal: ac.signal, onProgress: (e) => e.segments === 2 && ac.abort() });
      await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a pool runs verify jobs beside encode jobs', async () => {
    const pool = await SegmentPool.open(1);
    try {
      const out = await pool.verify({ ...verifyJob(new Uint8Array(8)), key: 'k', rows: 0, buckets: 4 });
      expect('problem' in out && out.problem.code).toBe('SEGMENT_CORRUPT');
    } finally {
      await pool.close();
    }
  });
});
