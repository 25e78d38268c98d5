/**
 * Runs the built `vectordr` CLI (dist/cli.js, built by test/cli/global-setup.ts) as a child process,
 * with only the environment a test gives it (plus PATH and HOME): nothing of the test runner's own
 * settings (DATABASE_URL, VECTORDR_*, AWS_*) leaks into a case.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON lines (empty when a line is not JSON: then `stdout` tells why). */
  json: Record<string, unknown>[];
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Called with each chunk of stdout as it arrives (e.g. to signal the process mid-run). */
  onStdout?: (chunk: string, child: ChildProcess) => void;
  timeoutMs?: number;
}

/** JSON lines of `text`, or [] when any line is not JSON. */
export function jsonLines(text: string): Record<string, unknown>[] {
  try {
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env };
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    options.onStdout?.(chunk, child);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, json: jsonLines(stdout) });
    });
  });
}

/** The CLI's output for an assertion message. */
export const shown = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
