/**
 * Every folder of adapters/ is a public subpath: built by tsup (scripts/package-entries.ts) to the
 * files package.json's exports point at (`"./adapters/*"`), for `import` and `require`, code and
 * types; and nothing is exported that is not built. The build itself is loaded by
 * scripts/package-smoke.mjs (npm run test:all).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { adapterNames, buildEntries, externalPackages } from '../../scripts/package-entries.js';
import { PARQUET_WASM_IMPORT, PARQUET_WASM_VENDOR, packageOf } from '../../scripts/package-vendor.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, Record<string, string>>>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  imports: Record<string, string>;
  files: string[];
};

/** Node's resolution of a subpath through `exports` (exact key, else the `*` pattern), for one condition. */
function exported(subpath: string, condition: 'import' | 'require', kind: 'types' | 'default'): string | undefined {
  for (const [key, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue;
    const star = key.indexOf('*');
    const match = star < 0 ? key === subpath : subpath.startsWith(key.slice(0, star)) && subpath.endsWith(key.slice(star + 1));
    if (!match) continue;
    const value = target[condition]?.[kind];
    return star < 0 ? value : value?.replaceAll('*', subpath.slice(star, subpath.length - (key.length - star - 1)));
  }
  return undefined;
}

const subpathOf = (entry: string): string => (entry === 'index' ? '.' : `./${entry.replace(/\/index$/, '')}`);
const outputs = (entry: string): Record<string, string> => ({
  'import types': `./dist/${entry}.d.ts`,
  'import default': `./dist/${entry}.js`,
  'require types': `./dist/${entry}.d.cts`,
  'require default': `./dist/${entry}.cjs`,
});

describe('package layout: one folder under adapters/ is one subpath export, built', () => {
  const entries = buildEntries(root);

  it('every folder of adapters/ has an index.ts and is a build entry', () => {
    const names = adapterNames(root);
    expect(names).toEqual(expect.arrayContaining(['milvus', 'pgvector', 'qdrant', 'weaviate']));
    for (const name of names) {
      expect(existsSync(join(root, 'adapters', name, 'index.ts')), `adapters/${name}/index.ts`).toBe(true);
      expect(entries[`adapters/${name}/index`]).toBe(`adapters/${name}/index.ts`);
    }
  });

  it('every build entry is exported, and resolves to the files tsup writes for it', () => {
    for (const entry of Object.keys(entries)) {
      const subpath = subpathOf(entry);
      const resolved = {
        'import types': exported(subpath, 'import', 'types'),
        'import default': exported(subpath, 'import', 'default'),
        'require types': exported(subpath, 'require', 'types'),
        'require default': exported(subpath, 'require', 'default'),
      };
      expect(resolved, subpath).toEqual(outputs(entry));
    }
  });

  it('every export is built: no subpath points at files no entry produces', () => {
    const subpaths = new Set(Object.keys(entries).map(subpathOf));
    for (const key of Object.keys(pkg.exports).filter((k) => k !== './package.json')) {
      if (key.includes('*'))
        expect(key).toBe('./adapters/*'); // the pattern's folders are checked above
      else expect(subpaths.has(key), `${key} has no build entry`).toBe(true);
    }
  });

  it('each adapter folder exports its <name>Adapter factory', async () => {
    for (const name of adapterNames(root)) {
      const factory = `${name.replace(/[-_]([a-z0-9])/g, (_, c: string) => c.toUpperCase())}Adapter`;
      const mod = (await import(join(root, 'adapters', name, 'index.ts'))) as Record<string, unknown>;
      expect(typeof mod[factory], `adapters/${name} exports ${factory}`).toBe('function');
    }
  });

  it('engine clients (optional peers) stay external to the build', () => {
    expect(externalPackages(root)).toEqual(expect.arrayContaining(Object.keys(pkg.peerDependencies)));
  });

  it('the vectordr bin is the CLI build (src/cli/main.ts to dist/cli.js, ESM with a shebang), beside the library', async () => {
    const { default: configs } = (await import(join(root, 'tsup.config.ts'))) as { default: Record<string, unknown>[] };
    const cli = configs.find((c) => JSON.stringify(c.entry) === JSON.stringify({ cli: 'src/cli/main.ts' }));
    expect(pkg.bin).toEqual({ vectordr: './dist/cli.js' });
    expect(cli).toMatchObject({ format: ['esm'], clean: false, banner: { js: '#!/usr/bin/env node' } });
    // The library's build cleans dist/ but keeps the CLI's file, built at the same time (no source maps: docs/benchmarks.md#package-size).
    expect(configs.find((c) => c !== cli)?.clean).toEqual(['!cli.js']);
  });

  it('every optional peer is declared as a peer with a version range (a Meta entry alone declares nothing to npm)', () => {
    expect(Object.keys(pkg.peerDependenciesMeta).sort()).toEqual(Object.keys(pkg.peerDependencies).sort());
    for (const [name, meta] of Object.entries(pkg.peerDependenciesMeta)) expect(meta.optional, name).toBe(true);
    expect(pkg.peerDependencies['prom-client']).toMatch(/^>=\d+/);
  });

  it('nothing in src/ loads prom-client: its module is passed in (registerRouterMetrics, registerBackupMetrics)', () => {
    // The CLI (src/cli/) is an application of the library: it loads the peer when a metrics option asks for it.
    const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !f.startsWith('cli/'),
    );
    for (const file of files) {
      // Code only: the JSDoc examples show the user's own `import * as prom from 'prom-client'`.
      const text = readFileSync(join(root, 'src', file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
      expect(text, file).not.toMatch(
        /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]prom-client['"]|\b(?:require|import)\s*\(\s*['"]prom-client['"]/m,
      );
    }
  });
});

describe('package size: what the build carries instead of installing (scripts/package-vendor.ts)', () => {
  it('apache-arrow is bundled and parquet-wasm vendored: build tools, not dependencies of the package', () => {
    expect(Object.keys(pkg.dependencies)).not.toContain('apache-arrow');
    expect(Object.keys(pkg.dependencies)).not.toContain('parquet-wasm');
    expect(externalPackages(root)).not.toEqual(expect.arrayContaining(['apache-arrow']));
    expect(Object.keys(pkg.devDependencies)).toEqual(expect.arrayContaining(['apache-arrow', 'parquet-wasm']));
  });

  it('the subpath import the build rewrites parquet-wasm to points at the vendored Node build, inside the published files', () => {
    expect(pkg.imports).toEqual({ [PARQUET_WASM_IMPORT]: `./${PARQUET_WASM_VENDOR}/parquet_wasm.js` });
    expect(pkg.files).toContain(PARQUET_WASM_VENDOR.split('/')[0]);
    expect(existsSync(join(root, 'node_modules', 'parquet-wasm', 'node', 'parquet_wasm_bg.wasm'))).toBe(true);
  });

  it('packageOf finds the package of a bundled input: scoped or not, nested or not', () => {
    expect(packageOf('node_modules/apache-arrow/Arrow.node.mjs')).toEqual({ name: 'apache-arrow', dir: 'node_modules/apache-arrow' });
    expect(packageOf('../node_modules/@scope/pkg/dist/x.js')).toEqual({ name: '@scope/pkg', dir: '../node_modules/@scope/pkg' });
    expect(packageOf('node_modules/a/node_modules/tslib/tslib.es6.mjs')).toEqual({
      name: 'tslib',
      dir: 'node_modules/a/node_modules/tslib',
    });
    expect(packageOf('src/format/segment-codec.ts')).toBeUndefined();
  });
});
