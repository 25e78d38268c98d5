// The same workload against whichever vectordr is installed where this file is run from (a project
// with vectordr, @electric-sql/pglite and @electric-sql/pglite-pgvector installed): import time,
// snapshot (encode), verify (decode, no database) and restore, on PGlite with a memory repository.
// Used to compare two builds of the package (docs/benchmarks.md#package-size):
//
//   cp bench/installed-package.mjs <project>/ && cd <project> && ROWS=20000 node installed-package.mjs
import console from 'node:console';
import process from 'node:process';
import { performance } from 'node:perf_hooks';

const t0 = performance.now();
const { memoryStorage, openRepository } = await import('vectordr');
const { pgvectorAdapter } = await import('vectordr/adapters/pgvector');
const importMs = performance.now() - t0;
const { PGlite } = await import('@electric-sql/pglite');
const { vector } = await import('@electric-sql/pglite-pgvector');

const ROWS = Number(process.env.ROWS ?? 20000);
const DIMS = 384;
const db = await PGlite.create({ extensions: { vector } });
await db.exec(`CREATE EXTENSION IF NOT EXISTS vector;
  CREATE TABLE documents (id bigint PRIMARY KEY, embedding vector(${DIMS}) NOT NULL, title text, tags text[]);
  INSERT INTO documents
  SELECT g, (SELECT array_agg(sin(g * 0.37 + d * 1.3))::real[] FROM generate_series(1, ${DIMS}) d)::vector, 'Document ' || g, ARRAY['t' || (g % 7)]
  FROM generate_series(1, ${ROWS}) g;`);
const adapter = pgvectorAdapter({ pglite: db });
const repo = await openRepository({ storage: memoryStorage(), create: true });
const timed = async (f) => {
  const t = performance.now();
  const result = await f();
  return [Math.round(performance.now() - t), result];
};
const [snapshotMs, snap] = await timed(() => repo.snapshot(adapter, 'documents'));
const [verifyMs, integrity] = await timed(() => repo.verify({ collection: 'documents' }));
const [restoreMs] = await timed(() => repo.restore(adapter, { collection: 'documents', target: 'documents_restored' }));
console.log(
  JSON.stringify({ importMs: Math.round(importMs), snapshotMs, verifyMs, restoreMs, ok: integrity.ok, rows: snap.manifest.rows.upserts }),
);
await db.close();
