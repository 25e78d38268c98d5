/**
 * One worker of a distributed snapshot or restore, as its own process (test/pgvector/distributed.test.ts,
 * distributed-restore.test.ts and bench/bench-lib.ts fork it):
 *   node --import tsx test/pgvector/distributed-worker.ts <repository dir> <plan id> <index> [snapshot|restore]
 * PG_URL names the server. Prints `ready` once booted, then the part's summary as one JSON line;
 * exits 1 with the error's code. Given the plan's id, it waits for the coordinator to write the plan.
 */
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { pgPool } from '../helpers/pg.js';

const [dir, planId, index, kind = 'snapshot'] = process.argv.slice(2);
const pool = pgPool({ connectionString: process.env.PG_URL, max: 2 });
try {
  const repo = await openRepository({ storage: fsStorage({ path: dir as string }) });
  const adapter = pgvectorAdapter({ pool });
  // Booted: a benchmark starts its clock (and its plan) only when every worker is here.
  process.stdout.write('ready\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (kind === 'restore') {
    const r = await repo.restorePart(adapter, planId as string, Number(index));
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(
      `${JSON.stringify({
        index: r.index,
        skipped: r.skipped,
        rows: r.part?.rows ?? 0,
        segments: r.part?.segments ?? 0,
        loadMs: r.part?.timings.loadMs,
        wallMs: Math.round(performance.now() - t0),
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      })}\n`,
    );
  } else {
    const r = await repo.snapshotPart(adapter, planId as string, Number(index));
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(
      `${JSON.stringify({
        index: r.index,
        skipped: r.skipped,
        rows: r.part?.rows ?? 0,
        segments: r.part?.segments.length ?? 0,
        timings: r.part?.timings,
        wallMs: Math.round(performance.now() - t0),
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      })}\n`,
    );
  }
} catch (err) {
  const e = err as { code?: string; message?: string };
  process.stdout.write(`${JSON.stringify({ error: e.code ?? 'ERROR', message: e.message })}\n`);
  process.exitCode = 1;
} finally {
  await pool.end();
}
