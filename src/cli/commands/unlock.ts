/** `vectordr unlock`: removes stale locks; `--remove-all` removes live ones too (no vectordr may be running). */
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';

export async function unlockCommand(ctx: CommandContext, o: { removeAll?: boolean }): Promise<CommandOutcome> {
  const repo = await ctx.repository();
  const result = await repo.unlock({ all: o.removeAll === true });
  ctx.out.summary(result.toJSON(), () => [
    ...result.removed.map((l) => `removed ${l.stale ? 'stale' : 'live'} lock of "${l.operation}" on ${l.host} (pid ${l.pid})`),
    `${result.removed.length} lock${result.removed.length === 1 ? '' : 's'} removed` +
      (result.kept > 0 ? `, ${result.kept} live lock${result.kept === 1 ? '' : 's'} kept (--remove-all removes them)` : ''),
  ]);
  return { exitCode: EXIT_CODES.OK, result };
}
