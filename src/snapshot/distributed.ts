/**
 * A full snapshot taken by N independent workers (processes, or the pods of a Kubernetes Indexed
 * Job) under one consistent engine view, committed as one ordinary manifest
 * (docs/architecture.md, "Distributed snapshot"):
 *
 * 1. the coordinator opens the view (`adapter.exportView`: a PostgreSQL exported snapshot), splits
 *    the key space into ranges, writes the plan under `plans/<id>/plan.json`, and keeps the view
 *    and a shared repository lock until the commit;
 * 2. each worker scans its range in that view (`adapter.scanRange`) through the ordinary snapshot
 *    flow (`snapshotUnderLock`: the same segment cut, digests, encoding and stores) and records its
 *    part — segments in key order, rows, bucket sums — under `plans/<id>/part-<i>.json`;
 * 3. the coordinator checks every part against the plan, adds the bucket sums, confirms every
 *    segment is stored, and commits one manifest create-only.
 */
import type { z } from 'zod';
import type { ExportedView, KeyRange, ScanOptions, ScanSession, VectorAdapter } from '../adapter.js';
import { ConflictError, InvalidInputError, IntegrityError, UnsupportedOperationError, isVectordrError } from '../errors.js';
import { BucketDigest } from '../format/digest.js';
import { newSnapshotId, planKey, assertPlanId } from '../format/keys.js';
import { FORMAT_VERSION, type Manifest, type SegmentRef, snapshotFeatures } from '../format/manifest.js';
import { CollectionSchemaSchema } from '../model.js';
import { parseOptions } from '../options.js';
import type { RepositoryLock } from '../repository/locks.js';
import type { DistributedStore, SnapshotStore } from '../repository/ports.js';
import { confirmBeforeCommit } from './commit.js';
import {
  type SnapshotPart,
  SnapshotPartSchema,
  type SnapshotPlan,
  SnapshotPlanSchema,
  assertPartOf,
  assertTiling,
  awaitParts,
  recordPartFailure,
  waitForPlanObject,
  parsePlanObject,
} from './distributed-plan.js';
import { CommitSnapshotOptionsSchema, PlanSnapshotOptionsSchema, SnapshotPartOptionsSchema } from './distributed-options.js';
import type { CommitSnapshotOptions, PlanSnapshotOptions, SnapshotPartOptions, SnapshotPartResult } from './distributed-options.js';
import { SnapshotOptionsSchema, type SnapshotResult, segmentRowsFor } from './snapshot-options.js';
import { snapshotUnderLock } from './snapshot.js';

export type { SnapshotPart, SnapshotPlan } from './distributed-plan.js';

/** The adapter of a distributed snapshot: one that can export a view and scan ranges in it. */
type DistributedAdapter = VectorAdapter & Required<Pick<VectorAdapter, 'exportView' | 'scanRange'>>;

function requireDistributed(adapter: VectorAdapter): DistributedAdapter {
  if (typeof adapter.exportView !== 'function' || typeof adapter.scanRange !== 'function') {
    throw new UnsupportedOperationError(
      `The ${adapter.engine} adapter cannot take a distributed snapshot: it has no exported view (capability ` +
        `exportView/scanRange), so workers could not read one state. Take a plain snapshot (repo.snapshot), ` +
        `whose scan is ${adapter.engine === 'pgvector' ? 'one transaction' : 'a window'} (docs/architecture.md, "Distributed snapshot").`,
      { details: { capability: 'exportView', engine: adapter.engine } },
    );
  }
  return adapter as DistributedAdapter;
}

/**
 * Opens the view and writes the plan. Keep the returned coordinator until `commit()` (or `close()`):
 * it holds the view the workers join and the lock that keeps prune off their segments.
 */
export async function planSnapshot(
  store: DistributedStore,
  adapter: VectorAdapter,
  collection: string,
  options: PlanSnapshotOptions,
): Promise<SnapshotCoordinator> {
  const o = parseOptions(PlanSnapshotOptionsSchema, options, 'planSnapshot');
  const a = requireDistributed(adapter);
  a.checkCollectionName?.(collection, 'read');
  const id = o.planId ?? newSnapshotId();
  assertPlanId(id);
  const lock = await store.lock({ exclusive: false, operation: `snapshot ${collection} (plan ${id}, coordinator)`, signal: o.signal });
  let view: ExportedView | undefined;
  try {
    view = await a.exportView(collection, o.signal ? { signal: o.signal } : {});
    const ranges = await view.split(o.workers);
    assertTiling(ranges, `plan ${id}`);
    const plan: SnapshotPlan = {
      type: 'vectordr-snapshot-plan',
      version: 1,
      id,
      collection,
      engine: a.engine,
      view: view.id,
      createdAt: new Date().toISOString(),
      workers: o.workers,
      ranges,
      schema: view.schema,
      checkpoint: view.checkpoint ?? null,
      buckets: store.buckets,
      options: { segmentBytes: o.segmentBytes, vectorCompression: o.vectorCompression },
      tags: o.tags,
    };
    try {
      await store.putPlanObject(planKey(id, 'plan'), plan, { create: true });
    } catch (err) {
      if (!isVectordrError(err, 'KEY_EXISTS')) throw err;
      throw new ConflictError(
        'PLAN_INVALID',
        `Plan ${id} exists already in ${store.location}: a plan id is used once (its view died with its coordinator). ` +
          `Start the run again under a new id; the segments already stored are reused.`,
        { cause: err, details: { plan: id } },
      );
    }
    store.logger.info({ plan: id, collection, workers: o.workers, ranges: ranges.length, rows: view.estimatedRows }, 'snapshot planned');
    return new SnapshotCoordinator(store, a, plan, view, lock);
  } catch (err) {
    await view?.close();
    await lock.release();
    throw err;
  }
}

/** Holds a plan's view and lock; `commit()` waits for the parts and commits the one manifest. */
export class SnapshotCoordinator {
  readonly #started = performance.now();
  #closed = false;

  constructor(
    private readonly store: DistributedStore,
    private readonly adapter: DistributedAdapter,
    /** The plan the workers read (by `plan.id` from the repository, or passed to them as it is). */
    readonly plan: SnapshotPlan,
    private readonly view: ExportedView,
    private readonly lock: RepositoryLock,
  ) {}

  /** Parts that are recorded so far, by index. */
  async parts(): Promise<Map<number, SnapshotPart>> {
    const out = new Map<number, SnapshotPart>();
    for (let i = 0; i < this.plan.ranges.length; i++) {
      const part = await readPart(this.store, this.plan, i);
      if (part) out.set(i, part);
    }
    return out;
  }

  /**
   * Waits until every part is recorded, checks them against the plan and commits one full-snapshot
   * manifest; then ends the view, releases the lock and deletes the plan's objects.
   */
  async commit(options: CommitSnapshotOptions = {}): Promise<SnapshotResult> {
    const o = parseOptions(CommitSnapshotOptionsSchema, options, 'commit');
    if (this.#closed) throw new ConflictError('PLAN_INVALID', `Plan ${this.plan.id} was already committed or closed.`);
    try {
      const parts = await this.#waitForParts(o);
      const result = await this.#commitParts(parts, o.signal);
      await this.close();
      for (let i = 0; i < this.plan.ranges.length; i++) {
        await this.store.deletePlanObject(planKey(this.plan.id, { part: i })).catch(() => undefined);
        await this.store.deletePlanObject(planKey(this.plan.id, { failed: i })).catch(() => undefined);
      }
      await this.store.deletePlanObject(planKey(this.plan.id, 'plan')).catch(() => undefined);
      return result;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Ends the view and releases the lock without committing (idempotent). Workers not yet scanning then fail with VIEW_EXPIRED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.view.close();
    } finally {
      await this.lock.release();
    }
  }

  #waitForParts(o: z.output<typeof CommitSnapshotOptionsSchema>): Promise<SnapshotPart[]> {
    const { plan, store } = this;
    return awaitParts(
      store,
      this.lock,
      plan.id,
      plan.ranges.length,
      (i) => readPart(store, plan, i),
      (i) => planKey(plan.id, { failed: i }),
      o,
      'nothing was committed',
    );
  }

  async #commitParts(parts: readonly SnapshotPart[], signal: AbortSignal | undefined): Promise<SnapshotResult> {
    const { plan, store } = this;
    assertTiling(
      parts.map((p) => p.range),
      `plan ${plan.id}`,
    );
    parts.forEach((p, i) => assertPartOf(plan, p, i, planKey(plan.id, { part: i })));
    const acc = new BucketDigest(plan.buckets);
    for (const p of parts) acc.merge(BucketDigest.fromJSON(p.digest));
    const segments: SegmentRef[] = parts.flatMap((p) => p.segments);
    const rows = parts.reduce((n, p) => n + p.rows, 0);
    const sum = (k: 'scanMs' | 'encodeMs' | 'storeMs'): number => Math.round(parts.reduce((n, p) => n + p.timings[k], 0));
    const endpoint = await this.adapter.describeEndpoint();
    const manifest: Manifest = {
      formatVersion: FORMAT_VERSION,
      features: snapshotFeatures(plan.schema),
      id: newSnapshotId(),
      kind: 'full',
      parent: null,
      collection: plan.collection,
      createdAt: plan.createdAt,
      completedAt: new Date().toISOString(),
      source: { engine: this.adapter.engine, ...endpoint, normalizesCosine: this.adapter.capabilities.normalizesCosine === true },
      schema: plan.schema,
      segments,
      rows: { upserts: rows, deletes: 0 },
      digest: { algorithm: 'sha256-bucket-sum', ...acc.toJSON() },
      checkpoint: plan.checkpoint,
      // Worker time summed over the parts (the work done), and the plan's wall time.
      timings: {
        scanMs: sum('scanMs'),
        encodeMs: sum('encodeMs'),
        storeMs: sum('storeMs'),
        totalMs: Math.round(performance.now() - this.#started),
      },
      tags: plan.tags,
    };
    await confirmBeforeCommit(store, this.lock, segments, signal);
    await store.commitManifest(manifest);
    const uploadedSegments = parts.reduce((n, p) => n + p.uploadedSegments, 0);
    const uploadedBytes = parts.reduce((n, p) => n + p.uploadedBytes, 0);
    store.logger.info(
      { snapshot: manifest.id, plan: plan.id, collection: plan.collection, rows, segments: segments.length },
      'snapshot committed',
    );
    return {
      manifest,
      kind: 'full',
      uploadedSegments,
      reusedSegments: segments.length - uploadedSegments,
      uploadedBytes,
      reusedBytes: segments.reduce((n, s) => n + s.bytes, 0) - uploadedBytes,
    };
  }
}

async function readPart(store: DistributedStore, plan: SnapshotPlan, index: number): Promise<SnapshotPart | undefined> {
  const key = planKey(plan.id, { part: index });
  const value = await store.getPlanObject(key);
  return value === undefined ? undefined : parsePlanObject(SnapshotPartSchema, value, key);
}

/** Reads a plan by id (a worker given only the id, as in a Kubernetes Indexed Job). */
export async function readPlan(store: DistributedStore, planId: string): Promise<SnapshotPlan | undefined> {
  const key = planKey(planId, 'plan');
  const value = await store.getPlanObject(key);
  return value === undefined ? undefined : parsePlanObject(SnapshotPlanSchema, value, key);
}

/**
 * Worker `index` of a plan: scans its key range in the plan's view through the ordinary snapshot
 * flow, stores its segments under a shared lock and records its part. A worker whose index is past
 * the plan's ranges (fewer distinct keys than workers) has nothing to do. Rerunning a part is safe:
 * its segments are content-addressed, and the part object is replaced.
 */
export async function snapshotPart(
  store: DistributedStore,
  adapter: VectorAdapter,
  planOrId: SnapshotPlan | string,
  index: number,
  options: SnapshotPartOptions,
): Promise<SnapshotPartResult> {
  const o = parseOptions(SnapshotPartOptionsSchema, options, 'snapshotPart');
  const a = requireDistributed(adapter);
  const plan = typeof planOrId === 'string' ? await waitForPlan(store, planOrId, o.waitForPlanMs, o.signal) : planOrId;
  if (!Number.isInteger(index) || index < 0 || index >= plan.workers) {
    throw new InvalidInputError('INVALID_ARGUMENT', `Part index ${index} is not one of plan ${plan.id}'s 0..${plan.workers - 1}.`);
  }
  if (a.engine !== plan.engine) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `Plan ${plan.id} is of a ${plan.engine} collection; this worker's adapter is ${a.engine}.`,
    );
  }
  const range = plan.ranges[index];
  if (range === undefined) return { plan: plan.id, index, skipped: true };
  const failedKey = planKey(plan.id, { failed: index });
  await store.deletePlanObject(failedKey).catch(() => undefined);
  const started = performance.now();
  try {
    const lock = await store.lock({
      exclusive: false,
      operation: `snapshot ${plan.collection} (plan ${plan.id}, part ${index})`,
      signal: o.signal,
    });
    try {
      const opts = parseOptions(
        SnapshotOptionsSchema,
        {
          segmentBytes: plan.options.segmentBytes,
          vectorCompression: plan.options.vectorCompression,
          batchSize: segmentRowsFor(plan.schema, plan.options.segmentBytes),
          deltaIndex: false,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        },
        'snapshotPart',
      );
      let recorded: Manifest | undefined;
      const result = await snapshotUnderLock(
        partStore(store, (m) => (recorded = m)),
        rangedAdapter(a, plan, range),
        plan.collection,
        opts,
        lock,
        {},
      );
      const m = recorded ?? result.manifest;
      const part: SnapshotPart = {
        type: 'vectordr-snapshot-part',
        version: 1,
        plan: plan.id,
        index,
        view: plan.view,
        range,
        segments: m.segments,
        rows: m.rows.upserts,
        digest: { buckets: m.digest.buckets, counts: m.digest.counts, sums: m.digest.sums },
        timings: { ...m.timings, totalMs: Math.round(performance.now() - started) },
        uploadedSegments: result.uploadedSegments,
        uploadedBytes: result.uploadedBytes,
        completedAt: new Date().toISOString(),
      };
      // Recorded under the lock: the coordinator's lock covers the segments from here to the commit.
      await lock.assertHeld();
      await store.putPlanObject(planKey(plan.id, { part: index }), part);
      store.logger.info({ plan: plan.id, index, rows: part.rows, segments: part.segments.length }, 'snapshot part recorded');
      return { plan: plan.id, index, skipped: false, part };
    } finally {
      await lock.release();
    }
  } catch (err) {
    await recordPartFailure(store, failedKey, 'vectordr-snapshot-part-failure', index, err);
    throw err;
  }
}

function waitForPlan(store: DistributedStore, planId: string, waitMs: number, signal: AbortSignal | undefined): Promise<SnapshotPlan> {
  return waitForPlanObject(
    planId,
    () => readPlan(store, planId),
    waitMs,
    signal,
    (waited) =>
      `No plan ${planId} in ${store.location} ${waited}: its coordinator has not written it, or committed and removed it ` +
      `already. Start the coordinator first (repo.planSnapshot), or pass its plan id.`,
  );
}

/**
 * The repository as the snapshot flow sees it, except that the manifest it would commit is handed
 * to `record` instead: a part is a snapshot of its range that only the coordinator commits.
 */
function partStore(store: SnapshotStore, record: (m: Manifest) => void): SnapshotStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'commitManifest') return (m: Manifest) => Promise.resolve(record(m));
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** The adapter as the snapshot flow sees it, except that a scan reads the part's range in the plan's view. */
function rangedAdapter(adapter: DistributedAdapter, plan: SnapshotPlan, range: KeyRange): VectorAdapter {
  const scan = async (collection: string, options: ScanOptions): Promise<ScanSession> => {
    const session = await adapter.scanRange(collection, { ...options, view: plan.view, range });
    // Both through the same schema parser, so equal schemas serialise alike. The table definition is
    // the coordinator's alone (its sequence state is read once, in the view); a part records none.
    const { definition: _definition, ...planShape } = plan.schema;
    if (JSON.stringify(CollectionSchemaSchema.parse(session.schema)) !== JSON.stringify(planShape)) {
      await session.close();
      throw new IntegrityError(
        'PLAN_INVALID',
        `The schema of ${plan.collection} changed since plan ${plan.id} was made (a column added or altered); nothing of this part ` +
          `was stored. Start a new plan.`,
        { details: { plan: plan.id } },
      );
    }
    return session;
  };
  return new Proxy(adapter, {
    get(target, prop) {
      if (prop === 'scan') return scan;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}
