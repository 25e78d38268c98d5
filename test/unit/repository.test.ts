/**
 * Repository and format guarantees that need no server: bad manifests, damaged segments, path escapes.
 * Uses PGlite (in-process PostgreSQL + pgvector) as the source engine.
 */
import { readdir, rm, stat, truncate, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { collectionKey } from '../../src/format/keys.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { flipRandomBit, snapshottedTempRepository, tempDir } from '../helpers/repository.js';

describe('repository guarantees', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let dir: string;
  let repo: Repository;
  let snapshotId: string;
  let segmentFiles: string[];

  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(8), t text);
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3, 4, 5, 6, 7]::real[]::vector, 'row ' || g FROM generate_series(1, 2000) g;`));
  });
  afterAll(async () => {
    await db.close();
  });

  beforeEach(async () => {
    ({ dir, repo, snapshotId } = await snapshottedTempRepository('vectordr-repo-', adapter, 'docs'));
    segmentFiles = [];
    for (const sub of await readdir(path.join(dir, 'data')))
      for (const f of await readdir(path.join(dir, 'data', sub))) segmentFiles.push(path.join(dir, 'data', sub, f));
    await db.exec('DROP TABLE IF EXISTS restored');
    return () => rm(dir, { recursive: true, force: true });
  });

  it('opening a path with no repository fails unless create is set', async () => {
    const empty = await tempDir('vectordr-empty-');
    await expectError(openRepository({ storage: fsStorage({ path: empty }) }), 'REPOSITORY_NOT_FOUND');
    await rm(empty, { recursive: true });
  });

  it('a repository created by a newer format version is refused before anything is read', async () => {
    const cfg = JSON.parse(await readFile(path.join(dir, 'vectordr.json'), 'utf8'));
    await writeFile(path.join(dir, 'vectordr.json'), JSON.stringify({ ...cfg, formatVersion: 3 }));
    const err = await expectError(openRepository({ storage: fsStorage({ path: dir }) }), 'FORMAT_VERSION');
    expect(err.message).toContain('Upgrade vectordr');
  });

  it('a manifest with an unknown formatVersion is refused by restore and reported by verify', async () => {
    const file = path.join(dir, 'snapshots', 'docs', `${snapshotId}.json`);
    const m = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...m, formatVersion: 99, newField: 'x' }));
    await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'FORMAT_VERSION');
    expect(await adapter.exists('restored')).toBe(false);
    const report = await repo.verify();
    expect(report.ok).toBe(false);
    expect(report.snapshots[0]?.problems[0]?.code).toBe('FORMAT_VERSION');
  });

  it('a missing segment fails restore before anything is written', async () => {
    await rm(segmentFiles[1] as string);
    await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'SEGMENT_MISSING');
    expect(await adapter.exists('restored')).toBe(false);
    expect((await repo.verify()).snapshots[0]?.problems.map((p) => p.code)).toEqual(['SEGMENT_MISSING']);
  });

  it('a truncated segment fails restore before anything is written', async () => {
    const f = segmentFiles[2] as string;
    await truncate(f, (await stat(f)).size - 10);
    await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'SEGMENT_CORRUPT');
    expect(await adapter.exists('restored')).toBe(false);
  });

  it('a tampered segment (same size, one bit flipped) is detected by verify and refused by restore, every time', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const f = segmentFiles[trial % segmentFiles.length] as string;
      const bytes = await readFile(f);
      const original = Buffer.from(bytes);
      const bit = Math.floor(Math.random() * bytes.length * 8);
      bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
      await writeFile(f, bytes);
      const report = await repo.verify();
      expect(report.ok).toBe(false);
      expect(report.snapshots[0]?.problems[0]?.code).toBe('SEGMENT_CORRUPT');
      await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'SEGMENT_CORRUPT');
      expect(await adapter.exists('restored')).toBe(false);
      await writeFile(f, original);
    }
    expect((await repo.verify()).ok).toBe(true);
  });

  it('a manifest whose digest does not match its segments fails verify', async () => {
    const file = path.join(dir, 'snapshots', 'docs', `${snapshotId}.json`);
    const m = JSON.parse(await readFile(file, 'utf8'));
    m.digest.collection = 'f'.repeat(64);
    // With its checksum the change is caught at once; a v2 manifest without one is damaged; a v1
    // manifest without one (as 0.1.0 wrote them) is caught by the digest.
    await writeFile(file, JSON.stringify(m));
    expect((await repo.verify()).snapshots[0]?.problems.map((p) => p.code)).toEqual(['MANIFEST_INVALID']);
    delete m.checksum;
    await writeFile(file, JSON.stringify(m));
    expect((await repo.verify()).snapshots[0]?.problems.map((p) => p.code)).toEqual(['MANIFEST_INVALID']);
    delete m.features;
    delete m.source.normalizesCosine; // 0.1.0's shape: the only one read without a checksum
    await writeFile(file, JSON.stringify({ ...m, formatVersion: 1 }));
    expect((await repo.verify()).snapshots[0]?.problems.map((p) => p.code)).toEqual(['DIGEST_MISMATCH']);
  });

  it('one flipped bit anywhere in a plaintext manifest is detected by verify and refused by restore, every time', async () => {
    const file = path.join(dir, 'snapshots', 'docs', `${snapshotId}.json`);
    const original = await readFile(file);
    for (let trial = 0; trial < 25; trial++) {
      const { bad, bit } = flipRandomBit(original);
      await writeFile(file, bad);
      const report = await repo.verify();
      expect(report.ok, `bit ${bit}`).toBe(false);
      await expect(repo.restore(adapter, { collection: 'docs', snapshot: snapshotId, target: 'restored' }), `bit ${bit}`).rejects.toThrow();
      expect((await db.query(`SELECT to_regclass('restored') AS t`)).rows[0]).toEqual({ t: null });
    }
    await writeFile(file, original);
    expect((await repo.verify()).ok).toBe(true);
  });

  it('collection names cannot escape the repository root', async () => {
    expect(collectionKey('../../etc')).toBe('%2E%2E%2F%2E%2E%2Fetc');
    await db.exec(`CREATE TABLE escape (id int8 PRIMARY KEY, e vector(2)); INSERT INTO escape VALUES (1, '[1,2]');`);
    // pgvector reads a dot as schema.table (docs/adapters/pgvector.md), so the table is reached
    // through a name map; the repository sees the collection name '../../escape'.
    const aliased = new Proxy(adapter, {
      get: (t, k, r) => {
        const v: unknown = Reflect.get(t, k, r);
        return typeof v === 'function'
          ? (...a: unknown[]) =>
              (v as (...x: unknown[]) => unknown).apply(
                t,
                a.map((x) => (x === '../../escape' ? 'escape' : x)),
              )
          : v;
      },
    });
    const { manifest } = await repo.snapshot(aliased, '../../escape');
    const files = await readdir(path.join(dir, 'snapshots'));
    expect(files).toContain('%2E%2E%2F%2E%2E%2Fescape');
    expect((await repo.list({ collection: '../../escape' })).map((s) => s.id)).toEqual([manifest.id]);
    await expectError(repo.storage.put('../outside', Uint8Array.of(1)), 'PATH_ESCAPE');
    await db.exec(`CREATE SCHEMA "-dash"; CREATE TABLE "-dash".name (id int8 PRIMARY KEY, e vector(2))`);
    await repo.snapshot(adapter, '-dash.name');
    expect((await repo.list({ collection: '-dash.name' })).length).toBe(1);
    await expectError(repo.readManifest('docs', '../../../etc/passwd'), 'INVALID_IDENTIFIER');
  });

  it('a second snapshot of unchanged data stores no new segments (dedup), and list shows both', async () => {
    const again = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
    expect(again.uploadedSegments).toBe(0);
    expect(again.reusedSegments).toBe(segmentFiles.length);
    expect((await repo.list({ collection: 'docs' })).map((s) => s.id)).toEqual([snapshotId, again.manifest.id]);
  });

  it('validates options with a clear error', async () => {
    await expectError(repo.snapshot(adapter, 'docs', { segmentBytes: 5 }), 'INVALID_OPTIONS');
    await expectError(repo.restore(adapter, { collection: 'docs', ifExists: 'overwrite' as 'replace' }), 'INVALID_OPTIONS');
  });
});
