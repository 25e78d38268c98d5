/**
 * A backup repository over any `Storage`: config, manifests, content-addressed segments.
 * Write order: segments, then the manifest (create-only). Read order: config, manifest, segments.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { VectorAdapter } from '../adapter.js';
import { forEachLimit } from '../async.js';
import { ConflictError, InvalidInputError, IntegrityError, NotFoundError, isVectordrError, throwIfAborted } from '../errors.js';
import { DEFAULT_BUCKETS, sha256Hex } from '../format/digest.js';
import { type EncryptionOptions, type RepositoryCipher, SEAL_OVERHEAD, createEncryption, looksSealed, openEncryption } from '../format/encryption.js';
import { CONFIG_KEY, SNAPSHOTS_PREFIX, assertSnapshotId, collectionFromKey, collectionKey, manifestKey, segmentKey } from '../format/keys.js';
import { FORMAT_VERSION, type Manifest, type RepositoryConfig, type SegmentRef, parseManifest, parseRepositoryConfig, serializeManifest, withChecksum } from '../format/manifest.js';
import { type Logger, silentLogger } from '../logger.js';
import { type Report, withJsonForm } from '../report.js';
import type { Storage } from '../storage/storage.js';
import { type RestoreOptions, type RestoreResult, restoreSnapshot } from '../restore/restore.js';
import { type SnapshotOptions, type SnapshotResult, takeSnapshot } from '../snapshot/snapshot.js';
import { type IntegrityReport, type VerifyIntegrityOptions, verifyIntegrity } from '../verify/verify-integrity.js';
import { type ParityOptions, type ParityReport, verifyParity } from '../verify/verify-parity.js';
import { type RecallOptions, type RecallReport, verifyRecall } from '../verify/verify-recall.js';
import { type LockInfo, type LockOptions, type LockStore, type RepositoryLock, LockOptionsSchema, acquireLock, listLocks } from './locks.js';
import { type ForgetOptions, type ForgetReport, type PruneOptions, type PruneReport, forgetSnapshots, pruneRepository } from './prune.js';
import type { RetentionPolicy } from './retention.js';

/** Segment `stat`s in flight when a snapshot confirms its segments before committing. */
const STAT_CONCURRENCY = 8;

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
});
export type OpenRepositoryOptions = z.input<typeof OpenRepositoryOptionsSchema>;

export interface SnapshotInfo {
  id: string;
  collection: string;
  kind: Manifest['kind'];
  createdAt: string;
  rows: number;
  bytes: number;
  engine: string;
  tags: Record<string, string>;
}

export class Repository implements LockStore {
  readonly storage: Storage;
  readonly config: RepositoryConfig;
  readonly logger: Logger;
  readonly #cipher: RepositoryCipher | undefined;
  readonly #locks: LockOptions;

  private constructor(storage: Storage, config: RepositoryConfig, logger: Logger, cipher: RepositoryCipher | undefined, locks: LockOptions) {
    this.storage = storage;
    this.config = config;
    this.logger = logger;
    this.#cipher = cipher;
    this.#locks = locks;
  }

  /** True when segments, manifests and locks are encrypted client-side. */
  get encrypted(): boolean {
    return this.#cipher !== undefined;
  }

  private static async fromConfig(storage: Storage, bytes: Uint8Array, options: z.output<typeof OpenRepositoryOptionsSchema>, logger: Logger): Promise<Repository> {
    if (looksSealed(bytes)) {
      throw new IntegrityError('CONFIG_INVALID', `Repository config ${CONFIG_KEY} in ${storage.location} is encrypted; the config is always plaintext, so this object was replaced.`);
    }
    const config = parseRepositoryConfig(bytes);
    let cipher: RepositoryCipher | undefined;
    if (config.encryption) {
      cipher = await openEncryption(config.id, config.encryption, options.encryption, storage.location);
    } else if (options.encryption !== undefined) {
      throw new InvalidInputError('NOT_ENCRYPTED', `Repository ${storage.location} is not encrypted, but an encryption key was given. Its data is stored in plaintext; create a new encrypted repository to encrypt backups, or open this one without { encryption }.`);
    }
    return new Repository(storage, config, logger, cipher, options.locks ?? {});
  }

  /** Opens (or with `create: true`, initialises) a repository. */
  static async open(options: OpenRepositoryOptions): Promise<Repository> {
    const parsed = OpenRepositoryOptionsSchema.safeParse(options);
    if (!parsed.success) throw new InvalidInputError('INVALID_OPTIONS', `Invalid repository options: ${z.prettifyError(parsed.error)}`);
    const o = parsed.data;
    const { storage, create, buckets } = o;
    const logger = o.logger ?? silentLogger;
    let existing: Uint8Array | undefined;
    try {
      existing = await storage.get(CONFIG_KEY);
    } catch (err) {
      if (!isVectordrError(err, 'KEY_NOT_FOUND')) throw err;
    }
    if (existing) return Repository.fromConfig(storage, existing, o, logger);
    if (!create) {
      throw new NotFoundError('REPOSITORY_NOT_FOUND', `No vectordr repository at ${storage.location}; pass { create: true } to initialise one.`);
    }
    const id = randomUUID();
    const enc = o.encryption === undefined ? undefined : await createEncryption(id, o.encryption);
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
      return Repository.fromConfig(storage, await storage.get(CONFIG_KEY), o, logger);
    }
    logger.info({ location: storage.location, id: config.id, encrypted: enc !== undefined }, 'repository created');
    return new Repository(storage, config, logger, enc?.cipher, o.locks ?? {});
  }

  /** Seals an object for storage under `key` (identity when the repository is plaintext). */
  encodeObject(key: string, plain: Uint8Array): Uint8Array {
    return this.#cipher ? this.#cipher.seal(plain, key) : plain;
  }

  /** Opens a stored object; undefined when it fails authentication (altered, or moved from another key). */
  decodeObject(key: string, stored: Uint8Array): Uint8Array | undefined {
    if (!this.#cipher) return stored;
    return this.#cipher.open(stored, key);
  }

  /** Stored size of a segment: its plaintext size plus the encryption envelope, if any. */
  storedSize(ref: SegmentRef): number {
    return ref.bytes + (this.#cipher ? SEAL_OVERHEAD : 0);
  }

  /** The error for a stored segment whose size is not the recorded one: truncated, or other content under its key. */
  segmentSizeError(ref: SegmentRef, size: number, consequence: string): IntegrityError {
    return new IntegrityError(
      'SEGMENT_CORRUPT',
      `Segment ${ref.key} has ${size} bytes where the manifest records ${this.storedSize(ref)}: the object was truncated or replaced by other content (another segment's, say)${consequence}. Restore it from another copy of the repository, or use another snapshot.`,
      { details: { key: ref.key } },
    );
  }

  /** Takes a repository lock (shared for snapshot/restore, exclusive for forget/prune). */
  lock(request: { exclusive: boolean; operation: string; signal?: AbortSignal }, options: LockOptions = this.#locks): Promise<RepositoryLock> {
    return acquireLock(this, request, { ...this.#locks, ...options });
  }

  /** The lock timing of this handle, defaults applied. */
  get lockOptions(): z.output<typeof LockOptionsSchema> {
    return LockOptionsSchema.parse(this.#locks);
  }

  /** Current locks and whether each is stale. */
  async locks(): Promise<LockInfo[]> {
    return listLocks(this, new Date(), this.lockOptions.staleAfterMs);
  }

  /** Removes snapshots (manifests only) that a retention policy does not keep; run prune() to free their data. */
  async forget(policy: RetentionPolicy, options: ForgetOptions = {}): Promise<Report<ForgetReport>> {
    return withJsonForm(await forgetSnapshots(this, policy, options));
  }

  /** Deletes segments no snapshot references (orphans of crashed runs, data of forgotten snapshots) and stale locks. */
  async prune(options: PruneOptions = {}): Promise<Report<PruneReport>> {
    return withJsonForm(await pruneRepository(this, options));
  }

  /** Takes a consistent full snapshot of `collection` through `adapter`. */
  async snapshot(adapter: VectorAdapter, collection: string, options: SnapshotOptions = {}): Promise<Report<SnapshotResult>> {
    assertAdapter(adapter, 'snapshot', ['describe', 'scan']);
    if (typeof collection !== 'string' || collection.length === 0) {
      throw new InvalidInputError('INVALID_ARGUMENT', `repo.snapshot(adapter, collection) needs the collection name as a non-empty string; got ${describeValue(collection)}.`);
    }
    return withJsonForm(await takeSnapshot(this, adapter, collection, options));
  }

  /** Restores a snapshot into `adapter` (same or another engine, same or another name). */
  async restore(adapter: VectorAdapter, options: RestoreOptions): Promise<Report<RestoreResult>> {
    assertAdapter(adapter, 'restore', ['create', 'write']);
    return withJsonForm(await restoreSnapshot(this, adapter, options));
  }

  /** Re-hashes every segment and recomputes every digest; needs no database. */
  async verify(options: VerifyIntegrityOptions = {}): Promise<Report<IntegrityReport>> {
    return withJsonForm(await verifyIntegrity(this, options));
  }

  /** Compares a live collection with a snapshot, bucket by bucket, and names the ids that differ. */
  async verifyParity(adapter: VectorAdapter, options: ParityOptions): Promise<Report<ParityReport>> {
    assertAdapter(adapter, 'verifyParity', ['scan', 'fetch']);
    return withJsonForm(await verifyParity(this, adapter, options));
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
    return withJsonForm(await verifyRecall(this, adapter, options));
  }

  /** Snapshots in the repository, oldest first; only committed ones (a snapshot exists iff its manifest does). */
  async list(options: { collection?: string; signal?: AbortSignal } = {}): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const ref of await this.snapshotRefs(options)) out.push(summarize(await this.readManifest(ref.collection, ref.id)));
    return out;
  }

  /** Committed snapshots by key alone (no manifest is parsed), oldest first. */
  async snapshotRefs(options: { collection?: string; signal?: AbortSignal } = {}): Promise<{ collection: string; id: string }[]> {
    const prefix = options.collection === undefined ? SNAPSHOTS_PREFIX : `${SNAPSHOTS_PREFIX}${collectionKey(options.collection)}/`;
    const out: { collection: string; id: string }[] = [];
    for await (const obj of this.storage.list(prefix, { signal: options.signal })) {
      const m = /^snapshots\/([^/]+)\/([0-9A-Z]{26})\.json$/.exec(obj.key);
      const collection = m ? collectionFromKey(m[1] as string) : undefined;
      if (m && collection !== undefined) out.push({ collection, id: m[2] as string });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * SNAPSHOT_NOT_FOUND for a collection this repository holds no snapshot of, naming the
   * collections it does hold (a misspelling shows at once) and where to look.
   */
  async noSnapshotError(collection: string, signal?: AbortSignal): Promise<NotFoundError> {
    const names = [...new Set((await this.snapshotRefs({ signal })).map((r) => r.collection))].sort();
    const shown = names.slice(0, 20).map((n) => JSON.stringify(n)).join(', ');
    const held = names.length === 0 ? 'it holds no snapshot at all' : `collections with snapshots: ${shown}${names.length > 20 ? `, and ${names.length - 20} more` : ''}`;
    return new NotFoundError(
      'SNAPSHOT_NOT_FOUND',
      `Repository ${this.storage.location} has no snapshot of collection ${JSON.stringify(collection)} (${held}). Check the name; repo.list() lists every snapshot.`,
      { details: { collection, collections: names.slice(0, 20) } },
    );
  }

  /** Loads and validates a manifest; `'latest'` picks the newest snapshot of the collection. */
  async readManifest(collection: string, snapshotId: string): Promise<Manifest> {
    if (snapshotId === 'latest') {
      const last = (await this.list({ collection })).at(-1);
      if (!last) throw await this.noSnapshotError(collection);
      snapshotId = last.id;
    }
    assertSnapshotId(snapshotId);
    const key = manifestKey(collection, snapshotId);
    let bytes: Uint8Array;
    try {
      bytes = await this.storage.get(key);
    } catch (err) {
      if (isVectordrError(err, 'KEY_NOT_FOUND')) {
        throw new NotFoundError('SNAPSHOT_NOT_FOUND', `Snapshot ${snapshotId} of collection ${JSON.stringify(collection)} does not exist; use repo.list() to see snapshots.`, { cause: err });
      }
      throw err;
    }
    const plain = this.decodeObject(key, bytes);
    if (plain === undefined) {
      throw new IntegrityError('MANIFEST_INVALID', `Manifest ${key} fails decryption (altered, truncated, or not written under this repository's key); restore it from another copy of the repository.`);
    }
    if (!this.#cipher && looksSealed(plain)) {
      throw new IntegrityError('MANIFEST_INVALID', `Manifest ${key} is encrypted but the repository config says the repository is not; the config was replaced.`);
    }
    const manifest = parseManifest(plain, key);
    if (manifest.id !== snapshotId || manifest.collection !== collection) {
      throw new IntegrityError('MANIFEST_INVALID', `Manifest ${key} names snapshot ${manifest.id} of ${JSON.stringify(manifest.collection)}; it was moved or tampered with.`);
    }
    return manifest;
  }

  /** Stores a segment under its content address unless it is already there (dedup, and resume after a crash). */
  async putSegment(bytes: Uint8Array, rows: number, signal?: AbortSignal): Promise<{ ref: SegmentRef; uploaded: boolean }> {
    const sha256 = sha256Hex(bytes);
    // Encrypted repositories address segments by a keyed hash, so equal content dedups without leaking.
    const key = segmentKey(this.#cipher ? this.#cipher.segmentId(bytes) : sha256);
    const ref: SegmentRef = { key, sha256, bytes: bytes.length, rows };
    const existing = await this.storage.stat(key);
    if (existing && existing.size === this.storedSize(ref)) return { ref, uploaded: false };
    throwIfAborted(signal);
    await this.storage.put(key, this.encodeObject(key, bytes), { signal });
    return { ref, uploaded: true };
  }

  /**
   * Checks that every segment is stored with its expected size (a `stat` each, not a re-hash); the
   * first that is not is returned. A snapshot calls it before it commits, so it never names data a
   * prune deleted meanwhile.
   */
  async missingSegment(refs: readonly SegmentRef[], signal?: AbortSignal): Promise<{ ref: SegmentRef; found: number | undefined } | undefined> {
    const unique = [...new Map(refs.map((r) => [r.key, r])).values()];
    let missing: { ref: SegmentRef; found: number | undefined } | undefined;
    await forEachLimit(
      unique,
      Math.max(1, this.storage.writeConcurrency ?? 0, STAT_CONCURRENCY),
      async (ref) => {
        if (missing) return;
        const info = await this.storage.stat(ref.key);
        if (!info || info.size !== this.storedSize(ref)) missing ??= { ref, found: info?.size };
      },
      signal,
    );
    return missing;
  }

  /** Reads a segment and checks its size and hash before anyone decodes it. */
  async getSegment(ref: SegmentRef, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#cipher ? !/^data\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(ref.key) || ref.key.slice(5, 7) !== ref.key.slice(8, 10) : ref.key !== segmentKey(ref.sha256)) {
      throw new IntegrityError('MANIFEST_INVALID', `Segment key ${ref.key} does not match its hash ${ref.sha256}; the manifest was tampered with.`);
    }
    let stored: Uint8Array;
    try {
      stored = await this.storage.get(ref.key, { signal });
    } catch (err) {
      if (isVectordrError(err, 'KEY_NOT_FOUND')) {
        throw new IntegrityError('SEGMENT_MISSING', `Segment ${ref.key} is missing from ${this.storage.location}; the snapshot cannot be restored from this repository.`, { cause: err });
      }
      throw err;
    }
    if (stored.length !== this.storedSize(ref)) throw this.segmentSizeError(ref, stored.length, '');
    const bytes = this.decodeObject(ref.key, stored);
    if (bytes === undefined) {
      throw new IntegrityError('SEGMENT_CORRUPT', `Segment ${ref.key} fails AES-GCM authentication; the stored bytes were altered.`, { details: { key: ref.key } });
    }
    if (this.#cipher && segmentKey(this.#cipher.segmentId(bytes)) !== ref.key) {
      throw new IntegrityError('SEGMENT_CORRUPT', `Segment ${ref.key} decrypts to content with another address; it was moved or the manifest was tampered with.`, { details: { key: ref.key } });
    }
    const actual = sha256Hex(bytes);
    if (actual !== ref.sha256) {
      throw new IntegrityError('SEGMENT_CORRUPT', `Segment ${ref.key} fails its SHA-256 check (found ${actual}); the stored bytes were altered.`, { details: { key: ref.key } });
    }
    return bytes;
  }

  /** Commits a manifest: create-only, so a snapshot id can never be overwritten. */
  async commitManifest(manifest: Manifest): Promise<void> {
    const key = manifestKey(manifest.collection, manifest.id);
    try {
      await this.storage.put(key, this.encodeObject(key, serializeManifest(manifest)), { ifNoneMatch: '*' });
    } catch (err) {
      if (isVectordrError(err, 'KEY_EXISTS')) throw new ConflictError('KEY_EXISTS', `Snapshot ${manifest.id} already exists; refusing to overwrite it.`, { cause: err });
      throw err;
    }
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
    typeof a === 'object' && a !== null && typeof a.engine === 'string' && typeof a.capabilities === 'object' && a.capabilities !== null && methods.every((m) => typeof a[m] === 'function');
  if (!ok) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `repo.${operation}() needs a VectorAdapter as its first argument (e.g. pgvectorAdapter({ pool }) from 'vectordr/adapters/pgvector'), with ${methods.join(', ')}; got ${describeValue(adapter)}.`,
    );
  }
}

function summarize(m: Manifest): SnapshotInfo {
  return {
    id: m.id,
    collection: m.collection,
    kind: m.kind,
    createdAt: m.createdAt,
    rows: m.rows.upserts,
    bytes: m.segments.reduce((s, x) => s + x.bytes, 0),
    engine: m.source.engine,
    tags: m.tags,
  };
}

/** Opens (or creates) a repository. See `OpenRepositoryOptions`. */
export function openRepository(options: OpenRepositoryOptions): Promise<Repository> {
  return Repository.open(options);
}

