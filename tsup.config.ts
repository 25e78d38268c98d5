import { defineConfig } from 'tsup';
import { buildEntries, externalPackages } from './scripts/package-entries.js';
import { vendorPlugin } from './scripts/package-vendor.js';

export default defineConfig({
  // index, every folder of adapters/ (the `./adapters/*` export of package.json), storage/s3, metrics.
  entry: buildEntries(),
  format: ['esm', 'cjs'],
  dts: true,
  // No source maps in the package: they were 2.4 MB of its 4.4 MB, for code that ships unminified.
  sourcemap: false,
  clean: true,
  target: 'node20',
  splitting: true,
  // Engine clients are optional peers and dependencies are installed: never bundled. apache-arrow is
  // bundled and parquet-wasm's Node build vendored (scripts/package-vendor.ts says why).
  external: externalPackages(),
  esbuildPlugins: [vendorPlugin()],
});
