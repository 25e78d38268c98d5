/**
 * Helpers shared by the benchmarks in bench/: formatting, medians, logging, /proc readings of CPU
 * and disk use, the measured window of a child step and the parallel table fill, so that every
 * benchmark measures the same way.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { VectorAdapter } from '../src/adapter.js';
import type { Repository } from '../src/repository/repository.js';
import { pgPool } from '../test/helpers/pg.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const MB = 1024 * 1024;

/**
 * The parseArgs options every parent-and-children benchmark takes: its size (`rows`, `dims`,
 * `repeat`, with the benchmark's defaults), where it works (`tmp`) and writes its result (`out`), and
 * the child mode's step and names (internal). Spread them into the benchmark's own options.
 */
export function benchOptions(defaults: { rows: string; dims: string; repeat: string }) {
  return {
    rows: { type: 'string', default: defaults.rows },
    dims: { type: 'string', default: defaults.dims },
    repeat: { type: 'string', default: defaults.repeat },
    tmp: { type: 'string', default: os.tmpdir() },
    out: { type: 'string' },
    // child-process mode (internal)
    child: { type: 'string' },
    table: { type: 'string' },
    target: { type: 'string' },
    snapshot: { type: 'string' },
  } as const;
}

/** `--rows`, `--dims` and `--repeat` (from `benchOptions`) as numbers; throws unless each is a whole number, rows at least `minRows`. */
export function benchSize(
  args: { rows: string; dims: string; repeat: string },
  minRows = 1,
): { rows: number; dims: number; repeat: number } {
  const rows = Number(args.rows);
  const dims = Number(args.dims);
  const repeat = Number(args.repeat);
  if (!Number.isInteger(rows) || rows < minRows || !Number.isInteger(dims) || dims < 1 || !Number.isInteger(repeat) || repeat < 1) {
    throw new Error(`--rows${minRows > 1 ? ` (>= ${minRows})` : ''}, --dims and --repeat must be positive integers`);
  }
  return { rows, dims, repeat };
}

export const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

export const fmtMB = (b: number): string => `${(b / MB).toFixed(0)} MB`;

export const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** A measured step of a benchmark: its name, the time of each run, and what each run reported. */
export interface BenchStep<D> {
  name: string;
  ms: number[];
  detail: D[];
}

/** Adds one run of step `name` (its time and what it reported) to `steps`, creating the step on its first run. */
export function addRun<D>(steps: Record<string, BenchStep<D>>, name: string, ms: number, detail: D): void {
  const s = (steps[name] ??= { name, ms: [], detail: [] });
  s.ms.push(ms);
  s.detail.push(detail);
}

/** The steps for a result's JSON: each with its median time, and its runs' times rounded. */
export function stepsForResult<D>(steps: Record<string, BenchStep<D>>): { name: string; medianMs: number; ms: number[]; detail: D[] }[] {
  return Object.values(steps).map((s) => ({
    name: s.name.trim(),
    medianMs: Math.round(median(s.ms)),
    ms: s.ms.map(Math.round),
    detail: s.detail,
  }));
}

export const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** CPU seconds (user+system) a process has used so far, from /proc. */
export function procCpuSeconds(pid: number, file = `/proc/${pid}/stat`): number | undefined {
  try {
    const stat = readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user+system) of this process's main thread (its task id is the pid), from /proc; undefined off Linux. */
export function mainThreadCpuSeconds(): number | undefined {
  return procCpuSeconds(process.pid, `/proc/${process.pid}/task/${process.pid}/stat`);
}

/** Busy CPU seconds of the whole machine (all processes, all cores) since boot, from /proc/stat. */
export function machineBusyCpuS(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Bytes read and written by whole disks (vdX, sdX, nvmeXnY, xvdX) since boot, from /proc/diskstats. */
export function diskBytes(): { read: number; written: number } {
  try {
    let read = 0;
    let written = 0;
    for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (!f[2] || !/^(?:[vsx]?vd[a-z]+|sd[a-z]+|nvme\d+n\d+)$/.test(f[2])) continue;
      read += Number(f[5]) * 512;
      written += Number(f[9]) * 512;
    }
    return { read, written };
  } catch {
    return { read: Number.NaN, written: Number.NaN };
  }
}

/** Which code was measured: the commit, and whether src/ or adapters/ had uncommitted changes. */
export function codeVersion(): { commit: string | null; dirty: boolean | null } {
  if (process.env.BENCH_GIT_COMMIT) return { commit: process.env.BENCH_GIT_COMMIT, dirty: false };
  try {
    const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty =
      execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'adapters'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** The PostgreSQL server and the machine a benchmark ran on, for its result JSON. */
export async function benchEnvironment(
  pool: pg.Pool,
): Promise<{ server: Record<string, unknown> | undefined; machine: Record<string, unknown> }> {
  const server = (
    await pool.query(`SELECT current_setting('server_version') AS pg, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector,
      current_setting('shared_buffers') AS shared_buffers, current_setting('synchronous_commit') AS synchronous_commit, current_setting('wal_level') AS wal_level`)
  ).rows[0] as Record<string, unknown> | undefined;
  return { server, machine: { ...machineInfo(), loadavg: os.loadavg() } };
}

/** The machine a benchmark runs on (cores, CPU, memory, Node, OS), for its result JSON. */
export function machineInfo(): { cpus: number; cpuModel: string | undefined; memGB: number; node: string; platform: string } {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  };
}

/** The parent's pool on `url`; an idle client's error (e.g. the server restarted) is logged, not fatal, so that the cleanup runs. */
export function parentPool(url: string): pg.Pool {
  const pool = pgPool({ connectionString: url, max: 4, application_name: 'vectordr-bench' });
  pool.on('error', (err) => log(`idle connection error: ${err.message}`));
  return pool;
}

/** What a benchmark's result records of its run: the code (logged too), then the server and the machine, once the vector extension exists. */
export async function benchRun(
  pool: pg.Pool,
): Promise<{ code: ReturnType<typeof codeVersion> } & Awaited<ReturnType<typeof benchEnvironment>>> {
  await pool.query('CREATE EXTENSION IF NOT EXISTS vector');
  const { server, machine } = await benchEnvironment(pool);
  const code = codeVersion();
  log(`code ${code.commit ?? 'unknown commit'}${code.dirty ? ' + uncommitted changes in src/ or adapters/' : ''}`);
  return { code, server, machine };
}

/** The line a benchmark child prints its JSON result on. */
export const RESULT_TAG = '@@BENCH_CHILD_RESULT ';

/** What the parent measures around a child step, on top of what the child reports itself. */
export interface ChildMeasures {
  /** Busy CPU seconds of the whole machine while the child ran (ours + everyone else's). */
  machineCpuS: number;
  /** CPU seconds of `watchPid` (e.g. the S3 server) while the child ran; null when not watched. */
  watchedCpuS: number | null;
  /** machineCpuS minus the child's, its backends' and the watched process's CPU: other load on the machine. */
  foreignCpuS: number;
  childWallMs: number;
  loadavg1: number | undefined;
  diskReadBytes: number;
  diskWrittenBytes: number;
}

/**
 * Runs `node <argv>` as a measured child step: its RESULT_TAG line is parsed as the child's own
 * result, and machine CPU, disk bytes, wall time (and the CPU of `watchPid`) are measured around it.
 */
export function measuredChild<R extends { childTotalCpuS: number; serverCpuS: number | null }>(
  step: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  watchPid?: number,
): Promise<R & ChildMeasures> {
  const cpuBefore = machineBusyCpuS();
  const watched0 = watchPid === undefined ? undefined : procCpuSeconds(watchPid);
  const disk0 = diskBytes();
  const wall0 = performance.now();
  return new Promise<R>((resolve, reject) => {
    const p = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_TAG));
      if (code !== 0 || !line) return reject(new Error(`child ${step} exited with ${code}: ${out}`));
      resolve(JSON.parse(line.slice(RESULT_TAG.length)) as R);
    });
  }).then((r) => {
    const machineCpuS = machineBusyCpuS() - cpuBefore;
    const watched1 = watchPid === undefined ? undefined : procCpuSeconds(watchPid);
    const watchedCpuS = watched0 === undefined || watched1 === undefined ? null : watched1 - watched0;
    const disk1 = diskBytes();
    return {
      ...r,
      machineCpuS,
      watchedCpuS,
      foreignCpuS: Math.max(0, machineCpuS - r.childTotalCpuS - (r.serverCpuS ?? 0) - (watchedCpuS ?? 0)),
      childWallMs: performance.now() - wall0,
      loadavg1: os.loadavg()[0],
      diskReadBytes: disk1.read - disk0.read,
      diskWrittenBytes: disk1.written - disk0.written,
    };
  });
}

/** CPU seconds of the PostgreSQL backends whose application_name is `appName` (null if one cannot be read). */
export async function backendCpuSeconds(pool: pg.Pool | undefined, appName: string): Promise<number | null> {
  if (!pool) return null;
  const r = await pool.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName]);
  let total = 0;
  for (const row of r.rows as { pid: number }[]) {
    const c = procCpuSeconds(Number(row.pid));
    if (c === undefined) return null;
    total += c;
  }
  return total;
}

/** Samples RSS every 50 ms from now on; `stop()` gives the baseline (now) and the peak seen. */
export function sampleRss(): { stop(): { baselineRssBytes: number; sampledPeakRssBytes: number } } {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    const rss = process.memoryUsage().rss;
    if (rss > peak) peak = rss;
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return { baselineRssBytes: baseline, sampledPeakRssBytes: peak };
    },
  };
}

/**
 * The PostgreSQL pool (PG_URL) of a measured child step, named `appName` so that its backends' CPU
 * can be read (`backendCpuSeconds`), connected before the clock starts. No idle timeout: a backend
 * closed mid-step would take its CPU time with it.
 */
export async function childPool(appName: string): Promise<pg.Pool> {
  const pool = pgPool({ connectionString: process.env.PG_URL, application_name: appName, max: 4, idleTimeoutMillis: 0 });
  pool.on('error', (err) => process.stderr.write(`[bench child] idle connection error: ${err.message}\n`));
  await pool.query('SELECT 1');
  return pool;
}

/** What a child step reports of itself (the parent adds `ChildMeasures`). */
export interface ChildStepResult {
  step: string;
  ms: number;
  /** Peak RSS of the whole child process (kernel high-water mark), bytes. */
  maxRssBytes: number;
  /** Peak of the 50 ms RSS samples taken during the step, bytes. */
  sampledPeakRssBytes: number;
  /** RSS just before the step started (modules loaded, connections open, inputs prepared), bytes. */
  baselineRssBytes: number;
  /** Node CPU seconds (user+system) spent during the step. */
  clientCpuS: number;
  /** CPU seconds of the step's main thread alone (clientCpuS counts worker threads too); null off Linux. */
  mainThreadCpuS: number | null;
  /** Node CPU seconds of the whole child process, start-up included. */
  childTotalCpuS: number;
  /** CPU seconds of the PostgreSQL backend(s) this child's connections used; null without a pool. */
  serverCpuS: number | null;
  extra: Record<string, unknown>;
}

/** What the measured window of a child step read. */
export type StepReadings = Pick<
  ChildStepResult,
  'ms' | 'sampledPeakRssBytes' | 'baselineRssBytes' | 'clientCpuS' | 'mainThreadCpuS' | 'serverCpuS'
>;

/** The measured window of a child step, from `startStep()`. */
export interface StepWindow {
  /** performance.now() when the wall clock started (or last restarted). */
  readonly t0: number;
  /** Restarts the CPU and wall clocks: the step's preparation before this point is timed apart. */
  restart(): void;
  /**
   * Ends the window. `ms` replaces the wall time, for a step that times one part of what it does;
   * with a CPU profile, `extra.cpuProfile` names its file.
   */
  stop(extra: Record<string, unknown>, ms?: number): Promise<StepReadings>;
}

/**
 * Starts the measured window of a child step: RSS sampled every 50 ms, this process's CPU, its
 * PostgreSQL backends' CPU (`backendCpu`) and, with `profileFile`, a CPU profile of exactly the
 * window (the .cpuprofile format of node --cpu-prof; `extra.cpuProfile` names the file).
 */
export async function startStep(backendCpu: () => Promise<number | null>, profileFile?: string): Promise<StepWindow> {
  const rss = sampleRss();
  let inspector: Session | undefined;
  if (profileFile) {
    inspector = new Session();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 500 });
    await inspector.post('Profiler.start');
  }
  let cpu0 = process.cpuUsage();
  let main0 = mainThreadCpuSeconds();
  const serverCpu0 = await backendCpu();
  let t0 = performance.now();
  return {
    get t0() {
      return t0;
    },
    restart() {
      cpu0 = process.cpuUsage();
      main0 = mainThreadCpuSeconds();
      t0 = performance.now();
    },
    async stop(extra, stepMs) {
      const ms = stepMs ?? performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const main1 = mainThreadCpuSeconds();
      const serverCpu1 = await backendCpu();
      const { baselineRssBytes, sampledPeakRssBytes } = rss.stop();
      if (inspector) {
        const { profile } = await inspector.post('Profiler.stop');
        await writeFile(profileFile as string, JSON.stringify(profile));
        inspector.disconnect();
        extra.cpuProfile = profileFile;
      }
      const serverCpuS = serverCpu0 === null || serverCpu1 === null ? null : serverCpu1 - serverCpu0;
      const mainThreadCpuS = main0 === undefined || main1 === undefined ? null : main1 - main0;
      return { ms, sampledPeakRssBytes, baselineRssBytes, clientCpuS: (cpu.user + cpu.system) / 1e6, mainThreadCpuS, serverCpuS };
    },
  };
}

/** Child step `step`'s result: its window's readings, and the whole process's peak RSS and CPU, read now. */
export function childStepResult(step: string, r: StepReadings, extra: Record<string, unknown>): ChildStepResult {
  return {
    step,
    ms: r.ms,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    sampledPeakRssBytes: r.sampledPeakRssBytes,
    baselineRssBytes: r.baselineRssBytes,
    clientCpuS: r.clientCpuS,
    mainThreadCpuS: r.mainThreadCpuS,
    childTotalCpuS: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    serverCpuS: r.serverCpuS,
    extra,
  };
}

/**
 * A child's restore step: the snapshot `args.snapshot` of `collection` into `args.target`, with no
 * index build (the COPY anchors build none); its rows, segments and timings into `extra`.
 */
export async function restoreStep(
  repo: Repository,
  adapter: VectorAdapter,
  collection: string,
  args: { snapshot?: string; target?: string },
  extra: Record<string, unknown>,
): Promise<void> {
  const res = await repo.restore(adapter, {
    collection,
    snapshot: args.snapshot as string,
    target: args.target as string,
    buildIndexes: false,
  });
  Object.assign(extra, { rows: res.rows, segments: res.segments, timings: res.timings });
}

/** Prints a child step's result on the RESULT_TAG line the parent (`measuredChild`) reads. */
export function reportChildResult(result: ChildStepResult): void {
  process.stdout.write(`${RESULT_TAG}${JSON.stringify(result)}\n`);
}

/**
 * Fills rows (have, want] of `table` with two connections in parallel (the benchmark machine has 2
 * cores), `chunk` rows a statement (`fillSql(from, to)`), then VACUUM ANALYZE; the fill's time, ms.
 */
export async function fillTable(
  pool: pg.Pool,
  table: string,
  have: number,
  want: number,
  chunk: number,
  fillSql: (from: number, to: number) => string,
): Promise<number> {
  const t0 = performance.now();
  const ranges: [number, number][] = [];
  for (let a = have + 1; a <= want; a += chunk) ranges.push([a, Math.min(want, a + chunk - 1)]);
  let done = have;
  const worker = async (): Promise<void> => {
    for (let r = ranges.shift(); r; r = ranges.shift()) {
      await pool.query(fillSql(r[0], r[1]));
      done += r[1] - r[0] + 1;
      log(`  filled ${done}/${want} rows`);
    }
  };
  await Promise.all([worker(), worker()]);
  const ms = performance.now() - t0;
  log(`fill ${table} to ${want} rows: ${fmtMs(ms)}; VACUUM ANALYZE`);
  await pool.query(`VACUUM (ANALYZE) ${table}`);
  return ms;
}

/**
 * The table the distributed benchmarks (bench/distributed-snapshot.ts, distributed-restore.ts) work
 * on: `id bigint` primary key, `vector(dims)`, a short title and a small `jsonb`; created if missing
 * and filled up to `rows` (a kept table is reused).
 */
export async function distributedBenchTable(pool: pg.Pool, table: string, rows: number, dims: number): Promise<void> {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (id bigint PRIMARY KEY, embedding vector(${dims}) NOT NULL, title text, meta jsonb)`,
  );
  const have = Number((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n ?? 0);
  if (have < rows) {
    await fillTable(
      pool,
      table,
      have,
      rows,
      25_000,
      (from, to) =>
        `INSERT INTO ${table} SELECT i, ARRAY(SELECT random() FROM generate_series(1, ${dims}) WHERE i > 0)::vector(${dims}), ` +
        `'Document ' || i || ' ' || md5(i::text), jsonb_build_object('lang', (ARRAY['en','de','fr'])[1 + i % 3], 'n', i) ` +
        `FROM generate_series(${from}, ${to}) AS i`,
    );
  }
}

/** A distributed worker process started by `startPartWorker`. */
export interface PartWorker<T> {
  /** Resolves once the worker has booted (it printed `ready`): start the clock, then plan. */
  ready: Promise<void>;
  /** The worker's summary line, and the performance.now() at which it arrived; rejects if the worker failed. */
  done: Promise<T & { doneAt: number }>;
}

/**
 * Starts worker `index` of plan `planId` on the filesystem repository `dir` as its own process
 * (test/pgvector/distributed-worker.ts, PG_URL from the environment), for a `snapshot` or a `restore` part.
 */
export function startPartWorker<T>(dir: string, planId: string, index: number, kind: 'snapshot' | 'restore' = 'snapshot'): PartWorker<T> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'test/pgvector/distributed-worker.ts'), dir, planId, String(index), kind],
    {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let doneAt: number | undefined;
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) onReady();
    // The summary is the line after `ready`: when it arrives, the part is recorded as done.
    if (doneAt === undefined && out.split('\n').length > 2) doneAt = performance.now();
  });
  const done = new Promise<T & { doneAt: number }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const last = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as T & { error?: string; message?: string };
      if (code !== 0) reject(new Error(`worker ${index} exited ${code}: ${last.error} ${last.message}`));
      else resolve({ ...last, doneAt: doneAt ?? performance.now() });
    });
  });
  return { ready, done };
}

/** Runs `a` then `b` on even repetitions and `b` then `a` on odd ones, so that neither always goes first. */
export async function inTurn(repetition: number, a: () => Promise<void>, b: () => Promise<void>): Promise<void> {
  if (repetition % 2 === 0) {
    await a();
    await b();
  } else {
    await b();
    await a();
  }
}

/** Wall and CPU time (process.cpuUsage, user + system) of one synchronous call, and what it returned. */
export function timed<T>(f: () => T): { out: T; ms: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = f();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { out, ms, cpuMs: (c.user + c.system) / 1000 };
}

/**
 * The loop of an in-process micro-benchmark: every variant once to warm up, then `iterations`
 * rounds in which each runs once, the first of a round moving one place each round so that none
 * always runs first (on a loaded machine, compare CPU, not wall). `check` sees each round's outputs
 * (e.g. that the variants wrote the same bytes). The wall and CPU milliseconds of every run, per variant.
 */
export function alternate(
  variants: Record<string, () => unknown>,
  iterations: number,
  check?: (outs: Record<string, unknown>) => void,
): Record<string, { ms: number[]; cpuMs: number[] }> {
  const names = Object.keys(variants);
  const runs = Object.fromEntries(names.map((n) => [n, { ms: [] as number[], cpuMs: [] as number[] }]));
  for (const n of names) (variants[n] as () => unknown)();
  for (let it = 0; it < iterations; it++) {
    const outs: Record<string, unknown> = {};
    for (let k = 0; k < names.length; k++) {
      const n = names[(k + it) % names.length] as string;
      const r = timed(variants[n] as () => unknown);
      outs[n] = r.out;
      runs[n]?.ms.push(r.ms);
      runs[n]?.cpuMs.push(r.cpuMs);
    }
    check?.(outs);
  }
  return runs;
}

/** `fn` once to warm up (JIT, first-use costs), then `iterations` times: the median wall and CPU milliseconds, and its last output. */
export function medianTimed<T>(fn: () => T, iterations: number): { ms: number; cpuMs: number; out: T } {
  let out = fn();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const r = timed(fn);
    out = r.out;
    walls.push(r.ms);
    cpus.push(r.cpuMs);
  }
  return { ms: median(walls), cpuMs: median(cpus), out };
}
