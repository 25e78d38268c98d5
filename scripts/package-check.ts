/**
 * The package as npm ships it, installed the way a user installs it, in a scratch project outside
 * the clone (so nothing resolves from the clone's node_modules by accident):
 *
 *   1. `npm pack`, then `npm install <tarball> pg`: the pgvector-only install, measured with `du`
 *      (total and the largest packages; docs/benchmarks.md#package-size records the figures);
 *   2. add PGlite + pgvector and run the README's quickstart (its block marked
 *      `<!-- snippet: runs -->`) from that project with tsx, and `npx vectordr quickstart` when the
 *      package has its `vectordr` bin.
 *
 * Peers are installed at the versions the tests use (this clone's node_modules).
 *
 *   npm run build && npx tsx scripts/package-check.ts [--keep]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDocSnippets } from './snippets.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const version = (name: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const run = (cmd: string, args: string[], cwd: string): string =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const npmInstall = (cwd: string, specs: string[]): void =>
  void run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], cwd);

/** `du -sk` of each directory, in KiB. */
function diskKiB(dirs: string[]): Map<string, number> {
  const out = run('du', ['-sk', ...dirs], '/');
  return new Map(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(l.indexOf('\t') + 1), Number(l.split('\t')[0])] as const),
  );
}

/** The installed packages under node_modules (scoped ones one level down), with their disk size. */
function packageSizes(modules: string): [string, number][] {
  const dirs = readdirSync(modules)
    .filter((d) => !d.startsWith('.'))
    .flatMap((d) => (d.startsWith('@') ? readdirSync(join(modules, d)).map((s) => `${d}/${s}`) : [d]));
  const sizes = diskKiB(dirs.map((d) => join(modules, d)));
  return dirs.map((d): [string, number] => [d, sizes.get(join(modules, d)) ?? 0]).sort((a, b) => b[1] - a[1]);
}

const mb = (kib: number): string => `${(kib / 1024).toFixed(1)} MB`;
const quickstart = readDocSnippets(root).filter((s) => s.runs);
if (quickstart.length !== 1) throw new Error(`expected one snippet marked "runs" in README.md and docs/, found ${quickstart.length}`);

const scratch = mkdtempSync(join(tmpdir(), 'vectordr-package-check-'));
try {
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', scratch], root).trim().split('\n').at(-1) as string;
  const project = join(scratch, 'project');
  mkdirSync(project);
  // As `npm init` writes it (npm 11: CommonJS): the README's quickstart is an .mts file so that it runs as ESM anyway.
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'package-check', private: true, type: 'commonjs' }));

  npmInstall(project, [join(scratch, tarball), `pg@${version('pg')}`]);
  const modules = join(project, 'node_modules');
  const sizes = packageSizes(modules);
  say(`package check: ${tarball} (${(statSync(join(scratch, tarball)).size / 2 ** 20).toFixed(1)} MB packed)`);
  say(`  npm install vectordr pg: node_modules ${mb(diskKiB([modules]).get(modules) ?? 0)} on disk (du -sk), ${sizes.length} packages`);
  for (const [name, kib] of sizes.slice(0, 8)) say(`    ${mb(kib).padStart(8)}  ${name}`);

  npmInstall(project, [
    `@electric-sql/pglite@${version('@electric-sql/pglite')}`,
    `@electric-sql/pglite-pgvector@${version('@electric-sql/pglite-pgvector')}`,
  ]);
  const [snippet] = quickstart as [(typeof quickstart)[number]];
  writeFileSync(join(project, 'quickstart.mts'), snippet.code);
  const output = run(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'quickstart.mts'], project);
  for (const line of output.trim().split('\n')) say(`  ${snippet.file}:${snippet.line} quickstart> ${line}`);
  if (!/live table and snapshot match/.test(output)) throw new Error('the README quickstart did not end with a matching restore');

  // CommonJS too: require() of the root and the adapter loads the vendored parquet-wasm through `#parquet-wasm`.
  const cjs =
    "const v = require('vectordr'), p = require('vectordr/adapters/pgvector'); console.log(typeof v.openRepository, typeof p.pgvectorAdapter)";
  if (run(process.execPath, ['--input-type=commonjs', '-e', cjs], project).trim() !== 'function function')
    throw new Error('require() of the install failed');
  say('  require(): vectordr and vectordr/adapters/pgvector load as CommonJS');

  // The README's other quickstart, `npx vectordr quickstart`, once the package has its `vectordr` bin.
  const installed = JSON.parse(readFileSync(join(modules, 'vectordr', 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  if (installed.bin?.vectordr !== undefined) {
    // 1000 rows: the same path, quicker; -r keeps its repository in the scratch directory (by default it stays in $TMPDIR).
    const cli = run('npx', ['--no-install', 'vectordr', 'quickstart', '--rows', '1000', '-r', join(scratch, 'cli-quickstart')], project);
    say(`  npx vectordr quickstart: OK (${cli.trim().split('\n').length} lines of output)`);
  }
  say('package check: OK');
} finally {
  if (keep) say(`kept ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}
