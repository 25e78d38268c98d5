/**
 * `vectordr restore <collection>`: a snapshot (`--snapshot`, `--at`, default the latest) into the
 * collection or `--target`. `--if-target-missing` makes it idempotent for a pod's start-up
 * (Litestream's `-if-db-not-exists`): a target that exists is left alone, and the command succeeds.
 */
import { InvalidInputError, type RestoreOptions, type RestoreResult, type VectorAdapter } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count, plural, seconds } from '../format.js';
import type { EngineOptions } from '../settings.js';

export interface RestoreCommandOptions extends EngineOptions {
  snapshot?: string;
  at?: Date;
  target?: string;
  ifExists: 'fail' | 'replace' | 'append';
  ifTargetMissing?: boolean;
  trustDefinitions?: boolean;
}

export async function restoreCommand(ctx: CommandContext, collection: string, o: RestoreCommandOptions): Promise<CommandOutcome> {
  if (o.snapshot !== undefined && o.at !== undefined) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'pass --snapshot or --at, not both', { plugin: 'cli' });
  }
  const repo = await ctx.repository();
  const adapter = await ctx.engine(o);
  const skipped = await skipExistingTarget(ctx, adapter, collection, o);
  if (skipped) return skipped;
  const result = await ctx.track('restore', { collection, engine: adapter.engine }, () =>
    repo.restore(adapter, { ...restoreOptionsOf(ctx, collection, o), onProgress: ctx.onProgress }),
  );
  ctx.out.summary(result.toJSON(), () => restoredLines(result, ''));
  return { exitCode: EXIT_CODES.OK, result };
}

/** `--if-target-missing` with a target that exists: the outcome of doing nothing (else undefined, go on). */
export async function skipExistingTarget(
  ctx: CommandContext,
  adapter: VectorAdapter,
  collection: string,
  o: RestoreCommandOptions,
): Promise<CommandOutcome | undefined> {
  const target = o.target ?? collection;
  if (o.ifTargetMissing !== true || !(await adapter.exists(target))) return undefined;
  const result = { skipped: true, target, reason: 'the target exists (--if-target-missing)' };
  ctx.out.summary(result, () => `collection ${target} exists; nothing restored (--if-target-missing)`);
  return { exitCode: EXIT_CODES.OK, result };
}

/** The restore options the flags give, for repo.restore and repo.planRestore alike. */
export function restoreOptionsOf(
  ctx: CommandContext,
  collection: string,
  o: RestoreCommandOptions,
): Pick<RestoreOptions, 'collection' | 'snapshot' | 'at' | 'target' | 'ifExists' | 'trustDefinitions' | 'signal'> {
  return {
    collection,
    snapshot: o.snapshot ?? 'latest',
    ...(o.at === undefined ? {} : { at: o.at }),
    target: o.target ?? collection,
    ifExists: o.ifExists,
    trustDefinitions: o.trustDefinitions === true,
    signal: ctx.signal,
  };
}

/** The human summary of a restore; `how` follows the target (" with 4 workers (plan …)"). */
export function restoredLines(result: RestoreResult, how: string): string[] {
  const t = result.timings;
  return [
    `restored snapshot ${result.snapshot} into ${result.target}${how}: ${count(result.rows)} rows, ${plural(result.segments, 'segment')}` +
      `${result.resumed ? ' (resumed)' : ''} in ${seconds(t.totalMs)} (load ${seconds(t.loadMs)}, indexes ${seconds(t.indexMs)})`,
    ...result.indexes.built.map((i) => `  index built: ${i.kind} on ${i.field} (${seconds(i.ms)})`),
    ...result.notCarriedOver.map((n) => `  not carried over: ${n.what} ${n.name} ${n.action}: ${n.reason}`),
  ];
}
