import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { buildEntries, cliEntryPlugin, externalPackages } from './scripts/package-entries.js';
import { vendorPlugin } from './scripts/package-vendor.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

export default defineConfig([
  {
    // index, every folder of adapters/ (the `./adapters/*` export of package.json), storage/s3, metrics.
    // The segment worker (src/parallel/segment-pool.ts) is a file of its own, found beside the chunks.
    entry: { ...buildEntries(), 'segment-worker': 'src/parallel/segment-worker.ts' },
    // import.meta.url in the CommonJS build too: the segment pool finds its worker file from it.
    shims: true,
    format: ['esm', 'cjs'],
    dts: true,
    // No source maps in the package: they were 2.4 MB of its 4.4 MB, for code that ships unminified.
    sourcemap: false,
    // The CLI below is built beside the library, into the same folder, at the same time.
    clean: ['!cli.js'],
    target: 'node20',
    splitting: true,
    // Engine clients are optional peers and dependencies are installed: never bundled. apache-arrow is
    // bundled and parquet-wasm's Node build vendored (scripts/package-vendor.ts says why).
    external: externalPackages(),
    esbuildPlugins: [vendorPlugin()],
  },
  {
    // The `vectordr` executable (package.json "bin"): ESM only, with a shebang. It reaches the library
    // through the built entries (cliEntryPlugin), so dist/cli.js holds the CLI alone and shares the
    // library's classes (an error the library throws is the CLI's VectordrError).
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: false,
    clean: false,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    define: { __VECTORDR_VERSION__: JSON.stringify(version) },
    external: externalPackages(),
    esbuildPlugins: [cliEntryPlugin()],
  },
]);
