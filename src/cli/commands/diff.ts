/**
 * `vectordr diff <snapshotA> [snapshotB|--live] --collection c`: what changed from A to B (default
 * the latest), read from the repository alone; or with `--live`, from A to the live collection (a
 * parity check, which reads the engine). Lines are restic's: `+` added, `-` removed, `M` changed.
 */
import { InvalidInputError } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count } from '../format.js';
import type { EngineOptions } from '../settings.js';

export interface DiffCommandOptions extends EngineOptions {
  collection: string;
  live?: boolean;
}

/** The part of a diff the human output shows, from either form. */
interface Changes {
  title: string;
  identical: boolean;
  added: readonly (bigint | string)[];
  removed: readonly (bigint | string)[];
  changed: readonly (bigint | string)[];
  truncated: boolean;
  mismatchedBuckets: number;
}

function lines(c: Changes): string[] {
  if (c.identical) return [c.title, 'identical'];
  return [
    c.title,
    ...c.added.map((id) => `+ ${String(id)}`),
    ...c.removed.map((id) => `- ${String(id)}`),
    ...c.changed.map((id) => `M ${String(id)}`),
    `${count(c.added.length)} added, ${count(c.removed.length)} removed, ${count(c.changed.length)} changed` +
      (c.truncated ? ` (incomplete: ${c.mismatchedBuckets} differing digest buckets; the lists stop early)` : ''),
  ];
}

export async function diffCommand(
  ctx: CommandContext,
  from: string,
  to: string | undefined,
  o: DiffCommandOptions,
): Promise<CommandOutcome> {
  if (o.live === true && to !== undefined)
    throw new InvalidInputError('INVALID_ARGUMENT', 'pass a second snapshot or --live, not both', { plugin: 'cli' });
  const repo = await ctx.repository();
  const progress = { signal: ctx.signal, onProgress: ctx.onProgress };
  if (o.live === true) {
    const adapter = await ctx.engine(o);
    const p = await repo.verifyParity(adapter, { collection: o.collection, snapshot: from, ...progress });
    ctx.out.listing(p.toJSON(), () =>
      lines({
        title: `snapshot ${p.snapshot} (${count(p.rows.snapshot)} rows) -> live ${p.live} (${count(p.rows.live)} rows)`,
        identical: p.ok,
        added: p.extra,
        removed: p.missing,
        changed: p.changed,
        truncated: p.truncated,
        mismatchedBuckets: p.mismatchedBuckets.length,
      }),
    );
    return { exitCode: EXIT_CODES.OK, result: p };
  }
  const d = await repo.diff({ collection: o.collection, from, to: to ?? 'latest', ...progress });
  ctx.out.listing(d.toJSON(), () => [
    ...lines({
      title: `snapshot ${d.from} (${count(d.rows.from)} rows) -> snapshot ${d.to} (${count(d.rows.to)} rows)`,
      identical: d.identical,
      added: d.added,
      removed: d.removed,
      changed: d.changed,
      truncated: d.truncated,
      mismatchedBuckets: d.mismatchedBuckets.length,
    }),
    ...(d.schemaChanged ? ['the collection schema changed between the two'] : []),
  ]);
  return { exitCode: EXIT_CODES.OK, result: d };
}
