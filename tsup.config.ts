import { defineConfig } from 'tsup';
import { buildEntries, externalPackages } from './scripts/package-entries.js';

export default defineConfig({
  // index, every folder of adapters/ (the `./adapters/*` export of package.json), storage/s3, metrics.
  entry: buildEntries(),
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  // Engine clients are optional peers; never bundle them (nor any other dependency).
  external: externalPackages(),
});
