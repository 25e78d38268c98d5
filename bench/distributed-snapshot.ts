/**
 * Distributed snapshot of one pgvector table by 1, 2 and 4 worker processes (docs/benchmarks.md,
 * "Distributed snapshot"):
 *
 *   npx tsx bench/distributed-snapshot.ts [--rows 200000] [--dims 768] [--repeat 3] [--workers 1,2,4] [--keep] [--out f.json]
 *
 * PG_URL names the server. Each step: N workers (test/pgvector/distributed-worker.ts) boot and wait
 * for the plan; then the clock starts, the coordinator plans (export + key quantiles), the workers
 * scan and store their ranges, the coordinator commits. Wall time runs from the plan to the commit;
 * client CPU is each worker's own (process.cpuUsage); the machine's busy CPU over the same window
 * includes PostgreSQL and every other process (the machine is shared: see `loadavg`).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pgvectorAdapter } from '../adapters/pgvector/index.js';
import { openRepository } from '../src/repository/repository.js';
import { fsStorage } from '../src/storage/fs-storage.js';
import { benchRun, distributedBenchTable, fmtMs, log, machineBusyCpuS, median, parentPool, startPartWorker } from './bench-lib.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    dims: { type: 'string', default: '768' },
    repeat: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1,2,4' },
    tmp: { type: 'string', default: os.tmpdir() },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const rows = Number(args.rows);
const dims = Number(args.dims);
const repeat = Number(args.repeat);
const counts = args.workers.split(',').map(Number);
const url = process.env.PG_URL;
if (!url) throw new Error('PG_URL is not set (source /tmp/srv/env.sh or scripts/pg-server.sh)');
const table = `h18workers_bench_${rows}_${dims}`;

interface WorkerOut {
  index: number;
  rows: number;
  segments: number;
  wallMs: number;
  cpuMs: number;
  timings?: { scanMs: number; encodeMs: number; storeMs: number; totalMs: number };
}

const pool = parentPool(url);
try {
  const run = await benchRun(pool);
  await distributedBenchTable(pool, table, rows, dims);
  const adapter = pgvectorAdapter({ pool });
  const steps: Record<string, unknown>[] = [];
  for (let r = 0; r < repeat; r++) {
    // Rotate the order so no worker count always runs first (a warm cache, a quieter machine).
    const order = counts.map((_, i) => counts[(i + r) % counts.length] as number);
    for (const n of order) {
      const dir = await mkdtemp(path.join(args.tmp, 'vdr-dist-bench-'));
      try {
        const repo = await openRepository({ storage: fsStorage({ path: dir }), create: true });
        const planId = `bench-${r}-${n}-${process.pid}`;
        const workers = Array.from({ length: n }, (_, i) => startPartWorker<WorkerOut>(dir, planId, i));
        await Promise.all(workers.map((w) => w.ready));
        const load = os.loadavg()[0];
        const busy0 = machineBusyCpuS();
        const t0 = performance.now();
        const coordinator = await repo.planSnapshot(adapter, table, { workers: n, planId });
        const planMs = performance.now() - t0;
        const result = await coordinator.commit({ pollMs: 100 });
        const wallMs = performance.now() - t0;
        const busyS = machineBusyCpuS() - busy0;
        const outs = await Promise.all(workers.map((w) => w.done));
        const step = {
          repetition: r,
          workers: n,
          wallMs: Math.round(wallMs),
          planMs: Math.round(planMs),
          rows: result.manifest.rows.upserts,
          segments: result.manifest.segments.length,
          rowsPerS: Math.round(result.manifest.rows.upserts / (wallMs / 1000)),
          workerCpuS: Math.round(outs.reduce((s, o) => s + o.cpuMs, 0)) / 1000,
          machineBusyS: Math.round(busyS * 10) / 10,
          machineUtil: Math.round((busyS / (wallMs / 1000) / os.cpus().length) * 100) / 100,
          loadavg1: load,
          parts: outs.map((o) => ({ index: o.index, rows: o.rows, wallMs: o.wallMs, cpuMs: o.cpuMs, timings: o.timings })),
        };
        steps.push(step);
        log(
          `rep ${r} workers ${n}: ${fmtMs(wallMs)} (plan ${fmtMs(planMs)}), ${step.rowsPerS} rows/s, worker CPU ${step.workerCpuS} s, ` +
            `machine busy ${step.machineBusyS} s (${Math.round(step.machineUtil * 100)}% of ${os.cpus().length} cores), load ${load?.toFixed(2)}`,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  const summary = counts.map((n) => {
    const mine = steps.filter((s) => s.workers === n);
    const wall = median(mine.map((s) => s.wallMs as number));
    return {
      workers: n,
      medianWallMs: wall,
      medianPlanMs: median(mine.map((s) => s.planMs as number)),
      medianWorkerCpuS: median(mine.map((s) => s.workerCpuS as number)),
      medianMachineUtil: median(mine.map((s) => s.machineUtil as number)),
    };
  });
  const base = summary[0]?.medianWallMs ?? 1;
  for (const s of summary) log(`workers ${s.workers}: median ${fmtMs(s.medianWallMs)}, speedup ${(base / s.medianWallMs).toFixed(2)}×`);
  const result = { bench: 'distributed-snapshot', rows, dims, repeat, table, ...run, summary, steps };
  if (args.out) await writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
  if (!args.keep) await pool.query(`DROP TABLE IF EXISTS ${table}`);
} finally {
  await pool.end();
}
