/**
 * Vitest global setup of the `cli` project: the end-to-end tests spawn the BUILT CLI (dist/cli.js),
 * so it builds once per run, and only when the build is older than a source (scripts/test-all.sh
 * builds just before the tests, so there it builds nothing).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Newest modification time (ms) of the files under `dir` (recursively) or of the file itself. */
function newest(p: string): number {
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(p).map((name) => newest(path.join(p, name))));
}

export default function setup(): void {
  const inputs = ['src', 'adapters', 'package.json', 'tsup.config.ts', 'scripts/package-entries.ts'].map((p) => newest(path.join(root, p)));
  const built = Math.min(
    ...['dist/cli.js', 'dist/index.js'].map((p) => statSync(path.join(root, p), { throwIfNoEntry: false })?.mtimeMs ?? 0),
  );
  if (built >= Math.max(...inputs)) return;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
