/**
 * `vectordr unlock`: removes stale locks; `--force` suspicious ones too (objects under locks/ that no
 * running vectordr wrote as they are: LOCK_SUSPICIOUS); `--remove-all` live ones too (no vectordr may be running).
 */
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';

export async function unlockCommand(ctx: CommandContext, o: { removeAll?: boolean; force?: boolean }): Promise<CommandOutcome> {
  const repo = await ctx.repository();
  const result = await repo.unlock({ all: o.removeAll === true, force: o.force === true });
  ctx.out.summary(result.toJSON(), () => [
    ...result.removed.map((l) =>
      l.suspicious !== undefined
        ? `removed suspicious (${l.suspicious}) lock object ${l.key}`
        : `removed ${l.stale ? 'stale' : 'live'} lock of "${l.operation}" on ${l.host} (pid ${l.pid})`,
    ),
    `${result.removed.length} lock${result.removed.length === 1 ? '' : 's'} removed` +
      (result.kept > 0 ? `, ${result.kept} live lock${result.kept === 1 ? '' : 's'} kept (--remove-all removes them)` : ''),
  ]);
  return { exitCode: EXIT_CODES.OK, result };
}
