#!/usr/bin/env node
// Package smoke test: every public subpath of the built package loads as ESM (import) and as
// CommonJS (require), has the exports it promises, and resolves to its own type declarations the
// way TypeScript finds them (moduleResolution NodeNext, `import` and `require` conditions); and the
// `vectordr` executable (package.json "bin") runs (`vectordr --help`).
// Subpaths: `vectordr`, `vectordr/storage/s3`, `vectordr/metrics`, and `vectordr/adapters/<folder>` for every folder of
// adapters/ (each exports its `<folder>Adapter` factory).
//
//   npm run build && node scripts/package-smoke.mjs          (the package resolves itself by name)
//   npm run build && node scripts/package-smoke.mjs --packed (from the `npm pack` tarball, installed
//                                                             into a scratch project as npm would)
//   node scripts/package-smoke.mjs /tmp/scratch              (where the packed tarball is installed)
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = fileURLToPath(new URL('..', import.meta.url));

/**
 * Installs the package as its users get it, without a registry: `npm pack`, the tarball unpacked to
 * node_modules/vectordr of a scratch project, its dependencies linked from this clone's node_modules,
 * and the bin linked (and made executable) as npm does. A file the tarball lacks fails here.
 */
function installPacked() {
  const scratch = mkdtempSync(join(tmpdir(), 'vectordr-packed-'));
  process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
  const [{ filename }] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: repo, encoding: 'utf8' }),
  );
  const modules = join(scratch, 'node_modules');
  const pkgDir = join(modules, 'vectordr');
  mkdirSync(pkgDir, { recursive: true });
  execFileSync('tar', ['-xzf', join(scratch, filename), '-C', pkgDir, '--strip-components=1']);
  for (const name of readdirSync(join(repo, 'node_modules'))) {
    if (name === 'vectordr' || name === '.bin' || name.startsWith('.')) continue;
    symlinkSync(join(repo, 'node_modules', name), join(modules, name));
  }
  const { bin } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  mkdirSync(join(modules, '.bin'));
  for (const [name, file] of Object.entries(bin ?? {})) {
    chmodSync(join(pkgDir, file), 0o755);
    symlinkSync(join('..', 'vectordr', file), join(modules, '.bin', name));
  }
  return scratch;
}

const from = process.argv[2] === '--packed' ? installPacked() : resolve(process.argv[2] ?? repo);
const camel = (name) => name.replace(/[-_]([a-z0-9])/g, (_, c) => c.toUpperCase());
const adapters = readdirSync(join(repo, 'adapters'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** subpath -> the exports it must have, and the dist file it resolves to (without extension). */
const subpaths = {
  vectordr: { names: ['openRepository', 'FailoverRouter', 'memoryLease'], dist: 'index' },
  'vectordr/storage/s3': { names: ['s3Storage'], dist: 'storage/s3/index' },
  'vectordr/metrics': { names: ['registerBackupMetrics', 'writeTextfile', 'pushMetrics'], dist: 'metrics/index' },
  ...Object.fromEntries(adapters.map((a) => [`vectordr/adapters/${a}`, { names: [`${camel(a)}Adapter`], dist: `adapters/${a}/index` }])),
};
subpaths['vectordr/adapters/pgvector']?.names.push('pgRouter', 'pgLease');

// Loaded in a child process started in `from`, so the package resolves from there as a user's would.
const check = (load) =>
  `const subpaths = ${JSON.stringify(subpaths)};
  for (const [s, { names }] of Object.entries(subpaths)) {
    const m = ${load};
    const missing = names.filter((n) => typeof m[n] !== 'function');
    if (missing.length > 0) throw new Error(s + ' lacks ' + missing.join(', '));
  }`;
const run = (args) => execFileSync(process.execPath, args, { cwd: from, stdio: 'inherit' });
run(['--input-type=module', '-e', `${check('await import(s)')}`]);
run(['--input-type=commonjs', '-e', check('require(s)')]);

const problems = [];
for (const [s, { dist }] of Object.entries(subpaths)) {
  for (const [containing, mode, ext] of [
    ['smoke.mts', ts.ModuleKind.ESNext, '.d.ts'],
    ['smoke.cts', ts.ModuleKind.CommonJS, '.d.cts'],
  ]) {
    const options = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
    const found = ts.resolveModuleName(s, join(from, containing), options, ts.sys, undefined, undefined, mode).resolvedModule
      ?.resolvedFileName;
    if (found?.replaceAll('\\', '/').endsWith(`/dist/${dist}${ext}`)) continue;
    problems.push(`${s} from ${containing}: types at ${found ?? 'nowhere'}, not dist/${dist}${ext}`);
  }
}
if (problems.length > 0) throw new Error(`type declarations:\n${problems.join('\n')}`);

// The executable: through the bin link where npm made one, else the file package.json's "bin" names.
const pkgDir = dirname(createRequire(join(from, 'noop.js')).resolve('vectordr/package.json'));
const linked = join(from, 'node_modules', '.bin', 'vectordr');
const { bin } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const [command, ...args] = existsSync(linked) ? [linked] : [process.execPath, join(pkgDir, bin.vectordr)];
const help = execFileSync(command, [...args, '--help'], { cwd: from, encoding: 'utf8' });
if (!help.startsWith('Usage: vectordr')) throw new Error(`vectordr --help printed:\n${help}`);
// From the tarball, the quickstart runs as a new user runs it (`npx vectordr quickstart`; PGlite is an optional peer).
if (process.argv[2] === '--packed') {
  const out = execFileSync(command, [...args, 'quickstart', '--rows', '500', '-r', join(from, 'quickstart-repo')], {
    cwd: from,
    encoding: 'utf8',
  });
  if (!out.includes('quickstart OK')) throw new Error(`vectordr quickstart printed:\n${out}`);
  console.log('package smoke: vectordr quickstart runs from the packed tarball');
}
console.log(
  `package smoke: ${Object.keys(subpaths).length} subpaths load as ESM and CommonJS, with types; vectordr --help runs ` +
    `(${existsSync(linked) ? 'bin link' : 'node dist/cli.js'}) (${from})`,
);
