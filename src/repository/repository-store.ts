/**
 * The objects of one opened repository: manifests, content-addressed segments and locks, sealed
 * when the repository is encrypted. It implements every port of `ports.ts` (and `LockStore`); the
 * `Repository` owns one and hands it to the pipelines, so sealing, segment addresses and size
 * checks are nobody else's business. Write order: segments, then the manifest (create-only). Read
 * order: manifest, then segments, each checked before it is decoded.
 */
import type { z } from 'zod';
import { forEachLimit } from '../async.js';
import { ConflictError, type ErrorCode, IntegrityError, NotFoundError, VectordrError, isVectordrError, throwIfAborted } from '../errors.js';
import { sha256Hex } from '../format/digest.js';
import { type RepositoryCipher, SEAL_OVERHEAD, looksSealed } from '../format/encryption.js';
import {
  DATA_PREFIX,
  SNAPSHOTS_PREFIX,
  assertSnapshotId,
  collectionFromKey,
  collectionKey,
  manifestKey,
  segmentKey,
} from '../format/keys.js';
import { type Manifest, type RepositoryConfig, type SegmentRef, parseManifest, serializeManifest } from '../format/manifest.js';
import type { Logger } from '../logger.js';
import { type Storage, type StorageObjectInfo, getBounded } from '../storage/storage.js';
import { MAX_MANIFEST_BYTES, MAX_PLAN_BYTES, storedCap } from '../format/limits.js';
import { parseBoundedJson } from '../format/bounded-json.js';
import {
  type LockInfo,
  type LockOptions,
  type LockStore,
  type RepositoryLock,
  LockOptionsSchema,
  acquireLock,
  listLocks,
} from './locks.js';
import {
  type IntegrityStore,
  type MissingSegment,
  type PruneStore,
  type RestoreStore,
  type SnapshotRef,
  type SnapshotStore,
  type PlanObjects,
  segmentSizeError,
} from './ports.js';
import {
  HEAD_FEATURE,
  HEADS_PREFIX,
  type Head,
  type HeadFinding,
  compareHead,
  headAfterCommit,
  headKey,
  headAfterReconcile,
  readHead,
  writeHead,
} from './heads.js';

/** Segment `stat`s in flight when a snapshot confirms its segments before committing. */
const STAT_CONCURRENCY = 8;

export interface SnapshotInfo {
  id: string;
  collection: string;
  kind: Manifest['kind'];
  createdAt: string;
  /** Rows the snapshot itself stores (a link: its upserts). */
  rows: number;
  /** Records of the state it records (a link: its chain folded). */
  records: number;
  /** Bytes it stores itself: segments and delta index. */
  bytes: number;
  engine: string;
  tags: Record<string, string>;
  /** The link this one builds on; null for a full snapshot. */
  parent: string | null;
  /** Chains: the engine time the snapshot is complete up to (RPO = now − the newest). Absent on plain full snapshots (their `createdAt` is). */
  watermark?: string;
  /** Chains: how it was captured (`scan`, `pgoutput`, `timestamp`, `fingerprint-diff`). */
  capture?: string;
}

/** A manifest under `snapshots/` that could not be read as one: skipped by list and `latest`, reported by verify. */
export interface InvalidSnapshot {
  key: string;
  collection: string;
  id: string;
  code: ErrorCode;
  reason: string;
}

/** `listSnapshots`: the valid snapshots, oldest first, and the manifests that are not valid. */
export interface SnapshotListing {
  snapshots: SnapshotInfo[];
  invalid: InvalidSnapshot[];
}

/**
 * A manifest that fails to read for what it is (damaged, hostile, oversized, of a newer format) is
 * skipped by list and `latest`; one that fails for what the storage or the caller did is not.
 */
function skippable(err: unknown): err is VectordrError {
  return (
    err instanceof VectordrError &&
    (err.category === 'integrity' || err.category === 'unsupported' || err.code === 'OBJECT_TOO_LARGE' || err.code === 'PATH_ESCAPE')
  );
}

export class RepositoryStore implements LockStore, SnapshotStore, RestoreStore, IntegrityStore, PruneStore, PlanObjects {
  readonly storage: Storage;
  readonly config: RepositoryConfig;
  readonly logger: Logger;
  readonly #cipher: RepositoryCipher | undefined;
  readonly #locks: LockOptions;

  constructor(storage: Storage, config: RepositoryConfig, logger: Logger, cipher: RepositoryCipher | undefined, locks: LockOptions) {
    this.storage = storage;
    this.config = config;
    this.logger = logger;
    this.#cipher = cipher;
    this.#locks = locks;
  }

  get encrypted(): boolean {
    return this.#cipher !== undefined;
  }

  /** An encrypted repository opens every manifest with its key (GCM): no one without the key wrote it. */
  get manifestsAuthenticated(): boolean {
    return this.#cipher !== undefined;
  }

  get repositoryId(): string {
    return this.config.id;
  }

  get location(): string {
    return this.storage.location;
  }

  get buckets(): number {
    return this.config.digest.buckets;
  }

  get writeConcurrency(): number {
    return this.storage.writeConcurrency ?? 0;
  }

  /** The lock timing of this handle, defaults applied. */
  get lockOptions(): z.output<typeof LockOptionsSchema> {
    return LockOptionsSchema.parse(this.#locks);
  }

  get staleAfterMs(): number {
    return this.lockOptions.staleAfterMs;
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

  lock(
    request: { exclusive: boolean; operation: string; signal?: AbortSignal },
    options: LockOptions = this.#locks,
  ): Promise<RepositoryLock> {
    return acquireLock(this, request, { ...this.#locks, ...options });
  }

  locks(): Promise<LockInfo[]> {
    return listLocks(this, new Date(), this.lockOptions.staleAfterMs);
  }

  storedSize(ref: SegmentRef): number {
    return ref.bytes + (this.#cipher ? SEAL_OVERHEAD : 0);
  }

  async statSegment(ref: SegmentRef): Promise<number | undefined> {
    return (await this.storage.stat(ref.key))?.size;
  }

  /** Snapshots, oldest first; only committed, valid ones (an invalid manifest is skipped with a warning: `listSnapshots`). */
  async list(options: { collection?: string; signal?: AbortSignal } = {}): Promise<SnapshotInfo[]> {
    return (await this.listSnapshots(options)).snapshots;
  }

  /**
   * Every snapshot, oldest first, and every manifest that is not valid (skipped with a warning, so one
   * junk object never blocks a listing). In an encrypted repository, snapshots the collection's head
   * says were forgotten (replayed) are left out too, as invalid with REPLAY_DETECTED.
   */
  async listSnapshots(options: { collection?: string; signal?: AbortSignal } = {}): Promise<SnapshotListing> {
    const out: SnapshotListing = { snapshots: [], invalid: [] };
    const forgotten = new Map<string, Set<string>>();
    for (const ref of await this.snapshotRefs(options)) {
      throwIfAborted(options.signal);
      const key = manifestKey(ref.collection, ref.id);
      try {
        if (this.encrypted) {
          if (!forgotten.has(ref.collection))
            forgotten.set(ref.collection, new Set((await this.headOrUndefined(ref.collection))?.forgotten));
          if (forgotten.get(ref.collection)?.has(ref.id)) {
            throw new IntegrityError(
              'REPLAY_DETECTED',
              `Snapshot ${ref.id} was forgotten (the authenticated head says so); its manifest is there again.`,
            );
          }
        }
        out.snapshots.push(summarize(await this.readManifest(ref.collection, ref.id)));
      } catch (err) {
        if (isVectordrError(err, 'SNAPSHOT_NOT_FOUND')) continue; // forgotten meanwhile
        if (!skippable(err)) throw err;
        out.invalid.push({ key, collection: ref.collection, id: ref.id, code: err.code, reason: err.reason });
        this.logger.warn({ key, code: err.code }, 'skipping a manifest that is not valid');
      }
    }
    return out;
  }

  /** The head, or undefined when there is none or it cannot be trusted (which verify and `latest` report). */
  private async headOrUndefined(collection: string): Promise<Head | undefined> {
    try {
      return await readHead(this, collection);
    } catch (err) {
      if (!isVectordrError(err, 'ROLLBACK_DETECTED')) throw err;
      // A write replaces it (a snapshot must not fail for it); verify and `latest` report it until then.
      this.logger.warn(
        { collection, key: err.details.key },
        'the authenticated head cannot be trusted; it is ignored (and replaced by the next write)',
      );
      return undefined;
    }
  }

  /**
   * The newest valid snapshot of `collection`: invalid manifests are skipped with a warning. In an
   * encrypted repository the collection's head must agree (ROLLBACK_DETECTED when the newest
   * snapshot it records is missing or the head was rolled back; forgotten snapshots are never picked).
   */
  async readLatest(collection: string, signal?: AbortSignal): Promise<Manifest> {
    const refs = await this.snapshotRefs({ collection, signal });
    if (refs.length === 0) throw await this.noSnapshotError(collection, signal);
    const head = this.encrypted ? await readHead(this, collection) : undefined;
    const forgotten = new Set(head?.forgotten);
    const skipped: string[] = [];
    let newestError: VectordrError | undefined;
    for (const ref of refs.reverse()) {
      throwIfAborted(signal);
      if (forgotten.has(ref.id)) {
        skipped.push(ref.id);
        this.logger.warn(
          { collection, snapshot: ref.id },
          'latest: skipping a snapshot the authenticated head says was forgotten (replayed)',
        );
        continue;
      }
      let manifest: Manifest;
      try {
        manifest = await this.readManifest(collection, ref.id);
      } catch (err) {
        if (!skippable(err)) throw err;
        skipped.push(ref.id);
        newestError ??= err;
        this.logger.warn({ collection, snapshot: ref.id, code: err.code }, 'latest: skipping a manifest that is not valid');
        continue;
      }
      if (this.encrypted) this.assertHeadAgrees(head, collection, manifest);
      if (skipped.length > 0) this.logger.warn({ collection, snapshot: manifest.id, skipped }, 'latest: newer manifests were skipped');
      return manifest;
    }
    // None is valid: the newest one's own error says best what is wrong (a newer format, say).
    if (newestError) throw newestError;
    throw new IntegrityError(
      'REPLAY_DETECTED',
      `Every snapshot of collection ${JSON.stringify(collection)} was forgotten; they are replays.`,
      {
        details: { collection, skipped: skipped.slice(0, 20) },
      },
    );
  }

  /** ROLLBACK_DETECTED when `latest` is not the newest snapshot the head records, or the head is missing or behind it. */
  private assertHeadAgrees(head: Head | undefined, collection: string, latest: Manifest): void {
    const key = headKey(collection);
    let why: string | undefined;
    if (head === undefined && latest.headCounter !== undefined) {
      why = `The authenticated head ${key} is missing although snapshot ${latest.id} was written with it: it was deleted.`;
    } else if (head !== undefined && (latest.headCounter ?? 0) > head.counter) {
      why = `The authenticated head ${key} is at counter ${head.counter}, behind snapshot ${latest.id} (counter ${latest.headCounter}): an older copy of the head was put back.`;
    } else if (head?.latest != null && head.latest > latest.id) {
      why = `The newest snapshot the authenticated head records, ${head.latest}, is missing or invalid: it was deleted or replaced.`;
    }
    if (why === undefined) return;
    throw new IntegrityError(
      'ROLLBACK_DETECTED',
      `${why} restore('latest') would silently use the older snapshot ${latest.id}; refused. If that is what you want, ` +
        `restore it by its id (repo.list() lists them), and check who can write to the repository (docs/security.md).`,
      { details: { collection, key, found: latest.id, ...(head?.latest ? { recorded: head.latest } : {}) } },
    );
  }

  /**
   * What the authenticated heads show about every collection (encrypted repositories; [] for
   * plaintext ones, which have none): rollback (a recorded snapshot missing, the head missing or
   * behind) and replay (a forgotten snapshot back). Verify reports these as findings.
   */
  async headFindings(options: { collection?: string; signal?: AbortSignal } = {}): Promise<HeadFinding[]> {
    if (!this.encrypted) return [];
    const present = new Map<string, Map<string, number | undefined>>();
    for (const ref of await this.snapshotRefs(options)) {
      throwIfAborted(options.signal);
      try {
        const m = await this.readManifest(ref.collection, ref.id);
        const byId = present.get(ref.collection) ?? new Map<string, number | undefined>();
        byId.set(m.id, m.headCounter);
        present.set(ref.collection, byId);
      } catch (err) {
        if (!skippable(err) && !isVectordrError(err, 'SNAPSHOT_NOT_FOUND')) throw err;
        if (!present.has(ref.collection)) present.set(ref.collection, new Map());
      }
    }
    for (const c of await this.headCollections(options.signal)) {
      if ((options.collection === undefined || c === options.collection) && !present.has(c)) present.set(c, new Map());
    }
    const out: HeadFinding[] = [];
    for (const [collection, byId] of present) {
      let head: Head | undefined;
      try {
        head = await readHead(this, collection);
      } catch (err) {
        if (!isVectordrError(err, 'ROLLBACK_DETECTED')) throw err;
        out.push({ code: 'ROLLBACK_DETECTED', collection, key: String(err.details.key), message: err.reason });
        continue;
      }
      out.push(...compareHead(head, collection, byId));
    }
    return out;
  }

  /** Collections that have a head object. */
  private async headCollections(signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    for await (const o of this.storage.list(HEADS_PREFIX, { signal })) {
      const m = /^heads\/([^/]+)\.json$/.exec(o.key);
      const c = m ? collectionFromKey(m[1] as string) : undefined;
      if (c !== undefined) out.push(c);
    }
    return out;
  }

  /**
   * Forget and prune (exclusive lock): records in the head of `collection` that `forget` are
   * forgotten and `present` is what else is there, before the manifests are deleted. A no-op in a
   * plaintext repository.
   */
  async recordForgotten(collection: string, present: readonly string[], forget: readonly string[]): Promise<void> {
    if (!this.encrypted) return;
    await writeHead(this, headAfterReconcile(await this.headOrUndefined(collection), collection, present, forget));
  }

  async snapshotRefs(options: { collection?: string; signal?: AbortSignal } = {}): Promise<SnapshotRef[]> {
    const prefix = options.collection === undefined ? SNAPSHOTS_PREFIX : `${SNAPSHOTS_PREFIX}${collectionKey(options.collection)}/`;
    const out: SnapshotRef[] = [];
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
    const shown = names
      .slice(0, 20)
      .map((n) => JSON.stringify(n))
      .join(', ');
    const held =
      names.length === 0
        ? 'it holds no snapshot at all'
        : `collections with snapshots: ${shown}${names.length > 20 ? `, and ${names.length - 20} more` : ''}`;
    return new NotFoundError(
      'SNAPSHOT_NOT_FOUND',
      `Repository ${this.storage.location} has no snapshot of collection ` +
        `${JSON.stringify(collection)} (${held}). Check the name; repo.list() lists every snapshot.`,
      { details: { collection, collections: names.slice(0, 20) } },
    );
  }

  async readManifest(collection: string, snapshotId: string): Promise<Manifest> {
    if (snapshotId === 'latest') return this.readLatest(collection);
    assertSnapshotId(snapshotId);
    const key = manifestKey(collection, snapshotId);
    let bytes: Uint8Array;
    try {
      bytes = await getBounded(this.storage, key, storedCap(MAX_MANIFEST_BYTES, this.encrypted));
    } catch (err) {
      if (isVectordrError(err, 'KEY_NOT_FOUND')) {
        throw new NotFoundError(
          'SNAPSHOT_NOT_FOUND',
          `Snapshot ${snapshotId} of collection ${JSON.stringify(collection)} does not exist; use ` + `repo.list() to see snapshots.`,
          { cause: err },
        );
      }
      throw err;
    }
    const plain = this.decodeObject(key, bytes);
    if (plain === undefined) {
      throw new IntegrityError(
        'MANIFEST_INVALID',
        `Manifest ${key} fails decryption (altered, truncated, or not written under this ` +
          `repository's key); restore it from another copy of the repository.`,
      );
    }
    if (!this.#cipher && looksSealed(plain)) {
      throw new IntegrityError(
        'MANIFEST_INVALID',
        `Manifest ${key} is encrypted but the repository config says the repository is not; the ` + `config was replaced.`,
      );
    }
    const manifest = parseManifest(plain, key);
    if (manifest.id !== snapshotId || manifest.collection !== collection) {
      throw new IntegrityError(
        'MANIFEST_INVALID',
        `Manifest ${key} names snapshot ${manifest.id} of ${JSON.stringify(manifest.collection)}; ` + `it was moved or tampered with.`,
      );
    }
    return manifest;
  }

  async putSegment(
    bytes: Uint8Array,
    rows: number,
    signal?: AbortSignal,
    sha256 = sha256Hex(bytes),
  ): Promise<{ ref: SegmentRef; uploaded: boolean }> {
    // Encrypted repositories address segments by a keyed hash, so equal content dedups without leaking.
    const key = segmentKey(this.#cipher ? this.#cipher.segmentId(bytes) : sha256);
    const ref: SegmentRef = { key, sha256, bytes: bytes.length, rows };
    const existing = await this.storage.stat(key);
    if (existing && existing.size === this.storedSize(ref)) return { ref, uploaded: false };
    throwIfAborted(signal);
    await this.storage.put(key, this.encodeObject(key, bytes), { signal });
    return { ref, uploaded: true };
  }

  /** A snapshot calls it before it commits, so it never names data a prune deleted meanwhile. */
  async missingSegment(refs: readonly SegmentRef[], signal?: AbortSignal): Promise<MissingSegment | undefined> {
    const unique = [...new Map(refs.map((r) => [r.key, r])).values()];
    let missing: MissingSegment | undefined;
    await forEachLimit(
      unique,
      Math.max(1, this.writeConcurrency, STAT_CONCURRENCY),
      async (ref) => {
        if (missing) return;
        const info = await this.storage.stat(ref.key);
        if (!info || info.size !== this.storedSize(ref)) missing ??= { ref, found: info?.size, expected: this.storedSize(ref) };
      },
      signal,
    );
    return missing;
  }

  async loadSegment(ref: SegmentRef, signal?: AbortSignal): Promise<Uint8Array> {
    if (
      this.#cipher
        ? !/^data\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(ref.key) || ref.key.slice(5, 7) !== ref.key.slice(8, 10)
        : ref.key !== segmentKey(ref.sha256)
    ) {
      throw new IntegrityError(
        'MANIFEST_INVALID',
        `Segment key ${ref.key} does not match its hash ${ref.sha256}; the manifest was tampered with.`,
      );
    }
    let stored: Uint8Array;
    try {
      // Never more than the manifest declares: a replaced segment of any size costs nothing but a refusal.
      stored = await getBounded(this.storage, ref.key, this.storedSize(ref), { signal });
    } catch (err) {
      if (isVectordrError(err, 'OBJECT_TOO_LARGE')) {
        const size = err.details.size;
        throw segmentSizeError(ref, this.storedSize(ref), typeof size === 'number' ? size : undefined, '', err);
      }
      if (isVectordrError(err, 'KEY_NOT_FOUND')) {
        throw new IntegrityError(
          'SEGMENT_MISSING',
          `Segment ${ref.key} is missing from ${this.storage.location}; the snapshot cannot be ` + `restored from this repository.`,
          { cause: err },
        );
      }
      throw err;
    }
    if (stored.length !== this.storedSize(ref)) throw segmentSizeError(ref, this.storedSize(ref), stored.length, '');
    const bytes = this.decodeObject(ref.key, stored);
    if (bytes === undefined) {
      throw new IntegrityError('SEGMENT_CORRUPT', `Segment ${ref.key} fails AES-GCM authentication; the stored bytes were altered.`, {
        details: { key: ref.key },
      });
    }
    if (this.#cipher && segmentKey(this.#cipher.segmentId(bytes)) !== ref.key) {
      throw new IntegrityError(
        'SEGMENT_CORRUPT',
        `Segment ${ref.key} decrypts to content with another address; it was moved or the manifest ` + `was tampered with.`,
        { details: { key: ref.key } },
      );
    }
    return bytes;
  }

  async getSegment(ref: SegmentRef, signal?: AbortSignal): Promise<Uint8Array> {
    const bytes = await this.loadSegment(ref, signal);
    const actual = sha256Hex(bytes);
    if (actual !== ref.sha256) {
      throw new IntegrityError(
        'SEGMENT_CORRUPT',
        `Segment ${ref.key} fails its SHA-256 check (found ${actual}); the stored bytes were altered.`,
        { details: { key: ref.key } },
      );
    }
    return bytes;
  }

  /**
   * Commits a manifest, create-only. Encrypted: under the next counter of the collection's head
   * (feature `authenticated-head`), and the head then records it (docs/format.md, "Heads").
   */
  async commitManifest(manifest: Manifest): Promise<void> {
    const key = manifestKey(manifest.collection, manifest.id);
    let stored = manifest;
    let counter = 0;
    if (this.encrypted) {
      counter = ((await this.headOrUndefined(manifest.collection))?.counter ?? 0) + 1;
      stored = { ...manifest, features: [...new Set([...manifest.features, HEAD_FEATURE])].sort(), headCounter: counter };
    }
    try {
      await this.storage.put(key, this.encodeObject(key, serializeManifest(stored)), { ifNoneMatch: '*' });
    } catch (err) {
      if (isVectordrError(err, 'KEY_EXISTS'))
        throw new ConflictError('KEY_EXISTS', `Snapshot ${manifest.id} already exists; refusing to overwrite it.`, { cause: err });
      throw err;
    }
    // Read again just before writing: a concurrent snapshot of the collection is lost only in the window between.
    if (this.encrypted) {
      await writeHead(this, headAfterCommit(await this.headOrUndefined(manifest.collection), manifest.collection, manifest.id, counter));
    }
  }

  async putPlanObject(key: string, value: unknown, options: { create?: boolean } = {}): Promise<void> {
    const bytes = new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
    await this.storage.put(key, this.encodeObject(key, bytes), options.create ? { ifNoneMatch: '*' } : {});
  }

  async getPlanObject(key: string): Promise<unknown> {
    let stored: Uint8Array;
    try {
      stored = await getBounded(this.storage, key, storedCap(MAX_PLAN_BYTES, this.encrypted));
    } catch (err) {
      if (isVectordrError(err, 'KEY_NOT_FOUND')) return undefined;
      throw err;
    }
    const plain = this.decodeObject(key, stored);
    if (plain === undefined)
      throw new IntegrityError('PLAN_INVALID', `${key} fails decryption (altered, or not written under this repository's key).`);
    try {
      return parseBoundedJson(new TextDecoder().decode(plain));
    } catch (err) {
      throw new IntegrityError('PLAN_INVALID', `${key} is not JSON; it was not written by vectordr or was damaged.`, { cause: err });
    }
  }

  async deletePlanObject(key: string): Promise<void> {
    await this.storage.delete(key);
  }

  dataObjects(signal?: AbortSignal): AsyncIterable<StorageObjectInfo> {
    return this.storage.list(DATA_PREFIX, { signal });
  }

  deleteSegment(key: string): Promise<void> {
    return this.storage.delete(key);
  }

  deleteManifest(ref: SnapshotRef): Promise<void> {
    return this.storage.delete(manifestKey(ref.collection, ref.id));
  }
}

function summarize(m: Manifest): SnapshotInfo {
  return {
    id: m.id,
    collection: m.collection,
    kind: m.kind,
    createdAt: m.createdAt,
    rows: m.rows.upserts,
    records: m.digest.counts.reduce((a, b) => a + b, 0),
    bytes: [...m.segments, ...(m.deltaIndex ?? [])].reduce((s, x) => s + x.bytes, 0),
    engine: m.source.engine,
    tags: m.tags,
    parent: m.parent,
    ...(m.watermark !== undefined ? { watermark: m.watermark } : {}),
    ...(m.capture !== undefined ? { capture: m.capture.mode } : {}),
  };
}
