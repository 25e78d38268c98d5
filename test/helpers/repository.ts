/** Repositories for tests: in memory, in a temporary directory (with a first snapshot), and damaged on purpose. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { VectorAdapter } from '../../src/adapter.js';
import { processIdentity } from '../../src/repository/locks.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';

/** A new repository in memory, for cases about something other than the storage. */
export function memoryRepository(): Promise<Repository> {
  return openRepository({ storage: memoryStorage(), create: true });
}

/** A fresh temporary directory whose name starts with `prefix`; the caller removes it. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/**
 * A new repository in a fresh temporary directory (fsync off: no case here is about the disk),
 * holding one snapshot of `collection` in 64 KiB segments. The caller removes `dir`.
 */
export async function snapshottedTempRepository(
  prefix: string,
  adapter: VectorAdapter,
  collection: string,
): Promise<{ dir: string; repo: Repository; snapshotId: string }> {
  const dir = await tempDir(prefix);
  const repo = await openRepository({ storage: fsStorage({ path: dir, fsync: false }), create: true });
  const snapshotId = (await repo.snapshot(adapter, collection, { segmentBytes: 64 * 1024 })).manifest.id;
  return { dir, repo, snapshotId };
}

/** A copy of `original` with one bit, chosen at random, flipped; and which bit (for the failure message). */
export function flipRandomBit(original: Uint8Array): { bad: Buffer; bit: number } {
  const bad = Buffer.from(original);
  const bit = Math.floor(Math.random() * bad.length * 8);
  bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
  return { bad, bit };
}

/**
 * Writes, into an fs repository at `dir`, the lock of a process of this host (same PID namespace and
 * boot) that has exited: stale at once. Returns that process's pid.
 */
export async function writeDeadProcessLock(dir: string): Promise<number> {
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
  const { pidNamespace, bootId } = processIdentity();
  await writeFile(
    path.join(dir, 'locks', '01J00000000000000000000000.json'),
    JSON.stringify({
      formatVersion: 1,
      exclusive: false,
      operation: 'snapshot crashed',
      host: hostname(),
      pid: dead,
      createdAt: new Date().toISOString(),
      pidNamespace,
      bootId,
    }),
  );
  return dead;
}
