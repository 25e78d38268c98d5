/**
 * repo.diff (two snapshots of a collection, from the repository alone) and repo.unlock (stale locks,
 * or every lock with `all`), the library side of the CLI's `diff` and `unlock`; PGlite as the source.
 */
import { rm } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { type Repository, openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { memoryRepository, tempDir, writeDeadProcessLock } from '../helpers/repository.js';

let db: PGlite;
let adapter: PgvectorAdapter;
let repo: Repository;

beforeAll(async () => {
  ({ db, adapter } = await openPglite(`
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE docs (id bigint PRIMARY KEY, embedding vector(4) NOT NULL, title text);
    INSERT INTO docs SELECT g, ARRAY[g, g + 0.5, -g, 1]::vector, 'doc ' || g FROM generate_series(1, 400) g;
  `));
  repo = await memoryRepository();
});

afterAll(async () => {
  await db.close();
});

describe('repo.diff: two snapshots of a collection', () => {
  let first: string;
  let second: string;

  beforeAll(async () => {
    first = (await repo.snapshot(adapter, 'docs', { incremental: true })).manifest.id;
    await db.exec(`
      UPDATE docs SET title = 'changed' WHERE id = 5;
      UPDATE docs SET embedding = '[9,9,9,9]' WHERE id = 6;
      DELETE FROM docs WHERE id IN (7, 8);
      INSERT INTO docs VALUES (1000, '[1,2,3,4]', 'new');`);
    second = (await repo.snapshot(adapter, 'docs')).manifest.id;
  });

  it('names the ids added, removed and changed (payload or vector), with the row counts', async () => {
    const d = await repo.diff({ collection: 'docs', from: first, to: second });
    expect(d).toMatchObject({
      identical: false,
      from: first,
      to: second,
      rows: { from: 400, to: 399 },
      truncated: false,
      schemaChanged: false,
    });
    expect(d.added).toEqual([1000n]);
    expect([...d.removed].sort()).toEqual([7n, 8n]);
    expect([...d.changed].sort()).toEqual([5n, 6n]);
    expect(d.mismatchedBuckets.length).toBeGreaterThan(0);
    expect(d.examinedBuckets).toBe(d.mismatchedBuckets.length);
    // The JSON form has the ids as strings.
    expect(JSON.parse(JSON.stringify(d))).toMatchObject({ added: ['1000'] });
  });

  it('the other way round, added and removed swap; "latest" resolves to the newest snapshot', async () => {
    const d = await repo.diff({ collection: 'docs', from: 'latest', to: first });
    expect(d.from).toBe(second);
    expect([...d.added].sort()).toEqual([7n, 8n]);
    expect(d.removed).toEqual([1000n]);
  });

  it('a snapshot against itself is identical: no bucket differs, no id is examined', async () => {
    const d = await repo.diff({ collection: 'docs', from: second, to: second });
    expect(d).toMatchObject({ identical: true, mismatchedBuckets: [], examinedBuckets: 0, added: [], removed: [], changed: [] });
  });

  it('a link of a chain is compared as the state it records (its chain folded)', async () => {
    await db.exec(`UPDATE docs SET title = 'in a link' WHERE id = 9`);
    const link = await repo.snapshot(adapter, 'docs', { incremental: true, parent: first });
    expect(link.kind).toBe('incremental');
    const d = await repo.diff({ collection: 'docs', from: second, to: link.manifest.id });
    expect(d).toMatchObject({ identical: false, added: [], removed: [], changed: [9n] });
  });

  it('with maxIds 0 or too few buckets examined, it says the lists are incomplete', async () => {
    expect(await repo.diff({ collection: 'docs', from: first, to: second, maxIds: 0 })).toMatchObject({
      truncated: true,
      added: [],
      examinedBuckets: 0,
    });
    const one = await repo.diff({ collection: 'docs', from: first, to: second, maxBuckets: 1 });
    expect(one.examinedBuckets).toBe(1);
    expect(one.truncated).toBe(true);
  });

  it('an unknown snapshot or collection is SNAPSHOT_NOT_FOUND; a missing option is INVALID_OPTIONS', async () => {
    await expectError(repo.diff({ collection: 'docs', from: '01J00000000000000000000000', to: second }), 'SNAPSHOT_NOT_FOUND');
    await expectError(repo.diff({ collection: 'nope', from: 'latest' }), 'SNAPSHOT_NOT_FOUND');
    await expectError(repo.diff({ collection: 'docs' } as never), 'INVALID_OPTIONS');
  });
});

describe('repo.unlock: stale locks, or all of them', () => {
  it('removes a lock whose process is gone, keeps a live one unless { all: true }', async () => {
    const dir = await tempDir('vectordr-unlock-');
    try {
      const r = await openRepository({ storage: fsStorage({ path: dir }), create: true });
      const live = await r.lock({ exclusive: false, operation: 'snapshot live' });
      const dead = await writeDeadProcessLock(dir);
      const stale = await r.unlock();
      expect(stale.kept).toBe(1);
      expect(stale.removed).toEqual([expect.objectContaining({ operation: 'snapshot crashed', stale: true, pid: dead })]);
      const all = await r.unlock({ all: true });
      expect(all).toMatchObject({ kept: 0, removed: [{ key: live.key, operation: 'snapshot live', stale: false }] });
      expect(await r.locks()).toEqual([]);
      await live.release(); // its object is gone already: release does not fail
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
