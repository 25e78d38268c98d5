/** Options and results of a distributed snapshot (distributed.ts). */
import { z } from 'zod';
import { signalOption } from '../options.js';
import type { SnapshotPart } from './distributed-plan.js';
import { SnapshotOptionsSchema } from './snapshot-options.js';

/**
 * The plan's own options (`workers`, `planId`) beside those of `repo.snapshot` it shares, taken
 * from SnapshotOptionsSchema so both keep one definition: every part cuts its segments with the
 * plan's `segmentBytes` and `vectorCompression`, and the manifest carries its `tags`.
 */
export const PlanSnapshotOptionsSchema = SnapshotOptionsSchema.pick({
  tags: true,
  segmentBytes: true,
  vectorCompression: true,
  signal: true,
}).extend({
  /**
   * Workers to split the key space for: at most this many key ranges of about equal rows (fewer
   * when the collection has fewer distinct keys). More workers scan in parallel, each on its own
   * engine connection; the engine's cores and the storage's bandwidth are the limit.
   */
  workers: z.number().int().min(1).max(1024),
  /**
   * The plan's id, which workers are given: letters, digits, `_` and `-`, at most 64. A name both
   * sides know in advance (a Kubernetes Job's uid) lets workers start before the plan exists.
   * @default a new ULID
   */
  planId: z.string().min(1).max(64).optional(),
});
export type PlanSnapshotOptions = z.input<typeof PlanSnapshotOptionsSchema>;

export const CommitSnapshotOptionsSchema = z.strictObject({
  /** Give up (PLAN_INVALID, nothing committed) when the parts are not all recorded by then. @default no limit */
  timeoutMs: z.number().int().positive().optional(),
  /** How often the recorded parts are looked for. @default 1000 */
  pollMs: z.number().int().min(10).max(60_000).default(1000),
  /**
   * A part whose worker recorded a failure: `fail` stops the commit at once; `wait` keeps waiting
   * for a rerun of that part (a Kubernetes Indexed Job retries its index). @default 'fail'
   */
  onPartFailed: z.enum(['fail', 'wait']).default('fail'),
  ...signalOption,
});
export type CommitSnapshotOptions = z.input<typeof CommitSnapshotOptionsSchema>;

export const SnapshotPartOptionsSchema = SnapshotOptionsSchema.pick({ signal: true, onProgress: true }).extend({
  /** A worker given the plan's id waits this long for the coordinator to write it. @default 60000 */
  waitForPlanMs: z.number().int().min(0).default(60_000),
});
export type SnapshotPartOptions = z.input<typeof SnapshotPartOptionsSchema>;

export interface SnapshotPartResult {
  plan: string;
  index: number;
  /** True when the plan has fewer ranges than workers and this index has none. */
  skipped: boolean;
  /** What was recorded under `plans/<plan>/part-<index>.json`. */
  part?: SnapshotPart;
}
