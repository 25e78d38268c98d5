/**
 * A backup repository over any `Storage`: config, manifests, content-addressed segments.
 * Write order: segments, then the manifest (create-only). Read order: config, manifest, segments.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { VectorAdapter } from '../adapter.js';
import { ConflictError, InvalidInputError, IntegrityError, NotFoundError, isVectordrError, throwIfAborted } from '../errors.js';
import { DEFAULT_BUCKETS, sha256Hex } from '../format/digest.js';
import { CONFIG_KEY, SNAPSHOTS_PREFIX, assertSnapshotId, collectionFromKey, collectionKey, manifestKey, segmentKey } from '../format/keys.js';
import { FORMAT_VERSION, type Manifest, type RepositoryConfig, type SegmentRef, parseManifest, parseRepositoryConfig, serialize } from '../format/manifest.js';
import { type Logger, silentLogger } from '../logger.js';
import type { Storage } from '../storage/storage.js';
import { type RestoreOptions, type RestoreResult, restoreSnapshot } from '../restore/restore.js';
import { type SnapshotOptions, type SnapshotResult, takeSnapshot } from '../snapshot/snapshot.js';
import { type IntegrityReport, type VerifyIntegrityOptions, verifyIntegrity } from '../verify/verify-integrity.js';
import { type ParityOptions, type ParityReport, verifyParity } from '../verify/verify-parity.js';

export const OpenRepositoryOptionsSchema = z.object({
  /** Where the repository lives (`fsStorage({ path })`, `memoryStorage()`, ...). */
  storage: z.custom<Storage>((v) => typeof v === 'object' && v !== null && 'put' in v && 'get' in v && 'list' in v, 'a Storage'),
  /**
   * Create the repository if the storage holds none.
   * @default false — opening a typo'd path should fail, not silently start an empty repository.
   */
  create: z.boolean().default(false),
  /** Digest buckets for a new repository. More buckets localise mismatches better; the manifest grows ~70 bytes per bucket. @default 256 */
  buckets: z.number().int().min(1).max(65_536).default(DEFAULT_BUCKETS),
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

export class Repository {
  readonly storage: Storage;
  readonly config: RepositoryConfig;
  readonly logger: Logger;

  private constructor(storage: Storage, config: RepositoryConfig, logger: Logger) {
    this.storage = storage;
    this.config = config;
    this.logger = logger;
  }

  /** Opens (or with `create: true`, initialises) a repository. */
  static async open(options: OpenRepositoryOptions): Promise<Repository> {
    const parsed = OpenRepositoryOptionsSchema.safeParse(options);
    if (!parsed.success) throw new InvalidInputError('INVALID_OPTIONS', `Invalid repository options: ${z.prettifyError(parsed.error)}`);
    const { storage, create, buckets } = parsed.data;
    const logger = parsed.data.logger ?? silentLogger;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await storage.get(CONFIG_KEY);
    } catch (err) {
      if (!isVectordrError(err, 'KEY_NOT_FOUND')) throw err;
    }
    if (bytes) return new Repository(storage, parseRepositoryConfig(bytes), logger);
    if (!create) {
      throw new NotFoundError('REPOSITORY_NOT_FOUND', `No vectordr repository at ${storage.location}; pass { create: true } to initialise one.`);
    }
    const config: RepositoryConfig = {
      formatVersion: FORMAT_VERSION,
      id: randomUUID(),
      createdAt: new Date().toISOString(),
      digest: { algorithm: 'sha256-bucket-sum', buckets },
      encryption: null,
    };
    try {
      await storage.put(CONFIG_KEY, serialize(config), { ifNoneMatch: '*' });
    } catch (err) {
      // Another process initialised it first: use theirs.
      if (!isVectordrError(err, 'KEY_EXISTS')) throw err;
      return new Repository(storage, parseRepositoryConfig(await storage.get(CONFIG_KEY)), logger);
    }
    logger.info({ location: storage.location, id: config.id }, 'repository created');
    return new Repository(storage, config, logger);
  }

  /** Takes a consistent full snapshot of `collection` through `adapter`. */
  snapshot(adapter: VectorAdapter, collection: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
    return takeSnapshot(this, adapter, collection, options);
  }

  /** Restores a snapshot into `adapter` (same or another engine, same or another name). */
  restore(adapter: VectorAdapter, options: RestoreOptions): Promise<RestoreResult> {
    return restoreSnapshot(this, adapter, options);
  }

  /** Re-hashes every segment and recomputes every digest; needs no database. */
  verify(options: VerifyIntegrityOptions = {}): Promise<IntegrityReport> {
    return verifyIntegrity(this, options);
  }

  /** Compares a live collection with a snapshot, bucket by bucket, and names the ids that differ. */
  verifyParity(adapter: VectorAdapter, options: ParityOptions): Promise<ParityReport> {
    return verifyParity(this, adapter, options);
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

  /** Loads and validates a manifest; `'latest'` picks the newest snapshot of the collection. */
  async readManifest(collection: string, snapshotId: string): Promise<Manifest> {
    if (snapshotId === 'latest') {
      const all = await this.list({ collection });
      const last = all.at(-1);
      if (!last) throw new NotFoundError('SNAPSHOT_NOT_FOUND', `Repository ${this.storage.location} has no snapshot of collection ${JSON.stringify(collection)}.`);
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
    const manifest = parseManifest(bytes, key);
    if (manifest.id !== snapshotId || manifest.collection !== collection) {
      throw new IntegrityError('MANIFEST_INVALID', `Manifest ${key} names snapshot ${manifest.id} of ${JSON.stringify(manifest.collection)}; it was moved or tampered with.`);
    }
    return manifest;
  }

  /** Stores a segment under its content address unless it is already there (dedup, and resume after a crash). */
  async putSegment(bytes: Uint8Array, rows: number, signal?: AbortSignal): Promise<{ ref: SegmentRef; uploaded: boolean }> {
    const sha256 = sha256Hex(bytes);
    const key = segmentKey(sha256);
    const ref: SegmentRef = { key, sha256, bytes: bytes.length, rows };
    const existing = await this.storage.stat(key);
    if (existing && existing.size === bytes.length) return { ref, uploaded: false };
    throwIfAborted(signal);
    await this.storage.put(key, bytes, { signal });
    return { ref, uploaded: true };
  }

  /** Reads a segment and checks its size and hash before anyone decodes it. */
  async getSegment(ref: SegmentRef, signal?: AbortSignal): Promise<Uint8Array> {
    if (ref.key !== segmentKey(ref.sha256)) {
      throw new IntegrityError('MANIFEST_INVALID', `Segment key ${ref.key} does not match its hash ${ref.sha256}; the manifest was tampered with.`);
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.storage.get(ref.key, { signal });
    } catch (err) {
      if (isVectordrError(err, 'KEY_NOT_FOUND')) {
        throw new IntegrityError('SEGMENT_MISSING', `Segment ${ref.key} is missing from ${this.storage.location}; the snapshot cannot be restored from this repository.`, { cause: err });
      }
      throw err;
    }
    if (bytes.length !== ref.bytes) {
      throw new IntegrityError('SEGMENT_CORRUPT', `Segment ${ref.key} has ${bytes.length} bytes, the manifest says ${ref.bytes} (truncated or replaced).`, { details: { key: ref.key } });
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
      await this.storage.put(key, serialize(manifest), { ifNoneMatch: '*' });
    } catch (err) {
      if (isVectordrError(err, 'KEY_EXISTS')) throw new ConflictError('KEY_EXISTS', `Snapshot ${manifest.id} already exists; refusing to overwrite it.`, { cause: err });
      throw err;
    }
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

