/**
 * The worker processes and row reads of the distributed snapshot and restore tests
 * (test/pgvector/distributed.test.ts, distributed-restore.test.ts).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs one part of a plan in its own process (test/pgvector/distributed-worker.ts); resolves with its JSON line and exit code. */
export function runPartWorker(
  pgUrl: string | undefined,
  dir: string,
  planId: string,
  index: number,
  kind: 'snapshot' | 'restore',
): Promise<{ code: number | null; out: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'test/pgvector/distributed-worker.ts'), dir, planId, String(index), kind],
      { cwd: ROOT, env: { ...process.env, PG_URL: pgUrl }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown> }));
  });
}

/** The rows of the tests' table (id, embedding, note, meta) in key order as text, read in `q` (under whatever snapshot it holds). */
export async function rowsOf(q: pg.Pool | pg.Client, table: string): Promise<string[]> {
  const r = await q.query(`SELECT id::text AS id, embedding::text AS v, note, meta::text AS meta FROM ${table} ORDER BY id`);
  return r.rows.map((x: Record<string, unknown>) => `${String(x.id)}|${String(x.v)}|${String(x.note)}|${String(x.meta)}`);
}
