/**
 * The objects of a distributed snapshot under `plans/<plan-id>/` (docs/format.md, "Distributed
 * snapshot objects"): the plan the coordinator writes, and each worker's part. They are read back
 * from storage, so they are validated strictly like every other object, and the commit checks that
 * the parts tile the plan exactly before one manifest names their segments.
 */
import { z } from 'zod';
import type { KeyRange } from '../adapter.js';
import { sleep } from '../async.js';
import { ConflictError, IntegrityError, throwIfAborted } from '../errors.js';
import type { RepositoryLock } from '../repository/locks.js';
import type { PlanObjects } from '../repository/ports.js';
import { assertPlanId } from '../format/keys.js';
import { SegmentRefSchema } from '../format/manifest.js';
import { CheckpointSchema, CollectionSchemaSchema, EngineNameSchema } from '../model.js';

export const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const KeyRangeSchema = z.strictObject({ lo: z.string().nullable(), hi: z.string().nullable() });

export const SnapshotPlanSchema = z.strictObject({
  type: z.literal('vectordr-snapshot-plan'),
  version: z.literal(1),
  id: z.string().min(1),
  collection: z.string().min(1),
  engine: EngineNameSchema,
  /** The exported engine view every part scans in (PostgreSQL: the `pg_export_snapshot()` id). */
  view: z.string().min(1),
  createdAt: z.string(),
  /** Workers asked for; `ranges` may be fewer (equal key quantiles merge): workers past them have nothing to do. */
  workers: z.number().int().positive(),
  ranges: z.array(KeyRangeSchema).min(1),
  schema: CollectionSchemaSchema,
  checkpoint: CheckpointSchema.nullable(),
  buckets: z.number().int().positive(),
  /** What fixes each part's segment cut (invariant 6). */
  options: z.strictObject({ segmentBytes: z.number().int().positive(), vectorCompression: z.enum(['none', 'zstd']) }),
  tags: z.record(z.string(), z.string()),
});
export type SnapshotPlan = z.infer<typeof SnapshotPlanSchema>;

export const SnapshotPartSchema = z.strictObject({
  type: z.literal('vectordr-snapshot-part'),
  version: z.literal(1),
  plan: z.string().min(1),
  index: z.number().int().nonnegative(),
  view: z.string().min(1),
  range: KeyRangeSchema,
  /** Segments of the range, in scan (key) order. */
  segments: z.array(SegmentRefSchema),
  rows: z.number().int().nonnegative(),
  digest: z.strictObject({
    buckets: z.number().int().positive(),
    counts: z.array(z.number().int().nonnegative()),
    sums: z.array(hex64),
  }),
  timings: z.strictObject({ scanMs: z.number(), encodeMs: z.number(), storeMs: z.number(), totalMs: z.number() }),
  uploadedSegments: z.number().int().nonnegative(),
  uploadedBytes: z.number().int().nonnegative(),
  completedAt: z.string(),
});
export type SnapshotPart = z.infer<typeof SnapshotPartSchema>;

/** A worker's last failure, so the coordinator can stop waiting for it (`onPartFailed: 'fail'`). */
export const PartFailureSchema = z.strictObject({
  type: z.enum(['vectordr-snapshot-part-failure', 'vectordr-restore-part-failure']),
  index: z.number().int().nonnegative(),
  code: z.string(),
  message: z.string(),
  at: z.string(),
});
export type PartFailure = z.infer<typeof PartFailureSchema>;

export function parsePlanObject<T>(schema: z.ZodType<T>, value: unknown, key: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new IntegrityError(
      'PLAN_INVALID',
      `${key} is not a valid vectordr plan object (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}); ` +
        `it was damaged or written by another tool. Start a new plan.`,
      { details: { key } },
    );
  }
  return r.data;
}

/**
 * Throws PLAN_INVALID unless `ranges` tile the whole key space in order: the first starts unbounded,
 * each ends where the next starts, the last ends unbounded, and no inner bound is missing.
 */
export function assertTiling(ranges: readonly KeyRange[], where: string): void {
  const bad = (why: string): never => {
    throw new IntegrityError('PLAN_INVALID', `${where}: the key ranges do not tile the key space (${why}); nothing was committed.`);
  };
  if (ranges.length === 0) bad('no range');
  if (ranges[0]?.lo !== null) bad('the first range has a lower bound');
  if (ranges.at(-1)?.hi !== null) bad('the last range has an upper bound');
  for (let i = 0; i + 1 < ranges.length; i++) {
    const a = ranges[i] as KeyRange;
    const b = ranges[i + 1] as KeyRange;
    if (a.hi === null || b.lo === null) bad(`range ${i} or ${i + 1} is unbounded inside the key space`);
    if (a.hi !== b.lo) bad(`range ${i} ends at ${JSON.stringify(a.hi)} but range ${i + 1} starts at ${JSON.stringify(b.lo)}`);
  }
}

/** Throws PLAN_INVALID unless `part` is the result of part `index` of `plan`. */
export function assertPartOf(plan: SnapshotPlan, part: SnapshotPart, index: number, key: string): void {
  const mismatch = (what: string): never => {
    throw new IntegrityError(
      'PLAN_INVALID',
      `${key} ${what}; it is not the result of part ${index} of plan ${plan.id}. Nothing was committed: rerun that part.`,
      { details: { key, plan: plan.id, index } },
    );
  };
  if (part.plan !== plan.id) mismatch(`belongs to plan ${part.plan}`);
  if (part.index !== index) mismatch(`is part ${part.index}`);
  if (part.view !== plan.view) mismatch(`was scanned in view ${part.view}, not the plan's ${plan.view}`);
  const range = plan.ranges[index];
  if (!range || part.range.lo !== range.lo || part.range.hi !== range.hi) mismatch('covers another key range');
  if (part.digest.buckets !== plan.buckets || part.digest.counts.length !== plan.buckets || part.digest.sums.length !== plan.buckets)
    mismatch(`has ${part.digest.buckets} digest buckets, not ${plan.buckets}`);
  const segmentRows = part.segments.reduce((n, s) => n + s.rows, 0);
  if (segmentRows !== part.rows) mismatch(`names segments of ${segmentRows} rows but records ${part.rows}`);
  const counted = part.digest.counts.reduce((n, c) => n + c, 0);
  if (counted !== part.rows) mismatch(`counts ${counted} records in its digest but ${part.rows} rows`);
}

/** How a coordinator waits for its workers' parts (a distributed snapshot's or restore's commit). */
export interface AwaitPartsOptions {
  timeoutMs?: number | undefined;
  pollMs: number;
  onPartFailed: 'fail' | 'wait';
  signal?: AbortSignal | undefined;
}

/**
 * Polls until `read(i)` gives a part for each of `n` indexes, holding `lock` (checked every round).
 * A recorded failure (`failedKey(i)`) ends the wait at once with `onPartFailed: 'fail'`; `consequence`
 * ends the error messages ("nothing was committed").
 */
export async function awaitParts<T>(
  store: Pick<PlanObjects, 'getPlanObject'>,
  lock: RepositoryLock,
  planId: string,
  n: number,
  read: (i: number) => Promise<T | undefined>,
  failedKey: (i: number) => string,
  o: AwaitPartsOptions,
  consequence: string,
): Promise<T[]> {
  const done = new Map<number, T>();
  const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
  for (;;) {
    throwIfAborted(o.signal);
    await lock.assertHeld();
    for (let i = 0; i < n; i++) {
      if (done.has(i)) continue;
      const part = await read(i);
      if (part !== undefined) {
        done.set(i, part);
        continue;
      }
      if (o.onPartFailed === 'fail') {
        const failure = await store.getPlanObject(failedKey(i));
        if (failure !== undefined) {
          const f = parsePlanObject(PartFailureSchema, failure, failedKey(i));
          throw new ConflictError(
            'PLAN_INVALID',
            `Part ${i} of plan ${planId} failed (${f.code}: ${f.message}); ${consequence}. Rerun that part ` +
              `while this coordinator waits (onPartFailed: 'wait'), or start a new plan.`,
            { details: { plan: planId, index: i, code: f.code } },
          );
        }
      }
    }
    if (done.size === n) return Array.from({ length: n }, (_, i) => done.get(i) as T);
    if (Date.now() > deadline) {
      const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !done.has(i));
      throw new ConflictError(
        'PLAN_INVALID',
        `Plan ${planId}: parts ${missing.join(', ')} were not recorded within ${o.timeoutMs} ms; ${consequence}.`,
        { details: { plan: planId, missing } },
      );
    }
    await sleep(o.pollMs, o.signal);
  }
}

/**
 * A worker given only its plan's id: polls `read` until the coordinator has written the plan, or
 * throws PLAN_INVALID after `waitMs` with the message `missing` builds (given "(waited N ms)").
 */
export async function waitForPlanObject<T>(
  planId: string,
  read: () => Promise<T | undefined>,
  waitMs: number,
  signal: AbortSignal | undefined,
  missing: (waited: string) => string,
): Promise<T> {
  assertPlanId(planId);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const plan = await read();
    if (plan !== undefined) return plan;
    if (Date.now() >= deadline) {
      throw new IntegrityError('PLAN_INVALID', missing(`(waited ${waitMs} ms)`), { details: { plan: planId } });
    }
    await sleep(Math.min(250, Math.max(50, deadline - Date.now())), signal);
  }
}

/** Records a worker's failure under `key` (best effort), so its coordinator can stop waiting (`onPartFailed: 'fail'`). */
export async function recordPartFailure(
  store: Pick<PlanObjects, 'putPlanObject'>,
  key: string,
  type: PartFailure['type'],
  index: number,
  err: unknown,
): Promise<void> {
  const e = err as { code?: unknown; message?: unknown };
  await store
    .putPlanObject(key, {
      type,
      index,
      code: typeof e.code === 'string' ? e.code : 'ERROR',
      message: typeof e.message === 'string' ? e.message.slice(0, 2000) : String(err),
      at: new Date().toISOString(),
    })
    .catch(() => undefined);
}
