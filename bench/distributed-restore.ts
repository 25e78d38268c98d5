/**
 * Distributed restore of one pgvector snapshot by 1, 2 and 4 worker processes, against a
 * single-process restore and raw binary COPY of the same rows (docs/benchmarks.md, "Distributed
 * restore"):
 *
 *   npx tsx bench/distributed-restore.ts [--rows 200000] [--dims 768] [--repeat 2] [--workers 1,2,4] [--keep] [--out f.json]
 *
 * PG_URL names the server. The table (the distributed snapshot benchmark's: a vector, a short title,
 * a small jsonb) is filled and snapshotted once into a filesystem repository; every step then loads
 * the same rows into a new table with its primary key and no vector index, dropped after the step:
 *
 * - `copy`: raw `COPY FROM STDIN (FORMAT binary)` of the table's own COPY bytes (from a file);
 * - `restore`: `repo.restore` in one process (`buildIndexes: false`: the restore is the load);
 *   both are the child steps of bench/pgvector-snapshot-restore.ts (`--child copy-in|restore`),
 *   timed by the child itself from after its start-up;
 * - `distributed` N: N workers (test/pgvector/distributed-worker.ts ... restore) boot and wait for the
 *   plan; then the clock starts, the coordinator (this process) plans, the workers load their spans
 *   into the staging table, the coordinator commits (waits for the parts, checks their digests and
 *   the count, swaps the staging table in). Wall time runs from the plan to the end of the commit;
 *   `commit` is what the coordinator took after the last worker reported its part done.
 *
 * Client CPU is each process's own (process.cpuUsage, measured window only); PostgreSQL CPU is that
 * of all the server's processes (backends, WAL writer, checkpointer) over the step, other sessions'
 * included; the machine's busy CPU includes every other process (the machine is shared: see
 * `loadavg`). The order of the steps rotates between repetitions.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { pgvectorAdapter } from '../adapters/pgvector/index.js';
import { openRepository } from '../src/repository/repository.js';
import { fsStorage } from '../src/storage/fs-storage.js';
import { type ChildMeasures, type ChildStepResult, benchRun, distributedBenchTable, fmtMs, log } from './bench-lib.js';
import { machineBusyCpuS, measuredChild, median, parentPool, procCpuSeconds, ratio, startPartWorker } from './bench-lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    dims: { type: 'string', default: '768' },
    repeat: { type: 'string', default: '2' },
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
const table = `h18restore_bench_${rows}_${dims}`;
const targets = { copy: `${table}_copy`, restore: `${table}_r1`, distributed: `${table}_rn` };

interface WorkerOut {
  index: number;
  rows: number;
  segments: number;
  loadMs: number;
  wallMs: number;
  cpuMs: number;
}

/** The anchors run as child steps of this benchmark (their own process, timed from after start-up). */
const ANCHOR_SCRIPT = path.join(ROOT, 'bench/pgvector-snapshot-restore.ts');

function anchor(step: 'copy-out' | 'copy-in' | 'restore', childArgs: Record<string, string>): Promise<ChildStepResult & ChildMeasures> {
  const argv = ['--import', 'tsx', ANCHOR_SCRIPT, '--child', step];
  for (const [k, v] of Object.entries(childArgs)) argv.push(`--${k}`, v);
  return measuredChild(step, argv, process.env);
}

/**
 * CPU seconds of the whole PostgreSQL server so far: the postmaster, its live children (backends,
 * WAL writer, checkpointer, ...) and the children it has reaped (cutime + cstime), from /proc.
 */
function postgresCpuS(postmaster: number): number {
  const stat = (pid: number): string[] | undefined => {
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return s.slice(s.lastIndexOf(')') + 2).split(' ');
    } catch {
      return undefined;
    }
  };
  let live = 0;
  for (const task of readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/)) {
    if (task) live += procCpuSeconds(Number(task)) ?? 0;
  }
  const f = stat(postmaster) ?? [];
  // utime, stime, cutime, cstime, in clock ticks (USER_HZ, 100 on Linux).
  return live + (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

/** The target holds every row, and a 0.5% sample equals the source column by column. */
async function checkTarget(pool: pg.Pool, target: string): Promise<void> {
  const r = await pool.query(
    `SELECT (SELECT count(*) FROM ${target})::int AS n,
            (SELECT count(*) FROM (SELECT * FROM ${table} WHERE id % 200 = 0 EXCEPT SELECT * FROM ${target} WHERE id % 200 = 0) d)::int AS differ`,
  );
  const check = r.rows[0] as { n: number; differ: number };
  if (check.n !== rows || check.differ !== 0) throw new Error(`${target}: check failed: ${JSON.stringify(check)}`);
}

const dropTargets = async (pool: pg.Pool): Promise<void> => {
  const staging = await pool.query(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE $1`, [`${table}\\_r%\\_vdr\\_%`]);
  const names = [...Object.values(targets), ...staging.rows.map((r) => String((r as { relname: string }).relname))];
  for (const t of names) await pool.query(`DROP TABLE IF EXISTS ${t}`);
};

const pool = parentPool(url);
const work = await mkdtemp(path.join(args.tmp, 'vdr-dist-restore-bench-'));
try {
  const run = await benchRun(pool);
  const postmaster = Number(
    (readFileSync(`/proc/${(await pool.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid}/stat`, 'utf8').split(') ')[1] ?? '').split(
      ' ',
    )[1],
  );
  await distributedBenchTable(pool, table, rows, dims);
  await dropTargets(pool);
  const adapter = pgvectorAdapter({ pool });
  const repoDir = path.join(work, 'repo');
  const repo = await openRepository({ storage: fsStorage({ path: repoDir }), create: true });
  let t = performance.now();
  const snap = await repo.snapshot(adapter, table);
  const snapshot = snap.manifest.id;
  const segments = snap.manifest.segments.length;
  const snapshotBytes = snap.manifest.segments.reduce((s, x) => s + x.bytes, 0);
  log(`snapshot ${snapshot}: ${segments} segments, ${Math.round(snapshotBytes / 2 ** 20)} MiB, ${fmtMs(performance.now() - t)}`);
  const copyFile = path.join(work, 'table.copybin');
  t = performance.now();
  const out = await anchor('copy-out', { table, file: copyFile });
  const copyBytes = (out.extra as { bytes: number }).bytes;
  log(`raw COPY out to ${copyFile}: ${Math.round(copyBytes / 2 ** 20)} MiB, ${fmtMs(performance.now() - t)}`);

  const stepOf: { kind: 'copy' | 'restore' | 'distributed'; workers: number | null }[] = [
    { kind: 'copy', workers: null },
    { kind: 'restore', workers: null },
    ...counts.map((n) => ({ kind: 'distributed' as const, workers: n })),
  ];
  const steps: Record<string, unknown>[] = [];
  for (let r = 0; r < repeat; r++) {
    // Rotate the order so no step always runs first (a warm cache, a quieter machine).
    const order = stepOf.map((_, i) => stepOf[(i + r) % stepOf.length] as (typeof stepOf)[number]);
    for (const { kind, workers: n } of order) {
      await dropTargets(pool);
      await pool.query('CHECKPOINT');
      let step: Record<string, unknown>;
      if (kind !== 'distributed') {
        if (kind === 'copy') {
          await pool.query(
            `CREATE TABLE ${targets.copy} (id bigint PRIMARY KEY, embedding vector(${dims}) NOT NULL, title text, meta jsonb)`,
          );
        }
        const load = os.loadavg();
        const pg0 = postgresCpuS(postmaster);
        const c =
          kind === 'copy'
            ? await anchor('copy-in', { target: targets.copy, file: copyFile })
            : await anchor('restore', { table, repo: repoDir, snapshot, target: targets.restore });
        const postgresS = postgresCpuS(postmaster) - pg0;
        const timings = (c.extra as { timings?: { loadMs: number; indexMs: number; totalMs: number } }).timings;
        step = {
          repetition: r,
          kind,
          workers: n,
          wallMs: Math.round(c.ms),
          rows,
          rowsPerS: Math.round(rows / (c.ms / 1000)),
          clientCpuS: Math.round(c.clientCpuS * 100) / 100,
          backendCpuS: c.serverCpuS === null ? null : Math.round(c.serverCpuS * 100) / 100,
          postgresCpuS: Math.round(postgresS * 100) / 100,
          loadavg: load.map((x) => Math.round(x * 100) / 100),
          ...(timings ? { timings } : {}),
          child: { childWallMs: Math.round(c.childWallMs), machineCpuS: Math.round(c.machineCpuS * 10) / 10, maxRssBytes: c.maxRssBytes },
        };
        log(
          `rep ${r} ${kind}: ${fmtMs(c.ms)}, client CPU ${step.clientCpuS} s, PostgreSQL CPU ${step.postgresCpuS} s, ` +
            `load ${load.map((x) => x.toFixed(2)).join(' ')}`,
        );
      } else {
        const planId = `bench-${r}-${n}-${process.pid}`;
        const workers = Array.from({ length: n as number }, (_, i) => startPartWorker<WorkerOut>(repoDir, planId, i, 'restore'));
        // A worker that dies before recording its part would leave the coordinator waiting: stop it then.
        const abort = new AbortController();
        for (const w of workers) w.done.catch((err: unknown) => abort.abort(err));
        await Promise.all(workers.map((w) => w.ready));
        const load = os.loadavg();
        const pg0 = postgresCpuS(postmaster);
        const busy0 = machineBusyCpuS();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const coordinator = await repo.planRestore(adapter, {
          collection: table,
          snapshot,
          target: targets.distributed,
          workers: n as number,
          planId,
          buildIndexes: false,
        });
        const planMs = performance.now() - t0;
        const result = await coordinator.commit({ pollMs: 100, signal: abort.signal });
        const t1 = performance.now();
        const wallMs = t1 - t0;
        const busyS = machineBusyCpuS() - busy0;
        const cpu = process.cpuUsage(cpu0);
        const outs = await Promise.all(workers.map((w) => w.done));
        // After the workers exit: their backends are gone, and their CPU is the postmaster's reaped children's.
        const postgresS = postgresCpuS(postmaster) - pg0;
        const lastPart = Math.max(...outs.map((o) => o.doneAt));
        step = {
          repetition: r,
          kind,
          workers: n,
          wallMs: Math.round(wallMs),
          planMs: Math.round(planMs),
          // The coordinator after the last worker reported its part done: its poll (100 ms), the
          // digest check, the count, the swap and the plan objects' removal.
          commitMs: Math.round(t1 - lastPart),
          coordinator: {
            waitMs: result.timings.loadMs,
            countMs: result.timings.indexMs,
            swapMs: result.timings.totalMs - result.timings.loadMs - result.timings.indexMs,
            cpuS: Math.round((cpu.user + cpu.system) / 1e4) / 100,
          },
          rows: result.rows,
          segments: result.segments,
          rowsPerS: Math.round(result.rows / (wallMs / 1000)),
          clientCpuS: Math.round(outs.reduce((s, o) => s + o.cpuMs, 0) / 10) / 100,
          // The largest part's CPU: the critical path if every worker had a core of its own.
          maxPartCpuS: Math.max(...outs.map((o) => o.cpuMs)) / 1000,
          postgresCpuS: Math.round(postgresS * 100) / 100,
          machineBusyS: Math.round(busyS * 10) / 10,
          machineUtil: Math.round((busyS / (wallMs / 1000) / os.cpus().length) * 100) / 100,
          loadavg: load.map((x) => Math.round(x * 100) / 100),
          parts: outs.map((o, i) => ({
            index: o.index,
            segments: o.segments,
            rows: o.rows,
            planned: coordinator.plan.parts[i],
            loadMs: o.loadMs,
            wallMs: o.wallMs,
            cpuMs: o.cpuMs,
            doneAfterMs: Math.round(o.doneAt - t0),
          })),
        };
        log(
          `rep ${r} workers ${n}: ${fmtMs(wallMs)} (plan ${fmtMs(planMs)}, commit ${fmtMs(step.commitMs as number)}), ` +
            `worker CPU ${step.clientCpuS} s [${outs.map((o) => (o.segments ? `${o.rows} rows ${fmtMs(o.loadMs)} load ${o.cpuMs} ms CPU` : 'no segments')).join('; ')}], ` +
            `PostgreSQL CPU ${step.postgresCpuS} s, machine busy ${step.machineBusyS} s (${Math.round((step.machineUtil as number) * 100)}% ` +
            `of ${os.cpus().length} cores), load ${load.map((x) => x.toFixed(2)).join(' ')}`,
        );
      }
      await checkTarget(pool, targets[kind]);
      steps.push(step);
    }
  }
  await dropTargets(pool);
  // Each step against the single-process restore and the raw COPY of its own repetition.
  for (const s of steps) {
    const same = (kind: string): number => steps.find((x) => x.repetition === s.repetition && x.kind === kind)?.wallMs as number;
    s.vsRestore = ratio(s.wallMs as number, same('restore'));
    s.vsCopy = ratio(s.wallMs as number, same('copy'));
  }
  const summary = stepOf.map(({ kind, workers: n }) => {
    const mine = steps.filter((s) => s.kind === kind && s.workers === n);
    const med = (key: string): number => Math.round(median(mine.map((s) => s[key] as number)) * 1000) / 1000;
    return {
      kind,
      workers: n,
      medianWallMs: med('wallMs'),
      ...(kind === 'distributed'
        ? { medianPlanMs: med('planMs'), medianCommitMs: med('commitMs'), medianMaxPartCpuS: med('maxPartCpuS') }
        : {}),
      medianClientCpuS: med('clientCpuS'),
      medianPostgresCpuS: med('postgresCpuS'),
      medianVsRestore: med('vsRestore'),
      medianVsCopy: med('vsCopy'),
    };
  });
  for (const s of summary) {
    log(
      `${s.kind}${s.workers === null ? '' : ` ${s.workers}`}: median ${fmtMs(s.medianWallMs)}, ` +
        `${s.medianVsRestore.toFixed(2)}× restore, ${s.medianVsCopy.toFixed(2)}× raw COPY`,
    );
  }
  const result = {
    bench: 'distributed-restore',
    rows,
    dims,
    repeat,
    table,
    snapshot: { id: snapshot, segments, bytes: snapshotBytes, copyBinaryBytes: copyBytes },
    ...run,
    summary,
    steps,
  };
  if (args.out) await writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await dropTargets(pool).catch(() => undefined);
  if (!args.keep) await pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
  await pool.end();
}
