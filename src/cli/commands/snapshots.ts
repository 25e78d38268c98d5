/** `vectordr snapshots`: the committed snapshots, oldest first, filtered by collection and tags. */
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count, formatTags, shortTime, table } from '../format.js';
import { formatBytes } from '../progress-bar.js';

export interface SnapshotsCommandOptions {
  collection?: string;
  tag?: Record<string, string>;
}

export async function snapshotsCommand(ctx: CommandContext, o: SnapshotsCommandOptions): Promise<CommandOutcome> {
  const repo = await ctx.repository();
  const all = await repo.list({ ...(o.collection === undefined ? {} : { collection: o.collection }), signal: ctx.signal });
  const wanted = Object.entries(o.tag ?? {});
  const list = all.filter((s) => wanted.every(([k, v]) => Object.hasOwn(s.tags, k) && s.tags[k] === v));
  if (ctx.out.json) {
    for (const s of list) ctx.out.listing(s, () => []);
  } else {
    ctx.out.listing({}, () => [
      ...table([
        ['ID', 'Time (UTC)', 'Collection', 'Kind', 'Records', 'Size', 'Tags'],
        ...list.map((s) => [
          s.id,
          shortTime(s.createdAt),
          s.collection,
          s.kind,
          count(s.records),
          formatBytes(s.bytes),
          formatTags(s.tags),
        ]),
      ]),
      `${list.length} snapshot${list.length === 1 ? '' : 's'}`,
    ]);
  }
  return { exitCode: EXIT_CODES.OK, result: list };
}
