/**
 * Child process of the prune-safety tests: holds a shared repository lock until its stdin closes,
 * the way a snapshot in another container of the same pod would.
 *
 *   VECTORDR_CHILD_CONFIG='{"storage":{"kind":"fs","path":...}}' node --import tsx test/helpers/lock-holder-child.ts
 *
 * Prints `locked <pid> <lock key>` once it holds the lock. The config travels in the environment so
 * that storage credentials never appear on a command line.
 */
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { S3Storage, type S3StorageOptions } from '../../src/storage/s3-storage.js';
import type { Storage } from '../../src/storage/storage.js';

export type ChildStorageSpec = { kind: 'fs'; path: string } | ({ kind: 's3' } & S3StorageOptions);

const config = JSON.parse(process.env.VECTORDR_CHILD_CONFIG ?? '{}') as { storage: ChildStorageSpec };
const spec = config.storage;
const storage: Storage = spec.kind === 'fs' ? fsStorage({ path: spec.path }) : new S3Storage((({ kind: _kind, ...o }) => o)(spec));
const repo = await openRepository({ storage });
const lock = await repo.lock({ exclusive: false, operation: 'snapshot in another container' });
process.stdout.write(`locked ${process.pid} ${lock.key}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void lock.release().then(async () => {
    await storage.close?.();
    process.exit(0);
  });
});
