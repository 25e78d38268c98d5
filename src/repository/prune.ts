/**
 * forget (apply a retention policy to manifests) and prune (delete data no manifest references).
 *
 * Both hold the repository's exclusive lock, so no snapshot can be between "segments uploaded" and
 * "manifest committed" while they decide what is unreferenced. Prune refuses to delete anything if
 * a single manifest cannot be read: it could not know what that snapshot needs. It also spares
 * segments younger than a grace period, in case a writer's lock was misjudged or bypassed, and
 * stops (LOCK_LOST) if its own lock was lost, since a snapshot may then have started meanwhile.
 */
import { z } from 'zod';
import { IntegrityError, InvalidInputError, NotFoundError, VectordrError, throwIfAborted } from '../errors.js';
import { manifestKey } from '../format/keys.js';
import type { Manifest } from '../format/manifest.js';
import { ProgressReporter } from '../progress.js';
import { DEFAULT_STALE_AFTER_MS } from './locks.js';
import type { PruneStore } from './ports.js';
import { type RetentionPolicy, applyRetention } from './retention.js';
import { operationOptions, parseOptions, signalOption } from '../options.js';

export const ForgetOptionsSchema = z.strictObject({
  /** Only this collection. @default every collection, each with the same policy */
  collection: z.string().optional(),
  /** Report what would be removed, change nothing (takes no lock). @default false */
  dryRun: z.boolean().default(false),
  ...signalOption,
});
export type ForgetOptions = z.input<typeof ForgetOptionsSchema>;

export const ForgetByIdOptionsSchema = z.strictObject({
  /** The collection the snapshots belong to. */
  collection: z.string().min(1),
  /** Report what would be removed, change nothing (takes no lock). @default false */
  dryRun: z.boolean().default(false),
  ...signalOption,
});
export type ForgetByIdOptions = z.input<typeof ForgetByIdOptionsSchema>;

export interface ForgetReport {
  dryRun: boolean;
  collections: {
    collection: string;
    keep: { id: string; createdAt: string; reasons: string[] }[];
    remove: { id: string; createdAt: string }[];
  }[];
  /** Snapshots removed (0 on a dry run). */
  removed: number;
}

export const PruneOptionsSchema = z.strictObject({
  /** Report what would be deleted, change nothing (takes no lock). @default false */
  dryRun: z.boolean().default(false),
  /**
   * Spare unreferenced segments younger than this (age by the storage's clock: the object's
   * lastModified). Locks already keep prune away from running snapshots; this second guard covers a
   * writer whose lock was misjudged or bypassed (another tool, an older vectordr, a lock removed by
   * hand). 0 deletes orphans at once, e.g. right after a crashed run; the trade-off is space held
   * for one grace period longer.
   * @default the longest staleness limit in play, at least 30 min: this process's `locks.staleAfterMs`
   * and every lock's declared one (a live writer refreshes its lock within that time)
   */
  graceMs: z.number().int().min(0).optional(),
  /**
   * Encrypted repositories: prune refuses (ROLLBACK_DETECTED) while a collection's authenticated
   * head records a snapshot whose manifest is missing, since that snapshot's data would be deleted.
   * `true` accepts the repository as it is and resets the heads to it (after you restored what you
   * could; docs/security.md). @default false
   */
  acceptRollback: z.boolean().default(false),
  ...operationOptions,
});
export type PruneOptions = z.input<typeof PruneOptionsSchema>;

export interface PruneReport {
  dryRun: boolean;
  snapshots: number;
  referenced: { segments: number; bytes: number };
  unreferenced: { segments: number; bytes: number };
  /** Unreferenced segments spared by the grace period. */
  spared: number;
  /** The grace period applied (graceMs, or its default). */
  graceMs: number;
  /** Segments deleted (0 on a dry run). */
  deleted: number;
  /** Stale locks removed when taking the exclusive lock. */
  staleLocksRemoved: number;
  /** Objects under data/ that vectordr did not write; never deleted. */
  foreign: string[];
  /** Encrypted: manifests of forgotten snapshots found again (replayed, or a forget interrupted) and removed. */
  replayed: string[];
}

/**
 * The manifests forget and prune act on: every one, with those the authenticated head says were
 * forgotten (replayed) set apart; ROLLBACK_DETECTED when a head records a snapshot that is gone,
 * unless `acceptRollback`.
 */
async function readLiveManifests(
  repo: PruneStore,
  signal: AbortSignal | undefined,
  collection: string | undefined,
  acceptRollback: boolean,
): Promise<{ manifests: Manifest[]; replayed: Manifest[] }> {
  const all = await readAllManifests(repo, signal, collection);
  const findings = await repo.headFindings({ collection, signal });
  const rollback = findings.find((f) => f.code === 'ROLLBACK_DETECTED');
  if (rollback && !acceptRollback) {
    throw new IntegrityError(
      'ROLLBACK_DETECTED',
      `${rollback.message} Deleting data now could delete what that snapshot needs, so nothing was deleted. Restore the ` +
        `missing manifest from another copy of the repository, or accept the repository as it is with ` +
        `prune({ acceptRollback: true }) (docs/security.md).`,
      {
        details: { collection: rollback.collection, key: rollback.key, ...(rollback.snapshotId ? { snapshot: rollback.snapshotId } : {}) },
      },
    );
  }
  const replayed = new Set(findings.filter((f) => f.code === 'REPLAY_DETECTED').map((f) => `${f.collection}\0${f.snapshotId}`));
  const isReplayed = (m: Manifest): boolean => replayed.has(`${m.collection}\0${m.id}`);
  return { manifests: all.filter((m) => !isReplayed(m)), replayed: all.filter(isReplayed) };
}

function idsByCollection(manifests: readonly Manifest[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of manifests) out.set(m.collection, [...(out.get(m.collection) ?? []), m.id]);
  return out;
}

/** Every manifest, or PRUNE_UNSAFE naming the first that cannot be read. */
async function readAllManifests(repo: PruneStore, signal: AbortSignal | undefined, collection?: string): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const ref of await repo.snapshotRefs({ collection, signal })) {
    throwIfAborted(signal);
    try {
      out.push(await repo.readManifest(ref.collection, ref.id));
    } catch (err) {
      if (err instanceof VectordrError && err.category !== 'aborted' && err.category !== 'transient') {
        throw new IntegrityError(
          'PRUNE_UNSAFE',
          `Manifest ${manifestKey(ref.collection, ref.id)} cannot be read (${err.code}); without it ` +
            `there is no knowing which data it needs, so nothing was deleted. Run repo.verify() and ` +
            `repair or remove that manifest first.`,
          { cause: err },
        );
      }
      throw err;
    }
  }
  return out;
}

export async function forgetSnapshots(repo: PruneStore, policy: RetentionPolicy, options: ForgetOptions): Promise<ForgetReport> {
  const o = parseOptions(ForgetOptionsSchema, options, 'forget');
  applyRetention([], policy); // validates the policy before anything is read
  const lock = o.dryRun ? undefined : await repo.lock({ exclusive: true, operation: 'forget', signal: o.signal });
  try {
    const { manifests } = await readLiveManifests(repo, o.signal, o.collection, false);
    // A misspelled collection would otherwise "keep everything" and remove nothing, silently.
    if (o.collection !== undefined && manifests.length === 0) throw await repo.noSnapshotError(o.collection, o.signal);
    const byCollection = new Map<string, Manifest[]>();
    for (const m of manifests) byCollection.set(m.collection, [...(byCollection.get(m.collection) ?? []), m]);
    const report: ForgetReport = { dryRun: o.dryRun, collections: [], removed: 0 };
    for (const [collection, list] of byCollection) {
      const decision = applyRetention(list, policy);
      report.collections.push({ collection, ...decision });
      if (o.dryRun) continue;
      // The head first: a snapshot that comes back after this is a replay, whether or not the deletes finish.
      const removed = new Set(decision.remove.map((r) => r.id));
      await repo.recordForgotten(
        collection,
        list.filter((m) => !removed.has(m.id)).map((m) => m.id),
        [...removed],
      );
      for (const r of decision.remove) {
        throwIfAborted(o.signal);
        await repo.deleteManifest({ collection, id: r.id });
        report.removed++;
      }
    }
    repo.logger.info({ dryRun: o.dryRun, removed: report.removed }, 'forget done');
    return report;
  } finally {
    await lock?.release();
  }
}

/**
 * Removes exactly the snapshots `ids` of one collection (restic's `forget <id>...`). Refused, with
 * nothing removed: an id the collection does not hold, and a snapshot that a link staying in the
 * repository builds on (forget its links with it, or compact the chain first).
 */
export async function forgetSnapshotsById(repo: PruneStore, ids: readonly string[], options: ForgetByIdOptions): Promise<ForgetReport> {
  const o = parseOptions(ForgetByIdOptionsSchema, options, 'forget');
  const wanted = new Set(ids);
  if (wanted.size === 0) throw new InvalidInputError('INVALID_ARGUMENT', 'Name at least one snapshot to forget.');
  const lock = o.dryRun ? undefined : await repo.lock({ exclusive: true, operation: 'forget', signal: o.signal });
  try {
    const { manifests } = await readLiveManifests(repo, o.signal, o.collection, false);
    if (manifests.length === 0) throw await repo.noSnapshotError(o.collection, o.signal);
    const missing = [...wanted].filter((id) => !manifests.some((m) => m.id === id));
    if (missing.length > 0) {
      throw new NotFoundError(
        'SNAPSHOT_NOT_FOUND',
        `Collection ${JSON.stringify(o.collection)} has no snapshot ${missing.join(', ')}; nothing was forgotten. List them with repo.list({ collection }).`,
        { details: { collection: o.collection, missing } },
      );
    }
    const needed = manifests.filter((m) => !wanted.has(m.id) && m.parent != null && wanted.has(m.parent));
    if (needed.length > 0) {
      const pairs = needed.map((m) => `${String(m.parent)} (parent of ${m.id})`).join(', ');
      throw new InvalidInputError(
        'INVALID_ARGUMENT',
        `Cannot forget ${pairs}: a link that stays builds on it. Forget the links too, or compact the chain first ` +
          `(repo.compact); nothing was forgotten.`,
        { details: { collection: o.collection } },
      );
    }
    const remove = manifests.filter((m) => wanted.has(m.id));
    const keep = manifests.filter((m) => !wanted.has(m.id));
    const report: ForgetReport = {
      dryRun: o.dryRun,
      collections: [
        {
          collection: o.collection,
          keep: keep.map((m) => ({ id: m.id, createdAt: m.createdAt, reasons: ['not named'] })),
          remove: remove.map((m) => ({ id: m.id, createdAt: m.createdAt })),
        },
      ],
      removed: 0,
    };
    if (!o.dryRun) {
      await repo.recordForgotten(
        o.collection,
        keep.map((m) => m.id),
        remove.map((m) => m.id),
      );
      // Newest first: a crash midway never leaves a link whose parent is gone.
      for (const m of [...remove].sort((a, b) => (b.depth ?? 0) - (a.depth ?? 0))) {
        throwIfAborted(o.signal);
        await repo.deleteManifest({ collection: o.collection, id: m.id });
        report.removed++;
      }
    }
    repo.logger.info({ dryRun: o.dryRun, removed: report.removed, collection: o.collection }, 'forget by id done');
    return report;
  } finally {
    await lock?.release();
  }
}

/** Deletes between two checks that prune still holds its lock (one `get` of the lock each). */
const HELD_CHECK_EVERY = 100;

const SEGMENT_KEY = /^data\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

export async function pruneRepository(repo: PruneStore, options: PruneOptions): Promise<PruneReport> {
  const o = parseOptions(PruneOptionsSchema, options, 'prune');
  const progress = new ProgressReporter('prune', o.onProgress);
  const lock = o.dryRun ? undefined : await repo.lock({ exclusive: true, operation: 'prune', signal: o.signal });
  try {
    progress.emit('start');
    const { manifests, replayed } = await readLiveManifests(repo, o.signal, undefined, o.acceptRollback);
    const referenced = new Set<string>();
    let referencedBytes = 0;
    for (const m of manifests) {
      for (const ref of [...m.segments, ...(m.deltaIndex ?? [])]) {
        if (referenced.has(ref.key)) continue;
        referenced.add(ref.key);
        referencedBytes += repo.storedSize(ref);
      }
    }
    const graceMs = o.graceMs ?? Math.max(DEFAULT_STALE_AFTER_MS, lock?.staleLimitMs ?? repo.staleAfterMs);
    const report: PruneReport = {
      dryRun: o.dryRun,
      snapshots: manifests.length,
      referenced: { segments: referenced.size, bytes: referencedBytes },
      unreferenced: { segments: 0, bytes: 0 },
      spared: 0,
      graceMs,
      deleted: 0,
      staleLocksRemoved: lock?.removedStale ?? 0,
      foreign: [],
      replayed: replayed.map((m) => manifestKey(m.collection, m.id)),
    };
    if (!o.dryRun) {
      // Heads reconciled with what is there; replayed manifests go (their data may be gone already).
      const live = idsByCollection(manifests);
      const back = idsByCollection(replayed);
      for (const c of new Set([...live.keys(), ...back.keys()])) await repo.recordForgotten(c, live.get(c) ?? [], back.get(c) ?? []);
      for (const m of replayed) {
        repo.logger.warn({ snapshot: m.id, collection: m.collection }, 'prune: removing a replayed manifest of a forgotten snapshot');
        await repo.deleteManifest({ collection: m.collection, id: m.id });
      }
    }
    // Segment times are the storage's; so is the cutoff.
    const cutoff = (lock?.storageNow() ?? new Date()).getTime() - graceMs;
    for await (const obj of repo.dataObjects(o.signal)) {
      const m = SEGMENT_KEY.exec(obj.key);
      if (!m || m[1] !== m[2]?.slice(0, 2)) {
        report.foreign.push(obj.key);
        continue;
      }
      if (referenced.has(obj.key)) continue;
      report.unreferenced.segments++;
      report.unreferenced.bytes += obj.size;
      if (obj.lastModified.getTime() > cutoff) {
        report.spared++;
        continue;
      }
      if (o.dryRun) continue;
      throwIfAborted(o.signal);
      // Before the first delete and every so often: a prune paused past its own lock's stale time
      // may be racing a snapshot that judged it gone.
      if (report.deleted % HELD_CHECK_EVERY === 0) await lock?.assertHeld();
      await repo.deleteSegment(obj.key);
      report.deleted++;
      progress.segments++;
      progress.bytes += obj.size;
      progress.emit('delete');
    }
    progress.emit('done');
    repo.logger.info({ ...report, foreign: report.foreign.length }, 'prune done');
    return report;
  } finally {
    await lock?.release();
  }
}
