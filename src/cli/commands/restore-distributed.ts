/**
 * `vectordr restore <collection>` split over workers (docs/architecture.md, "Distributed restore"):
 * `--workers N` coordinates (checks, creates the staging table, plans, waits for the parts, swaps
 * in), `--plan ID --part I` loads part I, and `--job-index I` is the form for a Kubernetes Indexed
 * Job: index 0 coordinates, index I ≥ 1 loads part I − 1 (examples/kubernetes/distributed-restore-job.yaml).
 */
import { InvalidInputError } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count, plural, seconds } from '../format.js';
import type { DistributedSnapshotOptions } from './snapshot-distributed.js';
import { type RestoreCommandOptions, restoreOptionsOf, restoredLines, skipExistingTarget } from './restore.js';

/** A worker started before its coordinator waits this long for the plan (pods of one Job start in any order). */
const WAIT_FOR_PLAN_MS = 10 * 60 * 1000;

export type DistributedRestoreOptions = RestoreCommandOptions & Omit<DistributedSnapshotOptions, keyof RestoreCommandOptions | 'tag'>;

export async function distributedRestoreCommand(
  ctx: CommandContext,
  collection: string,
  o: DistributedRestoreOptions,
): Promise<CommandOutcome> {
  const usage = (message: string): InvalidInputError => new InvalidInputError('INVALID_ARGUMENT', message, { plugin: 'cli' });
  if (o.part !== undefined && o.jobIndex !== undefined) throw usage('give --part or --job-index, not both.');
  if (o.snapshot !== undefined && o.at !== undefined) throw usage('pass --snapshot or --at, not both');
  const part = o.jobIndex !== undefined ? (o.jobIndex === 0 ? undefined : o.jobIndex - 1) : o.part;
  const repo = await ctx.repository();
  const adapter = await ctx.engine(o);
  // Every pod of the Job decides alike: a target that exists means nothing to do, for the coordinator and each worker.
  const skipped = await skipExistingTarget(ctx, adapter, collection, o);
  if (skipped) return skipped;
  if (part === undefined) {
    if (o.workers === undefined) throw usage('the coordinator (no --part, or --job-index 0) needs --workers.');
    const coordinator = await repo.planRestore(adapter, {
      ...restoreOptionsOf(ctx, collection, o),
      workers: o.workers,
      ...(o.plan === undefined ? {} : { planId: o.plan }),
    });
    const { plan } = coordinator;
    ctx.out.debug(`plan ${plan.id}: ${plural(plan.parts.length, 'part')} into ${plan.staging}, waiting for the workers`);
    // A Job retries a failed index: keep waiting for the rerun instead of giving up on the first failure.
    const result = await ctx.track('restore', { collection, engine: adapter.engine }, () =>
      coordinator.commit({ onPartFailed: o.jobIndex === undefined ? 'fail' : 'wait', signal: ctx.signal, onProgress: ctx.onProgress }),
    );
    ctx.out.summary({ ...result, plan: plan.id }, () =>
      restoredLines(result, ` with ${plural(plan.parts.length, 'worker')} (plan ${plan.id})`),
    );
    return { exitCode: EXIT_CODES.OK, result };
  }
  if (o.plan === undefined) throw usage('a worker (--part, or --job-index 1 or more) needs --plan, the id its coordinator plans under.');
  const r = await repo.restorePart(adapter, o.plan, part, {
    waitForPlanMs: WAIT_FOR_PLAN_MS,
    signal: ctx.signal,
    onProgress: ctx.onProgress,
  });
  ctx.out.summary(r.toJSON(), () =>
    r.part
      ? `part ${part} of plan ${o.plan}: ${count(r.part.rows)} rows in ${plural(r.part.segments, 'segment')}` +
        `${r.resumed ? ' (resumed)' : ''}, load ${seconds(r.part.timings.loadMs)}`
      : `part ${part} of plan ${o.plan}: nothing to do (the plan has fewer parts than workers)`,
  );
  return { exitCode: EXIT_CODES.OK };
}
