/**
 * A restore loaded by N independent workers (processes, or the pods of a Kubernetes Indexed Job)
 * into one staging collection, swapped in once by a coordinator (docs/architecture.md, "Distributed
 * restore"):
 *
 * 1. the coordinator checks everything a restore checks before writing (schema, vector plan, every
 *    segment present with its size), creates the staging collection without indexes, splits the
 *    snapshot's segments into spans of about equal rows and writes the plan under
 *    `plans/<id>/restore.json`; it keeps a shared repository lock until the swap;
 * 2. each worker loads its span into the staging collection in groups of `commitBytes`, each group
 *    one transaction, re-checking every record digest, and records its progress after each group
 *    (`plans/<id>/restored-<i>.json`); a rerun continues after the last recorded group and writes
 *    the first group again as upserts (it may have committed before its progress was recorded);
 * 3. the coordinator waits for every part, adds their digests up to the manifest's collection
 *    digest, counts the rows, builds the indexes once and swaps the staging collection in.
 *
 * The target is untouched until the swap. Only a full snapshot, into an engine with an atomic swap.
 */
import type { z } from 'zod';
import type { NotCarriedOver, VectorAdapter } from '../adapter.js';
import { ConflictError, IntegrityError, InvalidInputError, UnsupportedOperationError, isVectordrError, throwIfAborted } from '../errors.js';
import { BucketDigest } from '../format/digest.js';
import { assertPlanId, newSnapshotId, planKey } from '../format/keys.js';
import type { Manifest } from '../format/manifest.js';
import type { RecordBatch } from '../model.js';
import { parseOptions } from '../options.js';
import { ProgressReporter } from '../progress.js';
import type { RepositoryLock } from '../repository/locks.js';
import type { PlanObjects, RestoreStore } from '../repository/ports.js';
import { awaitParts, parsePlanObject, recordPartFailure, waitForPlanObject } from '../snapshot/distributed-plan.js';
import {
  CommitRestoreOptionsSchema,
  PlanRestoreOptionsSchema,
  type RestorePart,
  type RestorePartResult,
  RestorePartSchema,
  type RestorePlan,
  RestorePlanSchema,
  RestorePartOptionsSchema,
  splitSegments,
} from './distributed-restore-plan.js';
import type { CommitRestoreOptions, PlanRestoreOptions, RestorePartOptions } from './distributed-restore-plan.js';
import { checkCollectionDigest } from './record-check.js';
import {
  type RestoreResult,
  type TargetPlan,
  formatMarker,
  groupEnd,
  manifestAt,
  planTarget,
  preflight,
  readRestoreSegment,
  restoreNotes,
  stagingName,
} from './restore.js';
import { checkSparseLimits, undecidedSparseFields } from './sparse-rows.js';
import { definitionGate } from './trust.js';

export type { RestorePart, RestorePlan } from './distributed-restore-plan.js';

export type DistributedRestoreStore = RestoreStore & PlanObjects;

/** The staging collection's marker while a plan loads it: a single-process restore does not resume from it (it starts clean). */
function planMarker(plan: Pick<RestorePlan, 'snapshot' | 'id'>): string {
  return `vectordr-restore/v3 ${plan.snapshot} plan ${plan.id}`;
}

/** The marker that says "every row loaded and indexed": a rerun (of either kind of restore) only swaps. */
function loadedMarker(m: Manifest): string {
  return formatMarker({ chain: false, snapshot: m.id, segment: m.segments.length + 1, rows: 0, mode: 'insert' });
}

function requireSwap(adapter: VectorAdapter): asserts adapter is VectorAdapter & Required<Pick<VectorAdapter, 'swap'>> {
  if (typeof adapter.swap !== 'function') {
    throw new UnsupportedOperationError(
      `The ${adapter.engine} adapter cannot take a distributed restore: it has no atomic swap (capability swap), so the ` +
        `workers' rows would be visible half-loaded. Restore with repo.restore.`,
      { details: { capability: 'swap', engine: adapter.engine } },
    );
  }
}

async function readManifestOfPlan(store: DistributedRestoreStore, plan: RestorePlan): Promise<Manifest> {
  const m = await store.readManifest(plan.collection, plan.snapshot);
  if (m.kind !== 'full') {
    throw new IntegrityError('PLAN_INVALID', `Plan ${plan.id} names ${plan.snapshot}, which is not a full snapshot.`, {
      details: { plan: plan.id },
    });
  }
  return m;
}

function recorded(list: readonly NotCarriedOver[], e: NotCarriedOver): boolean {
  return list.some((x) => x.what === e.what && x.name === e.name && x.action === e.action);
}

/** What the workers and the coordinator decide alike from the plan: the same vector plan, the same schema. */
function targetOfPlan(m: Manifest, adapter: VectorAdapter, plan: RestorePlan): TargetPlan {
  return planTarget(m, adapter, { ...plan.options, target: plan.target });
}

/**
 * Checks, creates the staging collection and writes the plan (or, given the id of a plan whose
 * coordinator died, takes it over). Keep the returned coordinator until `commit()`.
 */
export async function planRestore(
  store: DistributedRestoreStore,
  adapter: VectorAdapter,
  options: PlanRestoreOptions,
): Promise<RestoreCoordinator> {
  const o = parseOptions(PlanRestoreOptionsSchema, options, 'planRestore');
  requireSwap(adapter);
  if (o.ifExists === 'append') {
    throw new UnsupportedOperationError(
      `A distributed restore loads a new collection and swaps it in; it cannot append into ${JSON.stringify(o.target ?? o.collection)}. ` +
        `Restore with repo.restore({ ifExists: 'append' }).`,
    );
  }
  const id = o.planId ?? newSnapshotId();
  assertPlanId(id);
  const { signal } = o;
  const lock = await store.lock({ exclusive: false, operation: `restore ${o.collection} (plan ${id}, coordinator)`, signal });
  try {
    const existing = await store.getPlanObject(planKey(id, 'restore'));
    if (existing !== undefined)
      return await resumePlan(store, adapter, parsePlanObject(RestorePlanSchema, existing, planKey(id, 'restore')), o, lock);
    const m =
      o.at instanceof Date
        ? await manifestAt(store, o.collection, o.at, signal)
        : await store.readManifest(o.collection, o.at ?? o.snapshot);
    if (m.kind !== 'full') {
      throw new UnsupportedOperationError(
        `Snapshot ${m.id} is a link of a chain; a distributed restore loads full snapshots only (a chain's rows fold into one ` +
          `state in order). Restore it with repo.restore, or fold the chain first (repo.fold) and restore the full snapshot.`,
        { details: { snapshot: m.id } },
      );
    }
    const tp = planTarget(m, adapter, o);
    await adapter.preflightCreate?.(tp.schema);
    const flat = m.segments.map((ref, index) => ({ link: 0, index, ref, manifest: m }));
    await preflight(store, m, flat, signal);
    await checkSparseLimits(store, flat, undecidedSparseFields(tp.schema, adapter.capabilities), adapter.engine, signal);
    const targetExists = await adapter.exists(tp.target);
    if (targetExists && o.ifExists === 'fail') {
      throw new ConflictError(
        'TARGET_EXISTS',
        `Target ${JSON.stringify(tp.target)} exists; a distributed restore swaps a new collection in. Pass ifExists: 'replace' ` +
          `(the old collection survives until the swap), or restore under another name with target.`,
        { plugin: adapter.engine },
      );
    }
    // The plan's own staging collection: no other plan (or single-process restore) ever writes or drops it.
    const staging = stagingName(tp.target, `${m.id} plan ${id}`);
    if (await adapter.exists(staging)) await adapter.drop(staging); // ours by name, left by a run that died before its plan was written
    const gate = definitionGate({ authenticated: store.manifestsAuthenticated === true, trustDefinitions: o.trustDefinitions });
    await adapter.create({ ...tp.schema, name: staging }, { indexes: 'deferred', signal, definitions: gate });
    const plan: RestorePlan = {
      type: 'vectordr-restore-plan',
      version: 1,
      id,
      collection: m.collection,
      snapshot: m.id,
      engine: adapter.engine,
      target: tp.target,
      staging,
      ifExists: o.ifExists,
      createdAt: new Date().toISOString(),
      workers: o.workers,
      parts: splitSegments(
        m.segments.map((s) => s.rows),
        o.workers,
      ),
      created: [...gate.reported],
      options: {
        commitBytes: o.commitBytes,
        trustDefinitions: o.trustDefinitions,
        buildIndexes: o.buildIndexes,
        ...(o.metricForUnindexed === undefined ? {} : { metricForUnindexed: o.metricForUnindexed }),
        ...(o.convertVectors === undefined ? {} : { convertVectors: o.convertVectors }),
        ...(o.omitVectors === undefined ? {} : { omitVectors: o.omitVectors }),
      },
    };
    await adapter.writeMarker(staging, planMarker(plan));
    try {
      await store.putPlanObject(planKey(id, 'restore'), plan, { create: true });
    } catch (err) {
      await adapter.drop(staging).catch(() => undefined);
      if (!isVectordrError(err, 'KEY_EXISTS')) throw err;
      throw new ConflictError('PLAN_INVALID', `Plan ${id} was written meanwhile by another coordinator; use another plan id.`, {
        cause: err,
        details: { plan: id },
      });
    }
    store.logger.info({ plan: id, snapshot: m.id, target: tp.target, parts: plan.parts.length, rows: m.rows.upserts }, 'restore planned');
    return new RestoreCoordinator(store, adapter, plan, m, tp, lock, false, false);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** A coordinator planning again under an existing plan's id: the same restore, continued. */
async function resumePlan(
  store: DistributedRestoreStore,
  adapter: VectorAdapter & Required<Pick<VectorAdapter, 'swap'>>,
  plan: RestorePlan,
  o: z.output<typeof PlanRestoreOptionsSchema>,
  lock: RepositoryLock,
): Promise<RestoreCoordinator> {
  const asked =
    o.at instanceof Date
      ? plan.collection === o.collection
        ? (await manifestAt(store, o.collection, o.at, o.signal)).id
        : undefined
      : (o.at ?? o.snapshot);
  const same =
    plan.collection === o.collection &&
    plan.target === (o.target ?? o.collection) &&
    plan.engine === adapter.engine &&
    plan.workers === o.workers &&
    plan.ifExists === o.ifExists &&
    plan.options.trustDefinitions === o.trustDefinitions &&
    plan.options.buildIndexes === o.buildIndexes &&
    (asked === 'latest' || asked === plan.snapshot);
  if (!same) {
    throw new ConflictError(
      'PLAN_INVALID',
      `Plan ${plan.id} exists already for another restore (${plan.collection} ${plan.snapshot} into ${plan.target}, ` +
        `${plan.workers} workers, ifExists ${plan.ifExists}, trustDefinitions ${plan.options.trustDefinitions}, buildIndexes ` +
        `${plan.options.buildIndexes}, ${plan.engine}); a plan id names one restore. Take it over with the same options, or use another plan id.`,
      { details: { plan: plan.id } },
    );
  }
  const m = await readManifestOfPlan(store, plan);
  const marker = await adapter.readMarker(plan.staging);
  // Swapped in, but the coordinator died before it cleared the target's marker and removed the plan: finish that.
  const swapped =
    marker === undefined && !(await adapter.exists(plan.staging)) && (await adapter.readMarker(plan.target)) === loadedMarker(m);
  if (!swapped && marker !== planMarker(plan) && marker !== loadedMarker(m)) {
    throw new ConflictError(
      'PLAN_INVALID',
      `The staging collection ${JSON.stringify(plan.staging)} of plan ${plan.id} is gone or belongs to another restore ` +
        `(the plan was committed, or its staging dropped). Check ${JSON.stringify(plan.target)}; start a new plan to restore again.`,
      { details: { plan: plan.id } },
    );
  }
  store.logger.info({ plan: plan.id, snapshot: m.id, target: plan.target }, 'restore plan resumed');
  return new RestoreCoordinator(store, adapter, plan, m, targetOfPlan(m, adapter, plan), lock, true, swapped);
}

/** Holds a plan's lock; `commit()` waits for the parts, builds the indexes and swaps the staging collection in. */
export class RestoreCoordinator {
  readonly #started = performance.now();
  #closed = false;

  constructor(
    private readonly store: DistributedRestoreStore,
    private readonly adapter: VectorAdapter & Required<Pick<VectorAdapter, 'swap'>>,
    /** The plan the workers read (by `plan.id` from the repository, or passed to them as it is). */
    readonly plan: RestorePlan,
    private readonly manifest: Manifest,
    private readonly target: TargetPlan,
    private readonly lock: RepositoryLock,
    /** True when this coordinator took over an existing plan. */
    readonly resumed: boolean,
    /** The plan's staging collection is in place already; only the clean-up after the swap is left. */
    private readonly swapped: boolean,
  ) {}

  /** Each part's recorded progress so far, by index. */
  async parts(): Promise<Map<number, RestorePart>> {
    const out = new Map<number, RestorePart>();
    for (let i = 0; i < this.plan.parts.length; i++) {
      const part = await readRestorePart(this.store, this.plan, i);
      if (part) out.set(i, part);
    }
    return out;
  }

  /**
   * Waits until every part is done, checks the rows against the manifest (digests and count), builds
   * the indexes and swaps the staging collection in; then deletes the plan's objects. On failure the
   * staging collection is kept, so planning again under the same id resumes.
   */
  async commit(options: CommitRestoreOptions = {}): Promise<RestoreResult> {
    const c = parseOptions(CommitRestoreOptionsSchema, options, 'commit');
    if (this.#closed) throw new ConflictError('PLAN_INVALID', `Plan ${this.plan.id} was already committed or closed.`);
    const { plan, store, adapter, manifest: m, target: tp } = this;
    const progress = new ProgressReporter('restore', c.onProgress);
    progress.totalRows = m.rows.upserts;
    progress.totalSegments = m.segments.length;
    progress.emit('start');
    try {
      const loadStart = performance.now();
      const indexed = this.swapped || (await adapter.readMarker(plan.staging)) === loadedMarker(m);
      // Indexed already (a coordinator that died at its swap): the parts are done; read what is left of them for the report.
      const parts = indexed
        ? [...(await this.parts()).values()]
        : await awaitParts(
            store,
            this.lock,
            plan.id,
            plan.parts.length,
            async (i) => {
              const part = await readRestorePart(store, plan, i);
              return part?.done === true ? part : undefined;
            },
            (i) => planKey(plan.id, { restoreFailed: i }),
            c,
            `nothing was swapped in (the staging collection ${JSON.stringify(plan.staging)} is kept)`,
          );
      const loadMs = performance.now() - loadStart;
      if (!indexed) this.#checkParts(parts);
      progress.rows = m.rows.upserts;
      progress.segments = m.segments.length;
      progress.emit('segment');
      const gate = definitionGate({
        authenticated: store.manifestsAuthenticated === true,
        trustDefinitions: plan.options.trustDefinitions,
      });
      const stagingSchema = { ...tp.schema, name: plan.staging };
      const indexStart = performance.now();
      let indexes: RestoreResult['indexes'] = { built: [], skipped: [] };
      // Every time, as a single-process restore does (idempotent): sequences past every id, and the definition's report.
      if (!this.swapped) {
        await adapter.finishCreate?.(plan.staging, stagingSchema, { indexes: 'deferred', signal: c.signal, definitions: gate });
      }
      if (!indexed) {
        const stored = await adapter.count(plan.staging);
        if (stored !== m.rows.upserts) {
          throw new IntegrityError(
            'ID_COLLISION',
            `${JSON.stringify(plan.staging)} holds ${stored} records after its parts loaded ${m.rows.upserts}: ids of snapshot ` +
              `${m.id} collided in ${adapter.engine}, or another writer touched the staging collection. Nothing was swapped in.`,
            { plugin: adapter.engine, details: { stored, expected: m.rows.upserts } },
          );
        }
        if (plan.options.buildIndexes) {
          progress.emit('index');
          indexes = await adapter.buildIndexes(plan.staging, stagingSchema, c.signal ? { signal: c.signal } : {});
        }
        await adapter.writeMarker(plan.staging, loadedMarker(m));
      }
      const indexMs = performance.now() - indexStart;
      for (const conversion of tp.vectorPlan.conversions) {
        conversion.changedVectors = parts.reduce((n, p) => n + (p.changedVectors[conversion.field] ?? 0), 0);
      }
      progress.emit('commit');
      await this.lock.assertHeld();
      if (!this.swapped) {
        // The target as the plan found it: one that appeared since (an application's CREATE TABLE) is never dropped without ifExists: 'replace'.
        if (plan.ifExists === 'fail' && (await adapter.exists(plan.target))) {
          throw new ConflictError(
            'TARGET_EXISTS',
            `Target ${JSON.stringify(plan.target)} was created while plan ${plan.id} loaded; nothing was swapped in (the staging ` +
              `collection ${JSON.stringify(plan.staging)} is kept). Drop or rename it and take the plan over, or plan again with ifExists: 'replace'.`,
            { plugin: adapter.engine, details: { plan: plan.id } },
          );
        }
        await adapter.swap(plan.staging, plan.target, { replace: plan.ifExists === 'replace' });
      }
      await adapter.writeMarker(plan.target, undefined);
      await this.close();
      await deletePlan(store, plan);
      progress.emit('done');
      store.logger.info({ snapshot: m.id, plan: plan.id, target: plan.target, rows: m.rows.upserts }, 'restore complete');
      return {
        snapshot: m.id,
        target: plan.target,
        rows: m.rows.upserts,
        segments: m.segments.length,
        resumed: this.resumed,
        timings: { loadMs: Math.round(loadMs), indexMs: Math.round(indexMs), totalMs: Math.round(performance.now() - this.#started) },
        indexes,
        notCarriedOver: restoreNotes(m, adapter.engine, tp, indexes, [
          ...plan.created,
          ...gate.reported.filter((e) => !recorded(plan.created, e)),
        ]),
      };
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Releases the lock without swapping (idempotent). The staging collection and the parts' progress stay for a resume. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.lock.release();
  }

  /** Every part covers its span exactly, and their digests add up to the manifest's. */
  #checkParts(parts: readonly RestorePart[]): void {
    const { plan, manifest: m } = this;
    const acc = new BucketDigest(m.digest.buckets);
    parts.forEach((p, i) => {
      const span = plan.parts[i] as RestorePlan['parts'][number];
      if (p.plan !== plan.id || p.index !== i || p.segments !== span.to - span.from || p.rows !== span.rows) {
        throw new IntegrityError(
          'PLAN_INVALID',
          `${planKey(plan.id, { restored: i })} records ${p.segments} segments and ${p.rows} rows of plan ${p.plan} part ${p.index}; ` +
            `the plan gives part ${i} ${span.to - span.from} segments and ${span.rows} rows. Nothing was swapped in.`,
          { details: { plan: plan.id, index: i } },
        );
      }
      if (p.digest.buckets !== m.digest.buckets) throw bucketMismatch(plan, i, p.digest.buckets, m.digest.buckets);
      acc.merge(BucketDigest.fromJSON(p.digest));
    });
    checkCollectionDigest(m, acc);
  }
}

/** The part object's digest: the bucket sums alone (the collection digest is the coordinator's to compute). */
function digestOf(acc: BucketDigest): RestorePart['digest'] {
  const { buckets, counts, sums } = acc.toJSON();
  return { buckets, counts, sums };
}

function bucketMismatch(plan: RestorePlan, index: number, found: number, expected: number): IntegrityError {
  return new IntegrityError(
    'PLAN_INVALID',
    `${planKey(plan.id, { restored: index })} sums ${found} digest buckets; snapshot ${plan.snapshot} has ${expected}. It was damaged ` +
      `or written for another snapshot; nothing was swapped in. Start a new plan.`,
    { details: { plan: plan.id, index } },
  );
}

async function deletePlan(store: DistributedRestoreStore, plan: RestorePlan): Promise<void> {
  for (let i = 0; i < plan.parts.length; i++) {
    await store.deletePlanObject(planKey(plan.id, { restored: i })).catch(() => undefined);
    await store.deletePlanObject(planKey(plan.id, { restoreFailed: i })).catch(() => undefined);
  }
  await store.deletePlanObject(planKey(plan.id, 'restore')).catch(() => undefined);
}

async function readRestorePart(store: DistributedRestoreStore, plan: RestorePlan, index: number): Promise<RestorePart | undefined> {
  const key = planKey(plan.id, { restored: index });
  const value = await store.getPlanObject(key);
  return value === undefined ? undefined : parsePlanObject(RestorePartSchema, value, key);
}

/** Reads a restore plan by id (a worker given only the id, as in a Kubernetes Indexed Job). */
export async function readRestorePlan(store: DistributedRestoreStore, planId: string): Promise<RestorePlan | undefined> {
  const key = planKey(planId, 'restore');
  const value = await store.getPlanObject(key);
  return value === undefined ? undefined : parsePlanObject(RestorePlanSchema, value, key);
}

function waitForRestorePlan(
  store: DistributedRestoreStore,
  planId: string,
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<RestorePlan> {
  return waitForPlanObject(
    planId,
    () => readRestorePlan(store, planId),
    waitMs,
    signal,
    (waited) =>
      `No restore plan ${planId} in ${store.location} ${waited}: its coordinator has not written it, or swapped the ` +
      `restore in and removed it already. Start the coordinator first (repo.planRestore), or pass its plan id.`,
  );
}

/**
 * Worker `index` of a restore plan: loads its span of segments into the staging collection, one
 * transaction per group, recording its progress after each. A rerun continues after the last
 * recorded group; a part already done returns at once.
 */
export async function restorePart(
  store: DistributedRestoreStore,
  adapter: VectorAdapter,
  planOrId: RestorePlan | string,
  index: number,
  options: RestorePartOptions,
): Promise<RestorePartResult> {
  const o = parseOptions(RestorePartOptionsSchema, options, 'restorePart');
  const { signal } = o;
  const plan = typeof planOrId === 'string' ? await waitForRestorePlan(store, planOrId, o.waitForPlanMs, signal) : planOrId;
  if (!Number.isInteger(index) || index < 0 || index >= plan.workers) {
    throw new InvalidInputError('INVALID_ARGUMENT', `Part index ${index} is not one of plan ${plan.id}'s 0..${plan.workers - 1}.`);
  }
  if (adapter.engine !== plan.engine) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `Plan ${plan.id} restores into ${plan.engine}; this worker's adapter is ${adapter.engine}.`,
    );
  }
  const span = plan.parts[index];
  if (span === undefined) return { plan: plan.id, index, skipped: true, resumed: false };
  const failedKey = planKey(plan.id, { restoreFailed: index });
  await store.deletePlanObject(failedKey).catch(() => undefined);
  try {
    const lock = await store.lock({ exclusive: false, operation: `restore ${plan.collection} (plan ${plan.id}, part ${index})`, signal });
    try {
      return await loadPart(store, adapter, plan, index, span, lock, o);
    } finally {
      await lock.release();
    }
  } catch (err) {
    await recordPartFailure(store, failedKey, 'vectordr-restore-part-failure', index, err);
    throw err;
  }
}

async function loadPart(
  store: DistributedRestoreStore,
  adapter: VectorAdapter,
  plan: RestorePlan,
  index: number,
  span: RestorePlan['parts'][number],
  lock: RepositoryLock,
  o: z.output<typeof RestorePartOptionsSchema>,
): Promise<RestorePartResult> {
  const { signal } = o;
  const key = planKey(plan.id, { restored: index });
  const m = await readManifestOfPlan(store, plan);
  const tp = targetOfPlan(m, adapter, plan);
  const marker = await adapter.readMarker(plan.staging);
  if (marker === loadedMarker(m)) {
    // Every part was loaded and indexed: the coordinator is at its swap.
    const part = await readRestorePart(store, plan, index);
    if (part?.done === true) return { plan: plan.id, index, skipped: false, resumed: true, part };
  }
  if (marker !== planMarker(plan)) {
    throw new ConflictError(
      'PLAN_INVALID',
      `The staging collection ${JSON.stringify(plan.staging)} of plan ${plan.id} is gone or belongs to another restore: its ` +
        `coordinator swapped it in or gave up. Nothing of part ${index} was written.`,
      { details: { plan: plan.id, index } },
    );
  }
  const before = await readRestorePart(store, plan, index);
  if (before?.done === true) return { plan: plan.id, index, skipped: false, resumed: true, part: before };
  if (before && before.digest.buckets !== m.digest.buckets) throw bucketMismatch(plan, index, before.digest.buckets, m.digest.buckets);
  const acc = before ? BucketDigest.fromJSON(before.digest) : new BucketDigest(m.digest.buckets);
  const changed: Record<string, number> = { ...before?.changedVectors };
  let done = before?.segments ?? 0;
  let rows = before?.rows ?? 0;
  let loadMs = before?.timings.loadMs ?? 0;
  const record = async (finished: boolean): Promise<RestorePart> => {
    const part: RestorePart = {
      type: 'vectordr-restore-part',
      version: 1,
      plan: plan.id,
      index,
      segments: done,
      rows,
      done: finished,
      digest: digestOf(acc),
      changedVectors: changed,
      timings: { loadMs: Math.round(loadMs) },
      updatedAt: new Date().toISOString(),
    };
    await lock.assertHeld();
    await store.putPlanObject(key, part);
    return part;
  };
  // Recorded before the first write: a rerun then knows the part may have committed a group it never recorded.
  if (!before) await record(false);
  let uncertain = before !== undefined;
  const progress = new ProgressReporter('restore', o.onProgress);
  progress.totalRows = span.rows;
  progress.totalSegments = span.to - span.from;
  progress.rows = rows;
  progress.segments = done;
  progress.emit('start');

  const todo = Array.from({ length: span.to - span.from - done }, (_, k) => span.from + done + k);
  // One segment read ahead, each with its own digest sums: a group's sums join the part's only once it is committed.
  const read = (s: number): Promise<{ batch: RecordBatch; sums: BucketDigest; changed: number[] }> | undefined => {
    if (s >= span.to) return undefined;
    const sums = new BucketDigest(m.digest.buckets);
    // One read in flight at a time, so the conversions' counters move by this segment's changes alone.
    const counted = tp.vectorPlan.conversions.map((c) => c.changedVectors);
    const p = readRestoreSegment(store, m, m.segments[s] as Manifest['segments'][number], tp.vectorPlan, sums, signal).then((batch) => ({
      batch,
      sums,
      changed: tp.vectorPlan.conversions.map((c, i) => c.changedVectors - (counted[i] as number)),
    }));
    p.catch(() => undefined);
    return p;
  };
  let next = read(todo[0] ?? span.to);
  const todoBytes = todo.map((s) => (m.segments[s] as Manifest['segments'][number]).bytes);
  for (let k = 0; k < todo.length;) {
    throwIfAborted(signal);
    const end = groupEnd(todoBytes, k, plan.options.commitBytes);
    const group = todo.slice(k, end);
    const groupSums = new BucketDigest(m.digest.buckets);
    let groupRows = 0;
    const groupChanged = tp.vectorPlan.conversions.map(() => 0);
    const groupStart = performance.now();
    async function* batches(): AsyncGenerator<RecordBatch> {
      for (const s of group) {
        throwIfAborted(signal);
        const ref = m.segments[s] as Manifest['segments'][number];
        const got = await (next as NonNullable<typeof next>);
        next = read(s + 1);
        if (got.batch.length !== ref.rows) {
          throw new IntegrityError(
            'SEGMENT_CORRUPT',
            `Segment ${ref.key} holds ${got.batch.length} rows; the manifest records ${ref.rows}. Run repo.verify().`,
            {
              details: { key: ref.key },
            },
          );
        }
        groupSums.merge(got.sums);
        got.changed.forEach((n, i) => (groupChanged[i] = (groupChanged[i] as number) + n));
        groupRows += got.batch.length;
        yield got.batch;
      }
    }
    // The first group of a rerun may be in already (committed, progress not recorded): upserts make it idempotent.
    const mode = uncertain ? 'upsert' : 'insert';
    if (adapter.writeBatches) await adapter.writeBatches(plan.staging, batches(), { mode, signal });
    else for await (const batch of batches()) await adapter.write(plan.staging, batch, { mode, signal });
    uncertain = false;
    acc.merge(groupSums);
    tp.vectorPlan.conversions.forEach((c, i) => {
      changed[c.field] = (changed[c.field] ?? 0) + (groupChanged[i] as number);
    });
    done += group.length;
    rows += groupRows;
    loadMs += performance.now() - groupStart;
    await record(false);
    progress.rows = rows;
    progress.segments = done;
    progress.emit('segment');
    k = end;
  }
  const part = await record(true);
  progress.emit('done');
  store.logger.info({ plan: plan.id, index, rows, segments: done }, 'restore part loaded');
  return { plan: plan.id, index, skipped: false, resumed: before !== undefined, part };
}
