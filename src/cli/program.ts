/**
 * The `vectordr` command line: verbs and options (commander), and the one runner every verb goes
 * through — settings, output, SIGINT/SIGTERM, cleanup, metrics, and the exit code of its outcome
 * (`exitCodeFor`). docs/cli.md documents what is defined here; keep the two together.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { AbortedError, InvalidInputError, NotFoundError, isVectordrError } from '../index.js';
import { diffCommand } from './commands/diff.js';
import { forgetCommand } from './commands/forget.js';
import { initCommand } from './commands/init.js';
import { pruneCommand } from './commands/prune.js';
import { quickstartCommand } from './commands/quickstart.js';
import { restoreCommand } from './commands/restore.js';
import { type DistributedRestoreOptions, distributedRestoreCommand } from './commands/restore-distributed.js';
import { snapshotCommand } from './commands/snapshot.js';
import { type DistributedSnapshotOptions, distributedSnapshotCommand, isDistributed } from './commands/snapshot-distributed.js';
import { snapshotsCommand } from './commands/snapshots.js';
import { statsCommand } from './commands/stats.js';
import { unlockCommand } from './commands/unlock.js';
import { verifyCommand } from './commands/verify.js';
import { ENGINES } from './config-file.js';
import { CommandContext, type CommandOutcome } from './context.js';
import { EXIT_CODES, exitCodeFor } from './exit-codes.js';
import { METRICS_OPERATION, type MetricsVerb, createMetricsHook } from './metrics-hook.js';
import { Output, type OutputStream, messageOf } from './output.js';
import { Secrets } from './secrets.js';
import type { Env, GlobalOptions } from './settings.js';
import { handleInterrupts } from './signals.js';

declare const __VECTORDR_VERSION__: string | undefined;
/** The package version, set by the build (tsup `define`). */
export const VERSION = typeof __VECTORDR_VERSION__ === 'string' ? __VECTORDR_VERSION__ : '0.0.0-dev';

export interface CliIo {
  argv: readonly string[];
  env: Env;
  stdout: OutputStream;
  stderr: OutputStream;
}

interface MetricsOptions {
  metricsTextfile?: string;
  metricsPush?: string;
  metricsJob: string;
}

// --- option values -------------------------------------------------------------------------

function countArg(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number (0 or more).');
  return Number(value);
}

function positiveArg(value: string): number {
  const n = countArg(value);
  if (n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more.');
  return n;
}

function tagArg(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected key=value.');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function dateArg(value: string): Date {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError('expected an ISO-8601 date, e.g. 2026-01-31T12:00:00Z.');
  return new Date(t);
}

// --- option groups -------------------------------------------------------------------------

function withEngineOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--engine <engine>', 'the engine (default: the one whose settings are given)').choices(ENGINES))
    .option('--pg-url <url>', 'PostgreSQL connection URL (env VECTORDR_PG_URL, else DATABASE_URL)')
    .option('--qdrant-url <url>', 'Qdrant REST URL (env VECTORDR_QDRANT_URL)')
    .option('--qdrant-api-key-file <file>', 'file holding the Qdrant API key (env VECTORDR_QDRANT_API_KEY)')
    .option('--milvus-address <address>', 'Milvus gRPC address host:port (env VECTORDR_MILVUS_ADDRESS; token: VECTORDR_MILVUS_TOKEN)')
    .option('--weaviate-url <url>', 'Weaviate REST URL (env VECTORDR_WEAVIATE_URL; key: VECTORDR_WEAVIATE_API_KEY)')
    .option('--weaviate-grpc <address>', 'Weaviate gRPC address host:port (env VECTORDR_WEAVIATE_GRPC)');
}

function withMetricsOptions(cmd: Command): Command {
  return cmd
    .option('--metrics-textfile <path>', "write the run's metrics for node-exporter's textfile collector (atomically)")
    .option('--metrics-push <url>', "push the run's metrics to a Prometheus Pushgateway")
    .option('--metrics-job <name>', 'the Pushgateway job name', 'vectordr');
}

// --- the runner ----------------------------------------------------------------------------

/** The message a CLI user needs where the library's speaks to a programmer (options of a function call). */
function forCli(err: unknown, ctx: CommandContext): { err: unknown; hint?: string } {
  const where = ctx.repositoryLabel ?? 'the location given';
  const say = (code: 'REPOSITORY_NOT_FOUND' | 'KEY_REQUIRED' | 'NOT_ENCRYPTED', message: string): { err: unknown } => ({
    err:
      code === 'REPOSITORY_NOT_FOUND'
        ? new NotFoundError(code, message, { plugin: 'cli' })
        : new InvalidInputError(code, message, { plugin: 'cli' }),
  });
  if (!isVectordrError(err)) return { err };
  switch (err.code) {
    case 'REPOSITORY_NOT_FOUND':
      return say(err.code, `No vectordr repository at ${where}; create one with "vectordr init".`);
    case 'KEY_REQUIRED':
      return say(
        err.code,
        `Repository ${where} is encrypted: give its password with --password-file, VECTORDR_PASSWORD_FILE or VECTORDR_PASSWORD.`,
      );
    case 'NOT_ENCRYPTED':
      return say(
        err.code,
        `Repository ${where} is not encrypted, but a password was given: its data is stored in plaintext. Open it without a password.`,
      );
    case 'LOCKED':
      return { err, hint: '("vectordr unlock" removes stale locks.)' };
    case 'LOCK_SUSPICIOUS':
      return { err, hint: '("vectordr unlock --force" removes suspicious lock objects, once no vectordr process uses the repository.)' };
    case 'TARGET_NOT_EMPTY':
    case 'TARGET_EXISTS':
      return { err, hint: '(On the command line: --if-exists replace or append, or --target <another name>.)' };
    default:
      return { err };
  }
}

async function execute(
  io: CliIo,
  cmd: Command,
  run: (ctx: CommandContext) => Promise<CommandOutcome>,
  metrics?: { verb: MetricsVerb; collection?: string },
): Promise<number> {
  const g = cmd.optsWithGlobals<GlobalOptions & MetricsOptions>();
  const secrets = new Secrets();
  secrets.addUrl(g.metricsPush);
  const out = new Output({
    json: g.json === true,
    quiet: g.quiet === true,
    verbose: g.verbose === true,
    progress: g.progress,
    stdout: io.stdout,
    stderr: io.stderr,
    secrets,
  });
  const interrupts = handleInterrupts((sig) =>
    out.warn(`${sig} received: stopping (the lock is released, nothing half-done is committed); send it again to exit at once`),
  );
  const ctx = new CommandContext(out, secrets, io.env, g, interrupts.signal);
  const wantMetrics = metrics !== undefined && (g.metricsTextfile !== undefined || g.metricsPush !== undefined);
  let outcome: CommandOutcome | undefined;
  let failure: unknown;
  try {
    await ctx.loadConfig();
    if (wantMetrics) ctx.metrics = await createMetricsHook(() => ctx.metricsLabel);
    outcome = await run(ctx);
  } catch (err) {
    failure = err;
  }
  const exitCode = outcome?.exitCode ?? (interrupts.received !== undefined ? EXIT_CODES.INTERRUPTED : exitCodeFor(failure));
  if (failure !== undefined && interrupts.received !== undefined && isVectordrError(failure, 'ABORTED')) {
    const message = `Interrupted by ${interrupts.received}: the operation stopped, committed nothing and released its lock.`;
    out.error(new AbortedError(message, { plugin: 'cli', cause: failure }));
  } else if (failure !== undefined) {
    const { err, hint } = forCli(failure, ctx);
    out.error(err, hint);
  }
  if (ctx.metrics !== undefined && metrics !== undefined) {
    // A failure no tracked operation recorded (the repository or the engine could not be opened) is the command's.
    if (failure !== undefined)
      ctx.metrics.recordFailure(METRICS_OPERATION[metrics.verb], { collection: metrics.collection ?? '' }, failure);
    try {
      const targets = {
        job: g.metricsJob,
        ...(g.metricsTextfile === undefined ? {} : { textfile: g.metricsTextfile }),
        ...(g.metricsPush === undefined ? {} : { push: g.metricsPush }),
      };
      // Before the storage closes: refresh() reads the repository.
      const { refreshError } = await ctx.metrics.flush(targets, ctx.openedRepository);
      if (refreshError !== undefined)
        out.warn(`metrics: the repository could not be read (${messageOf(refreshError)}); the run's own metrics were written`);
    } catch (err) {
      out.warn(`metrics not written: ${messageOf(err)}`);
    }
  }
  await ctx.close();
  interrupts.dispose();
  return exitCode;
}

// --- the program ---------------------------------------------------------------------------

/** Builds the program; each action stores its exit code in `result.code`. */
export function buildProgram(io: CliIo, result: { code: number }): Command {
  const json = io.argv.includes('--json');
  const secrets = new Secrets();
  const program = new Command('vectordr');
  program
    .description('Disaster recovery for vector databases: snapshot, restore, verify, retention.')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(secrets.redact(s)),
      outputError: (s, write) => {
        if (!json) return write(s);
        const message = secrets.redact(s.replace(/^error: /, '').trim());
        io.stdout.write(`${JSON.stringify({ message_type: 'error', code: 'INVALID_ARGUMENT', message })}\n`);
      },
    })
    .option('-r, --repo <url>', 'repository: a path, fs:/path or s3://bucket/prefix (env VECTORDR_REPOSITORY)')
    .option('--password-file <file>', 'file holding the repository password (env VECTORDR_PASSWORD_FILE, or VECTORDR_PASSWORD)')
    .option('-c, --config <file>', 'config file, YAML or JSON (docs/cli.md)')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (env VECTORDR_S3_ENDPOINT); credentials from AWS_* variables')
    .option('--s3-force-path-style', 'path-style S3 URLs (the default with --s3-endpoint)')
    .option('--json', 'JSON lines on stdout, each with a message_type: status, summary or error')
    .option('-q, --quiet', 'no progress and no result text (listings, JSON and errors stay)')
    .option('-v, --verbose', 'settings, library logs and, when not a terminal, progress lines on stderr')
    .option('--no-progress', 'no progress bar or status messages')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 failure, 2 usage, 3 problems found, 10 no repository, 11 locked, 12 wrong password, 130 interrupted.',
    );

  /**
   * A commander action running `run` through `execute`. With `metricsVerb`, the run records metrics,
   * labelled with the collection: the first argument when there is one (snapshot, restore), else `--collection`.
   */
  const action =
    <A extends unknown[]>(run: (ctx: CommandContext, ...args: A) => Promise<CommandOutcome>, metricsVerb?: MetricsVerb) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      const a = args.slice(0, -1) as A;
      const opts = args[args.length - 2] as { collection?: unknown };
      const collection = typeof args[0] === 'string' ? args[0] : typeof opts.collection === 'string' ? opts.collection : undefined;
      const metrics = metricsVerb === undefined ? undefined : { verb: metricsVerb, ...(collection === undefined ? {} : { collection }) };
      result.code = await execute(io, cmd, (ctx) => run(ctx, ...a), metrics);
    };

  program
    .command('init')
    .description('create the repository (encrypted when a password is given)')
    .action(action((ctx) => initCommand(ctx)));

  withMetricsOptions(
    withEngineOptions(
      program
        .command('snapshot')
        .description('take a snapshot of a collection')
        .argument('<collection>', 'the collection (table) to snapshot')
        .option('--incremental', 'a link on the latest snapshot: only what changed since')
        .option('--tag <key=value>', 'a label stored in the snapshot (repeatable)', tagArg)
        .addOption(
          new Option('--on-no-parent <mode>', 'with --incremental and no usable parent: take a full snapshot, or fail').choices([
            'full',
            'error',
          ]),
        )
        .option('--workers <n>', 'distributed: coordinate n workers (plan, wait for their parts, commit)', positiveArg)
        .option('--plan <id>', "distributed: the plan's id (a worker's plan; the coordinator's, instead of a new one)")
        .option('--part <i>', 'distributed: run part i of --plan', countArg)
        .option('--job-index <i>', 'distributed, Kubernetes Indexed Job: 0 coordinates, i >= 1 runs part i-1', countArg),
    ),
  ).action(
    action(
      (ctx, collection: string, o: Parameters<typeof snapshotCommand>[2] & DistributedSnapshotOptions) =>
        isDistributed(o) ? distributedSnapshotCommand(ctx, collection, o) : snapshotCommand(ctx, collection, o),
      'snapshot',
    ),
  );

  program
    .command('snapshots')
    .description('list the snapshots, oldest first')
    .option('--collection <name>', 'only this collection')
    .option('--tag <key=value>', 'only snapshots with this tag (repeatable: all must match)', tagArg)
    .action(action((ctx, o: Parameters<typeof snapshotsCommand>[1]) => snapshotsCommand(ctx, o)));

  withMetricsOptions(
    withEngineOptions(
      program
        .command('restore')
        .description('restore a snapshot into the engine')
        .argument('<collection>', 'the collection the snapshot was taken of')
        .option('--snapshot <id>', 'snapshot id or "latest" (default: latest)')
        .option('--at <date>', 'point in time: the newest snapshot at or before this ISO-8601 date', dateArg)
        .option('--target <name>', 'collection to restore into (default: the same name)')
        .addOption(
          new Option('--if-exists <mode>', 'when the target exists: fail, replace (atomic swap), append')
            .choices(['fail', 'replace', 'append'])
            .default('fail'),
        )
        .option('--if-target-missing', 'do nothing and succeed when the target exists (idempotent pod start-up)')
        .option(
          '--trust-definitions',
          "apply the SQL text (defaults, CHECK, generated columns, partition bounds) of a plaintext repository's manifest",
        )
        .option('--workers <n>', 'distributed: coordinate n workers (plan, wait for their parts, swap in)', positiveArg)
        .option('--plan <id>', "distributed: the plan's id (a worker's plan; the coordinator's, instead of a new one)")
        .option('--part <i>', 'distributed: load part i of --plan', countArg)
        .option('--job-index <i>', 'distributed, Kubernetes Indexed Job: 0 coordinates, i >= 1 loads part i-1', countArg),
    ),
  ).action(
    action(
      (ctx, collection: string, o: DistributedRestoreOptions) =>
        isDistributed(o) ? distributedRestoreCommand(ctx, collection, o) : restoreCommand(ctx, collection, o),
      'restore',
    ),
  );

  withMetricsOptions(
    withEngineOptions(
      program
        .command('verify')
        .description('check the snapshots (integrity), and live collections against them (--parity, --recall)')
        .option('--collection <name>', 'only this collection')
        .option('--snapshot <id>', 'only this snapshot (with --collection)')
        .option('--parity', 'compare the live collection with the snapshot, record by record digest')
        .option('--recall', "measure the live collection's search recall@k against the snapshot's exact neighbours")
        .option('--k <n>', 'neighbours per recall query', positiveArg, 10),
    ),
  ).action(action((ctx, o: Parameters<typeof verifyCommand>[1]) => verifyCommand(ctx, o), 'verify'));

  withEngineOptions(
    program
      .command('diff')
      .description('what changed between two snapshots, or a snapshot and the live collection')
      .argument('<snapshotA>', 'the older snapshot (id or "latest")')
      .argument('[snapshotB]', 'the newer snapshot (default: latest)')
      .requiredOption('--collection <name>', 'the collection')
      .option('--live', 'compare snapshotA with the live collection instead'),
  ).action(action((ctx, a: string, b: string | undefined, o: Parameters<typeof diffCommand>[3]) => diffCommand(ctx, a, b, o)));

  withMetricsOptions(
    program
      .command('forget')
      .description('remove the snapshots a retention policy does not keep, or exactly the snapshots named')
      .argument('[snapshots...]', 'forget exactly these snapshots of --collection (instead of a --keep-* policy)')
      .option('--collection <name>', 'only this collection')
      .option('--keep-last <n>', 'keep the n newest snapshots', countArg)
      .option('--keep-hourly <n>', 'keep the newest snapshot of each of the last n hours that have one', countArg)
      .option('--keep-daily <n>', 'keep the newest of each of the last n days', countArg)
      .option('--keep-weekly <n>', 'keep the newest of each of the last n ISO weeks', countArg)
      .option('--keep-monthly <n>', 'keep the newest of each of the last n months', countArg)
      .option('--keep-yearly <n>', 'keep the newest of each of the last n years', countArg)
      .option('--dry-run', 'show what would be removed, change nothing')
      .option('--prune', 'then delete the data no snapshot references any more'),
  ).action(action((ctx, ids: string[], o: Parameters<typeof forgetCommand>[2]) => forgetCommand(ctx, ids, o), 'forget'));

  withMetricsOptions(
    program
      .command('prune')
      .description('delete data no snapshot references (older than a grace period) and stale locks')
      .option('--dry-run', 'show what would be deleted, change nothing'),
  ).action(action((ctx, o: { dryRun?: boolean }) => pruneCommand(ctx, o), 'prune'));

  program
    .command('stats')
    .description('snapshots, newest snapshot age and stored bytes per collection')
    .option('--collection <name>', 'only this collection')
    .action(action((ctx, o: { collection?: string }) => statsCommand(ctx, o)));

  program
    .command('unlock')
    .description('remove stale locks')
    .option('--force', 'remove suspicious lock objects too: oversized, unreadable, unauthenticated or future-dated (LOCK_SUSPICIOUS)')
    .option('--remove-all', 'remove live locks too (only when no vectordr process uses the repository)')
    .action(action((ctx, o: { removeAll?: boolean; force?: boolean }) => unlockCommand(ctx, o)));

  program
    .command('quickstart')
    .description('the whole loop on an embedded PGlite database: snapshot, disaster, restore, verify')
    .option('--rows <n>', 'rows of the demo table', positiveArg, 10_000)
    .action(action((ctx, o: { rows: number }) => quickstartCommand(ctx, o)));

  return program;
}

/** Runs the CLI on `io.argv` (the arguments after the program name) and returns the exit code. */
export async function runCli(io: CliIo): Promise<number> {
  const result = { code: EXIT_CODES.OK as number };
  const program = buildProgram(io, result);
  try {
    await program.parseAsync([...io.argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_CODES.OK : EXIT_CODES.USAGE;
    throw err;
  }
  return result.code;
}
