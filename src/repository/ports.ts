/**
 * What each pipeline needs from a repository, and nothing more (restic's `LoaderUnpacked` /
 * `SaverUnpacked` in `internal/restic/repository.go`). Snapshot, restore, the verifiers and prune
 * take these ports instead of the `Repository` class, so the class can own the pipelines without
 * the pipelines importing it back, and its internals (sealing, segment addresses, size checks) stay
 * private to `RepositoryStore`, the one implementation.
 *
 * | port | who uses it |
 * | --- | --- |
 * | `Locker` | snapshot, restore (shared); forget, prune (exclusive) |
 * | `ManifestReader` | restore, verify (integrity, parity, recall), forget, prune |
 * | `SnapshotLister` | verify integrity, forget, prune |
 * | `SegmentReader` | restore, verify (integrity, parity, recall) |
 * | `SegmentWriter`, `ManifestWriter` | snapshot |
 * | `DataCollector` | prune, forget |
 * | `PlanObjects` | distributed snapshot (plan, parts) |
 */
import { IntegrityError, type NotFoundError } from '../errors.js';
import type { Manifest, SegmentRef } from '../format/manifest.js';
import type { Logger } from '../logger.js';
import type { StorageObjectInfo } from '../storage/storage.js';
import type { RepositoryLock } from './locks.js';
import type { HeadFinding } from './heads.js';

/** A committed snapshot, known by its manifest key alone. */
export interface SnapshotRef {
  collection: string;
  id: string;
}

/** Where a pipeline logs, and how its messages name the repository. */
export interface RepositoryContext {
  readonly logger: Logger;
  /** The storage's location (a path, `s3://bucket/prefix`), for messages. */
  readonly location: string;
  /** The repository's random id (config `id`): names what it owns elsewhere (a replication slot). */
  readonly repositoryId: string;
}

export interface Locker {
  /** Takes a repository lock: shared for snapshot and restore, exclusive for forget and prune. */
  lock(request: { exclusive: boolean; operation: string; signal?: AbortSignal }): Promise<RepositoryLock>;
}

export interface ManifestReader {
  /** Loads and validates a manifest; `'latest'` picks the newest snapshot of the collection. */
  readManifest(collection: string, snapshotId: string): Promise<Manifest>;
  /**
   * Every manifest read is authenticated (an encrypted repository: its GCM seal), not only
   * checksummed: what it records may be applied without the caller's opt-in (`trustDefinitions`).
   */
  readonly manifestsAuthenticated?: boolean;
}

export interface SnapshotLister {
  /** Committed snapshots by key alone (no manifest is parsed), oldest first. */
  snapshotRefs(options?: { collection?: string; signal?: AbortSignal }): Promise<SnapshotRef[]>;
  /** SNAPSHOT_NOT_FOUND for a collection with no snapshot, naming the collections there are. */
  noSnapshotError(collection: string, signal?: AbortSignal): Promise<NotFoundError>;
}

/** Segment reads (restic's `LoaderUnpacked`): every byte checked before anyone decodes it. */
export interface SegmentReader {
  /** Stored size of a segment: its plaintext size plus the encryption envelope, if any. */
  storedSize(ref: SegmentRef): number;
  /** Size of the object stored under `ref.key` by a `stat` (nothing is read); undefined when absent. */
  statSegment(ref: SegmentRef): Promise<number | undefined>;
  /** Reads a segment and checks its size and SHA-256 (and its address, when encrypted). */
  getSegment(ref: SegmentRef, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * `getSegment` without the SHA-256 check, which is left to the caller: verify runs it on a worker
   * thread with the rest of the segment's checks (size, and when encrypted authentication and
   * address, are checked here). Without it, verify reads with `getSegment`.
   */
  loadSegment?(ref: SegmentRef, signal?: AbortSignal): Promise<Uint8Array>;
}

/** Segment writes (restic's `SaverUnpacked`). */
export interface SegmentWriter {
  /** Digest buckets of a new snapshot (the repository's). */
  readonly buckets: number;
  /** Segment stores a snapshot keeps in flight (the storage's preference; 0: one at a time). */
  readonly writeConcurrency: number;
  /**
   * Stores a segment under its content address unless it is already there (dedup, and resume after a
   * crash). `sha256`: the SHA-256 of `bytes` when the caller has computed it already (a segment worker).
   */
  putSegment(bytes: Uint8Array, rows: number, signal?: AbortSignal, sha256?: string): Promise<{ ref: SegmentRef; uploaded: boolean }>;
  /** The first segment not stored with its expected size (a `stat` each, not a re-hash); undefined when every one is. */
  missingSegment(refs: readonly SegmentRef[], signal?: AbortSignal): Promise<MissingSegment | undefined>;
}

export interface MissingSegment {
  ref: SegmentRef;
  /** The size stored under its key; undefined when there is no object. */
  found: number | undefined;
  /** The size it must have (`storedSize`). */
  expected: number;
}

export interface ManifestWriter {
  /** Commits a manifest: create-only, so a snapshot id can never be overwritten. */
  commitManifest(manifest: Manifest): Promise<void>;
}

/**
 * The small JSON objects of a distributed snapshot under `plans/` (sealed like manifests when the
 * repository is encrypted). Nothing else reads them: list, prune and verify ignore the prefix.
 */
export interface PlanObjects {
  putPlanObject(key: string, value: unknown, options?: { create?: boolean }): Promise<void>;
  /** The parsed object; undefined when there is none. */
  getPlanObject(key: string): Promise<unknown>;
  deletePlanObject(key: string): Promise<void>;
}

/** What forget and prune delete, and how they size it. */
export interface DataCollector {
  /** The staleness limit of this handle's locks (prune's grace period is at least this). */
  readonly staleAfterMs: number;
  storedSize(ref: SegmentRef): number;
  /** Every object under `data/`, foreign ones included. */
  dataObjects(signal?: AbortSignal): AsyncIterable<StorageObjectInfo>;
  deleteSegment(key: string): Promise<void>;
  deleteManifest(ref: SnapshotRef): Promise<void>;
}

/**
 * The authenticated heads of an encrypted repository (docs/format.md, "Heads"); in a plaintext one
 * `headFindings` is [] and `recordForgotten` does nothing.
 */
export interface HeadKeeper {
  /** Rollback and replay the heads show (verify reports them as findings; prune refuses on rollback). */
  headFindings(options?: { collection?: string; signal?: AbortSignal }): Promise<HeadFinding[]>;
  /** Forget and prune, under the exclusive lock, before they delete: `forget` forgotten, `present` live. */
  recordForgotten(collection: string, present: readonly string[], forget: readonly string[]): Promise<void>;
}

export type DistributedStore = SnapshotStore & PlanObjects;
export type SnapshotStore = RepositoryContext & Locker & SegmentWriter & ManifestWriter & ManifestReader & SegmentReader & SnapshotLister;
export type RestoreStore = RepositoryContext & Locker & ManifestReader & SegmentReader & SnapshotLister;
/** What parity and recall read: a manifest and its segments. */
export type SnapshotReader = ManifestReader & SegmentReader;
export type IntegrityStore = SnapshotReader & SnapshotLister & Partial<Pick<HeadKeeper, 'headFindings'>>;
export type PruneStore = RepositoryContext & Locker & ManifestReader & SnapshotLister & DataCollector & HeadKeeper;

/** The error for a stored segment whose size is not the recorded one: truncated, or other content under its key. */
export function segmentSizeError(
  ref: SegmentRef,
  expected: number,
  size: number | undefined,
  consequence: string,
  cause?: unknown,
): IntegrityError {
  return new IntegrityError(
    'SEGMENT_CORRUPT',
    `Segment ${ref.key} has ${size ?? 'more'} bytes where the manifest records ${expected}: the object ` +
      `was truncated or replaced by other content (another segment's, say)${consequence}. ` +
      `Restore it from another copy of the repository, or use another snapshot.`,
    { details: { key: ref.key }, ...(cause === undefined ? {} : { cause }) },
  );
}
