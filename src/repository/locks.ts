/**
 * Repository locks, in the manner of restic: a lock is an object `locks/<ULID>.json` that its holder
 * rewrites every `refreshMs`. Snapshots and restores hold shared locks; forget and prune hold an
 * exclusive one. Acquiring writes the lock first, then lists the others, so two racers always see
 * each other and at least one backs off; nobody relies on list-then-write.
 *
 * A lock is stale when its holder stopped refreshing it for `staleAfterMs` (compared with the
 * storage's own clock: the new lock's lastModified, so client clock skew does not matter), or when
 * it was written on this host by a process that no longer exists. Stale locks are ignored and
 * removed by exclusive acquirers.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConflictError, isVectordrError, throwIfAborted } from '../errors.js';
import { newSnapshotId } from '../format/keys.js';
import type { Logger } from '../logger.js';
import type { Storage, StorageObjectInfo } from '../storage/storage.js';

export const LOCKS_PREFIX = 'locks/';

export const LockOptionsSchema = z.strictObject({
  /** A lock not refreshed for this long is stale. @default 1800000 (30 min) */
  staleAfterMs: z.number().int().min(1_000).default(30 * 60_000),
  /** How often the holder rewrites its lock. @default staleAfterMs / 6 */
  refreshMs: z.number().int().min(100).optional(),
  /** Keep retrying a conflicting lock for this long before failing with LOCKED. @default 0 */
  waitMs: z.number().int().min(0).default(0),
});
export type LockOptions = z.input<typeof LockOptionsSchema>;

const LockBodySchema = z.object({
  formatVersion: z.literal(1),
  exclusive: z.boolean(),
  operation: z.string(),
  host: z.string(),
  pid: z.number().int(),
  createdAt: z.string(),
});
type LockBody = z.infer<typeof LockBodySchema>;

/** What a lock holder needs from the repository: storage, and sealing when the repository is encrypted. */
export interface LockStore {
  readonly storage: Storage;
  readonly logger: Logger;
  encodeObject(key: string, plain: Uint8Array): Uint8Array;
  decodeObject(key: string, stored: Uint8Array): Uint8Array | undefined;
}

export interface LockInfo extends LockBody {
  key: string;
  /** Storage time of the last refresh. */
  refreshedAt: Date;
  stale: boolean;
}

export class RepositoryLock {
  readonly key: string;
  readonly exclusive: boolean;
  /** Stale locks this acquirer removed (exclusive locks only). */
  readonly removedStale: number;
  private readonly store: LockStore;
  private readonly body: Uint8Array;
  private readonly staleAfterMs: number;
  private lastRefresh: number;
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  private lost = false;

  constructor(store: LockStore, key: string, body: Uint8Array, exclusive: boolean, timing: { staleAfterMs: number; refreshMs: number }, removedStale: number) {
    const { staleAfterMs, refreshMs } = timing;
    this.store = store;
    this.removedStale = removedStale;
    this.key = key;
    this.body = body;
    this.exclusive = exclusive;
    this.staleAfterMs = staleAfterMs;
    this.lastRefresh = Date.now();
    this.timer = setInterval(() => void this.refresh(), refreshMs);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    if (this.lost || this.released) return;
    // Missed our own window (process paused, store unreachable): someone may have judged the lock
    // stale and pruned meanwhile, so it can never be trusted again, even if a rewrite succeeds now.
    if (Date.now() - this.lastRefresh > this.staleAfterMs / 2) {
      this.lost = true;
      clearInterval(this.timer);
      this.store.logger.warn({ lock: this.key }, 'lock lost: not refreshed within half its stale time');
      return;
    }
    try {
      await this.store.storage.put(this.key, this.body);
      this.lastRefresh = Date.now();
    } catch (err) {
      this.store.logger.warn({ lock: this.key, err: (err as Error).message }, 'lock refresh failed; will retry');
    }
  }

  /**
   * Throws LOCK_LOST unless the lock is certainly still ours: refreshed recently enough that no one
   * can have judged it stale, and still present. Called before a commit that relies on it.
   */
  async assertHeld(): Promise<void> {
    const age = Date.now() - this.lastRefresh;
    if (this.released || this.lost || age > this.staleAfterMs / 2 || !(await this.store.storage.stat(this.key))) {
      throw new ConflictError('LOCK_LOST', `Lost the repository lock ${this.key} (last refreshed ${Math.round(age / 1000)} s ago; the process was paused or the store unreachable). Nothing was committed; rerun (stored segments are reused).`);
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.store.storage.delete(this.key).catch((err: unknown) => {
      this.store.logger.warn({ lock: this.key, err: (err as Error).message }, 'could not remove lock; it will go stale');
    });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every lock in the repository with its staleness judged against `now` (a storage timestamp). */
export async function listLocks(store: LockStore, now: Date, staleAfterMs: number): Promise<LockInfo[]> {
  const out: LockInfo[] = [];
  const objects: StorageObjectInfo[] = [];
  for await (const o of store.storage.list(LOCKS_PREFIX)) objects.push(o);
  const host = hostname();
  for (const o of objects) {
    let body: LockBody | undefined;
    try {
      const plain = store.decodeObject(o.key, await store.storage.get(o.key));
      if (plain) body = LockBodySchema.parse(JSON.parse(Buffer.from(plain).toString('utf8')));
    } catch (err) {
      if (isVectordrError(err, 'KEY_NOT_FOUND')) continue; // released meanwhile
    }
    // An unreadable lock is honoured until it is stale by time.
    const b = body ?? { formatVersion: 1 as const, exclusive: true, operation: 'unknown (unreadable lock)', host: '?', pid: 0, createdAt: o.lastModified.toISOString() };
    const expired = now.getTime() - o.lastModified.getTime() > staleAfterMs;
    const dead = body !== undefined && b.host === host && b.pid !== process.pid && !processAlive(b.pid);
    out.push({ ...b, key: o.key, refreshedAt: o.lastModified, stale: expired || dead });
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Takes a shared or exclusive lock; LOCKED (with who holds it) when a live conflicting lock exists. */
export async function acquireLock(
  store: LockStore,
  request: { exclusive: boolean; operation: string; signal?: AbortSignal },
  options: LockOptions = {},
): Promise<RepositoryLock> {
  const o = LockOptionsSchema.parse(options);
  const refreshMs = o.refreshMs ?? Math.floor(o.staleAfterMs / 6);
  const deadline = Date.now() + o.waitMs;
  const body: LockBody = { formatVersion: 1, exclusive: request.exclusive, operation: request.operation, host: hostname(), pid: process.pid, createdAt: new Date().toISOString() };
  const plain = Buffer.from(JSON.stringify(body), 'utf8');
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(request.signal);
    const key = `${LOCKS_PREFIX}${newSnapshotId()}.json`;
    const stored = store.encodeObject(key, plain);
    await store.storage.put(key, stored, { ifNoneMatch: '*' });
    const mine = await store.storage.stat(key);
    const now = mine?.lastModified ?? new Date();
    const others = (await listLocks(store, now, o.staleAfterMs)).filter((l) => l.key !== key);
    const conflicting = others.filter((l) => !l.stale && (request.exclusive || l.exclusive));
    if (conflicting.length === 0) {
      const stale = request.exclusive ? others.filter((x) => x.stale) : [];
      for (const l of stale) {
        store.logger.info({ lock: l.key, operation: l.operation, host: l.host, pid: l.pid }, 'removing stale lock');
        await store.storage.delete(l.key);
      }
      return new RepositoryLock(store, key, stored, request.exclusive, { staleAfterMs: o.staleAfterMs, refreshMs }, stale.length);
    }
    await store.storage.delete(key);
    if (Date.now() >= deadline) {
      const h = conflicting[0] as LockInfo;
      const ago = Math.round((now.getTime() - h.refreshedAt.getTime()) / 1000);
      throw new ConflictError(
        'LOCKED',
        `Repository ${store.storage.location} is locked${h.exclusive ? ' exclusively' : ''} by "${h.operation}" on ${h.host} (pid ${h.pid}) since ${h.createdAt}, refreshed ${ago} s ago; ` +
          `it goes stale ${Math.round(o.staleAfterMs / 1000)} s after its last refresh. Wait (lock option waitMs), or if that process is gone, rerun once it is stale.`,
        { details: { lock: h.key, operation: h.operation, host: h.host, pid: h.pid, exclusive: h.exclusive } },
      );
    }
    await sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6) * (0.5 + Math.random())));
  }
}
