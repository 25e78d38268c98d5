/**
 * A backup repository over any `Storage`: opening and creating it (config, key check), and the
 * entry points. The objects themselves (manifests, segments, locks, sealing) are `RepositoryStore`'s;
 * each pipeline gets that store as the narrow port it needs (`ports.ts`), so no pipeline imports
 * this class. Write order: segments, then the manifest (create-only). Read order: config, manifest, segments.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { CaptureStatus, VectorAdapter } from '../adapter.js';
import { type CompactOptions, compactChain } from '../chain/compact.js';
import { captureIdOf } from '../snapshot/incremental.js';
import { InvalidInputError, IntegrityError, NotFoundError, isVectordrError } from '../errors.js';
import { DEFAULT_BUCKETS } from '../format/digest.js';
import { type EncryptionOptions, type RepositoryCipher, createEncryption, looksSealed, openEncryption } from '../format/encryption.js';
import { CONFIG_KEY } from '../format/keys.js';
import { MAX_CONFIG_BYTES } from '../format/limits.js';
import { FORMAT_VERSION, type Manifest, type RepositoryConfig, parseRepositoryConfig, withChecksum } from '../format/manifest.js';
import { type Logger, silentLogger } from '../logger.js';
import { type Report, withJsonForm } from '../report.js';
import { type Storage, getBounded } from '../storage/storage.js';
import { type RestoreOptions, type RestoreResult, restoreSnapshot } from '../restore/restore.js';
import { type RestoreCoordinator, type RestorePlan, planRestore, restorePart } from '../restore/distributed-restore.js';
import type { PlanRestoreOptions, RestorePartOptions, RestorePartResult } from '../restore/distributed-restore-plan.js';
import { type SnapshotOptions, type SnapshotResult, takeSnapshot } from '../snapshot/snapshot.js';
import { type SnapshotCoordinator, type SnapshotPlan, planSnapshot, snapshotPart } from '../snapshot/distributed.js';
import type { PlanSnapshotOptions, SnapshotPartOptions, SnapshotPartResult } from '../snapshot/distributed-options.js';
import { type IntegrityReport, type VerifyIntegrityOptions, verifyIntegrity } from '../verify/verify-integrity.js';
import { type ParityOptions, type ParityReport, verifyParity } from '../verify/verify-parity.js';
import { type RecallOptions, type RecallReport, verifyRecall } from '../verify/verify-recall.js';
import { type DiffOptions, type DiffReport, diffSnapshots } from '../verify/snapshot-diff.js';
import {
  type LockInfo,
  type LockOptions,
  type RepositoryLock,
  type UnlockOptions,
  type UnlockReport,
  LockOptionsSchema,
  removeLocks,
} from './locks.js';
import {
  type ForgetByIdOptions,
  type ForgetOptions,
  type ForgetReport,
  type PruneOptions,
  type PruneReport,
  forgetSnapshots,
  forgetSnapshotsById,
  pruneRepository,
} from './prune.js';
import { RepositoryStore, type SnapshotInfo, type SnapshotListing } from './repository-store.js';
import type { HeadFinding } from './heads.js';
import type { RetentionPolicy } from './retention.js';
import { parseOptions, signalOption } from '../options.js';
import { displayOnly } from '../display.js';

export type { InvalidSnapshot, SnapshotInfo, SnapshotListing } from './repository-store.js';
export type { HeadFinding } from './heads.js';

export const OpenRepositoryOptionsSchema = z.strictObject({
  /** Where the repository lives (`fsStorage({ path })`, `memoryStorage()`, ...). */
  storage: z.custom<Storage>((v) => typeof v === 'object' && v !== null && 'put' in v && 'get' in v && 'list' in v, 'a Storage'),
  /**
   * Create the repository if the storage holds none.
   * @default false — opening a typo'd path should fail, not silently start an empty repository.
   */
  create: z.boolean().default(false),
  /** Digest buckets for a new repository. More buckets localise mismatches better; the manifest grows ~70 bytes per bucket. @default 256 */
  buckets: z.number().int().min(1).max(65_536).default(DEFAULT_BUCKETS),
  /**
   * Client-side encryption: `{ passphrase }`, `{ key }` (32 bytes) or `{ kms }` (a KeyWrapper).
   * Required to open an encrypted repository; with `create: true` on an empty storage it makes an
   * encrypted one. Given for a plaintext repository, opening fails (NOT_ENCRYPTED) rather than
   * letting you believe your backups are encrypted.
   */
  encryption: z.custom<EncryptionOptions>((v) => typeof v === 'object' && v !== null).optional(),
  /** Lock timing for snapshots, restores, forget and prune. */
  locks: LockOptionsSchema.optional(),
  logger: z.custom<Logger>().optional(),
  /** Aborts the open, the passphrase's key derivation included (ABORTED). */
  ...signalOption,
});
export type OpenRepositoryOptions = z.input<typeof OpenRepositoryOptionsSchema>;

/**
 * An opened repository: the entry points (snapshot, restore, verify, forget, prune) over one
 * `RepositoryStore`, which each pipeline receives as the narrow port it needs (`ports.ts`).
 */
export class Repository {
  readonly storage: Storage;
  readonly config: RepositoryConfig;
  readonly logger: Logger;
  readonly #store: RepositoryStore;

  private constructor(
    storage: Storage,
    config: RepositoryConfig,
    logger: Logger,
    cipher: RepositoryCipher | undefined,
    locks: LockOptions,
  ) {
    this.storage = storage;
    this.config = config;
    this.logger = logger;
    this.#store = new RepositoryStore(storage, config, logger, cipher, locks);
    displayOnly(this, 'Repository', () => ({ location: storage.location, id: config.id, encrypted: this.encrypted }));
  }

  /** True when segments, manifests and locks are encrypted client-side. */
  get encrypted(): boolean {
    return this.#store.encrypted;
  }

  private static async fromConfig(
    storage: Storage,
    bytes: Uint8Array,
    options: z.output<typeof OpenRepositoryOptionsSchema>,
    logger: Logger,
  ): Promise<Repository> {
    if (looksSealed(bytes)) {
      throw new IntegrityError(
        'CONFIG_INVALID',
        `Repository config ${CONFIG_KEY} in ${storage.location} is encrypted; the config is always ` +
          `plaintext, so this object was replaced.`,
      );
    }
    const config = parseRepositoryConfig(bytes);
    let cipher: RepositoryCipher | undefined;
    if (config.encryption) {
      cipher = await openEncryption(config.id, config.encryption, options.encryption, storage.location, options.signal);
    } else if (options.encryption !== undefined) {
      throw new InvalidInputError(
        'NOT_ENCRYPTED',
        `Repository ${storage.location} is not encrypted, but an encryption key was given. Its ` +
          `data is stored in plaintext; create a new encrypted repository to encrypt backups, or ` +
          `open this one without { encryption }.`,
      );
    }
    return new Repository(storage, config, logger, cipher, options.locks ?? {});
  }

  /** Opens (or with `create: true`, initialises) a repository. */
  static async open(options: OpenRepositoryOptions): Promise<Repository> {
    const o = parseOptions(OpenRepositoryOptionsSchema, options, 'repository');
    const { storage, create, buckets } = o;
    const logger = o.logger ?? silentLogger;
    let existing: Uint8Array | undefined;
    try {
      existing = await getBounded(storage, CONFIG_KEY, MAX_CONFIG_BYTES);
    } catch (err) {
      if (!isVectordrError(err, 'KEY_NOT_FOUND')) throw err;
    }
    if (existing) return Repository.fromConfig(storage, existing, o, logger);
    if (!create) {
      throw new NotFoundError(
        'REPOSITORY_NOT_FOUND',
        `No vectordr repository at ${storage.location}; pass { create: true } to initialise one.`,
      );
    }
    const id = randomUUID();
    const enc = o.encryption === undefined ? undefined : await createEncryption(id, o.encryption, o.signal);
    const bytes = withChecksum({
      formatVersion: FORMAT_VERSION,
      id,
      createdAt: new Date().toISOString(),
      digest: { algorithm: 'sha256-bucket-sum', buckets },
      encryption: enc?.config ?? null,
      features: [],
    });
    const config = parseRepositoryConfig(bytes);
    try {
      await storage.put(CONFIG_KEY, bytes, { ifNoneMatch: '*' });
    } catch (err) {
      // Another process initialised it first: use theirs (with the key check against it).
      if (!isVectordrError(err, 'KEY_EXISTS')) throw err;
      return Repository.fromConfig(storage, await getBounded(storage, CONFIG_KEY, MAX_CONFIG_BYTES), o, logger);
    }
    logger.info({ location: storage.location, id: config.id, encrypted: enc !== undefined }, 'repository created');
    return new Repository(storage, config, logger, enc?.cipher, o.locks ?? {});
  }

  /** Takes a repository lock (shared for snapshot/restore, exclusive for forget/prune). */
  lock(request: { exclusive: boolean; operation: string; signal?: AbortSignal }, options?: LockOptions): Promise<RepositoryLock> {
    return this.#store.lock(request, options);
  }

  /** The lock timing of this handle, defaults applied. */
  get lockOptions(): z.output<typeof LockOptionsSchema> {
    return this.#store.lockOptions;
  }

  /** Current locks and whether each is stale. */
  locks(): Promise<LockInfo[]> {
    return this.#store.locks();
  }

  /**
   * Removes stale locks (restic's `unlock`): those of processes that stopped refreshing them or are
   * gone. `{ force: true }` removes suspicious lock objects too (LOCK_SUSPICIOUS names them); `{ all: true }` removes live locks too — only when no vectordr process uses the repository
   * any more (a running snapshot whose lock vanished stops with LOCK_LOST rather than commit).
   */
  async unlock(options: UnlockOptions = {}): Promise<Report<UnlockReport>> {
    return withJsonForm(await removeLocks(this.#store, await this.locks(), options));
  }

  /** Removes snapshots (manifests only) that a retention policy does not keep; run prune() to free their data. */
  async forget(policy: RetentionPolicy, options: ForgetOptions = {}): Promise<Report<ForgetReport>> {
    return withJsonForm(await forgetSnapshots(this.#store, policy, options));
  }

  /** Removes exactly the snapshots `ids` of `options.collection` (manifests only; run prune() to free their data). */
  async forgetSnapshots(ids: readonly string[], options: ForgetByIdOptions): Promise<Report<ForgetReport>> {
    return withJsonForm(await forgetSnapshotsById(this.#store, ids, options));
  }

  /** Deletes segments no snapshot references (orphans of crashed runs, data of forgotten snapshots) and stale locks. */
  async prune(options: PruneOptions = {}): Promise<Report<PruneReport>> {
    return withJsonForm(await pruneRepository(this.#store, options));
  }

  /** Takes a consistent full snapshot of `collection` through `adapter`. */
  async snapshot(adapter: VectorAdapter, collection: string, options: SnapshotOptions = {}): Promise<Report<SnapshotResult>> {
    assertAdapter(adapter, 'snapshot', ['describe', 'scan']);
    if (typeof collection !== 'string' || collection.length === 0) {
      throw new InvalidInputError(
        'INVALID_ARGUMENT',
        `repo.snapshot(adapter, collection) needs the collection name as a non-empty string; got ` + `${describeValue(collection)}.`,
      );
    }
    return withJsonForm(await takeSnapshot(this.#store, adapter, collection, options));
  }

  /**
   * Starts a distributed snapshot (docs/architecture.md, "Distributed snapshot"): opens one
   * consistent view of `collection` (PostgreSQL: an exported snapshot), splits its keys into up to
   * `workers` ranges and writes the plan. Keep the coordinator until `commit()`: it holds the view
   * the workers join. Engines without an exported view refuse (UNSUPPORTED_OPERATION).
   *
   * @example
   * const coordinator = await repo.planSnapshot(adapter, 'docs', { workers: 4 });
   * // in each of 4 processes: await repo.snapshotPart(adapter, coordinator.plan.id, i)
   * const { manifest } = await coordinator.commit();
   */
  async planSnapshot(adapter: VectorAdapter, collection: string, options: PlanSnapshotOptions): Promise<SnapshotCoordinator> {
    assertAdapter(adapter, 'planSnapshot', ['describe', 'scan']);
    return planSnapshot(this.#store, adapter, collection, options);
  }

  /** Runs part `index` of a distributed snapshot's plan (the plan, or its id: read from the repository). */
  async snapshotPart(
    adapter: VectorAdapter,
    plan: SnapshotPlan | string,
    index: number,
    options: SnapshotPartOptions = {},
  ): Promise<Report<SnapshotPartResult>> {
    assertAdapter(adapter, 'snapshotPart', ['describe', 'scan']);
    return withJsonForm(await snapshotPart(this.#store, adapter, plan, index, options));
  }

  /**
   * Folds a chain into a new full snapshot of the same state, from the repository alone (the engine
   * is not read): restores of it read one snapshot instead of the chain, and retention may then
   * forget the old chain. The new snapshot keeps the link's watermark and checkpoint, so the next
   * incremental continues from it.
   */
  async compact(collection: string, options: CompactOptions = {}): Promise<Report<SnapshotResult>> {
    return withJsonForm(await compactChain(this.#store, collection, options));
  }

  /**
   * How far the change feed vectordr keeps for `collection` lags (PostgreSQL: the WAL its
   * replication slot retains), or `{ exists: false }` when the adapter keeps none.
   */
  async captureStatus(adapter: VectorAdapter, collection: string): Promise<CaptureStatus> {
    assertAdapter(adapter, 'captureStatus', ['describe']);
    if (!adapter.captureStatus) return { exists: false, warnings: [] };
    return adapter.captureStatus(captureIdOf(this.config.id, collection));
  }

  /**
   * Drops the change feed vectordr keeps for `collection` (a replication slot and publication), so
   * it pins nothing more. The next incremental of the collection is a full snapshot.
   */
  async dropCapture(adapter: VectorAdapter, collection: string): Promise<void> {
    assertAdapter(adapter, 'dropCapture', ['describe']);
    await adapter.dropCapture?.(captureIdOf(this.config.id, collection));
  }

  /** Restores a snapshot into `adapter` (same or another engine, same or another name). */
  async restore(adapter: VectorAdapter, options: RestoreOptions): Promise<Report<RestoreResult>> {
    assertAdapter(adapter, 'restore', ['create', 'write']);
    return withJsonForm(await restoreSnapshot(this.#store, adapter, options));
  }

  /**
   * Starts a distributed restore (docs/architecture.md, "Distributed restore"): checks what a restore
   * checks before writing, creates the staging collection and splits the snapshot's segments over
   * up to `workers` parts. Keep the coordinator until `commit()`, which swaps the loaded collection
   * in. A full snapshot, into an engine with an atomic swap (pgvector); others refuse.
   *
   * @example
   * const coordinator = await repo.planRestore(adapter, { collection: 'docs', workers: 4, ifExists: 'replace' });
   * // in each of 4 processes: await repo.restorePart(adapter, coordinator.plan.id, i)
   * const result = await coordinator.commit();
   */
  async planRestore(adapter: VectorAdapter, options: PlanRestoreOptions): Promise<RestoreCoordinator> {
    assertAdapter(adapter, 'planRestore', ['create', 'write']);
    return planRestore(this.#store, adapter, options);
  }

  /** Runs part `index` of a distributed restore's plan (the plan, or its id: read from the repository). */
  async restorePart(
    adapter: VectorAdapter,
    plan: RestorePlan | string,
    index: number,
    options: RestorePartOptions = {},
  ): Promise<Report<RestorePartResult>> {
    assertAdapter(adapter, 'restorePart', ['create', 'write']);
    return withJsonForm(await restorePart(this.#store, adapter, plan, index, options));
  }

  /** Re-hashes every segment and recomputes every digest; needs no database. */
  async verify(options: VerifyIntegrityOptions = {}): Promise<Report<IntegrityReport>> {
    return withJsonForm(await verifyIntegrity(this.#store, options));
  }

  /** Compares a live collection with a snapshot, bucket by bucket, and names the ids that differ. */
  async verifyParity(adapter: VectorAdapter, options: ParityOptions): Promise<Report<ParityReport>> {
    assertAdapter(adapter, 'verifyParity', ['scan', 'fetch']);
    return withJsonForm(await verifyParity(this.#store, adapter, options));
  }

  /**
   * Recall@k of search on a live collection against exact neighbours computed from the snapshot;
   * `ok` is false below `minRecall`.
   *
   * @example
   * const r = await repo.verifyRecall(adapter, { collection: 'docs', k: 10, queries: 100, minRecall: 0.95 });
   * if (!r.ok) throw new Error(`recall@10 ${r.recall}`);
   */
  async verifyRecall(adapter: VectorAdapter, options: RecallOptions): Promise<Report<RecallReport>> {
    assertAdapter(adapter, 'verifyRecall', ['search']);
    return withJsonForm(await verifyRecall(this.#store, adapter, options));
  }

  /**
   * What changed between two snapshots of a collection (`from` and `to`, ids or 'latest'), from the
   * repository alone: equal bucket digests prove equal states; otherwise the ids added, removed and
   * changed in the differing buckets. Compare a snapshot with a live collection with `verifyParity`.
   *
   * @example
   * const d = await repo.diff({ collection: 'docs', from: older.id, to: 'latest' });
   * if (!d.identical) console.log(`+${d.added.length} -${d.removed.length} ~${d.changed.length}`);
   */
  async diff(options: DiffOptions): Promise<Report<DiffReport>> {
    return withJsonForm(await diffSnapshots(this.#store, options));
  }

  /**
   * Snapshots in the repository, oldest first; only committed ones (a snapshot exists iff its
   * manifest does). A manifest that is not valid is skipped with a warning on the logger;
   * `listSnapshots` returns those too.
   */
  list(options: { collection?: string; signal?: AbortSignal } = {}): Promise<SnapshotInfo[]> {
    return this.#store.list(options);
  }

  /** `list()` and, beside it, every manifest that is not valid (`invalid: [{ key, collection, id, code, reason }]`). */
  listSnapshots(options: { collection?: string; signal?: AbortSignal } = {}): Promise<SnapshotListing> {
    return this.#store.listSnapshots(options);
  }

  /**
   * Encrypted repositories: what the authenticated heads show — ROLLBACK_DETECTED (a snapshot they
   * record is missing, a head is missing or behind) and REPLAY_DETECTED (a forgotten snapshot is
   * back). [] for a plaintext repository, which cannot tell (docs/security.md).
   */
  headFindings(options: { collection?: string; signal?: AbortSignal } = {}): Promise<HeadFinding[]> {
    return this.#store.headFindings(options);
  }

  /** Loads and validates a manifest; `'latest'` picks the newest snapshot of the collection. */
  readManifest(collection: string, snapshotId: string): Promise<Manifest> {
    return this.#store.readManifest(collection, snapshotId);
  }
}

/** A short, secret-free description of a wrong argument for an error message. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v === 'string' ? `the string ${JSON.stringify(v.slice(0, 64))}` : typeof v;
}

/** Refuses, with a typed error, anything that is not a `VectorAdapter` able to do `operation`. */
function assertAdapter(adapter: unknown, operation: string, methods: readonly string[]): asserts adapter is VectorAdapter {
  const a = adapter as Record<string, unknown> | null;
  const ok =
    typeof a === 'object' &&
    a !== null &&
    typeof a.engine === 'string' &&
    typeof a.capabilities === 'object' &&
    a.capabilities !== null &&
    methods.every((m) => typeof a[m] === 'function');
  if (!ok) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `repo.${operation}() needs a VectorAdapter as its first argument (e.g. pgvectorAdapter({ ` +
        `pool }) from 'vectordr/adapters/pgvector'), with ${methods.join(', ')}; got ` +
        `${describeValue(adapter)}.`,
    );
  }
}

/** Opens (or creates) a repository. See `OpenRepositoryOptions`. */
export function openRepository(options: OpenRepositoryOptions): Promise<Repository> {
  return Repository.open(options);
}
