/**
 * Restore: manifest -> preflight (schema, capabilities, every segment present with the right size)
 * -> create a staging collection -> write segment by segment with a progress marker -> build indexes
 * -> swap into place. The target is never half-written: until the swap, it is untouched; with
 * `ifExists: 'replace'` the old collection is dropped in the same atomic step as the swap.
 *
 * Resume: the marker ("vectordr-restore/v1 <snapshot> <segment> <rows> <i|u>") says that segments
 * before <segment> (1-based) are complete and the first <rows> rows of <segment> are committed, and
 * whether rows go in by insert (a collection this restore created) or upsert (an existing one). A
 * rerun of the same restore continues after it, whatever write batch size it uses.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type IndexBuildReport, type NotCarriedOver, type VectorAdapter, maxDimsFor } from '../adapter.js';
import {
  ConflictError,
  IntegrityError,
  InvalidInputError,
  PermissionError,
  UnsupportedOperationError,
  VectordrError,
  isVectordrError,
  throwIfAborted,
} from '../errors.js';
import type { BucketDigest } from '../format/digest.js';
import type { Manifest, SegmentRef } from '../format/manifest.js';
import { definitionParts } from '../format/table-definition.js';
import { filterBatch, sliceBatch } from '../format/rows.js';
import { decodeSegment, segmentLayout } from '../format/segment-codec.js';
import {
  type CollectionSchema,
  type Metric,
  MetricSchema,
  type RecordBatch,
  type RecordOp,
  VectorElementSchema,
  describeKind,
} from '../model.js';
import { type VectorPlan, planVectors } from './vector-plan.js';
import { checkSparseLimits, checkSparseRows, undecidedSparseFields } from './sparse-rows.js';
import { type FoldPlan, beforeFirstSnapshot, checkFoldDigest, keptRowsOf, planFold, resolveChain } from '../chain/chain.js';
import { ProgressReporter } from '../progress.js';
import type { RepositoryLock } from '../repository/locks.js';
import { type RestoreStore, segmentSizeError } from '../repository/ports.js';
import { checkAppendable } from '../schema-compat.js';
import { checkCollectionDigest, checkRecordDigests, collectionAccumulator } from './record-check.js';
import { operationOptions, parseOptions } from '../options.js';
import { definitionGate } from './trust.js';

/** Default of `commitBytes`: 16 segments of the default 4 MiB; each commit is a WAL flush and a marker update. */
const GROUP_BYTES = 64 * 1024 * 1024;

export const RestoreOptionsSchema = z.strictObject({
  /** Collection name the snapshot was taken of. */
  collection: z.string().min(1),
  /** Snapshot id, or 'latest'. A link of a chain restores the state it records (the chain folded up to it). @default 'latest' */
  snapshot: z.string().default('latest'),
  /**
   * Point in time: the newest snapshot (full or link) whose watermark is at or before this time;
   * a string is a snapshot id (the same as `snapshot`). Restores only states a manifest records,
   * never a time between two snapshots. Overrides `snapshot`.
   */
  at: z.union([z.date(), z.string().min(1)]).optional(),
  /** Name to restore into. @default the snapshot's collection name */
  target: z.string().min(1).optional(),
  /**
   * What to do when the target exists:
   * - `fail`: refuse if it holds any rows (an empty table of a compatible schema is filled);
   * - `replace`: restore beside it, then atomically swap (the old data survives until the new is complete);
   * - `append`: upsert the snapshot's rows into it (schemas must be compatible).
   * @default 'fail' — never destroy data without being told to.
   */
  ifExists: z.enum(['fail', 'replace', 'append']).default('fail'),
  /**
   * Metric for vector fields the snapshot records none for (a pgvector column without an index):
   * engines that need one to index a vector (Milvus, Qdrant, Weaviate) otherwise refuse the
   * restore, since vectordr never picks a metric silently. A decision about this restore, so it is
   * a restore option; the adapters' own `metricForUnindexed` is its former place (read until 0.5).
   */
  metricForUnindexed: MetricSchema.exclude(['unspecified']).optional(),
  /** Rebuild the recorded indexes after loading. @default true */
  buildIndexes: z.boolean().default(true),
  /** Rows per write call; the adapter may write a whole segment in one transaction. @default 0 (one write per segment) */
  writeBatchRows: z.number().int().min(0).default(0),
  /**
   * Segment bytes committed as one unit, on engines whose marker commits with the rows and that
   * take several batches at once (pgvector): fewer, larger transactions load faster, and the engine
   * ingests one segment while the next is decoded; a crash redoes at most this much. Memory does not
   * grow with it (the segments stream through one at a time). 0 commits every segment on its own;
   * ignored when `writeBatchRows` is set. @default 67108864 (64 MiB)
   */
  commitBytes: z.number().int().min(0).default(GROUP_BYTES),
  /**
   * Hold a shared repository lock while reading, so prune cannot delete the snapshot under the
   * restore. Set false for read-only credentials (then do not prune while restoring). @default true
   */
  lock: z.boolean().default(true),
  /**
   * Vector fields to store as another element than the snapshot's (docs/format.md, "Vector kinds"):
   * names a conversion the restore otherwise refuses, e.g. `{ embedding: 'float16' }` into an engine
   * without float32, or a lossy narrowing. Exact widenings (float16, bfloat16, uint8, int8 → float32)
   * need no option. Every conversion is listed in `notCarriedOver[]`. @default {}
   */
  convertVectors: z.record(z.string(), VectorElementSchema).optional(),
  /** Vector fields to leave out, e.g. a sparse vector the target engine cannot store; listed in `notCarriedOver[]`. @default [] */
  omitVectors: z.array(z.string().min(1)).optional(),
  /**
   * Apply the SQL text a plaintext repository's manifest records (column defaults, generated
   * columns, CHECK constraints, partition bounds) and engine configuration (Weaviate modules).
   * A manifest of an encrypted repository is authenticated and applied without it; a plaintext one
   * is anyone's who can write to the storage, so by default its text is never executed and the
   * result lists it in `notCarriedOver`. Set it for a repository only you can write. @default false
   */
  trustDefinitions: z.boolean().default(false),
  ...operationOptions,
});
export type RestoreOptions = z.input<typeof RestoreOptionsSchema>;

export interface RestoreResult {
  snapshot: string;
  target: string;
  rows: number;
  segments: number;
  /** True when this run continued an interrupted restore. */
  resumed: boolean;
  timings: { loadMs: number; indexMs: number; totalMs: number };
  indexes: { built: { kind: string; field: string; ms: number }[]; skipped: { kind: string; field: string; reason: string }[] };
  /**
   * What the snapshot recorded that the target does not have as recorded, with the reason: an index
   * the target engine cannot build (converted or not recreated), or one an existing target lacks (a
   * restore into an existing collection builds no index). Empty when everything was carried over.
   */
  notCarriedOver: NotCarriedOver[];
}

export type { NotCarriedOver } from '../adapter.js';

/** The parts of another engine's table definition, which a cross-engine restore does not carry over. */
function foreignDefinition(manifest: Manifest, engine: string): NotCarriedOver[] {
  const definition = manifest.schema.definition;
  if (definition === undefined) return [];
  return definitionParts(definition).map((part) => ({
    what: 'definition',
    name: part.name,
    reason: `part of the ${manifest.source.engine} table definition, which ${engine} has no equivalent for`,
    action: 'dropped',
  }));
}

/** Collection-level settings of another engine (`schema.native`), which a cross-engine restore drops. */
function foreignSettings(manifest: Manifest, engine: string): NotCarriedOver[] {
  return Object.keys(manifest.schema.native ?? {}).map((key) => ({
    what: 'setting',
    name: key,
    reason: `a ${manifest.source.engine} collection setting, which ${engine} has no equivalent for; the restore keeps what the neutral schema holds`,
    action: 'dropped',
  }));
}

/** The restore result's entries for the indexes an adapter's `buildIndexes` skipped. */
function skippedIndexes(skipped: IndexBuildReport['skipped']): NotCarriedOver[] {
  return skipped.map((s) =>
    s.what === 'setting'
      ? { what: 'setting', name: `${s.kind} of ${JSON.stringify(s.field)}`, reason: s.reason, action: s.action ?? 'dropped' }
      : { what: 'index', name: `${s.kind} index on ${JSON.stringify(s.field)}`, reason: s.reason, action: s.action ?? 'not-recreated' },
  );
}

/**
 * The recorded indexes an existing target has no index for on the same field. A restore into an
 * existing collection keeps the target's indexes as they are and builds none, so these stay missing:
 * vector indexes always (every engine describes them), payload indexes when the target is of the
 * snapshot's engine (engines without separate payload indexes describe none).
 */
function missingOnTarget(existing: CollectionSchema, schema: CollectionSchema, sameEngine: boolean): NotCarriedOver[] {
  const target = JSON.stringify(existing.name);
  const out: NotCarriedOver[] = [];
  for (const ix of schema.indexes) {
    const vector = schema.vectors.some((v) => v.name === ix.field);
    if (!vector && !sameEngine) continue;
    if (existing.indexes.some((e) => e.field === ix.field && e.params.unsupported === undefined)) continue;
    out.push({
      what: 'index',
      name: `${ix.kind} index on ${JSON.stringify(ix.field)}`,
      reason:
        `the restore went into the existing ${target}, which has no index on ` +
        `${JSON.stringify(ix.field)}; a restore into an existing collection keeps its indexes as ` +
        `they are and builds none${vector ? ', so search scans every vector' : ''}. Create the ` +
        `index on ${target}, or restore with ifExists: 'replace' to get the recorded indexes`,
      action: 'not-recreated',
    });
  }
  return out;
}

const MARKER_PREFIX = 'vectordr-restore/v1';
/** Restores of a chain: `<segment>` counts the segments of every link, full snapshot first (docs/format.md, "Restore marker v2"). */
const MARKER_PREFIX_V2 = 'vectordr-restore/v2';

export interface Marker {
  /** v2: a chain restore (segments numbered across the links). */
  chain: boolean;
  snapshot: string;
  /** 1-based segment in progress; 0 = nothing written yet. */
  segment: number;
  /** Rows of that segment already committed. */
  rows: number;
  mode: 'insert' | 'upsert';
}

export function formatMarker(m: Marker): string {
  return `${m.chain ? MARKER_PREFIX_V2 : MARKER_PREFIX} ${m.snapshot} ${m.segment} ${m.rows} ${m.mode === 'insert' ? 'i' : 'u'}`;
}

function parseMarker(s: string | undefined): Marker | undefined {
  const m = s ? /^vectordr-restore\/v([12]) ([0-9A-Z]{26}) (\d+) (\d+) ([iu])$/.exec(s) : null;
  return m
    ? { chain: m[1] === '2', snapshot: m[2] as string, segment: Number(m[3]), rows: Number(m[4]), mode: m[5] === 'i' ? 'insert' : 'upsert' }
    : undefined;
}

/** Deterministic staging name, so a rerun finds the staging collection of an interrupted restore. */
export function stagingName(target: string, snapshotId: string): string {
  const h = createHash('sha256').update(`${target}\0${snapshotId}`).digest('hex').slice(0, 10);
  // At most 36 bytes of the target (whole characters), so the name fits engines' 63-byte limits.
  let prefix = '';
  for (const ch of target) {
    if (Buffer.byteLength(prefix + ch, 'utf8') > 36) break;
    prefix += ch;
  }
  return `${prefix}_vdr_${h}`;
}

/** Refuses restores the target engine cannot represent faithfully. */
export function checkTargetSupports(adapter: VectorAdapter, schema: CollectionSchema): void {
  if (!adapter.capabilities.idTypes.includes(schema.idType)) {
    throw new UnsupportedOperationError(
      `${adapter.engine} cannot store ${schema.idType} ids (it supports ` + `${adapter.capabilities.idTypes.join(', ')}).`,
      { plugin: adapter.engine },
    );
  }
  if (schema.vectors.length > 1 && !adapter.capabilities.namedVectors) {
    throw new UnsupportedOperationError(`${adapter.engine} stores one vector per record; the snapshot has ${schema.vectors.length}.`, {
      plugin: adapter.engine,
    });
  }
  for (const v of schema.vectors) {
    // By kind and element: pgvector's bit(n) holds far more bits than vector(n) floats; a sparse count is no dense limit.
    const max = maxDimsFor(adapter.capabilities, v);
    if (v.dims !== undefined && max !== undefined && v.dims > max) {
      throw new InvalidInputError(
        'DIMENSION_MISMATCH',
        `Vector ${JSON.stringify(v.name)} (${describeKind(v)}) has ${v.dims} dimensions; ${adapter.engine} accepts at most ${max} for it.`,
        { plugin: adapter.engine, details: { field: v.name, dims: v.dims, max } },
      );
    }
  }
}

/** `schema` with `metric` given to every vector field that records none (restore option `metricForUnindexed`). */
function withMetricForUnindexed(schema: CollectionSchema, metric: Exclude<Metric, 'unspecified'> | undefined): CollectionSchema {
  if (metric === undefined || schema.vectors.every((v) => v.metric !== 'unspecified')) return schema;
  return { ...schema, vectors: schema.vectors.map((v) => (v.metric === 'unspecified' ? { ...v, metric } : v)) };
}

/** `schema` with the engine's own type declarations of the fields (and id) an existing collection has. */
function withFieldTypesOf(existing: CollectionSchema, schema: CollectionSchema): CollectionSchema {
  const payload = new Map(existing.payload.map((p) => [p.name, p.nativeType]));
  const vectors = new Map(existing.vectors.map((v) => [v.name, v.nativeType]));
  return {
    ...schema,
    idNativeType: existing.idNativeType ?? schema.idNativeType,
    payload: schema.payload.map((p) => ({ ...p, nativeType: payload.get(p.name) ?? p.nativeType })),
    vectors: schema.vectors.map((v) => ({ ...v, nativeType: vectors.get(v.name) ?? v.nativeType })),
  };
}

/** Every segment exists with the recorded size: a missing or truncated one fails before any write. */
export async function preflight(repo: RestoreStore, manifest: Manifest, flat: readonly FlatSegment[], signal?: AbortSignal): Promise<void> {
  for (const { ref } of flat) {
    throwIfAborted(signal);
    const size = await repo.statSegment(ref);
    if (size === undefined)
      throw new IntegrityError(
        'SEGMENT_MISSING',
        `Segment ${ref.key} of snapshot ${manifest.id} is missing; nothing was restored. Run ` +
          `repo.verify() and restore an older snapshot.`,
        { details: { key: ref.key } },
      );
    if (size !== repo.storedSize(ref))
      throw segmentSizeError(ref, repo.storedSize(ref), size, `; nothing of snapshot ${manifest.id} was restored`);
  }
}

/** What a restore of `manifest` into `adapter` creates, decided before anything is written. */
export interface TargetPlan {
  target: string;
  /** The target is of the snapshot's engine: native type declarations and the table definition apply. */
  sameEngine: boolean;
  vectorPlan: VectorPlan;
  /** The target's schema: the vector plan applied, named `target`, native parts only for the same engine. */
  schema: CollectionSchema;
}

/**
 * Plans the target of a restore: each vector field against the kinds the target stores, and the
 * checks of the target's name and limits. Throws before anything is created.
 */
export function planTarget(
  manifest: Manifest,
  adapter: VectorAdapter,
  opts: Pick<z.output<typeof RestoreOptionsSchema>, 'target' | 'metricForUnindexed' | 'convertVectors' | 'omitVectors'>,
): TargetPlan {
  const target = opts.target ?? manifest.collection;
  // Native type declarations only mean something to the engine that wrote them.
  const sameEngine = manifest.source.engine === adapter.engine;
  const recorded = withMetricForUnindexed(manifest.schema, opts.metricForUnindexed);
  // Each vector field against the kinds the target stores: as is, widened exactly, or as the caller named; else refused here.
  const vectorPlan = planVectors({ ...recorded, name: target }, adapter.capabilities.vectorKinds, adapter.engine, opts);
  const planned = vectorPlan.schema;
  const schema: CollectionSchema = sameEngine
    ? { ...planned, name: target }
    : {
        ...planned,
        name: target,
        idNativeType: undefined,
        native: undefined,
        definition: undefined,
        payload: planned.payload.map(({ nativeType: _n, ...p }) => p),
        vectors: planned.vectors.map(({ nativeType: _n, ...v }) => v),
      };
  adapter.checkCollectionName?.(target, 'create');
  checkTargetSupports(adapter, schema);
  return { target, sameEngine, vectorPlan, schema };
}

/**
 * The end (exclusive) of the commit group that starts at `k`: the segments after it join while the
 * group's stored bytes stay within `limit`; a group holds at least one segment.
 */
export function groupEnd(bytes: readonly number[], k: number, limit: number): number {
  let end = k + 1;
  let total = bytes[k] as number;
  while (end < bytes.length && total + (bytes[end] as number) <= limit) total += bytes[end++] as number;
  return end;
}

/**
 * Reads one segment of a restore: fetched (hash-checked by the store), decoded, every record digest
 * recomputed against the stored one (added to `acc` when given), sparse rows checked, and the
 * vector plan applied. Vectors (dims, finite values) are validated by the adapter's write.
 */
export async function readRestoreSegment(
  repo: Pick<RestoreStore, 'getSegment'>,
  m: Manifest,
  ref: SegmentRef,
  vectorPlan: VectorPlan,
  acc: BucketDigest | undefined,
  signal: AbortSignal | undefined,
): Promise<RecordBatch & { ops?: RecordOp[] }> {
  const decoded = decodeSegment(segmentLayout(m.schema), await repo.getSegment(ref, signal), ref.key, { rows: ref.rows });
  if (m.kind === 'full' && decoded.ops.some((op) => op !== 'upsert')) {
    throw new IntegrityError(
      'SEGMENT_CORRUPT',
      `Segment ${ref.key} of full snapshot ${m.id} contains delete rows; the snapshot is inconsistent.`,
    );
  }
  checkRecordDigests(m, decoded, ref.key, acc);
  checkSparseRows(decoded.batch, m.schema.vectors, ref.key);
  return vectorPlan.apply(decoded.batch);
}

/** The restore result's `notCarriedOver`: conversions, skipped indexes, the caller's `extra`, and another engine's settings. */
export function restoreNotes(
  manifest: Manifest,
  engine: string,
  plan: Pick<TargetPlan, 'sameEngine' | 'vectorPlan'>,
  indexes: RestoreResult['indexes'],
  extra: readonly NotCarriedOver[],
): NotCarriedOver[] {
  return [
    ...plan.vectorPlan.report(),
    ...skippedIndexes(indexes.skipped),
    ...extra,
    ...(plan.sameEngine ? [] : [...foreignSettings(manifest, engine), ...foreignDefinition(manifest, engine)]),
  ];
}

export async function restoreSnapshot(repo: RestoreStore, adapter: VectorAdapter, options: RestoreOptions): Promise<RestoreResult> {
  const opts = parseOptions(RestoreOptionsSchema, options, 'restore');
  const { signal } = opts;
  let lock: RepositoryLock | undefined;
  try {
    lock = opts.lock ? await repo.lock({ exclusive: false, operation: `restore ${opts.collection}`, signal }) : undefined;
  } catch (err) {
    if (isVectordrError(err, 'ACCESS_DENIED')) {
      throw new PermissionError(
        'ACCESS_DENIED',
        `${err.reason} A restore only needs to write its ` +
          `lock; with read-only credentials, restore with { lock: false } (and do not prune ` +
          `meanwhile).`,
        { cause: err, plugin: err.plugin },
      );
    }
    throw err;
  }
  try {
    return await restoreUnderLock(repo, adapter, opts);
  } finally {
    await lock?.release();
  }
}

async function restoreUnderLock(
  repo: RestoreStore,
  adapter: VectorAdapter,
  opts: z.output<typeof RestoreOptionsSchema>,
): Promise<RestoreResult> {
  const { signal } = opts;
  const progress = new ProgressReporter('restore', opts.onProgress);
  const read =
    opts.at instanceof Date
      ? await manifestAt(repo, opts.collection, opts.at, signal)
      : await repo.readManifest(opts.collection, opts.at ?? opts.snapshot);
  // A link restores the state it records: its chain folded up to it, each id's newest row.
  const chain = read.kind === 'incremental' ? await resolveChain(repo, read, signal) : [read];
  // Links record no table definition: the chain's full snapshot's is the table's (a schema change
  // breaks a chain); its sequence state is older, and the restore sets sequences past every id anyway.
  const first = chain[0]?.schema.definition;
  const manifest =
    read.schema.definition === undefined && first !== undefined ? { ...read, schema: { ...read.schema, definition: first } } : read;
  const isChain = chain.length > 1;
  const flat: FlatSegment[] = chain.flatMap((m, link) => m.segments.map((ref, index) => ({ link, index, ref, manifest: m })));
  let fold: FoldPlan | undefined;
  if (isChain) {
    fold = await planFold(repo, chain, signal);
    try {
      checkFoldDigest(manifest, fold.digest, `Restore of ${manifest.id}`);
    } catch (err) {
      await fold.superseded.close();
      throw err;
    }
  }
  try {
    return await restoreManifest(repo, adapter, opts, { manifest, isChain, flat, fold, progress });
  } finally {
    await fold?.superseded.close();
  }
}

/** One segment of the snapshot or chain being restored, in load order (full snapshot first). */
export interface FlatSegment {
  link: number;
  index: number;
  ref: SegmentRef;
  manifest: Manifest;
}

/** The newest snapshot of `collection` complete at `at` (its watermark, or for a plain full snapshot its start, is not after it). */
export async function manifestAt(repo: RestoreStore, collection: string, at: Date, signal?: AbortSignal): Promise<Manifest> {
  const refs = await repo.snapshotRefs({ collection, ...(signal ? { signal } : {}) });
  if (refs.length === 0) throw await repo.noSnapshotError(collection, signal);
  let first: string | undefined;
  for (let i = refs.length - 1; i >= 0; i--) {
    throwIfAborted(signal);
    const m = await repo.readManifest(collection, (refs[i] as { id: string }).id);
    if (Date.parse(m.watermark ?? m.createdAt) <= at.getTime()) return m;
    first = m.id;
  }
  throw beforeFirstSnapshot(collection, at, first);
}

async function restoreManifest(
  repo: RestoreStore,
  adapter: VectorAdapter,
  opts: z.output<typeof RestoreOptionsSchema>,
  plan: { manifest: Manifest; isChain: boolean; flat: FlatSegment[]; fold: FoldPlan | undefined; progress: ProgressReporter },
): Promise<RestoreResult> {
  const { signal } = opts;
  const { manifest, isChain, flat, fold, progress } = plan;
  const expectedRows = fold ? fold.rows : manifest.rows.upserts;
  const { target, sameEngine, vectorPlan, schema } = planTarget(manifest, adapter, opts);
  // Everything the target engine can refuse about this schema, before anything is created or dropped.
  await adapter.preflightCreate?.(schema);
  progress.totalRows = expectedRows;
  progress.totalSegments = flat.length;
  progress.emit('start');
  await preflight(repo, manifest, flat, signal);
  // Sparse fields without a declared count into an engine that limits it: only the rows can tell, read before anything is created.
  await checkSparseLimits(repo, flat, undecidedSparseFields(schema, adapter.capabilities), adapter.engine, signal);

  // Decide where rows go, and whether an interrupted run of this same restore is to be resumed.
  // Into an existing target (append, or fail into an empty one) an engine with merge() loads a
  // staging collection and merges it in one atomic step at the end; one with an atomic swap loads a
  // new collection into staging and swaps it in; any other engine writes into the target directly.
  const targetExists = await adapter.exists(target);
  const into = targetExists && opts.ifExists !== 'replace';
  const merge = into && adapter.merge !== undefined;
  const swap = !into && adapter.swap !== undefined;
  const useStaging = merge || swap;
  const writeInto = useStaging ? stagingName(target, manifest.id) : target;
  const swapInto = swap ? { replace: targetExists } : undefined;
  let resumeFrom: Marker | undefined;
  let mode: Marker['mode'] = 'insert';
  const gate = definitionGate({ authenticated: repo.manifestsAuthenticated === true, trustDefinitions: opts.trustDefinitions });

  if (await adapter.exists(writeInto)) {
    const marker = parseMarker(await adapter.readMarker(writeInto));
    if (marker?.snapshot === manifest.id && marker.chain === isChain) {
      resumeFrom = marker;
      mode = marker.mode;
    } else if (useStaging) {
      await adapter.drop(writeInto); // our deterministic name, but not this restore's: start clean
    } else if (opts.ifExists === 'replace') {
      // No atomic swap on this engine: the only way to replace is drop, then load.
      await adapter.drop(target);
    }
  }
  // Everything known in advance about an existing target, before anything is written (a direct
  // append being resumed was checked by the run that started it, and holds its own rows since).
  let stagingSchema = schema;
  const existing = into ? await adapter.describe(target) : undefined;
  const notCarriedOver = existing ? missingOnTarget(existing, schema, sameEngine) : [];
  if (existing && (useStaging || resumeFrom === undefined)) {
    checkAppendable(existing, schema);
    // A merge copies staging into the target inside the engine: staging takes the target's own
    // field types, so each value is converted once, as a direct write into the target would, and
    // never again by an implicit cast between two engine types (timestamptz -> timestamp shifts by
    // the session's zone; text -> numeric is refused only after the whole load).
    if (merge) stagingSchema = withFieldTypesOf(existing, schema);
    // An existing target keeps its own definition: staging holds rows, nothing else.
    stagingSchema = { ...stagingSchema, definition: undefined };
    await adapter.preflightAppend?.(target, schema);
    if (opts.ifExists === 'fail' && (await adapter.count(target)) > 0) {
      throw new ConflictError(
        'TARGET_NOT_EMPTY',
        `Target ${JSON.stringify(target)} already holds rows; pass ifExists: 'replace' (swap in ` +
          `the snapshot) or 'append' (upsert into it), or restore under another name with target.`,
        { plugin: adapter.engine },
      );
    }
    if (!useStaging) {
      mode = 'upsert';
      await adapter.writeMarker(writeInto, formatMarker({ chain: isChain, snapshot: manifest.id, segment: 0, rows: 0, mode }));
    }
  }
  if (!(await adapter.exists(writeInto))) {
    await adapter.create({ ...stagingSchema, name: writeInto }, { indexes: 'deferred', signal, definitions: gate });
    mode = 'insert';
    resumeFrom = undefined;
    await adapter.writeMarker(writeInto, formatMarker({ chain: isChain, snapshot: manifest.id, segment: 0, rows: 0, mode }));
  }

  let loaded = false;
  try {
    return await load();
  } catch (err) {
    // A staging collection is kept for resume after an abort or a transient failure; after a
    // permanent one (corrupt segment, bad data) it is dropped so nothing half-restored lingers.
    // Once every row is in, a failing index build or swap keeps the staging collection (rerun resumes).
    // A merge the target refuses drops the staging collection too: a refusal leaves nothing behind.
    const resumable = err instanceof VectordrError && (err.category === 'aborted' || err.category === 'transient');
    if (useStaging && !resumable && (!loaded || merge)) await adapter.drop(writeInto).catch(() => undefined);
    // A direct append (an engine without merge) that failed for good keeps no marker on the user's
    // collection: a rerun starts over (the writes are upserts) instead of resuming a refused run.
    if (!useStaging && into && !resumable && !loaded) await adapter.writeMarker(target, undefined).catch(() => undefined);
    throw err;
  }

  async function load(): Promise<RestoreResult> {
    const loadStart = performance.now();
    const skipRowsOf = (s: number): number => {
      const ref = (flat[s] as FlatSegment).ref;
      return !resumeFrom || s + 1 > resumeFrom.segment ? 0 : s + 1 === resumeFrom.segment ? resumeFrom.rows : ref.rows;
    };
    // Every row of a full snapshot read from the first segment on: its digests must add up to the manifest's.
    const whole = !isChain && resumeFrom === undefined ? collectionAccumulator(manifest) : undefined;
    /** Reads, checks and decodes one segment. */
    const readSegment = (s: number): Promise<RecordBatch & { ops?: RecordOp[] }> => {
      const { ref, manifest: m } = flat[s] as FlatSegment;
      return readRestoreSegment(repo, m, ref, vectorPlan, whole, signal);
    };
    const todo = flat.map((_, s) => s).filter((s) => skipRowsOf(s) < (flat[s] as FlatSegment).ref.rows);
    let uncertain = resumeFrom !== undefined && !adapter.capabilities.atomicMarker;
    const pending = new Set(todo);
    let rows = flat.reduce((n, f, s) => (pending.has(s) ? n : n + f.ref.rows), 0);
    // Rows of a chain that the folded state holds (not deleted, not superseded), in load order.
    const keptRowsOfChain = fold ? keptRowsOf(fold) : undefined;
    const keptRows = async (s: number, batch: RecordBatch & { ops?: RecordOp[] }): Promise<Uint8Array | undefined> => {
      const { link, index } = flat[s] as FlatSegment;
      return keptRowsOfChain?.(link, index, batch.length, batch.ops);
    };
    // One segment read ahead: the next is read and decoded while the engine ingests the current one.
    // Writes stay strictly in order, so the marker always describes a prefix of the snapshot.
    const prefetch = (k: number): Promise<RecordBatch> | undefined => {
      if (k >= todo.length) return undefined;
      const p = readSegment(todo[k] as number);
      p.catch(() => undefined); // observed when awaited; never an unhandled rejection meanwhile
      return p;
    };
    let next = prefetch(0);
    /** The k-th segment of todo, decoded, and the read-ahead of the one after it started. */
    const take = async (k: number): Promise<RecordBatch> => {
      const batch = await (next as Promise<RecordBatch>);
      next = prefetch(k + 1);
      return batch;
    };
    const segmentDone = (s: number, length: number): void => {
      const ref = (flat[s] as FlatSegment).ref;
      rows += length;
      progress.rows = rows;
      progress.segments = s + 1;
      progress.bytes += ref.bytes;
      progress.emit('segment');
    };
    // Grouped commits: segments of up to `commitBytes` go to the engine as one atomic unit with the
    // marker of its last segment (so the marker still describes a prefix), streamed: the engine
    // ingests segment N while N+1 is read, decoded and encoded. Needs a marker committed with the rows.
    const grouped = adapter.writeBatches !== undefined && adapter.capabilities.atomicMarker && opts.writeBatchRows === 0;
    const todoBytes = todo.map((s) => (flat[s] as FlatSegment).ref.bytes);
    for (let k = 0; grouped && k < todo.length;) {
      throwIfAborted(signal);
      const end = groupEnd(todoBytes, k, opts.commitBytes);
      const group = todo.slice(k, end);
      const first = k;
      const last = group.at(-1) as number;
      const lastRef = (flat[last] as FlatSegment).ref;
      const marker = formatMarker({ chain: isChain, snapshot: manifest.id, segment: last + 1, rows: lastRef.rows, mode });
      async function* parts(): AsyncGenerator<RecordBatch> {
        for (let g = 0; g < group.length; g++) {
          throwIfAborted(signal);
          const s = group[g] as number;
          const ref = (flat[s] as FlatSegment).ref;
          const batch = await take(first + g);
          // The marker of the group names its last segment's row count: a segment must hold what the manifest says.
          if (batch.length !== ref.rows) {
            throw new IntegrityError(
              'SEGMENT_CORRUPT',
              `Segment ${ref.key} holds ${batch.length} rows; the manifest records ${ref.rows}. Run repo.verify().`,
              { details: { key: ref.key } },
            );
          }
          const keep = await keptRows(s, batch);
          const start = skipRowsOf(s);
          let part = start === 0 ? batch : sliceBatch(batch, start, batch.length);
          if (keep) part = filterBatch(part, keep.subarray(start, batch.length));
          yield part;
        }
      }
      await (adapter.writeBatches as NonNullable<VectorAdapter['writeBatches']>)(writeInto, parts(), { mode, marker, signal });
      for (const s of group) {
        progress.rows = rows + (flat[s] as FlatSegment).ref.rows;
        progress.emit('write');
        segmentDone(s, (flat[s] as FlatSegment).ref.rows);
      }
      k = end;
    }
    for (let k = 0; !grouped && k < todo.length; k++) {
      throwIfAborted(signal);
      const s = todo[k] as number;
      const batch = await take(k);
      const keep = await keptRows(s, batch);
      const per = opts.writeBatchRows > 0 ? opts.writeBatchRows : batch.length;
      for (let start = skipRowsOf(s); start < batch.length; start += per) {
        const end = Math.min(batch.length, start + per);
        let part = start === 0 && end === batch.length ? batch : sliceBatch(batch, start, end);
        if (keep) part = filterBatch(part, keep.subarray(start, end));
        const marker = formatMarker({ chain: isChain, snapshot: manifest.id, segment: s + 1, rows: end, mode });
        // Without an atomic marker the batch after the marker may already be stored (crash between
        // the write and the marker): resend it as an upsert, so engines that keep duplicate keys
        // on insert (Milvus) do not store it twice.
        const writeMode = uncertain ? 'upsert' : mode;
        uncertain = false;
        if (part.length > 0) await adapter.write(writeInto, part, { mode: writeMode, marker, signal });
        if (!adapter.capabilities.atomicMarker || part.length === 0) await adapter.writeMarker(writeInto, marker);
        progress.rows = rows + end;
        progress.emit('write');
      }
      segmentDone(s, batch.length);
    }
    throwIfAborted(signal);
    if (whole) checkCollectionDigest(manifest, whole);
    rows = expectedRows;
    const loadMs = performance.now() - loadStart;
    // Into a collection this restore created, fewer rows than the snapshot holds means two ids
    // landed on one record (an id mapping collided, or the engine folded ids): refuse, never report success.
    if (mode === 'insert' && !useStaging && resumeFrom === undefined) {
      const stored = await adapter.count(writeInto);
      if (stored < expectedRows) {
        throw new IntegrityError(
          'ID_COLLISION',
          `${JSON.stringify(writeInto)} holds ${stored} records after loading ` +
            `${expectedRows}: ids of snapshot ${manifest.id} collided in ${adapter.engine} ` +
            `(two ids stored as one). Run verifyParity to see which; restore into an engine that keeps ` +
            `these ids apart.`,
          {
            plugin: adapter.engine,
            details: { stored, expected: expectedRows },
          },
        );
      }
    }
    loaded = true;

    // The definition's parts that depend on the rows (sequences past every restored id), on a collection this restore made.
    if (mode === 'insert' && !merge)
      await adapter.finishCreate?.(writeInto, { ...stagingSchema, name: writeInto }, { indexes: 'deferred', signal, definitions: gate });
    const indexStart = performance.now();
    let indexes: RestoreResult['indexes'] = { built: [], skipped: [] };
    const alreadyIndexed = resumeFrom !== undefined && resumeFrom.segment > flat.length;
    // Rows merged into an existing target are indexed by the target's own indexes.
    if (opts.buildIndexes && mode === 'insert' && !merge && !alreadyIndexed) {
      progress.emit('index');
      indexes = await adapter.buildIndexes(writeInto, { ...schema, name: writeInto }, { signal });
    }
    // Segment N+1 means "loaded and indexed": a rerun after a failed swap only repeats the swap.
    await adapter.writeMarker(writeInto, formatMarker({ chain: isChain, snapshot: manifest.id, segment: flat.length + 1, rows: 0, mode }));
    const indexMs = performance.now() - indexStart;

    progress.emit('commit');
    if (swapInto) await adapter.swap?.(writeInto, target, swapInto);
    if (merge) await adapter.merge?.(writeInto, target);
    await adapter.writeMarker(target, undefined);
    progress.emit('done');
    repo.logger.info({ snapshot: manifest.id, target, rows, resumed: resumeFrom !== undefined }, 'restore complete');
    return {
      snapshot: manifest.id,
      target,
      rows,
      segments: flat.length,
      resumed: resumeFrom !== undefined,
      timings: { loadMs: Math.round(loadMs), indexMs: Math.round(indexMs), totalMs: Math.round(progress.elapsedMs) },
      indexes,
      notCarriedOver: restoreNotes(manifest, adapter.engine, { sameEngine, vectorPlan }, indexes, [...notCarriedOver, ...gate.reported]),
    };
  }
}
