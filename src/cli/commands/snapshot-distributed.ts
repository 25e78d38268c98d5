/**
 * `vectordr snapshot <collection>` split over workers (docs/architecture.md, "Distributed snapshot"):
 * `--workers N` coordinates (plans, waits for the parts, commits), `--plan ID --part I` runs part I,
 * and `--job-index I` is the form for a Kubernetes Indexed Job: index 0 coordinates, index I ≥ 1
 * runs part I − 1 (examples/kubernetes/distributed-snapshot-job.yaml).
 */
import { InvalidInputError } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count, plural, seconds } from '../format.js';
import type { EngineOptions } from '../settings.js';

export interface DistributedSnapshotOptions extends EngineOptions {
  tag?: Record<string, string>;
  workers?: number;
  plan?: string;
  part?: number;
  jobIndex?: number;
}

/** A worker started before its coordinator waits this long for the plan (pods of one Job start in any order). */
const WAIT_FOR_PLAN_MS = 10 * 60 * 1000;

export function isDistributed(o: DistributedSnapshotOptions): boolean {
  return o.workers !== undefined || o.part !== undefined || o.jobIndex !== undefined;
}

export async function distributedSnapshotCommand(
  ctx: CommandContext,
  collection: string,
  o: DistributedSnapshotOptions & { incremental?: boolean },
): Promise<CommandOutcome> {
  const usage = (message: string): InvalidInputError => new InvalidInputError('INVALID_ARGUMENT', message, { plugin: 'cli' });
  if (o.incremental) throw usage('--incremental cannot be split over workers: take the distributed snapshot as a full one.');
  if (o.part !== undefined && o.jobIndex !== undefined) throw usage('give --part or --job-index, not both.');
  const part = o.jobIndex !== undefined ? (o.jobIndex === 0 ? undefined : o.jobIndex - 1) : o.part;
  const repo = await ctx.repository();
  const adapter = await ctx.engine(o);
  if (part === undefined) {
    if (o.workers === undefined) throw usage('the coordinator (no --part, or --job-index 0) needs --workers.');
    const coordinator = await repo.planSnapshot(adapter, collection, {
      workers: o.workers,
      ...(o.plan === undefined ? {} : { planId: o.plan }),
      tags: o.tag ?? {},
      signal: ctx.signal,
    });
    ctx.out.debug(`plan ${coordinator.plan.id}: ${plural(coordinator.plan.ranges.length, 'part')}, waiting for the workers`);
    // A Job retries a failed index: keep waiting for the rerun instead of giving up on the first failure.
    const result = await ctx.track('snapshot', { collection, engine: adapter.engine }, () =>
      coordinator.commit({ onPartFailed: o.jobIndex === undefined ? 'fail' : 'wait', signal: ctx.signal }),
    );
    const m = result.manifest;
    ctx.out.summary({ ...result, plan: coordinator.plan.id }, () => [
      `snapshot ${m.id} of ${collection} saved by ${plural(coordinator.plan.ranges.length, 'worker')} (plan ${coordinator.plan.id}): ` +
        `${count(m.rows.upserts)} rows in ${plural(m.segments.length, 'segment')}, ${seconds(m.timings.totalMs)}`,
    ]);
    return { exitCode: EXIT_CODES.OK, result };
  }
  if (o.plan === undefined) throw usage('a worker (--part, or --job-index 1 or more) needs --plan, the id its coordinator plans under.');
  const r = await repo.snapshotPart(adapter, o.plan, part, {
    waitForPlanMs: WAIT_FOR_PLAN_MS,
    signal: ctx.signal,
    onProgress: ctx.onProgress,
  });
  ctx.out.summary(r.toJSON(), () =>
    r.part
      ? `part ${part} of plan ${o.plan}: ${count(r.part.rows)} rows in ${plural(r.part.segments.length, 'segment')}, ${seconds(r.part.timings.totalMs)}`
      : `part ${part} of plan ${o.plan}: nothing to do (the plan has fewer key ranges than workers)`,
  );
  return { exitCode: EXIT_CODES.OK };
}
