/** `vectordr snapshot <collection>`: a full snapshot, or with `--incremental` a link on the latest one. */
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count, formatTags, plural, seconds } from '../format.js';
import { formatBytes } from '../progress-bar.js';
import type { EngineOptions } from '../settings.js';

export interface SnapshotCommandOptions extends EngineOptions {
  incremental?: boolean;
  tag?: Record<string, string>;
  onNoParent?: 'full' | 'error';
}

export async function snapshotCommand(ctx: CommandContext, collection: string, o: SnapshotCommandOptions): Promise<CommandOutcome> {
  const repo = await ctx.repository();
  const adapter = await ctx.engine(o);
  const result = await ctx.track('snapshot', { collection, engine: adapter.engine }, () =>
    repo.snapshot(adapter, collection, {
      tags: o.tag ?? {},
      incremental: o.incremental === true,
      ...(o.onNoParent === undefined ? {} : { onNoParent: o.onNoParent }),
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    }),
  );
  const m = result.manifest;
  const bytes = m.segments.reduce((s, x) => s + x.bytes, 0);
  ctx.out.summary(result.toJSON(), () => [
    `snapshot ${m.id} of ${collection} saved (${result.kind}): ${count(m.rows.upserts)} rows` +
      (m.rows.deletes > 0 ? `, ${count(m.rows.deletes)} deletes` : '') +
      ` in ${plural(m.segments.length, 'segment')} (${result.uploadedSegments} new, ${result.reusedSegments} already stored), ` +
      `${formatBytes(bytes)}, ${seconds(m.timings.totalMs)}` +
      (Object.keys(m.tags).length > 0 ? `, tags ${formatTags(m.tags)}` : ''),
    ...(result.autoFull === undefined ? [] : [`a full snapshot was taken instead of an incremental: ${result.autoFull}`]),
  ]);
  return { exitCode: EXIT_CODES.OK, result };
}
