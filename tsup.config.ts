import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { buildEntries, cliEntryPlugin, externalPackages } from './scripts/package-entries.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

export default defineConfig([
  {
    // index, every folder of adapters/ (the `./adapters/*` export of package.json), storage/s3, metrics.
    entry: buildEntries(),
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    // The CLI below is built beside the library, into the same folder, at the same time.
    clean: ['!cli.js', '!cli.js.map'],
    target: 'node20',
    splitting: true,
    // Engine clients are optional peers; never bundle them (nor any other dependency).
    external: externalPackages(),
  },
  {
    // The `vectordr` executable (package.json "bin"): ESM only, with a shebang. It reaches the library
    // through the built entries (cliEntryPlugin), so dist/cli.js holds the CLI alone and shares the
    // library's classes (an error the library throws is the CLI's VectordrError).
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    define: { __VECTORDR_VERSION__: JSON.stringify(version) },
    external: externalPackages(),
    esbuildPlugins: [cliEntryPlugin()],
  },
]);
