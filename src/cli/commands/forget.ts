/**
 * `vectordr forget`: removes the snapshots a retention policy does not keep (restic's rules and
 * flags), or exactly the snapshots named (`forget --collection c <id>...`, as restic's
 * `forget <id>`), then with `--prune` frees their data. `--dry-run` shows the decision and changes
 * nothing.
 */
import { InvalidInputError, type RetentionPolicy } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { shortTime } from '../format.js';
import { pruneLines } from './prune.js';

export interface ForgetCommandOptions {
  collection?: string;
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  dryRun?: boolean;
  prune?: boolean;
}

export async function forgetCommand(ctx: CommandContext, ids: string[], o: ForgetCommandOptions): Promise<CommandOutcome> {
  const policy: RetentionPolicy = {};
  for (const key of ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const) {
    if (o[key] !== undefined) policy[key] = o[key];
  }
  if (ids.length > 0 && (o.collection === undefined || Object.keys(policy).length > 0)) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      'forget <snapshot>... removes exactly the snapshots named: give --collection, and no --keep-* option.',
    );
  }
  const dryRun = o.dryRun === true;
  const repo = await ctx.repository();
  const scope = o.collection === undefined ? {} : { collection: o.collection };
  const forget = await ctx.track('forget', scope, () =>
    ids.length > 0 && o.collection !== undefined
      ? repo.forgetSnapshots(ids, { collection: o.collection, dryRun, signal: ctx.signal })
      : repo.forget(policy, { ...scope, dryRun, signal: ctx.signal }),
  );
  const prune =
    o.prune === true
      ? await ctx.track('prune', {}, () => repo.prune({ dryRun, signal: ctx.signal, onProgress: ctx.onProgress }))
      : undefined;
  const result = { ...forget.toJSON(), ...(prune === undefined ? {} : { prune: prune.toJSON() }) };
  ctx.out.summary(result, () => [
    ...forget.collections.flatMap((c) => [
      `${c.collection}: keep ${c.keep.length}, ${dryRun ? 'would remove' : 'remove'} ${c.remove.length}`,
      ...c.keep.map((k) => `  keep   ${k.id}  ${shortTime(k.createdAt)}  ${k.reasons.join(', ')}`),
      ...c.remove.map((r) => `  remove ${r.id}  ${shortTime(r.createdAt)}`),
    ]),
    dryRun ? 'dry run: nothing removed' : `${forget.removed} snapshot${forget.removed === 1 ? '' : 's'} removed`,
    ...(prune === undefined ? [] : pruneLines(prune)),
  ]);
  return { exitCode: EXIT_CODES.OK, result };
}
