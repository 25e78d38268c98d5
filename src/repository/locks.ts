/**
 * Repository locks, in the manner of restic: a lock is an object `locks/<ULID>.json` that its holder
 * rewrites every `refreshMs`. Snapshots and restores hold shared locks; forget and prune hold an
 * exclusive one. Acquiring writes the lock first, then lists the others, so two racers always see
 * each other and at least one backs off; nobody relies on list-then-write.
 *
 * A lock is stale when its holder stopped refreshing it for the staleness limit: the larger of the
 * reader's `staleAfterMs` and the one the holder declared in its lock, so processes configured
 * differently never misjudge each other. Age is measured with the storage's own clock (the new
 * lock's lastModified), so client clock skew does not matter. A lock is also stale at once when its
 * holder is certainly gone: same host, same PID namespace and same boot as the reader, and its pid
 * not running. A pid is never judged across PID namespaces (two containers of one pod share a
 * hostname, not a PID space) or across boots. Stale locks are ignored and removed by exclusive
 * acquirers.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConflictError, isVectordrError, throwIfAborted } from '../errors.js';
import { sleep } from '../async.js';
import { newSnapshotId } from '../format/keys.js';
import type { Logger } from '../logger.js';
import { backoffDelay } from '../retry.js';
import { type Storage, type StorageObjectInfo, getBounded } from '../storage/storage.js';
import { MAX_LOCK_BYTES, storedCap } from '../format/limits.js';

export const LOCKS_PREFIX = 'locks/';

/** Longest staleness limit a lock may declare: a longer one would let a dead holder block the repository for weeks. */
export const MAX_STALE_AFTER_MS = 7 * 24 * 3_600_000;
export const DEFAULT_STALE_AFTER_MS = 30 * 60_000;

export const LockOptionsSchema = z.strictObject({
  /**
   * A lock not refreshed for this long is stale. Other processes judge this process's locks by the
   * larger of their own value and this one (it is written into the lock). @default 1800000 (30 min)
   */
  staleAfterMs: z.number().int().min(1_000).max(MAX_STALE_AFTER_MS).default(DEFAULT_STALE_AFTER_MS),
  /** How often the holder rewrites its lock. @default staleAfterMs / 6 */
  refreshMs: z.number().int().min(100).optional(),
  /** Keep retrying a conflicting lock for this long before failing with LOCKED. @default 0 */
  waitMs: z.number().int().min(0).default(0),
});
export type LockOptions = z.input<typeof LockOptionsSchema>;

const LockBodySchema = z.object({
  formatVersion: z.literal(1),
  exclusive: z.boolean(),
  operation: z.string().max(1_000),
  host: z.string().max(255),
  pid: z.number().int(),
  createdAt: z.string(),
  /** `readlink /proc/self/ns/pid` of the holder (Linux), e.g. `pid:[4026531836]`. */
  pidNamespace: z.string().min(1).max(200).optional(),
  /** `/proc/sys/kernel/random/boot_id` of the holder (Linux). */
  bootId: z.string().min(1).max(200).optional(),
  /** The holder's own staleness limit and refresh interval. */
  staleAfterMs: z.number().int().min(1_000).max(MAX_STALE_AFTER_MS).optional(),
  refreshMs: z.number().int().min(1).optional(),
});
type LockBody = z.infer<typeof LockBodySchema>;

/** Where this process's pid means something: its PID namespace and boot, when the platform tells. */
export interface ProcessIdentity {
  host: string;
  pid: number;
  pidNamespace: string | undefined;
  bootId: string | undefined;
}

let cachedIdentity: { pidNamespace: string | undefined; bootId: string | undefined } | undefined;

function readOrUndefined(read: () => string): string | undefined {
  try {
    const v = read().trim();
    return v === '' ? undefined : v;
  } catch {
    return undefined; // not Linux, or /proc not mounted: pids are then never judged
  }
}

export function processIdentity(): ProcessIdentity {
  cachedIdentity ??= {
    pidNamespace: readOrUndefined(() => readlinkSync('/proc/self/ns/pid')),
    bootId: readOrUndefined(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
  };
  return { host: hostname(), pid: process.pid, ...cachedIdentity };
}

/** What a lock holder needs from the repository: storage, and sealing when the repository is encrypted. */
export interface LockStore {
  readonly storage: Storage;
  readonly logger: Logger;
  /** Locks are sealed: one that fails authentication was not written by a holder of the key, and blocks nobody. */
  readonly encrypted?: boolean;
  encodeObject(key: string, plain: Uint8Array): Uint8Array;
  decodeObject(key: string, stored: Uint8Array): Uint8Array | undefined;
}

export interface LockInfo extends LockBody {
  key: string;
  /** Storage time of the last refresh. */
  refreshedAt: Date;
  /** The staleness limit this lock was judged by: the larger of the reader's and the one the lock declares. */
  staleLimitMs: number;
  stale: boolean;
  /**
   * Why it is stale: not refreshed within `staleLimitMs`; its process is gone (same host, PID
   * namespace and boot); dated more than `staleLimitMs` ahead of the storage clock (no live holder
   * can be: its refreshes stamp the storage's own time); or, in an encrypted repository, not sealed
   * under the repository's key (no vectordr process wrote it).
   */
  staleReason?: 'expired' | 'process-gone' | 'future-dated' | 'unauthenticated';
  /**
   * Set when the object is not a lock vectordr wrote as it is: bigger than a lock can be (never
   * read), not a lock body, not sealed under the key, or dated in the future. A suspicious lock that
   * is not stale is honoured until it is, and named by LOCK_SUSPICIOUS; `unlock({ force: true })`
   * removes it at once.
   */
  suspicious?: LockSuspicion;
}

export type LockSuspicion = 'oversized' | 'unreadable' | 'unauthenticated' | 'future-dated';

export class RepositoryLock {
  readonly key: string;
  readonly exclusive: boolean;
  /** Stale locks this acquirer removed (exclusive locks only). */
  readonly removedStale: number;
  /**
   * The longest staleness limit seen when the lock was taken: this process's own and every other
   * lock's declared one. A live holder refreshes at least this often.
   */
  readonly staleLimitMs: number;
  private readonly store: LockStore;
  private readonly stored: Uint8Array;
  private readonly staleAfterMs: number;
  /** Storage time of the acquisition, and the local time it was read at (to tell storage time later). */
  private readonly acquiredAt: { storage: number; local: number };
  private lastRefresh: number;
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private touchRefused = false;
  private released = false;
  /** Why the lock cannot be trusted any more, once it cannot. */
  private lostBecause: 'overdue' | 'removed' | undefined;

  constructor(
    store: LockStore,
    key: string,
    stored: Uint8Array,
    exclusive: boolean,
    timing: { staleAfterMs: number; refreshMs: number; staleLimitMs: number; writtenAt: number; storageNow: Date },
    removedStale: number,
  ) {
    this.store = store;
    this.removedStale = removedStale;
    this.key = key;
    this.stored = stored;
    this.exclusive = exclusive;
    this.staleAfterMs = timing.staleAfterMs;
    this.staleLimitMs = timing.staleLimitMs;
    this.lastRefresh = timing.writtenAt;
    this.acquiredAt = { storage: timing.storageNow.getTime(), local: Date.now() };
    this.timer = setInterval(() => void this.refresh(), timing.refreshMs);
    this.timer.unref();
  }

  /** The storage clock now, as far as this process can tell (storage time at acquisition + local time since). */
  storageNow(): Date {
    return new Date(this.acquiredAt.storage + (Date.now() - this.acquiredAt.local));
  }

  private markLost(reason: 'overdue' | 'removed'): void {
    this.lostBecause ??= reason;
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    if (this.lostBecause || this.released || this.refreshing) return;
    this.refreshing = true;
    try {
      // Missed our own window (process paused, store unreachable): someone may have judged the lock
      // stale and pruned meanwhile, so it can never be trusted again, even if a rewrite succeeds now.
      if (Date.now() - this.lastRefresh > this.staleAfterMs / 2) {
        this.markLost('overdue');
        this.store.logger.warn({ lock: this.key }, 'lock lost: not refreshed within half its stale time');
        return;
      }
      // Gone means another process judged it stale and may have deleted data: rewriting it would
      // hide that, so it stays gone and the holder fails before it commits. `touch` never recreates
      // a removed lock; the stat-then-put fallback can, if the removal falls between the two.
      // The storage stamps the object when the write starts, so that is when it was refreshed.
      const started = Date.now();
      if (!(await this.rewriteIfPresent())) {
        this.markLost('removed');
        this.store.logger.warn({ lock: this.key }, 'lock lost: removed by another process');
        return;
      }
      this.lastRefresh = started;
    } catch (err) {
      this.store.logger.warn({ lock: this.key, err: (err as Error).message }, 'lock refresh failed; will retry');
    } finally {
      this.refreshing = false;
    }
  }

  /** Refreshes the stored lock's time; false when it is gone (and then it stays gone). */
  private async rewriteIfPresent(): Promise<boolean> {
    const { storage } = this.store;
    if (storage.touch && !this.touchRefused) {
      try {
        return await storage.touch(this.key);
      } catch (err) {
        // A store that refuses the copy (some S3-compatible ones) still gets its lock refreshed.
        if (!isVectordrError(err) || err.retryable || err.category === 'aborted') throw err;
        this.touchRefused = true;
        this.store.logger.warn({ lock: this.key, err: err.message }, 'storage refused touch; refreshing the lock by stat and put');
      }
    }
    if (!(await storage.stat(this.key))) return false;
    await storage.put(this.key, this.stored);
    return true;
  }

  /**
   * Throws LOCK_LOST unless the lock is certainly still ours: refreshed recently enough that no one
   * can have judged it stale, and still stored with our bytes (not removed, not replaced). Called
   * before a commit that relies on it, and by prune before it deletes.
   */
  async assertHeld(): Promise<void> {
    if (this.released)
      throw new ConflictError(
        'LOCK_LOST',
        `The repository lock ${this.key} was already released; this is a bug in the caller. ` + `Nothing was committed.`,
      );
    if (!this.lostBecause && Date.now() - this.lastRefresh > this.staleAfterMs / 2) this.markLost('overdue');
    if (!this.lostBecause) {
      let current: Uint8Array | undefined;
      try {
        current = await getBounded(this.store.storage, this.key, this.stored.length);
      } catch (err) {
        // Bigger than our own bytes: replaced.
        if (!isVectordrError(err, 'KEY_NOT_FOUND') && !isVectordrError(err, 'OBJECT_TOO_LARGE')) throw err;
      }
      if (current === undefined || !Buffer.from(current).equals(this.stored)) this.markLost('removed');
    }
    if (this.lostBecause === 'removed') {
      throw new ConflictError(
        'LOCK_LOST',
        `The repository lock ${this.key} was removed or replaced by another process while this ` +
          `operation held it (refreshed on time, last ` +
          `${Math.round((Date.now() - this.lastRefresh) / 1000)} s ago). ` +
          `A prune or forget that judged it stale may have deleted data this operation wrote, so nothing was committed. ` +
          `Rerun (stored segments are reused), and check that no process removes locks by hand or ` +
          `runs an older vectordr (which judges locks by its own staleAfterMs, and by pids of other ` +
          `containers).`,
        { details: { lock: this.key, reason: 'removed' } },
      );
    }
    if (this.lostBecause === 'overdue') {
      const age = Math.round((Date.now() - this.lastRefresh) / 1000);
      throw new ConflictError(
        'LOCK_LOST',
        `Lost the repository lock ${this.key}: not refreshed for ${age} s, more than half of ` +
          `staleAfterMs (${Math.round(this.staleAfterMs / 1000)} s), because the process was paused ` +
          `or the store unreachable; another process may have judged it stale. Nothing was ` +
          `committed; rerun (stored segments are reused).`,
        { details: { lock: this.key, reason: 'overdue' } },
      );
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    if (this.lostBecause === 'removed') return; // not ours any more
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

/**
 * True when the lock's pid can be checked here: written on this host, in this PID namespace, since
 * this boot. A lock that does not say (written by an older vectordr, or on a platform without /proc)
 * is judged by time alone.
 */
function samePidSpace(body: LockBody, me: ProcessIdentity): boolean {
  return (
    body.host === me.host &&
    me.pidNamespace !== undefined &&
    me.bootId !== undefined &&
    body.pidNamespace === me.pidNamespace &&
    body.bootId === me.bootId
  );
}

export interface UnlockOptions {
  /** Remove live locks too, not only stale ones. @default false */
  all?: boolean;
  /**
   * Remove suspicious locks too (`LockInfo.suspicious`: oversized, unreadable, unauthenticated or
   * future-dated objects under `locks/`, which LOCK_SUSPICIOUS names), not only stale ones. Live
   * locks of running vectordr processes stay. @default false
   */
  force?: boolean;
}

export interface UnlockReport {
  /** The locks removed. */
  removed: {
    key: string;
    operation: string;
    host: string;
    pid: number;
    exclusive: boolean;
    stale: boolean;
    suspicious?: LockSuspicion;
  }[];
  /** Live locks left in place (0 with `all`). */
  kept: number;
}

/** Deletes the stale locks of `locks` (suspicious ones too with `force`, every one with `all`); a lock released meanwhile counts as removed. */
export async function removeLocks(store: LockStore, locks: readonly LockInfo[], options: UnlockOptions): Promise<UnlockReport> {
  const report: UnlockReport = { removed: [], kept: 0 };
  for (const l of locks) {
    if (!l.stale && options.all !== true && !(options.force === true && l.suspicious !== undefined)) {
      report.kept++;
      continue;
    }
    const suspicious = l.suspicious === undefined ? {} : { suspicious: l.suspicious };
    store.logger.info({ lock: l.key, operation: l.operation, host: l.host, pid: l.pid, stale: l.stale, ...suspicious }, 'removing lock');
    await store.storage.delete(l.key);
    report.removed.push({
      key: l.key,
      operation: l.operation,
      host: l.host,
      pid: l.pid,
      exclusive: l.exclusive,
      stale: l.stale,
      ...suspicious,
    });
  }
  return report;
}

/** What a lock object is, read with a cap: its body, or why it is suspicious; undefined when it is gone. */
async function readLockObject(
  store: LockStore,
  o: StorageObjectInfo,
): Promise<{ body?: LockBody; suspicious?: LockSuspicion } | undefined> {
  const cap = storedCap(MAX_LOCK_BYTES, store.encrypted === true);
  if (o.size > cap) return { suspicious: 'oversized' }; // never read, whatever its body
  try {
    const plain = store.decodeObject(o.key, await getBounded(store.storage, o.key, cap));
    if (plain === undefined) return { suspicious: 'unauthenticated' };
    const parsed = LockBodySchema.safeParse(JSON.parse(Buffer.from(plain).toString('utf8')));
    return parsed.success ? { body: parsed.data } : { suspicious: 'unreadable' };
  } catch (err) {
    if (isVectordrError(err, 'KEY_NOT_FOUND')) return undefined; // released meanwhile
    return { suspicious: isVectordrError(err, 'OBJECT_TOO_LARGE') ? 'oversized' : 'unreadable' };
  }
}

/** Every lock in the repository with its staleness judged against `now` (a storage timestamp). */
export async function listLocks(store: LockStore, now: Date, staleAfterMs: number): Promise<LockInfo[]> {
  return (await readLocks(store, undefined, () => now, staleAfterMs)).locks;
}

/**
 * The locks, judged against the storage's time: the lastModified of `ownKey` in the same listing
 * when given (a listing has millisecond times; S3's HEAD has whole seconds), else `fallbackNow`.
 */
async function readLocks(
  store: LockStore,
  ownKey: string | undefined,
  fallbackNow: () => Promise<Date> | Date,
  staleAfterMs: number,
): Promise<{ locks: LockInfo[]; now: Date }> {
  const out: LockInfo[] = [];
  const objects: StorageObjectInfo[] = [];
  for await (const o of store.storage.list(LOCKS_PREFIX)) objects.push(o);
  const now = objects.find((o) => o.key === ownKey)?.lastModified ?? (await fallbackNow());
  const me = processIdentity();
  for (const o of objects) {
    if (o.key === ownKey) continue;
    const read = await readLockObject(store, o);
    if (read === undefined) continue;
    const { body } = read;
    // An unreadable or oversized lock is honoured until it is stale by time (it may be a newer
    // vectordr's); an unauthenticated one (encrypted repository) was written by no holder of the key.
    const b = body ?? {
      formatVersion: 1 as const,
      exclusive: true,
      operation: 'unknown (unreadable lock)',
      host: '?',
      pid: 0,
      createdAt: o.lastModified.toISOString(),
    };
    const staleLimitMs = Math.max(staleAfterMs, b.staleAfterMs ?? 0);
    const age = now.getTime() - o.lastModified.getTime();
    const expired = age > staleLimitMs;
    // A date further ahead than the staleness limit is no clock skew: no refresh of a live holder stamps it.
    const future = -age > staleLimitMs;
    const suspicious = read.suspicious ?? (future ? ('future-dated' as const) : undefined);
    const gone = body !== undefined && samePidSpace(body, me) && body.pid !== me.pid && !processAlive(body.pid);
    const staleReason = expired
      ? ('expired' as const)
      : future
        ? ('future-dated' as const)
        : suspicious === 'unauthenticated'
          ? ('unauthenticated' as const)
          : gone
            ? ('process-gone' as const)
            : undefined;
    if (suspicious !== undefined)
      store.logger.warn({ lock: o.key, suspicious, stale: staleReason !== undefined }, 'suspicious lock object');
    out.push({
      ...b,
      key: o.key,
      refreshedAt: o.lastModified,
      staleLimitMs,
      stale: staleReason !== undefined,
      ...(staleReason ? { staleReason } : {}),
      ...(suspicious ? { suspicious } : {}),
    });
  }
  return { locks: out, now };
}

/** LOCK_SUSPICIOUS: what the object is, when it goes stale by itself, and how to remove it now. */
function suspiciousLockError(store: LockStore, l: LockInfo, now: Date): ConflictError {
  const what = {
    oversized: `is larger than any lock (${MAX_LOCK_BYTES} bytes) and was not read`,
    unreadable: 'is not a lock body vectordr writes',
    unauthenticated: "is not sealed under the repository's key",
    'future-dated': 'is dated in the future',
  }[l.suspicious ?? 'unreadable'];
  const left = Math.max(0, Math.round((l.staleLimitMs - (now.getTime() - l.refreshedAt.getTime())) / 1000));
  return new ConflictError(
    'LOCK_SUSPICIOUS',
    `Repository ${store.storage.location} holds a suspicious lock object ${l.key}: it ${what}, so it was not written ` +
      `as it is by a running vectordr (it was damaged, or written by someone else). It is honoured until it goes stale, ` +
      `in ${left} s if nobody rewrites it. If no vectordr process uses the repository, remove it now with ` +
      `"vectordr unlock --force" or repo.unlock({ force: true }), and find out who can write to the repository ` +
      `(docs/security.md).`,
    { details: { lock: l.key, suspicious: l.suspicious } },
  );
}

/** Takes a shared or exclusive lock; LOCKED (with who holds it) when a live conflicting lock exists, LOCK_SUSPICIOUS when only suspicious objects block it. */
export async function acquireLock(
  store: LockStore,
  request: { exclusive: boolean; operation: string; signal?: AbortSignal },
  options: LockOptions = {},
): Promise<RepositoryLock> {
  const o = LockOptionsSchema.parse(options);
  const refreshMs = o.refreshMs ?? Math.floor(o.staleAfterMs / 6);
  const deadline = Date.now() + o.waitMs;
  const me = processIdentity();
  const body: LockBody = {
    formatVersion: 1,
    exclusive: request.exclusive,
    operation: request.operation,
    host: me.host,
    pid: me.pid,
    createdAt: new Date().toISOString(),
    ...(me.pidNamespace === undefined ? {} : { pidNamespace: me.pidNamespace }),
    ...(me.bootId === undefined ? {} : { bootId: me.bootId }),
    staleAfterMs: o.staleAfterMs,
    refreshMs,
  };
  const plain = Buffer.from(JSON.stringify(body), 'utf8');
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(request.signal);
    const key = `${LOCKS_PREFIX}${newSnapshotId()}.json`;
    const stored = store.encodeObject(key, plain);
    const writtenAt = Date.now();
    await store.storage.put(key, stored, { ifNoneMatch: '*' });
    const { locks: others, now } = await readLocks(
      store,
      key,
      async () => (await store.storage.stat(key))?.lastModified ?? new Date(),
      o.staleAfterMs,
    );
    const conflicting = others.filter((l) => !l.stale && (request.exclusive || l.exclusive));
    if (conflicting.length === 0) {
      const stale = request.exclusive ? others.filter((x) => x.stale) : [];
      for (const l of stale) {
        store.logger.info({ lock: l.key, operation: l.operation, host: l.host, pid: l.pid, reason: l.staleReason }, 'removing stale lock');
        await store.storage.delete(l.key);
      }
      const staleLimitMs = Math.max(o.staleAfterMs, ...others.map((l) => l.staleLimitMs));
      return new RepositoryLock(
        store,
        key,
        stored,
        request.exclusive,
        { staleAfterMs: o.staleAfterMs, refreshMs, staleLimitMs, writtenAt, storageNow: now },
        stale.length,
      );
    }
    await store.storage.delete(key);
    if (Date.now() >= deadline) {
      // A real holder is named first; only objects that are no lock of a running vectordr left: suspicious.
      const h = conflicting.find((l) => l.suspicious === undefined) ?? (conflicting[0] as LockInfo);
      if (h.suspicious !== undefined) throw suspiciousLockError(store, h, now);
      const ago = Math.round((now.getTime() - h.refreshedAt.getTime()) / 1000);
      throw new ConflictError(
        'LOCKED',
        `Repository ${store.storage.location} is locked${h.exclusive ? ' exclusively' : ''} by ` +
          `"${h.operation}" on ${h.host} (pid ${h.pid}) since ${h.createdAt}, refreshed ${ago} s ` +
          `ago; ` +
          `it goes stale ${Math.round(h.staleLimitMs / 1000)} s after its last refresh. Wait (lock ` +
          `option waitMs), or if that process is gone, rerun once it is stale.`,
        { details: { lock: h.key, operation: h.operation, host: h.host, pid: h.pid, exclusive: h.exclusive } },
      );
    }
    await sleep(backoffDelay(attempt + 1, { baseDelayMs: 100, maxDelayMs: 5_000, jitter: 'equal' }), request.signal);
  }
}
