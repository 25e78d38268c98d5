#!/usr/bin/env node
// Package smoke test: every public subpath of the built package loads as ESM (import) and as
// CommonJS (require), has the exports it promises, and resolves to its own type declarations the
// way TypeScript finds them (moduleResolution NodeNext, `import` and `require` conditions).
// Subpaths: `vectordr`, `vectordr/storage/s3`, `vectordr/metrics`, and `vectordr/adapters/<folder>` for every folder of
// adapters/ (each exports its `<folder>Adapter` factory).
//
//   npm run build && node scripts/package-smoke.mjs          (the package resolves itself by name)
//   node scripts/package-smoke.mjs /tmp/scratch              (where the packed tarball is installed)
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = fileURLToPath(new URL('..', import.meta.url));
const from = resolve(process.argv[2] ?? repo);
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
console.log(`package smoke: ${Object.keys(subpaths).length} subpaths load as ESM and CommonJS, with types (${from})`);
