/**
 * The package's public entry points, read from the tree so that a new adapter folder edits no list
 * (unstorage's `"./drivers/*"` is the model). Every folder of `adapters/` is one subpath,
 * `vectordr/adapters/<folder>`: tsup (tsup.config.ts) builds `adapters/<folder>/index.ts` to
 * `dist/adapters/<folder>/index.{js,cjs,d.ts,d.cts}`, which is where the one wildcard export of
 * package.json, `"./adapters/*"`, points. test/unit/package-layout.test.ts checks that the two agree;
 * scripts/package-smoke.mjs loads every subpath from the build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Options } from 'tsup';

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

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * The CLI's build (dist/cli.js, beside the library's entries) imports the library through its built
 * entries, never a second copy of it: an import from src/cli/ of an entry's source (`../index.js`,
 * `../../adapters/pgvector/index.js`, `../storage/s3-storage.js`) becomes an external import of the
 * built file (`./index.js`, ...). Any other import from src/cli/ out of it fails the build — a
 * bundled copy of a library module would have classes of its own (`instanceof VectordrError` false
 * for the library's errors).
 */
export function cliEntryPlugin(root: string = process.cwd()): EsbuildPlugin {
  const bySource = new Map(Object.entries(buildEntries(root)).map(([out, src]) => [resolve(root, src), `./${out}.js`]));
  const cli = resolve(root, 'src/cli') + sep;
  return {
    name: 'vectordr-cli-entries',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
        const entry = bySource.get(target);
        if (entry !== undefined) return { path: entry, external: true };
        if (!args.importer.startsWith(cli) || target.startsWith(cli)) return undefined;
        return {
          errors: [
            {
              text:
                `${args.importer.slice(root.length + 1)} imports ${args.path}: src/cli/ reaches the library only through its ` +
                `public entries (src/index.ts, adapters/<name>/index.ts, src/storage/s3-storage.ts)`,
            },
          ],
        };
      });
    },
  };
}
