/**
 * The contract every engine adapter implements. Adapters stay thin: they translate between the
 * engine and the neutral model (src/model.ts); batching, digests, segments, resume and verification
 * live in the core. See docs/writing-an-adapter.md for the full table and checklist.
 */
import { UnsupportedOperationError } from './errors.js';
import type {
  Checkpoint,
  CollectionSchema,
  ElementVector,
  EngineName,
  Id,
  IdType,
  RecordBatch,
  VectorElement,
  VectorField,
  VectorQuery,
  VectorRecord,
} from './model.js';

/**
 * What an engine can do; the core plans restores and chooses how to compare from these facts alone,
 * never from the engine's name. Declare them with `defineCapabilities`, which gives every
 * capability left out its default, so a capability added later reaches every adapter with its
 * default instead of breaking it (kysely's `DialectAdapterBase`).
 */
export interface AdapterCapabilities {
  /**
   * The best change capture the adapter offers for incremental snapshots (docs/format.md, "Chains"):
   * `native` (a change feed: PostgreSQL logical decoding, `captureChanges`), `timestamp`
   * (modification times the engine maintains, `captureChanges`), `digest` (no feed: the core diffs
   * per-record fingerprints of a scan against the parent chain; every adapter with `scan` and
   * `fetch` can), `none` (no incrementals). Per collection the adapter may do less (`planCapture`).
   * @default 'digest'
   */
  readonly changeCapture: 'none' | 'native' | 'timestamp' | 'digest';
  /** Id types the engine can store; a restore refuses a snapshot of any other. */
  readonly idTypes: readonly IdType[];
  /** More than one vector per record. @default false — a multi-vector snapshot is refused. */
  readonly namedVectors: boolean;
  /**
   * `write(..., { marker })` commits the marker atomically with the rows. @default false — the core
   * writes the marker after each batch and, on resume, resends the one uncertain batch as an upsert.
   */
  readonly atomicMarker: boolean;
  /** Largest vector dimension the engine accepts (of a dense or multi-vector; see `maxDimsOf` for other limits). */
  readonly maxDims: number;
  /**
   * Limits that are not `maxDims`, by element type of dense and multi-vectors (`binary`: a count of
   * bits, e.g. pgvector's `bit(n)`), and for sparse vectors (`sparse`: the largest dimension count a
   * sparse field may declare; every index is below it). An element not named here has `maxDims`; a
   * sparse field has no limit but the format's (2^32) unless `sparse` is named. Read it through
   * {@link maxDimsFor}. @default {}
   */
  readonly maxDimsOf?: Readonly<Partial<Record<VectorElement | 'sparse', number>>>;
  /**
   * The engine stores cosine vectors normalised to unit length (Qdrant): what comes back is not
   * bit for bit what was written. Parity then compares cosine vectors after normalisation, within a
   * tolerance; snapshots record it (`manifest.source.normalizesCosine`). @default false
   */
  readonly normalizesCosine: boolean;
  /**
   * The engine gives back every float payload number exactly as written. Qdrant does not: its JSON
   * number parser is not round-trip exact, so a float can come back a few ulps off, and move again
   * when Qdrant rewrites a segment (docs/adapters/qdrant.md). Parity then compares payload floats
   * within `floatUlps` and reports each record whose floats differ (`ParityReport.payloadFloats`);
   * integers, strings and structure stay exact. @default true
   */
  readonly payloadFloatExact: boolean;
  /**
   * `per-query`: `search(…, { effort })` sets the effort of that one search. `collection`: the
   * engine has no per-query knob (Weaviate's `ef` is a setting of the class); `effort` is ignored
   * and recall reports the collection's setting instead. @default 'per-query'
   */
  readonly searchEffort: 'per-query' | 'collection';
  /**
   * The vector kinds and element types the engine stores exactly (docs/format.md, decision 3). A
   * restore holds every source field to it: stored as is, widened exactly (e.g. float16 → float32),
   * or refused before anything is written unless the caller names a conversion or leaves it out.
   * @default { dense: ['float32'], sparse: false, multi: [] }
   */
  readonly vectorKinds: VectorKindCapability;
}

/** Which vector kinds an adapter stores exactly: dense and multi by element type, sparse as float32 values. */
export interface VectorKindCapability {
  readonly dense: readonly VectorElement[];
  readonly sparse: boolean;
  readonly multi: readonly VectorElement[];
}

/** What an adapter declares: `idTypes` and `maxDims` always (no default is safe), the rest when it differs from the default. */
export type CapabilityDeclaration = Pick<AdapterCapabilities, 'idTypes' | 'maxDims'> &
  Partial<Omit<AdapterCapabilities, 'idTypes' | 'maxDims'>>;

/**
 * The default of every capability: what claims nothing (one vector, marker after the rows) and
 * keeps every check strict (vectors and payload floats compared exactly).
 */
export const DEFAULT_CAPABILITIES: Readonly<Omit<AdapterCapabilities, 'idTypes' | 'maxDims'>> = Object.freeze({
  changeCapture: 'digest',
  namedVectors: false,
  atomicMarker: false,
  normalizesCosine: false,
  payloadFloatExact: true,
  searchEffort: 'per-query',
  vectorKinds: Object.freeze({ dense: Object.freeze(['float32'] as const), sparse: false, multi: Object.freeze([] as const) }),
});

/**
 * The largest dimension count a target with `caps` accepts for `field` (dense and multi by element,
 * binary in bits; sparse: the largest declared count, so indices stay below it), or undefined when
 * the engine sets no limit of its own (sparse vectors of an engine that declares none).
 */
export function maxDimsFor(
  caps: Pick<AdapterCapabilities, 'maxDims' | 'maxDimsOf'>,
  field: Pick<VectorField, 'kind' | 'element'>,
): number | undefined {
  const limits = caps.maxDimsOf ?? {};
  if ((field.kind ?? 'dense') === 'sparse') return Object.hasOwn(limits, 'sparse') ? limits.sparse : undefined;
  return (Object.hasOwn(limits, field.element) ? limits[field.element] : undefined) ?? caps.maxDims;
}

/**
 * An adapter's capabilities: its declaration over `DEFAULT_CAPABILITIES` (a key given as
 * `undefined` keeps the default), frozen.
 *
 * @example
 * readonly capabilities = defineCapabilities({ idTypes: ['int64', 'string'], maxDims: 4096, namedVectors: true });
 */
export function defineCapabilities(declared: CapabilityDeclaration): AdapterCapabilities {
  const given = Object.fromEntries(Object.entries(declared).filter(([, v]) => v !== undefined));
  return Object.freeze({ ...DEFAULT_CAPABILITIES, ...given }) as AdapterCapabilities;
}

export interface ScanOptions {
  /** Rows per batch the adapter yields. */
  batchSize: number;
  /**
   * Start a change feed together with this scan, for an adapter with `captureChanges`: the scan
   * reads exactly the state the feed starts after (PostgreSQL: a replication slot created with an
   * exported snapshot, the scan run under it), and `ScanSession.checkpoint` is where the first
   * incremental link continues. Any feed this `captureId` had before is replaced.
   */
  startCapture?: { captureId: string };
  /**
   * The caller reads payloads as canonical JSON (`RecordBatch.payloadJson`, what a snapshot stores):
   * an adapter that can write that text straight from the engine's bytes may then leave
   * `RecordBatch.payloads` empty. An adapter that cannot ignores it. @default false
   */
  payloadJson?: boolean;
  signal?: AbortSignal;
}

/** How one snapshot was captured (manifest `capture`): the mode, and whether it is one consistent engine view. */
export interface CaptureInfo {
  /** `scan`: a full snapshot; `pgoutput`, `timestamp`, `fingerprint-diff`: an incremental link. */
  mode: 'scan' | 'pgoutput' | 'timestamp' | 'fingerprint-diff';
  /** True: the state of one engine view (a commit boundary); false: a scan window (fuzzy). */
  exact: boolean;
  /** Why this mode, when it is not the adapter's best (e.g. the parent started no change feed). */
  reason?: string;
}

/** What `planCapture` decides for one collection. */
export interface CapturePlan {
  mode: 'native' | 'timestamp' | 'digest' | 'none';
  /** Why the collection gets less than the adapter's best, or why none. */
  reason?: string;
}

/** One change of a change feed, in commit order; the core keeps the last change per id. */
export type Change =
  | {
      op: 'upsert';
      record: VectorRecord;
      /**
       * Vector fields the engine did not send because they did not change (a TOASTed PostgreSQL
       * column under REPLICA IDENTITY DEFAULT); their value in `record` is null and the core fills
       * them from the chain (the newest earlier value of this id).
       */
      unchanged?: readonly string[];
    }
  | { op: 'delete'; id: Id };

/**
 * One incremental link's worth of changes from a change feed (`captureChanges`). Nothing the engine
 * keeps for the feed is released until `commit` (after the link's manifest is durable), so a crash
 * anywhere before it loses nothing: the rerun reads the same changes again.
 */
export interface ChangeSession {
  /** The collection's schema now; the core breaks the chain when it differs from the parent's. */
  readonly schema: CollectionSchema;
  readonly capture: CaptureInfo;
  /** Changes since the parent's checkpoint, up to a point fixed when the session opened. */
  changes(): AsyncIterable<readonly Change[]>;
  /**
   * For a feed that cannot see deletes (modification times): every id the collection holds now,
   * read after `changes()` ended; the core deletes the chain's ids that are not among them.
   */
  ids?(): AsyncIterable<readonly Id[]>;
  /**
   * Optional, after `changes()` ended: the records of `ids` as the engine holds them in one state
   * between the parent's checkpoint and the link's end (PostgreSQL: a snapshot taken before the
   * link's end marker). The core asks only for ids whose final change left fields unsent
   * (`Change.unchanged`), and takes only those fields, which no change of the link altered; ids
   * missing from the answer are filled from the chain's segments instead (slower: whole segments).
   */
  fill?(ids: readonly Id[]): Promise<VectorRecord[]>;
  /** After `changes()` ended: where the next link starts, and the engine time this link is complete up to (ISO-8601). */
  end(): { checkpoint: Checkpoint; watermark: string };
  /** The link is durable: release what the engine keeps before `checkpoint` (advance the slot). Idempotent. */
  commit(checkpoint: Checkpoint): Promise<void>;
  close(): Promise<void>;
}

/** How far a change feed is behind, and what it pins (`captureStatus`). */
export interface CaptureStatus {
  /** Whether the feed exists (a slot, a publication). */
  exists: boolean;
  /** Bytes of engine history kept for the feed (PostgreSQL: WAL behind the slot's confirmed position). */
  retainedBytes?: number;
  /** Engine words for the feed's health (PostgreSQL `wal_status`: reserved, extended, unreserved, lost). */
  health?: string;
  /** Bytes that may still be written before the feed is invalidated; undefined when unlimited. */
  safeBytes?: number;
  warnings: string[];
}

/**
 * A consistent read of one collection: `schema`, `checkpoint`, `estimatedRows` and every batch come
 * from one point-in-time view. Always `close()` it (also on error).
 */
export interface ScanSession {
  readonly schema: CollectionSchema;
  readonly checkpoint: Checkpoint | undefined;
  /** True when every row comes from one consistent engine view (PostgreSQL REPEATABLE READ); else the scan is a window. */
  readonly consistent?: boolean;
  /** Row count at the snapshot point when cheap to get, else an estimate or undefined. */
  readonly estimatedRows: number | undefined;
  batches(): AsyncIterable<RecordBatch>;
  close(): Promise<void>;
}

/**
 * A range of a collection's primary key in the engine's key order: `lo` inclusive, `hi` exclusive,
 * `null` unbounded. Bounds are the key's text form, as the engine prints and parses it.
 */
export interface KeyRange {
  lo: string | null;
  hi: string | null;
}

/**
 * One consistent engine view that other processes can join (PostgreSQL: a REPEATABLE READ
 * transaction's `pg_export_snapshot()`), open until `close()`: every distributed snapshot worker
 * scans its key range in it (`scanRange`), so the parts add up to one point in time.
 */
export interface ExportedView {
  /** What a worker passes to `scanRange` (PostgreSQL: the snapshot id, `00000003-0000001B-1`). */
  readonly id: string;
  readonly schema: CollectionSchema;
  readonly checkpoint: Checkpoint | undefined;
  /** Rows in the view when cheap to get, else an estimate. */
  readonly estimatedRows: number;
  /** `parts` ranges that tile the key space in order, about equal in rows of this view (some may be empty). */
  split(parts: number): Promise<KeyRange[]>;
  /** Ends the view: a worker that has not started its scan by then fails with VIEW_EXPIRED. */
  close(): Promise<void>;
}

export interface RangeScanOptions extends ScanOptions {
  /** `ExportedView.id` of the view to read. */
  view: string;
  range: KeyRange;
}

export interface CreateOptions {
  /** Build secondary/vector indexes now, or leave them to `buildIndexes` after loading (faster restores). */
  indexes: 'now' | 'deferred';
  signal?: AbortSignal;
  /**
   * Set by a restore: whether text recorded in the manifest that the engine would execute or
   * interpret (SQL expressions of a table definition, Weaviate module configuration) may be applied,
   * and where to list what was not. Absent outside a restore: the schema is the caller's own.
   */
  definitions?: DefinitionGate;
}

/** One thing a restore converted, dropped or could not recreate (docs/format.md, decision 7). */
export interface NotCarriedOver {
  what: 'value' | 'column' | 'index' | 'definition' | 'setting';
  /** What it is, e.g. `hnsw index on "embedding"`. */
  name: string;
  reason: string;
  action: 'converted' | 'dropped' | 'not-recreated';
}

/**
 * The restore's one trust gate (docs/format.md, decision 6; `src/restore/trust.ts`): a manifest is
 * untrusted input unless it is authenticated (an encrypted repository's seal) or the caller opted in
 * (`trustDefinitions`). Adapters ask it before they apply recorded executable text.
 */
export interface DefinitionGate {
  /** Executable text from the manifest may be applied. */
  readonly trusted: boolean;
  /** True when `name` may be applied; otherwise lists it as not recreated (the manifest is not authenticated) and returns false. */
  allows(what: NotCarriedOver['what'], name: string): boolean;
  /** Lists something the adapter did not recreate as recorded, or converted. */
  report(entry: NotCarriedOver): void;
}

export interface WriteOptions {
  /** `insert` on a collection the restore created and owns (fast path); `upsert` otherwise (idempotent). */
  mode: 'insert' | 'upsert';
  /** Opaque restore progress marker committed with (atomicMarker) or after the rows. */
  marker?: string;
  signal?: AbortSignal;
}

export interface SearchOptions {
  /** Which vector field; defaults to the first. */
  vector?: string;
  /** Exact (brute-force) search instead of the index. */
  exact?: boolean;
  /**
   * Search effort of an approximate index: the candidate list size of HNSW (`ef`), raised to at
   * least k. Each adapter maps it to its engine's knob for this one search: pgvector
   * `SET LOCAL hnsw.ef_search` (at most 1000) and `ivfflat.probes = ceil(effort / 10)` (at most the
   * lists), Milvus `ef` / `nprobe` the same way, Qdrant `params.hnsw_ef`. Where the engine has no
   * per-query knob (`capabilities.searchEffort: 'collection'`, Weaviate) it is the collection's
   * setting and this is ignored. @default the engine's own default (pgvector's `hnsw.ef_search` is 40)
   */
  effort?: number;
  signal?: AbortSignal;
}

/**
 * The dense float32 vector of a query, for an adapter that searches only those: a `Float32Array` or
 * `{ dense: Float32Array }`; any other kind is `UNSUPPORTED_OPERATION` naming the engine.
 *
 * @example
 * async search(collection: string, query: Float32Array | VectorQuery, k: number) {
 *   const vector = denseQuery(query, 'qdrant');
 *   // ...
 * }
 */
export function denseQuery(query: Float32Array | VectorQuery, plugin: string): Float32Array {
  if (query instanceof Float32Array) return query;
  if ('dense' in query && query.dense instanceof Float32Array) return query.dense;
  const kind = 'dense' in query ? `dense ${(query.dense as ElementVector).element}` : 'sparse' in query ? 'sparse' : 'multi';
  throw new UnsupportedOperationError(`${plugin} searches dense float32 vectors only, not a ${kind} query.`, { plugin, details: { kind } });
}

/** The IVF lists to probe for a search effort (docs/architecture.md, "Verify search recall"). */
export function probesForEffort(effort: number, lists: number): number {
  return Math.max(1, Math.min(lists, Math.ceil(effort / 10)));
}

export interface SearchHit {
  id: Id;
  /** Engine-reported distance or score, in the engine's convention. */
  score: number;
}

export interface ProbeResult {
  reachable: boolean;
  role: 'primary' | 'standby' | 'unknown';
  /** Replay lag of a standby, in milliseconds. */
  lagMs?: number;
  latencyMs: number;
  engineVersion?: string;
  error?: string;
}

export interface IndexBuildReport {
  built: { kind: string; field: string; ms: number }[];
  /** Indexes that could not be recreated as recorded, with the reason. */
  skipped: {
    kind: string;
    field: string;
    reason: string;
    /** An index, or a setting that goes with the field (a vectorizer). @default 'index' */
    what?: 'index' | 'setting';
    /** `converted`: built as another kind or with other settings (the reason says which); `not-recreated`: no index; `dropped`: a setting left out. @default 'not-recreated' */
    action?: 'converted' | 'not-recreated' | 'dropped';
  }[];
}

export interface VectorAdapter {
  readonly engine: EngineName;
  readonly capabilities: AdapterCapabilities;

  /**
   * Throws `INVALID_IDENTIFIER` when `name` cannot name a collection on this engine, saying what to
   * do (e.g. restore with `target: 'docs_v2'`). `use` is `'create'` for a collection a restore will
   * create (the engine's rules for new names), `'read'` for one that exists (snapshot, verify). The
   * core calls it with every collection name an operation is given, before anything is read,
   * created or dropped; without it, names reach the engine unchecked.
   */
  checkCollectionName?(name: string, use: 'read' | 'create'): void;
  /** Schema of an existing collection. Throws `COLLECTION_NOT_FOUND`. */
  describe(collection: string): Promise<CollectionSchema>;
  exists(collection: string): Promise<boolean>;
  /** Opens a consistent scan (see `ScanSession`). */
  scan(collection: string, options: ScanOptions): Promise<ScanSession>;
  /**
   * Throws what `create(schema)` would throw for reasons known in advance (unsupported metric, too
   * many dimensions, types it cannot store). The restore core calls it before it creates or drops
   * anything, so a `replace` restore never drops the old collection and then fails.
   */
  preflightCreate?(schema: CollectionSchema): void | Promise<void>;
  /** Creates `schema.name` with the recorded schema. Fails if it exists. */
  create(schema: CollectionSchema, options: CreateOptions): Promise<void>;
  /** Builds the indexes recorded in `schema` on an existing collection. */
  buildIndexes(collection: string, schema: CollectionSchema, options?: { signal?: AbortSignal }): Promise<IndexBuildReport>;
  /** Writes a batch. Validates vectors (dims, finite) before sending anything. */
  write(collection: string, batch: RecordBatch, options: WriteOptions): Promise<void>;
  /**
   * Writes the batches in order as one atomic unit committed with `options.marker` (adapters with
   * `atomicMarker`): all of them or none. Each batch is validated before any of its rows is sent. A
   * restore passes several segments at once (fewer commits), pulling the next one while the engine
   * ingests the rows already sent. Without it, the restore calls `write` once per segment.
   */
  writeBatches?(collection: string, batches: AsyncIterable<RecordBatch>, options: WriteOptions): Promise<void>;
  readMarker(collection: string): Promise<string | undefined>;
  writeMarker(collection: string, marker: string | undefined): Promise<void>;
  /**
   * Throws what writing records of `schema` into the existing `collection` would refuse for reasons
   * known before any record is read: a field the collection requires that the snapshot does not
   * have (a NOT NULL column without a default). The restore core calls it after its own comparison
   * of the two schemas (`checkAppendable`), before it writes anything.
   */
  preflightAppend?(collection: string, schema: CollectionSchema): void | Promise<void>;
  /**
   * Upserts every record of `source` into `target` and drops `source`, as one atomic step: when the
   * target refuses any record (a CHECK or unique constraint, a trigger), it is left exactly as it
   * was, and the error names `target`. With it, a restore into an existing collection loads a
   * staging collection first (resumable, like any restore) and merges it at the end; without it,
   * the restore upserts into the target directly.
   */
  merge?(source: string, target: string): Promise<void>;
  /**
   * Atomically makes `source` known as `target`; with `replace`, an existing `target` is dropped in
   * the same step. Implement it only when the engine really does this atomically: its presence is
   * the capability. With it, a restore into a new name or with `ifExists: 'replace'` loads a staging
   * collection and swaps it in (never half-visible); without it, the restore writes into the target
   * directly, and `replace` means drop, then load.
   */
  swap?(source: string, target: string, options: { replace: boolean }): Promise<void>;
  /**
   * After the rows are in and before the swap, on a collection the restore created: what of the
   * recorded definition depends on the rows (a sequence's next value past every restored id), and
   * the list, through `options.definitions`, of what the definition has that was not recreated.
   * Called by every run of a restore, a resumed one too.
   */
  finishCreate?(collection: string, schema: CollectionSchema, options: CreateOptions): Promise<void>;
  drop(collection: string): Promise<void>;
  delete(collection: string, ids: Id[]): Promise<void>;
  count(collection: string): Promise<number>;
  fetch(collection: string, ids: Id[]): Promise<VectorRecord[]>;
  /**
   * The k nearest records to `query`: a dense float32 vector as a plain `Float32Array` (what every
   * adapter takes), or a {@link VectorQuery} of any kind the adapter declares in
   * `capabilities.vectorKinds` (`{ dense }` of another element, `{ sparse }`, `{ multi }`). An
   * adapter given a kind it does not search throws `UNSUPPORTED_OPERATION` ({@link denseQuery}).
   */
  search(collection: string, query: Float32Array | VectorQuery, k: number, options?: SearchOptions): Promise<SearchHit[]>;
  probe(): Promise<ProbeResult>;
  /** What change capture `collection` gets (`capabilities.changeCapture` is the best case). */
  planCapture?(collection: string): Promise<CapturePlan>;
  /**
   * Opens the changes since `from` (a checkpoint this adapter wrote: a link's, or a scan's with
   * `startCapture`). Throws `CHAIN_BROKEN` (details.reason: `truncate`, `schema-changed`,
   * `capture-lost`, …) when the changes cannot be read completely; the core then starts a new chain.
   */
  captureChanges?(collection: string, from: Checkpoint, options: { captureId: string; signal?: AbortSignal }): Promise<ChangeSession>;
  /** How far the feed of `captureId` lags and what it pins. */
  captureStatus?(captureId: string): Promise<CaptureStatus>;
  /** Drops the feed of `captureId` (slot, publication); nothing when there is none. */
  dropCapture?(captureId: string): Promise<void>;
  /**
   * Distributed snapshots (docs/architecture.md, "Distributed snapshot"): opens a view of
   * `collection` other processes can join. With `scanRange`, its presence is the capability; an
   * engine without it (no exported snapshot) cannot take a distributed snapshot.
   */
  exportView?(collection: string, options?: { signal?: AbortSignal }): Promise<ExportedView>;
  /** A scan of the keys of `options.range`, in key order, inside the exported view `options.view` (VIEW_EXPIRED once it closed). */
  scanRange?(collection: string, options: RangeScanOptions): Promise<ScanSession>;
  /** Human-readable endpoint without credentials (recorded in manifests). */
  describeEndpoint(): Promise<{ engineVersion: string; extensionVersion?: string; endpoint: string }>;
  close?(): Promise<void>;
}
