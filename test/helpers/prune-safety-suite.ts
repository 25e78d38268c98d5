/**
 * Prune beside running snapshots (issue 13, part 1), run on every storage: a prune must never delete
 * a running snapshot's data, and a snapshot must never commit a manifest whose data is gone.
 *
 * - Two processes with different `locks.staleAfterMs`: the writer's manifest write is slowed, the
 *   pruner (shorter staleAfterMs) runs during it.
 * - Same hostname, another PID namespace: a lock whose pid means nothing here is not judged by pid
 *   (simulated through the lock identity, and for real with `unshare --pid --fork` where allowed).
 * - A lock removed, or data deleted, under a healthy writer mid-scan: the writer fails with an
 *   accurate typed error and commits nothing; a prune's default grace spares fresh segments.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { isVectordrError } from '../../src/errors.js';
import { LOCKS_PREFIX } from '../../src/repository/locks.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import type { Storage } from '../../src/storage/storage.js';
import { expectError } from './errors.js';
import type { ChildStorageSpec } from './lock-holder-child.js';
import { openPglite } from './pglite.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SEGMENT_BYTES = 64 * 1024; // 3000 rows of 8 dims: 14 segments
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface PruneSafetyTarget {
  storage: Storage;
  /** How a child process opens the same storage. */
  spec: ChildStorageSpec;
  cleanup(): Promise<void>;
}

/** `inner` with a hook run before each put (to slow some writes down, or act in the middle of a run). */
function hooked(inner: Storage, beforePut: (key: string) => Promise<void>): Storage {
  return {
    name: inner.name,
    location: inner.location,
    ...(inner.writeConcurrency === undefined ? {} : { writeConcurrency: inner.writeConcurrency }),
    get: (k, o) => inner.get(k, o),
    stat: (k) => inner.stat(k),
    list: (p, o) => inner.list(p, o),
    delete: (k) => inner.delete(k),
    ...(inner.touch ? { touch: (k: string) => (inner.touch as (k: string) => Promise<boolean>).call(inner, k) } : {}),
    put: async (k, d, o) => {
      await beforePut(k);
      return inner.put(k, d, o);
    },
  };
}

/**
 * What a pruner that misjudged the writer's lock does first: removes it. Listed until one shows (at
 * most 5 s), so the case exercises a removed lock and never a listing that missed it.
 */
async function removeLocks(storage: Storage): Promise<string[]> {
  const until = Date.now() + 5_000;
  let found = await keys(storage, LOCKS_PREFIX);
  while (found.length === 0 && Date.now() < until) {
    await sleep(50);
    found = await keys(storage, LOCKS_PREFIX);
  }
  for (const k of found) await storage.delete(k);
  return found;
}

async function keys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

/** Every problem verify finds, as codes (SEGMENT_MISSING, ...). */
async function problemCodes(repo: Repository): Promise<string[]> {
  const report = await repo.verify();
  return report.snapshots.flatMap((s) => s.problems.map((p) => p.code));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's PID namespace and boot, read here rather than from the code under test. */
function identity(): { pidNamespace: string | undefined; bootId: string | undefined } {
  const read = (f: () => string): string | undefined => {
    try {
      return f().trim();
    } catch {
      return undefined;
    }
  };
  return {
    pidNamespace: read(() => readlinkSync('/proc/self/ns/pid')),
    bootId: read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
  };
}

const unshareWorks = process.platform === 'linux' && spawnSync('unshare', ['--pid', '--fork', 'true'], { timeout: 10_000 }).status === 0;

export function testPruneSafety(name: string, create: () => Promise<PruneSafetyTarget>): void {
  describe(`prune safety: ${name}`, () => {
    let db: PGlite;
    let adapter: PgvectorAdapter;
    const targets: PruneSafetyTarget[] = [];
    const target = async (): Promise<PruneSafetyTarget> => {
      const t = await create();
      targets.push(t);
      return t;
    };

    beforeAll(async () => {
      ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(8), t text);
        INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3, 4, 5, 6, 7]::real[]::vector, 'payload-' || g FROM generate_series(1, 3000) g;`));
    });
    afterAll(async () => {
      await db?.close();
      for (const t of targets) await t.cleanup();
    });

    it('a pruner with a shorter staleAfterMs, run while the writer slowly writes its manifest, deletes none of its data', async () => {
      const { storage } = await target();
      let manifestPutStarted!: () => void;
      const started = new Promise<void>((r) => (manifestPutStarted = r));
      const slow = hooked(storage, async (key) => {
        if (!key.startsWith('snapshots/')) return;
        manifestPutStarted();
        await sleep(6_000); // a slow object store
      });
      const writer = await openRepository({ storage: slow, create: true, locks: { staleAfterMs: 60_000 } });
      const pruner = await openRepository({ storage, locks: { staleAfterMs: 1_000 } });
      const running = writer.snapshot(adapter, 'docs', { segmentBytes: SEGMENT_BYTES }).then(
        (r) => ({ ok: true as const, manifest: r.manifest }),
        (err: unknown) => ({ ok: false as const, err }),
      );
      await started;
      await sleep(2_500); // the writer's lock is now older than the pruner's own staleAfterMs
      // graceMs 0: the locks alone must keep the pruner away.
      const pruned = await pruner.prune({ graceMs: 0 }).catch((err: unknown) => err);
      const written = await running;

      // Either the writer committed a complete snapshot, or it failed cleanly and committed nothing.
      if (written.ok) {
        expect((await writer.list()).map((s) => s.id)).toEqual([written.manifest.id]);
      } else {
        expect(isVectordrError(written.err, 'LOCK_LOST'), String(written.err)).toBe(true);
        expect(await writer.list()).toEqual([]);
      }
      expect(await problemCodes(writer)).toEqual([]);
      // The pruner honoured the writer's declared staleness limit (60 s), not its own (1 s).
      expect(isVectordrError(pruned, 'LOCKED'), String(pruned)).toBe(true);
      expect((pruned as Error).message).toContain('goes stale 60 s after its last refresh');
      expect(written.ok).toBe(true);
      expect((await pruner.prune({ graceMs: 0 })).deleted).toBe(0);
      expect(await problemCodes(writer)).toEqual([]);
    });

    it(
      'a lock removed under a healthy writer mid-scan: LOCK_LOST saying so (not "paused"), ' +
        'nothing committed, the refresh does not recreate it',
      async () => {
        const { storage } = await target();
        let puts = 0;
        const slow = hooked(storage, async (key) => {
          if (!key.startsWith('data/')) return;
          await sleep(150);
          // What a pruner that misjudged the lock does: remove it, then delete the unreferenced data.
          if (++puts === 4) {
            removedLocks = await removeLocks(storage);
            for (const k of await keys(storage, 'data/')) await storage.delete(k);
          }
        });
        let removedLocks: string[] = [];
        const writer = await openRepository({ storage: slow, create: true, locks: { staleAfterMs: 60_000, refreshMs: 100 } });
        const outcome = writer.snapshot(adapter, 'docs', { segmentBytes: SEGMENT_BYTES });
        await outcome.catch(() => undefined);
        expect(removedLocks, "the simulated pruner found the writer's lock to remove").toHaveLength(1);
        const err = await expectError(outcome, 'LOCK_LOST');
        expect(err.message).toContain('removed or replaced by another process');
        expect(err.message).not.toContain('paused');
        expect(await writer.list()).toEqual([]);
        expect(await keys(storage, 'snapshots/')).toEqual([]);
        expect(await keys(storage, LOCKS_PREFIX)).toEqual([]);
        expect(await problemCodes(writer)).toEqual([]);
      },
    );

    it('segments deleted under a writer that kept its lock: SEGMENT_MISSING before the commit, nothing committed', async () => {
      const { storage } = await target();
      let puts = 0;
      const slow = hooked(storage, async (key) => {
        if (key.startsWith('data/') && ++puts === 4) for (const k of await keys(storage, 'data/')) await storage.delete(k);
      });
      const writer = await openRepository({ storage: slow, create: true });
      const err = await expectError(writer.snapshot(adapter, 'docs', { segmentBytes: SEGMENT_BYTES }), 'SEGMENT_MISSING');
      expect(err.message).toContain('Nothing was committed');
      expect(await writer.list()).toEqual([]);
      // A rerun stores the segments again and commits a whole snapshot.
      const again = await openRepository({ storage });
      const { manifest } = await again.snapshot(adapter, 'docs', { segmentBytes: SEGMENT_BYTES });
      expect((await again.list()).map((s) => s.id)).toEqual([manifest.id]);
      expect(await problemCodes(again)).toEqual([]);
    });

    it('prune spares segments younger than its default grace period even when the writer holds no lock', async () => {
      const { storage } = await target();
      let puts = 0;
      let report: Awaited<ReturnType<Repository['prune']>> | undefined;
      const pruner = { repo: undefined as Repository | undefined };
      const slow = hooked(storage, async (key) => {
        if (!key.startsWith('data/') || ++puts !== 6) return;
        // A writer whose lock is gone (removed by hand, or a tool that takes none): only the grace period protects it.
        for (const k of await keys(storage, LOCKS_PREFIX)) await storage.delete(k);
        report = await (pruner.repo as Repository).prune();
      });
      const writer = await openRepository({ storage: slow, create: true, locks: { staleAfterMs: 60_000 } });
      pruner.repo = await openRepository({ storage, locks: { staleAfterMs: 1_000 } });
      await expectError(writer.snapshot(adapter, 'docs', { segmentBytes: SEGMENT_BYTES }), 'LOCK_LOST');
      expect(report?.graceMs).toBe(30 * 60_000);
      // Five segments stored, and on a network store a few more in flight (writeConcurrency).
      expect(report?.unreferenced.segments).toBeGreaterThanOrEqual(5);
      expect(report?.spared).toBe(report?.unreferenced.segments);
      expect(report?.deleted).toBe(0);
      // Orphans go once the caller says they are old enough.
      expect((await pruner.repo.prune({ graceMs: 0 })).deleted).toBeGreaterThanOrEqual(5);
      expect(await keys(storage, 'data/')).toEqual([]);
    });

    it('same hostname, another PID namespace or boot: a lock is not judged stale by a pid that means nothing here', async () => {
      const { storage } = await target();
      const repo = await openRepository({ storage, create: true });
      const me = identity();
      const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
      expect(processAlive(dead)).toBe(false);
      const lock = (n: number, operation: string, identity: Record<string, unknown>): Promise<void> =>
        storage.put(
          `${LOCKS_PREFIX}01J0000000000000000000000${n}.json`,
          Buffer.from(
            JSON.stringify({
              formatVersion: 1,
              exclusive: false,
              operation,
              host: hostname(),
              pid: dead,
              createdAt: new Date().toISOString(),
              ...identity,
            }),
          ),
        );
      await lock(1, 'other pid namespace', { pidNamespace: 'pid:[4026500001]', bootId: me.bootId });
      await lock(2, 'other boot', { pidNamespace: me.pidNamespace, bootId: '00000000-0000-4000-8000-000000000000' });
      await lock(3, 'identity unknown (older vectordr)', {});
      const judged = await repo.locks();
      expect(judged.map((l) => [l.operation, l.stale])).toEqual([
        ['other pid namespace', false],
        ['other boot', false],
        ['identity unknown (older vectordr)', false],
      ]);
      const err = await expectError(repo.prune({ graceMs: 0 }), 'LOCKED');
      expect(err.message).toContain(`pid ${dead}`);
      expect((await keys(storage, LOCKS_PREFIX)).length).toBe(3);
      // The same pid in this PID namespace and boot is judged by pid: the process is gone.
      if (me.pidNamespace !== undefined && me.bootId !== undefined) {
        await lock(4, 'this namespace, gone', { pidNamespace: me.pidNamespace, bootId: me.bootId });
        expect((await repo.locks()).find((l) => l.operation === 'this namespace, gone')).toMatchObject({
          stale: true,
          staleReason: 'process-gone',
        });
      }
    });

    it.runIf(unshareWorks)('a lock held from another PID namespace (unshare --pid --fork) stops a prune on the same host', async () => {
      const { storage, spec } = await target();
      const repo = await openRepository({ storage, create: true });
      // sh is pid 1 of the new namespace and burns ~400 pids, so node gets a pid no process has here.
      const script = 'i=0; while [ $i -lt 400 ]; do /bin/true; i=$((i+1)); done; "$0" "$@"; exit $?';
      const child = spawn(
        'unshare',
        ['--pid', '--fork', 'sh', '-c', script, process.execPath, '--import', 'tsx', path.join(ROOT, 'test/helpers/lock-holder-child.ts')],
        {
          cwd: ROOT,
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, VECTORDR_CHILD_CONFIG: JSON.stringify({ storage: spec }) },
        },
      );
      try {
        let out = '';
        let errOut = '';
        child.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
        const line = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            const m = /^locked .*$/m.exec(out);
            if (m) resolve(m[0]);
          });
          child.on('exit', (code) => reject(new Error(`lock holder exited (${code}): ${errOut}`)));
        });
        const [, pid, key] = line.split(' ');
        expect(Number(pid)).not.toBe(process.pid);
        expect(processAlive(Number(pid)), `pid ${pid} of the other namespace happens to exist here too`).toBe(false);
        const held = (await repo.locks()).find((l) => l.key === key);
        expect(held?.pidNamespace).not.toBe(identity().pidNamespace);
        expect(held?.stale).toBe(false);
        await expectError(repo.prune({ graceMs: 0 }), 'LOCKED');
        expect(await keys(storage, LOCKS_PREFIX)).toEqual([key]);
      } finally {
        child.stdin.end();
        await new Promise<void>((resolve) => {
          if (child.exitCode !== null) resolve();
          else child.on('exit', () => resolve());
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 10_000).unref();
        });
      }
      expect(await keys(storage, LOCKS_PREFIX)).toEqual([]);
    });
  });
}
