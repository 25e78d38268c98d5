/** Prune beside running snapshots on the filesystem (the same cases run on S3 in test/s3/s3-prune-safety.test.ts). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { testPruneSafety } from '../helpers/prune-safety-suite.js';

testPruneSafety('fs', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vectordr-prune-safety-'));
  return { storage: fsStorage({ path: dir, fsync: false }), spec: { kind: 'fs', path: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
});
