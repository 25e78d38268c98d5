/**
 * Helpers shared by the benchmarks in bench/: formatting, medians, logging, and /proc readings of
 * CPU and disk use, so that every benchmark measures the same way.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const MB = 1024 * 1024;

export const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

export const fmtMB = (b: number): string => `${(b / MB).toFixed(0)} MB`;

export const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** CPU seconds (user+system) a process has used so far, from /proc. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
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
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'adapters'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** The PostgreSQL server and the machine a benchmark ran on, for its result JSON. */
export async function benchEnvironment(pool: pg.Pool): Promise<{ server: Record<string, unknown> | undefined; machine: Record<string, unknown> }> {
  const server = (
    await pool.query(`SELECT current_setting('server_version') AS pg, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector,
      current_setting('shared_buffers') AS shared_buffers, current_setting('synchronous_commit') AS synchronous_commit, current_setting('wal_level') AS wal_level`)
  ).rows[0] as Record<string, unknown> | undefined;
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadavg: os.loadavg(),
  };
  return { server, machine };
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
