/** Prune beside running snapshots on the filesystem (the same cases run on S3 in test/s3/s3-prune-safety.test.ts). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VectordrError } from '../../src/errors.js';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { testPruneSafety } from '../helpers/prune-safety-suite.js';

testPruneSafety('fs', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vectordr-prune-safety-'));
  return {
    storage: fsStorage({ path: dir, fsync: false }),
    spec: { kind: 'fs', path: dir },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('lock refresh on a store that refuses touch', () => {
  it('falls back to stat and put, so the lock stays fresh and held', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vectordr-touch-'));
    try {
      const inner = fsStorage({ path: dir, fsync: false });
      let refused = 0;
      const storage: Storage = {
        name: inner.name,
        location: inner.location,
        get: (k, o) => inner.get(k, o),
        put: (k, d, o) => inner.put(k, d, o),
        delete: (k) => inner.delete(k),
        stat: (k) => inner.stat(k),
        list: (p, o) => inner.list(p, o),
        touch: async () => {
          refused++;
          throw new VectordrError('STORAGE_ERROR', 'permanent', 'CopyObject is not implemented by this store');
        },
      };
      const repo = await openRepository({ storage, create: true, locks: { staleAfterMs: 1_000, refreshMs: 100 } });
      const lock = await repo.lock({ exclusive: false, operation: 'snapshot docs' });
      const first = (await storage.stat(lock.key))?.lastModified.getTime() ?? 0;
      await new Promise((r) => setTimeout(r, 800)); // longer than half of staleAfterMs: only refreshes keep it held
      await lock.assertHeld();
      expect(refused).toBe(1);
      expect((await storage.stat(lock.key))?.lastModified.getTime()).toBeGreaterThan(first);
      await lock.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
