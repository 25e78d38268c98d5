/**
 * What the build carries of its dependencies, so an install of vectordr does not carry more
 * (docs/benchmarks.md#package-size):
 *
 * - **parquet-wasm** ships the same 4.9 MB WebAssembly three times in one npm package (`bundler/`,
 *   `esm/`, `node/`); no `exports` condition or deep import keeps npm from installing all three.
 *   On Node, `import 'parquet-wasm'` loads `node/` (its `node` condition), so the build copies that one
 *   build into dist/vendor/parquet-wasm/ and imports it as `#parquet-wasm`, a subpath import of
 *   package.json (`imports`), which resolves from the package root wherever a chunk sits.
 * - **apache-arrow** (with flatbuffers, tslib, json-with-bigint) is bundled: as a dependency it
 *   installs 12 MB, `@types/node` 25 among them (a runtime dependency of apache-arrow, which then
 *   becomes the global Node types of a project that has none of its own); bundled, the part vectordr
 *   calls is about 0.45 MB per format. None of its types are in vectordr's public API.
 *
 * Both are devDependencies; the versions shipped are the lock file's. The licence and notice files of
 * every package bundled or copied go to dist/vendor/<name>/ (found from esbuild's metafile, so a new
 * bundled package is not forgotten; the build fails if one has none).
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'tsup';

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/** The subpath import the build rewrites `parquet-wasm` to; package.json `imports` maps it into dist/vendor/. */
export const PARQUET_WASM_IMPORT = '#parquet-wasm';
/** Where the vendored parquet-wasm build goes, relative to the package root. */
export const PARQUET_WASM_VENDOR = 'dist/vendor/parquet-wasm';
const PARQUET_WASM_FILES = ['parquet_wasm.js', 'parquet_wasm_bg.wasm'];

const LICENSE_FILE = /^(licen[cs]e|notice|copyright)/i;

/** The package a bundled file belongs to: its name and directory (the innermost node_modules), or undefined. */
export function packageOf(path: string): { name: string; dir: string } | undefined {
  const p = path.replaceAll('\\', '/');
  const m = [...p.matchAll(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)(?=\/)/g)].at(-1);
  if (m?.[1] === undefined) return undefined;
  return { name: m[1], dir: p.slice(0, m.index + m[0].length) };
}

/** Copies a package's licence and notice files into dist/vendor/<name>/; how many it found. */
function copyLicenses(root: string, name: string, dir: string): number {
  const from = join(root, dir);
  const files = readdirSync(from).filter((f) => LICENSE_FILE.test(f));
  mkdirSync(join(root, 'dist', 'vendor', name), { recursive: true });
  for (const f of files) copyFileSync(join(from, f), join(root, 'dist', 'vendor', name, f));
  return files.length;
}

/** The esbuild plugin of the build (tsup.config.ts): the parquet-wasm rewrite, and the vendored files after each format. */
export function vendorPlugin(root: string = process.cwd()): EsbuildPlugin {
  return {
    name: 'vectordr-vendor',
    setup(build) {
      build.onResolve({ filter: /^parquet-wasm$/ }, () => ({ path: PARQUET_WASM_IMPORT, external: true }));
      build.onEnd((result) => {
        if (result.errors.length > 0 || result.metafile === undefined) return;
        const out = join(root, PARQUET_WASM_VENDOR);
        mkdirSync(out, { recursive: true });
        for (const f of PARQUET_WASM_FILES) copyFileSync(join(root, 'node_modules', 'parquet-wasm', 'node', f), join(out, f));
        writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n'); // node/ is CommonJS (require, __dirname)
        const bundled = new Map([['parquet-wasm', 'node_modules/parquet-wasm']]); // name -> directory (metafile paths are relative to root)
        for (const input of Object.keys(result.metafile.inputs)) {
          const p = packageOf(input);
          if (p !== undefined) bundled.set(p.name, p.dir);
        }
        for (const [name, dir] of bundled) {
          if (copyLicenses(root, name, dir) === 0) throw new Error(`${name} is in the build but has no licence file to ship with it`);
        }
      });
    },
  };
}
