/** `vectordr init`: creates the repository; one that exists already is left alone (exit 1). */
import { ConflictError, isVectordrError } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';

/** Errors that mean a repository is there, only not openable with the password given. */
const EXISTS_BUT_LOCKED_AWAY = new Set(['WRONG_KEY', 'KEY_REQUIRED', 'NOT_ENCRYPTED']);

export async function initCommand(ctx: CommandContext): Promise<CommandOutcome> {
  const s = await ctx.repositorySettings();
  let exists = true;
  try {
    await ctx.repository();
  } catch (err) {
    if (isVectordrError(err, 'REPOSITORY_NOT_FOUND')) exists = false;
    else if (!isVectordrError(err) || !EXISTS_BUT_LOCKED_AWAY.has(err.code)) throw err;
  }
  if (exists) {
    throw new ConflictError('REPOSITORY_EXISTS', `A vectordr repository already exists at ${s.label}; nothing was changed.`, {
      plugin: 'cli',
    });
  }
  const repo = await ctx.repository({ create: true });
  const result = { id: repo.config.id, location: s.label, encrypted: repo.encrypted, formatVersion: repo.config.formatVersion };
  ctx.out.summary(result, () => [
    `created repository ${result.id} at ${s.label}`,
    repo.encrypted
      ? 'encrypted with the password given; without it the backups cannot be read, so keep it safe'
      : 'unencrypted (no password given): anyone who can read the storage can read the backups',
  ]);
  return { exitCode: EXIT_CODES.OK, result };
}
