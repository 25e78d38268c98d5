/**
 * The crash harness's parent side: runs test/crash/crash-child.ts with one job and one crash point,
 * and reads what the child logged before it died. The child writes a line for every storage put and
 * delete (`put <n> <key>`, `delete <n> <key>`) and every adapter step that changes the engine
 * (`adapter <n> <method> <collection>`), synchronously, so the lines are out before a SIGKILL.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Storage } from '../../src/storage/storage.js';
import { fsStorage } from '../../src/storage/fs-storage.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export type StorageSpec =
  /** fsync false: a SIGKILL loses no page cache, so cases that kill processes (not machines) skip the flushes. */
  | { kind: 'fs'; path: string; fsync?: boolean }
  | {
      kind: 's3';
      endpoint: string;
      bucket: string;
      region: string;
      prefix: string;
      credentials: { accessKeyId: string; secretAccessKey: string };
    };

/** Adapter methods that change the engine: the steps a restore can be killed at. */
export const ADAPTER_STEPS = ['create', 'write', 'writeBatches', 'writeMarker', 'buildIndexes', 'swap', 'merge', 'drop', 'delete'] as const;

/** Where the child kills itself: before or after the nth storage put/delete, or the nth adapter step (any of ADAPTER_STEPS). */
export type CrashPoint = { op: 'put' | 'delete' | 'adapter'; nth: number; when: 'before' | 'after' };

/** What the child does: a snapshot (full or incremental), a restore, or a compaction of a chain. */
export type ChildJob =
  | { kind: 'snapshot'; table: string; segmentBytes: number; incremental?: boolean }
  | { kind: 'restore'; collection: string; snapshot: string; target: string; commitBytes?: number }
  | { kind: 'compact'; collection: string; snapshot: string };

export interface ChildConfig {
  pgUrl: string;
  storage: StorageSpec;
  job: ChildJob;
  crash: CrashPoint | null;
}

export interface ChildRun {
  signal: NodeJS.Signals | null;
  code: number | null;
  lines: string[];
}

export function runChild(config: ChildConfig): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/crash/crash-child.ts'), JSON.stringify(config)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === null && code !== 0) reject(new Error(`${config.job.kind} child failed (exit ${code}): ${err}`));
      else resolve({ signal, code, lines: out.split('\n').filter(Boolean) });
    });
  });
}

/**
 * The crash points of a clean run's log: before each operation of `ops` (storage puts and deletes,
 * adapter steps), and after the last of them. Between two storage writes a snapshot only reads, so "after write n" is "before
 * write n+1"; the exception is the manifest put, after which a change feed is advanced before the
 * lock is released, so it gets an "after" point of its own.
 */
export function crashPointsOf(lines: readonly string[], ops: readonly CrashPoint['op'][]): CrashPoint[] {
  const points: CrashPoint[] = [];
  let last: CrashPoint | undefined;
  for (const l of lines) {
    const m = /^(put|delete|adapter) (\d+) (\S+)/.exec(l);
    if (!m || !ops.includes(m[1] as CrashPoint['op'])) continue;
    last = { op: m[1] as CrashPoint['op'], nth: Number(m[2]), when: 'before' };
    points.push(last);
    if (m[1] === 'put' && m[3]?.startsWith('snapshots/')) points.push({ ...last, when: 'after' });
  }
  if (last && points[points.length - 1]?.when !== 'after') points.push({ ...last, when: 'after' });
  return points;
}

export function storageOf(spec: StorageSpec): Promise<Storage> {
  if (spec.kind === 'fs') return Promise.resolve(fsStorage({ path: spec.path, ...(spec.fsync === false ? { fsync: false } : {}) }));
  const { kind: _kind, ...options } = spec;
  return import('../../src/storage/s3-storage.js').then(({ S3Storage }) => new S3Storage(options));
}

export async function allKeys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out.sort();
}
