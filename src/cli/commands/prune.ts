/** `vectordr prune`: deletes data no snapshot references (past a grace period) and stale locks. */
import type { PruneReport } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count, plural } from '../format.js';
import { formatBytes } from '../progress-bar.js';

export function pruneLines(p: PruneReport): string[] {
  const minutes = Math.round(p.graceMs / 60_000);
  return [
    `${plural(p.snapshots, 'snapshot')} ${p.snapshots === 1 ? 'references' : 'reference'} ${plural(p.referenced.segments, 'segment')} (${formatBytes(p.referenced.bytes)})`,
    `${plural(p.unreferenced.segments, 'unreferenced segment')} (${formatBytes(p.unreferenced.bytes)}): ` +
      `${p.dryRun ? `would delete ${count(p.unreferenced.segments - p.spared)}` : `deleted ${count(p.deleted)}`}, ` +
      `spared ${count(p.spared)} younger than ${minutes} min`,
    ...(p.staleLocksRemoved > 0 ? [`${p.staleLocksRemoved} stale locks removed`] : []),
    ...(p.foreign.length > 0 ? [`${p.foreign.length} objects under data/ not written by vectordr were left alone`] : []),
  ];
}

export async function pruneCommand(ctx: CommandContext, o: { dryRun?: boolean }): Promise<CommandOutcome> {
  const repo = await ctx.repository();
  const result = await ctx.track('prune', {}, () =>
    repo.prune({ dryRun: o.dryRun === true, signal: ctx.signal, onProgress: ctx.onProgress }),
  );
  ctx.out.summary(result.toJSON(), () => pruneLines(result));
  return { exitCode: EXIT_CODES.OK, result };
}
