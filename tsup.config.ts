import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'adapters/pgvector/index': 'adapters/pgvector/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  // Engine clients are optional peers; never bundle them.
  external: ['pg', 'pg-copy-streams', '@electric-sql/pglite', '@electric-sql/pglite-pgvector', 'parquet-wasm', 'apache-arrow'],
});
