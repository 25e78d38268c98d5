/**
 * Child process of the crash tests: runs one job (a snapshot, an incremental, a restore or a
 * compaction) and SIGKILLs itself at a chosen storage operation or adapter step, the way a power cut
 * or an OOM kill would stop a backup job.
 *
 *   tsx test/crash/crash-child.ts <config-json>     (config: ChildConfig, test/crash/harness.ts)
 *
 * Every storage put and delete is logged as `put <n> <key>` / `delete <n> <key>`, every adapter step
 * that changes the engine as `adapter <n> <method> <collection>`, and the end as `done <snapshot>`.
 */
import { writeSync } from 'node:fs';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { VectorAdapter } from '../../src/adapter.js';
import { openRepository } from '../../src/repository/repository.js';
import type { GetOptions, PutOptions, Storage, StorageObjectInfo } from '../../src/storage/storage.js';
import { pgPool } from '../helpers/pg.js';
import { ADAPTER_STEPS, type ChildConfig, storageOf } from './harness.js';

const config = JSON.parse(process.argv[2] as string) as ChildConfig;

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

/** Logs the nth operation of a kind once it is done, and dies before or after the configured one. */
async function around<T>(op: 'put' | 'delete' | 'adapter', n: number, what: string, run: () => Promise<T>): Promise<T> {
  const c = config.crash;
  const hit = c !== null && c.op === op && c.nth === n;
  if (hit && c.when === 'before') die();
  const out = await run();
  writeSync(1, `${op} ${n} ${what}\n`); // synchronous: the line is out before a SIGKILL
  if (hit && c.when === 'after') die();
  return out;
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
  get(key: string, options?: GetOptions): Promise<Uint8Array> {
    return this.inner.get(key, options);
  }
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    return around('put', ++this.puts, key, () => this.inner.put(key, data, options));
  }
  delete(key: string): Promise<void> {
    return around('delete', ++this.deletes, key, () => this.inner.delete(key));
  }
  stat(key: string): Promise<StorageObjectInfo | undefined> {
    return this.inner.stat(key);
  }
  list(prefix: string, options?: { signal?: AbortSignal }): AsyncIterable<StorageObjectInfo> {
    return this.inner.list(prefix, options);
  }
}

/** The adapter with every step that changes the engine (ADAPTER_STEPS) counted, and the configured one fatal. */
function crashingAdapter(inner: VectorAdapter): VectorAdapter {
  const steps = new Set<string>(ADAPTER_STEPS);
  let n = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !steps.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const collection = typeof args[0] === 'string' ? args[0] : (args[0] as { name?: string } | undefined)?.name;
        return around('adapter', ++n, `${prop} ${String(collection)}`, () => Promise.resolve(value.apply(target, args)));
      };
    },
  });
}

const pool = pgPool({ connectionString: config.pgUrl, max: 2 });
const adapter = crashingAdapter(pgvectorAdapter({ pool }));
const repo = await openRepository({ storage: new CrashingStorage(await storageOf(config.storage)), create: true });
const job = config.job;
let id: string;
if (job.kind === 'snapshot') {
  const options = { segmentBytes: job.segmentBytes, ...(job.incremental ? { incremental: true } : {}) };
  id = (await repo.snapshot(adapter, job.table, options)).manifest.id;
} else if (job.kind === 'restore') {
  const { collection, snapshot, target, commitBytes } = job;
  id = (
    await repo.restore(adapter, {
      collection,
      snapshot,
      target,
      ifExists: 'replace',
      ...(commitBytes === undefined ? {} : { commitBytes }),
    })
  ).snapshot;
} else {
  id = (await repo.compact(job.collection, { snapshot: job.snapshot })).manifest.id;
}
writeSync(1, `done ${id}\n`);
await pool.end();
