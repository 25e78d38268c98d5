/** The storage side of the hostile-repository cases (issue 22) on the filesystem; test/s3/untrusted-store.test.ts runs them on MinIO. */
import { rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { tempDir } from '../helpers/repository.js';
import { testUntrustedStore } from '../helpers/untrusted-store-suite.js';

testUntrustedStore({
  name: 'fs',
  create: async () => {
    const dir = await tempDir('vectordr-untrusted-');
    return {
      storage: fsStorage({ path: dir, fsync: false }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
      setModified: (key, at) => utimes(path.join(dir, ...key.split('/')), at, at),
    };
  },
});
