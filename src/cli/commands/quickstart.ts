/**
 * `vectordr quickstart`: the whole disaster-recovery loop on an embedded database, no servers — a
 * PGlite (in-process PostgreSQL + pgvector) table of embeddings, snapshotted into a repository,
 * dropped, restored, and verified (integrity, parity, search). The same steps as
 * examples/quickstart.ts, runnable from the installed package; PGlite is an optional peer.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UnsupportedOperationError, fsStorage, openRepository } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count, seconds } from '../format.js';
import { formatBytes } from '../progress-bar.js';

const DIMS = 384;
const PEERS = '@electric-sql/pglite @electric-sql/pglite-pgvector';

async function loadPglite(): Promise<[typeof import('@electric-sql/pglite'), typeof import('@electric-sql/pglite-pgvector')]> {
  try {
    return await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-pgvector')]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
    throw new UnsupportedOperationError(`quickstart runs on PGlite, an optional peer of vectordr: npm install ${PEERS}`, { plugin: 'cli' });
  }
}

export async function quickstartCommand(ctx: CommandContext, o: { rows: number }): Promise<CommandOutcome> {
  const [{ PGlite }, { vector }] = await loadPglite();
  const { pgvectorAdapter } = await import('../../../adapters/pgvector/index.js');
  const repoPath = ctx.globals.repo ?? (await mkdtemp(path.join(tmpdir(), 'vectordr-quickstart-')));
  const say = (line: string): void => ctx.out.print(line);
  say(`quickstart: ${count(o.rows)} x ${DIMS}-dim embeddings on PGlite + pgvector, repository at ${repoPath}`);

  const db = await PGlite.create({ extensions: { vector } });
  ctx.defer(() => db.close());
  await db.exec(`
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE documents (id bigint PRIMARY KEY, embedding vector(${DIMS}) NOT NULL, title text NOT NULL, tags text[]);
    INSERT INTO documents
    SELECT g,
           (SELECT array_agg(sin(g * 0.37 + d * 1.3 + (g % 17) * d * 0.01))::real[] FROM generate_series(1, ${DIMS}) d)::vector,
           'Document ' || g,
           ARRAY['topic-' || (g % 7), 'lang-en']
    FROM generate_series(1, ${o.rows}) g;
    CREATE INDEX ON documents USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);`);
  say(`created table documents with ${count(o.rows)} rows and an HNSW index (cosine)`);

  const adapter = pgvectorAdapter({ pglite: db });
  const repo = await openRepository({ storage: fsStorage({ path: repoPath }), create: true, logger: ctx.out.logger() });
  const progress = { signal: ctx.signal, onProgress: ctx.onProgress };
  const probe = (await adapter.fetch('documents', [42n]))[0]?.vectors.embedding as Float32Array;
  const before = (await adapter.search('documents', probe, 5)).map((h) => String(h.id)).join(', ');

  const snap = await repo.snapshot(adapter, 'documents', { tags: { trigger: 'quickstart' }, ...progress });
  const m = snap.manifest;
  ctx.out.endProgress();
  say(
    `snapshot ${m.id}: ${count(m.rows.upserts)} rows in ${m.segments.length} segments, ` +
      `${formatBytes(m.segments.reduce((s, x) => s + x.bytes, 0))}, ${seconds(m.timings.totalMs)}`,
  );

  await db.exec('DROP TABLE documents');
  say('disaster: DROP TABLE documents');

  const restored = await repo.restore(adapter, { collection: 'documents', snapshot: m.id, ...progress });
  ctx.out.endProgress();
  say(`restored ${count(restored.rows)} rows in ${seconds(restored.timings.totalMs)} (index build ${seconds(restored.timings.indexMs)})`);

  const integrity = await repo.verify({ collection: 'documents', snapshot: m.id, ...progress });
  const parity = await repo.verifyParity(adapter, { collection: 'documents', snapshot: m.id, ...progress });
  ctx.out.endProgress();
  say(`verify integrity: ${integrity.ok ? 'OK' : 'FAILED'}; parity with the live table: ${parity.ok ? 'OK' : 'FAILED'}`);
  const after = (await adapter.search('documents', probe, 5)).map((h) => String(h.id)).join(', ');
  say(
    `search for document 42's neighbours: ${after === before ? 'the same top 5 as before the disaster' : 'a different top 5'} (${after})`,
  );

  const ok = integrity.ok && parity.ok;
  say(ok ? 'quickstart OK: snapshot -> disaster -> restore -> verify' : 'quickstart FAILED');
  say(`look around: vectordr snapshots -r ${repoPath}`);
  const result = { ok, repository: repoPath, snapshot: m.id, rows: restored.rows, integrity: integrity.ok, parity: parity.ok };
  ctx.out.summary(result, () => []);
  return { exitCode: ok ? EXIT_CODES.OK : EXIT_CODES.PARTIAL, result };
}
