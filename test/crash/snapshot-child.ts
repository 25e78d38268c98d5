/**
 * Child process of the crash tests: takes one snapshot and SIGKILLs itself at a chosen storage
 * operation, the way a power cut or an OOM kill would stop a backup job.
 *
 *   tsx test/crash/snapshot-child.ts <config-json>
 *   config: { pgUrl, table, storage: { kind: 'fs', path } | { kind: 's3', ...S3StorageOptions },
 *             crash: { op: 'put' | 'delete', nth: number, when: 'before' | 'after' } | null, segmentBytes }
 */
import { writeSync } from 'node:fs';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { S3Storage, type S3StorageOptions } from '../../src/storage/s3-storage.js';
import type { GetOptions, PutOptions, Storage, StorageObjectInfo } from '../../src/storage/storage.js';
import { pgPool } from '../helpers/pg.js';

interface ChildConfig {
  pgUrl: string;
  table: string;
  segmentBytes: number;
  storage: { kind: 'fs'; path: string } | ({ kind: 's3' } & S3StorageOptions);
  crash: { op: 'put' | 'delete'; nth: number; when: 'before' | 'after' } | null;
}

const config = JSON.parse(process.argv[2] as string) as ChildConfig;

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

/** Counts puts and deletes, and dies at the configured one. */
class CrashingStorage implements Storage {
  readonly name: string;
  readonly location: string;
  readonly writeConcurrency: number | undefined;
  private puts = 0;
  private deletes = 0;
  constructor(private readonly inner: Storage) {
    this.name = inner.name;
    this.location = inner.location;
    this.writeConcurrency = inner.writeConcurrency;
  }
  private async around<T>(op: 'put' | 'delete', n: number, key: string, run: () => Promise<T>): Promise<T> {
    const c = config.crash;
    const hit = c !== null && c.op === op && c.nth === n;
    if (hit && c.when === 'before') die();
    const out = await run();
    writeSync(1, `${op} ${n} ${key}\n`); // synchronous: the line is out before a SIGKILL
    if (hit && c.when === 'after') die();
    return out;
  }
  get(key: string, options?: GetOptions): Promise<Uint8Array> {
    return this.inner.get(key, options);
  }
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    return this.around('put', ++this.puts, key, () => this.inner.put(key, data, options));
  }
  delete(key: string): Promise<void> {
    return this.around('delete', ++this.deletes, key, () => this.inner.delete(key));
  }
  stat(key: string): Promise<StorageObjectInfo | undefined> {
    return this.inner.stat(key);
  }
  list(prefix: string, options?: { signal?: AbortSignal }): AsyncIterable<StorageObjectInfo> {
    return this.inner.list(prefix, options);
  }
}

const { kind, ...storageOptions } = config.storage;
const inner =
  kind === 'fs' ? fsStorage({ path: (config.storage as { path: string }).path }) : new S3Storage(storageOptions as S3StorageOptions);
const pool = pgPool({ connectionString: config.pgUrl, max: 2 });
const repo = await openRepository({ storage: new CrashingStorage(inner), create: true });
const { manifest } = await repo.snapshot(pgvectorAdapter({ pool }), config.table, { segmentBytes: config.segmentBytes });
writeSync(1, `committed ${manifest.id}\n`);
await pool.end();
