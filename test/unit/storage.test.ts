import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { testStorage } from '../conformance/storage-suite.js';

testStorage({ name: 'memory', create: async () => ({ storage: memoryStorage(), cleanup: async () => undefined }) });

testStorage({
  name: 'fs',
  create: async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vectordr-fs-'));
    return { storage: fsStorage({ path: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
});

describe('fs storage specifics', () => {
  it('leaves no temporary files behind and never lists them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vectordr-fs-'));
    try {
      const s = fsStorage({ path: dir });
      await s.put('x/y', new Uint8Array(10));
      await s.put('x/y', new Uint8Array(20), { ifNoneMatch: '*' }).catch(() => undefined);
      expect(await readdir(path.join(dir, 'x'))).toEqual(['y']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
