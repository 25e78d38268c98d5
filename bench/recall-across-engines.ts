/**
 * recall@k after a cross-engine restore: one pgvector table (N x D, HNSW cosine m 16,
 * ef_construction 64) is snapshotted once and restored into pgvector, Milvus, Weaviate and Qdrant;
 * repo.verifyRecall then compares each engine's search (its index, verifyRecall's search effort) with
 * the exact top-k computed from the snapshot, and the engine's exact search where it has one.
 *
 *   eval "$(scripts/weaviate-server.sh env)"; scripts/pg-server.sh start; scripts/milvus-server.sh start
 *   npx tsx bench/recall-across-engines.ts [--rows 20000] [--dims 128] [--k 10] [--queries 100]
 *
 * Qdrant is the OpenAPI-validating test server (its search is brute force: recall 1 by construction),
 * or a real Qdrant with QDRANT_URL. Writes bench/results/<commit>-recall-<rows>.json.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { milvusAdapter } from '../adapters/milvus/index.js';
import { pgvectorAdapter } from '../adapters/pgvector/index.js';
import { qdrantAdapter } from '../adapters/qdrant/index.js';
import { weaviateAdapter } from '../adapters/weaviate/index.js';
import type { VectorAdapter } from '../src/adapter.js';
import { openRepository } from '../src/repository/repository.js';
import { memoryStorage } from '../src/storage/memory-storage.js';
import { startQdrantTestServer } from '../test/qdrant/qdrant-test-server.js';
import { codeVersion, log } from './bench-lib.js';
import { pgPool } from '../test/helpers/pg.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    dims: { type: 'string', default: '128' },
    k: { type: 'string', default: '10' },
    queries: { type: 'string', default: '100' },
  },
});
const ROWS = Number(args.rows);
const DIMS = Number(args.dims);
const K = Number(args.k);
const QUERIES = Number(args.queries);

async function main(): Promise<void> {
  const code = codeVersion();
  const pool = pgPool({ connectionString: process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:54329/postgres', max: 4 });
  await pool.query('CREATE EXTENSION IF NOT EXISTS vector');
  const table = `recall_${Math.random().toString(36).slice(2, 8)}`;
  // Clustered data (64 centres + noise), closer to real embeddings than uniform noise.
  await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, embedding vector(${DIMS}) NOT NULL, title text)`);
  await pool.query(
    `INSERT INTO ${table} SELECT g, ARRAY(SELECT sin((g % 64) * 7.0 + d) + 0.3 * sin(g * 13.0 ` +
      `+ d * 1.7) FROM generate_series(1, ${DIMS}) d)::vector, 'doc ' || g FROM ` +
      `generate_series(1, ${ROWS}) g`,
  );
  await pool.query(`CREATE INDEX ON ${table} USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)`);
  const server = process.env.QDRANT_URL ? undefined : await startQdrantTestServer();
  const engines: Record<string, VectorAdapter> = {
    pgvector: pgvectorAdapter({ pool }),
    milvus: milvusAdapter({ url: process.env.MILVUS_ADDRESS ?? '127.0.0.1:54340' }),
    weaviate: weaviateAdapter({
      url: process.env.WEAVIATE_URL ?? 'http://127.0.0.1:54350',
      grpcAddress: process.env.WEAVIATE_GRPC ?? '127.0.0.1:54351',
    }),
    qdrant: qdrantAdapter({ url: process.env.QDRANT_URL ?? (server?.url as string) }),
  };
  const repo = await openRepository({ storage: memoryStorage(), create: true });
  const results: Record<string, unknown> = {};
  const made: [VectorAdapter, string][] = [];
  try {
    const { manifest } = await repo.snapshot(engines.pgvector as VectorAdapter, table);
    for (const [engine, a] of Object.entries(engines)) {
      const target = `${table}_${engine}`;
      made.push([a, target]);
      const t0 = performance.now();
      await repo.restore(a, { collection: table, snapshot: manifest.id, target });
      const restoreMs = Math.round(performance.now() - t0);
      const indexed = await repo.verifyRecall(a, { collection: table, snapshot: manifest.id, live: target, k: K, queries: QUERIES });
      const exact = await repo.verifyRecall(a, {
        collection: table,
        snapshot: manifest.id,
        live: target,
        k: K,
        queries: QUERIES,
        exact: true,
      });
      results[engine] = {
        restoreMs,
        effort: indexed.effort,
        recall: indexed.recall,
        minQueryRecall: indexed.minQueryRecall,
        exactRecall: exact.recall,
        searchMs: indexed.timings.searchMs,
        exactNeighboursMs: indexed.timings.exactMs,
      };
      log(
        `${engine}: recall@${K} ${indexed.recall} (lowest query ${indexed.minQueryRecall}), with ` +
          `exact search ${exact.recall}; restore ${restoreMs} ms`,
      );
    }
  } finally {
    for (const [a, n] of made) await a.drop(n).catch(() => undefined);
    await (engines.pgvector as VectorAdapter).drop(table).catch(() => undefined);
    for (const a of Object.values(engines)) await a.close?.();
    await pool.end();
    await server?.close();
  }
  const out = {
    benchmark: 'recall-across-engines',
    code,
    when: new Date().toISOString(),
    rows: ROWS,
    dims: DIMS,
    k: K,
    queries: QUERIES,
    qdrant: process.env.QDRANT_URL ? 'real' : 'test server',
    results,
  };
  await fs.writeFile(
    path.join(ROOT, 'bench/results', `${(code.commit ?? 'unknown').slice(0, 7)}-recall-${ROWS}.json`),
    `${JSON.stringify(out, null, 2)}\n`,
  );
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
