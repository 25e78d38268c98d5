/**
 * vectordr quickstart — the whole disaster-recovery loop on an embedded database, no servers:
 *
 *   1. PGlite (in-process PostgreSQL) + pgvector, a table of ~10k embeddings with a JSON-ish payload
 *   2. snapshot it into a local repository (./.cache/quickstart-repo)
 *   3. disaster: DROP TABLE
 *   4. restore it from the repository (indexes rebuilt with the recorded parameters)
 *   5. verify: repository integrity, live-vs-snapshot parity, and that search still finds neighbours
 *
 * Run: `bash scripts/quickstart.sh` (or `npx tsx examples/quickstart.ts` after `npm install`).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { pgvectorAdapter } from '../adapters/pgvector/index.js';
import { fsStorage, openRepository } from '../src/index.js';

const ROWS = Number(process.env.QUICKSTART_ROWS ?? 10_000);
const DIMS = 384;
const repoPath = path.resolve(process.env.QUICKSTART_REPO ?? '.cache/quickstart-repo');
const say = (msg: string): void => {
  process.stdout.write(`${msg}\n`);
};
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  say(`vectordr quickstart: ${ROWS} × ${DIMS}-dim embeddings on PGlite + pgvector, repository at ${repoPath}`);
  await rm(repoPath, { recursive: true, force: true });

  const db = await PGlite.create({ extensions: { vector } });
  await db.exec(`
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE documents (
      id bigint PRIMARY KEY,
      embedding vector(${DIMS}) NOT NULL,
      title text NOT NULL,
      source text,
      tags text[],
      published timestamptz
    );`);
  // Deterministic pseudo-embeddings, generated in SQL so the quickstart needs no model.
  await db.exec(`
    INSERT INTO documents
    SELECT g,
           (SELECT array_agg(sin(g * 0.37 + d * 1.3 + (g % 17) * d * 0.01))::real[] FROM generate_series(1, ${DIMS}) d)::vector,
           'Document ' || g,
           'https://example.com/docs/' || (g % 100) || '/' || g,
           ARRAY['topic-' || (g % 7), 'lang-en'],
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
    FROM generate_series(1, ${ROWS}) g;
    CREATE INDEX ON documents USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);`);
  say(`• created table documents with ${ROWS} rows and an HNSW index (cosine, m=16, ef_construction=64)`);

  const adapter = pgvectorAdapter({ pglite: db });
  const repo = await openRepository({ storage: fsStorage({ path: repoPath }), create: true });

  const probe = (await adapter.fetch('documents', [42n]))[0];
  const before = await adapter.search('documents', probe?.vectors.embedding as Float32Array, 5);

  const snap = await repo.snapshot(adapter, 'documents', { tags: { trigger: 'quickstart' } });
  const m = snap.manifest;
  const bytes = m.segments.reduce((s, x) => s + x.bytes, 0);
  say(
    `• snapshot ${m.id}: ${m.rows.upserts} rows in ${m.segments.length} segment(s), ` +
      `${(bytes / 1e6).toFixed(1)} MB, digest ${m.digest.collection.slice(0, 16)}…, ` +
      `${seconds(m.timings.totalMs)}`,
  );

  await db.exec('DROP TABLE documents');
  say('• disaster: DROP TABLE documents');

  const restored = await repo.restore(adapter, { collection: 'documents', snapshot: m.id });
  say(
    `• restored ${restored.rows} rows in ${seconds(restored.timings.totalMs)} (load ` +
      `${seconds(restored.timings.loadMs)}, index build ${seconds(restored.timings.indexMs)}; ` +
      `indexes: ${restored.indexes.built.map((i) => `${i.kind} on ${i.field}`).join(', ')})`,
  );

  const integrity = await repo.verify({ collection: 'documents', snapshot: m.id });
  say(`• verify integrity: ${integrity.ok ? 'OK' : 'FAILED'} (${integrity.snapshots[0]?.rows} rows re-hashed, no database needed)`);
  const parity = await repo.verifyParity(adapter, { collection: 'documents', snapshot: m.id });
  say(
    `• verify parity: ${parity.ok ? 'OK' : 'FAILED'} — live ${parity.rows.live} rows, snapshot ` +
      `${parity.rows.snapshot}, digests ` +
      `${parity.collectionDigest.live === parity.collectionDigest.snapshot ? 'equal' : 'differ'}`,
  );
  const after = await adapter.search('documents', probe?.vectors.embedding as Float32Array, 5);
  const same = before.map((h) => String(h.id)).join(',') === after.map((h) => String(h.id)).join(',');
  say(
    `• search for document 42's neighbours: ` +
      `${same ? 'same top-5 as before the disaster' : 'top-5 differs (approximate index)'}: ` +
      `${after.map((h) => String(h.id)).join(', ')}`,
  );

  await db.close();
  if (!integrity.ok || !parity.ok) {
    say('quickstart FAILED');
    process.exitCode = 1;
    return;
  }
  say('quickstart OK: snapshot → disaster → restore → verify');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
