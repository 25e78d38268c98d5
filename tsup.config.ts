import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'adapters/pgvector/index': 'adapters/pgvector/index.ts',
    'adapters/milvus/index': 'adapters/milvus/index.ts',
    'adapters/weaviate/index': 'adapters/weaviate/index.ts',
    'adapters/qdrant/index': 'adapters/qdrant/index.ts',
    'storage/s3/index': 'src/storage/s3-storage.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  // Engine clients are optional peers; never bundle them.
  external: ['pg', 'pg-copy-streams', '@electric-sql/pglite', '@electric-sql/pglite-pgvector', 'parquet-wasm', 'apache-arrow', '@aws-sdk/client-s3', '@aws-sdk/lib-storage', '@zilliz/milvus2-sdk-node', 'weaviate-client', '@qdrant/js-client-rest', 'prom-client'],
});
