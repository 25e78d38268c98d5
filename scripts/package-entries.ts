/**
 * The package's public entry points, read from the tree so that a new adapter folder edits no list
 * (unstorage's `"./drivers/*"` is the model). Every folder of `adapters/` is one subpath,
 * `vectordr/adapters/<folder>`: tsup (tsup.config.ts) builds `adapters/<folder>/index.ts` to
 * `dist/adapters/<folder>/index.{js,cjs,d.ts,d.cts}`, which is where the one wildcard export of
 * package.json, `"./adapters/*"`, points. test/unit/package-layout.test.ts checks that the two agree;
 * scripts/package-smoke.mjs loads every subpath from the build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The adapter folders, each a subpath `vectordr/adapters/<name>`. */
export function adapterNames(root: string = process.cwd()): string[] {
  return readdirSync(join(root, 'adapters'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** tsup entries: output path under dist/ (without extension) to source file. */
export function buildEntries(root: string = process.cwd()): Record<string, string> {
  return {
    index: 'src/index.ts',
    ...Object.fromEntries(adapterNames(root).map((name) => [`adapters/${name}/index`, `adapters/${name}/index.ts`])),
    'storage/s3/index': 'src/storage/s3-storage.ts',
    'metrics/index': 'src/metrics/index.ts',
  };
}

/** Dependencies and peers (the engine clients are optional peers): imported at run time, never bundled. */
export function externalPackages(root: string = process.cwd()): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, unknown> | undefined>;
  return [...new Set(['dependencies', 'peerDependencies', 'peerDependenciesMeta'].flatMap((k) => Object.keys(pkg[k] ?? {})))].sort();
}
