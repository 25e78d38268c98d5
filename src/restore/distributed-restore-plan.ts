/**
 * The objects of a distributed restore under `plans/<plan-id>/` (docs/format.md, "Distributed
 * restore objects"): the plan the coordinator writes, and each worker's progress. They are read back
 * from storage, so they are validated strictly; the commit checks every part against the plan and
 * adds their digests up to the manifest's before anything is swapped in.
 */
import { z } from 'zod';
import { MetricSchema, VectorElementSchema } from '../model.js';
import { operationOptions } from '../options.js';
import { hex64 } from '../snapshot/distributed-plan.js';
import { RestoreOptionsSchema } from './restore.js';

/** Segments `[from, to)` of the snapshot (manifest order), and the rows they hold. */
const SegmentSpanSchema = z.strictObject({
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
});
export type SegmentSpan = z.infer<typeof SegmentSpanSchema>;

export const RestorePlanSchema = z.strictObject({
  type: z.literal('vectordr-restore-plan'),
  version: z.literal(1),
  id: z.string().min(1),
  /** The snapshot's collection and id (a full snapshot). */
  collection: z.string().min(1),
  snapshot: z.string().min(1),
  /** The target's engine, what every worker's adapter must be. */
  engine: z.string().min(1),
  target: z.string().min(1),
  /** The staging collection every worker loads into; the coordinator swaps it in. */
  staging: z.string().min(1),
  /** `replace`: the swap replaces a target that exists then; `fail`: a target that exists then fails the swap (nothing is dropped). */
  ifExists: z.enum(['fail', 'replace']),
  createdAt: z.string(),
  workers: z.number().int().min(1).max(1024),
  /** Part i's segments; the spans tile the manifest's segments in order. */
  parts: z.array(SegmentSpanSchema),
  /** What creating the staging collection did not carry over (the trust gate's entries), for the result of whichever coordinator swaps. */
  created: z.array(
    z.strictObject({
      what: z.enum(['value', 'column', 'index', 'definition', 'setting']),
      name: z.string(),
      reason: z.string(),
      action: z.enum(['converted', 'dropped', 'not-recreated']),
    }),
  ),
  /** What every worker and every coordinator of the plan must decide alike: the group size, the vector plan's inputs, the trust gate, the indexes. */
  options: z.strictObject({
    commitBytes: z.number().int().nonnegative(),
    trustDefinitions: z.boolean(),
    buildIndexes: z.boolean(),
    metricForUnindexed: MetricSchema.exclude(['unspecified']).optional(),
    convertVectors: z.record(z.string(), VectorElementSchema).optional(),
    omitVectors: z.array(z.string().min(1)).optional(),
  }),
});
export type RestorePlan = z.infer<typeof RestorePlanSchema>;

/** A worker's progress: rewritten after each committed group, `done` once its last segment is in. */
export const RestorePartSchema = z.strictObject({
  type: z.literal('vectordr-restore-part'),
  version: z.literal(1),
  plan: z.string().min(1),
  index: z.number().int().nonnegative(),
  /** Segments of the part committed so far, counted from its first. */
  segments: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  done: z.boolean(),
  /** Bucket sums of the record digests of the committed segments. */
  digest: z
    .strictObject({
      buckets: z.number().int().positive(),
      counts: z.array(z.number().int().nonnegative()),
      sums: z.array(hex64),
    })
    .refine((d) => d.counts.length === d.buckets && d.sums.length === d.buckets, 'one count and one sum per bucket'),
  /** Vectors a named lossy conversion changed, per field (restore option `convertVectors`). */
  changedVectors: z.record(z.string(), z.number().int().nonnegative()),
  timings: z.strictObject({ loadMs: z.number().nonnegative() }),
  updatedAt: z.string(),
});
export type RestorePart = z.infer<typeof RestorePartSchema>;

/**
 * Splits `rows` (each segment's row count, in order) into at most `workers` contiguous spans of
 * about equal rows: span i takes segments while their middle is at or before i/N of the rows (at
 * least one each). Empty spans are left out: fewer segments than workers give fewer parts.
 */
export function splitSegments(rows: readonly number[], workers: number): SegmentSpan[] {
  const total = rows.reduce((a, b) => a + b, 0);
  const spans: SegmentSpan[] = [];
  let to = 0;
  let seen = 0;
  for (let i = 1; i <= workers && to < rows.length; i++) {
    const goal = i === workers ? Infinity : (total * i) / workers;
    const from = to;
    let span = 0;
    while (to < rows.length && (to === from || seen + (rows[to] as number) / 2 <= goal)) {
      span += rows[to] as number;
      seen += rows[to] as number;
      to++;
    }
    spans.push({ from, to, rows: span });
  }
  return spans;
}

export const PlanRestoreOptionsSchema = RestoreOptionsSchema.pick({
  collection: true,
  snapshot: true,
  at: true,
  target: true,
  ifExists: true,
  metricForUnindexed: true,
  buildIndexes: true,
  commitBytes: true,
  convertVectors: true,
  omitVectors: true,
  trustDefinitions: true,
  signal: true,
}).extend({
  /** Workers to split the snapshot's segments over: at most this many parts of about equal rows. */
  workers: z.number().int().min(1).max(1024),
  /**
   * The plan's id, which workers are given (1–64 of `[A-Za-z0-9_-]`). Planning again under the id of
   * a plan whose coordinator died resumes it: the staging collection and the parts' progress are
   * kept. @default a new ULID
   */
  planId: z.string().min(1).max(64).optional(),
});
export type PlanRestoreOptions = z.input<typeof PlanRestoreOptionsSchema>;

export const CommitRestoreOptionsSchema = z.strictObject({
  /** Give up (PLAN_INVALID, nothing swapped in) when the parts are not all done by then. @default no limit */
  timeoutMs: z.number().int().positive().optional(),
  /** How often the parts' progress is read. @default 1000 */
  pollMs: z.number().int().min(10).max(60_000).default(1000),
  /** A part whose worker recorded a failure: `fail` stops at once (the staging collection is kept); `wait` waits for a rerun. @default 'fail' */
  onPartFailed: z.enum(['fail', 'wait']).default('fail'),
  ...operationOptions,
});
export type CommitRestoreOptions = z.input<typeof CommitRestoreOptionsSchema>;

export const RestorePartOptionsSchema = z.strictObject({
  /** A worker given the plan's id waits this long for the coordinator to write it. @default 60000 */
  waitForPlanMs: z.number().int().min(0).default(60_000),
  ...operationOptions,
});
export type RestorePartOptions = z.input<typeof RestorePartOptionsSchema>;

export interface RestorePartResult {
  plan: string;
  index: number;
  /** True when the plan has fewer parts than workers and this index has none. */
  skipped: boolean;
  /** True when this run continued a part an earlier run had begun. */
  resumed: boolean;
  /** The part's progress as recorded (`done: true`). */
  part?: RestorePart;
}
