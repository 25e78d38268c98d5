/**
 * The `vectordr` executable (package.json "bin", built to dist/cli.js with a shebang). Runs the
 * command line and exits with its code; docs/cli.md describes the commands.
 */
import { runCli } from './program.js';

// `vectordr snapshots | head -1`: a reader that went away is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

const code = await runCli({ argv: process.argv.slice(2), env: process.env, stdout: process.stdout, stderr: process.stderr }).catch(
  (err: unknown) => {
    // Reached only by a bug in the CLI itself: every command's failure is handled and mapped to its exit code.
    process.stderr.write(`vectordr: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  },
);
process.exitCode = code;
// An engine client that keeps a socket open (keep-alive) must not hold the exit back.
setTimeout(() => process.exit(code), 1_000).unref();
