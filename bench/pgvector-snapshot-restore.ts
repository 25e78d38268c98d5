/**
 * Benchmark: vectordr snapshot/restore of a pgvector table against raw binary COPY and pg_dump/pg_restore.
 *
 *   npx tsx bench/pgvector-snapshot-restore.ts [--rows 200000] [--dims 768] [--table bench_docs]
 *   npx tsx bench/pgvector-snapshot-restore.ts --rss-scaling [--scaling-rows 100000,1000000] [--dims 768]
 *   npx tsx bench/pgvector-snapshot-restore.ts --vector-type halfvec   (the embedding as halfvec(dims): float16)
 *
 * Uses $PG_URL, or starts the local server with scripts/pg-server.sh. PostgreSQL client binaries
 * (pg_dump, pg_restore) come from $PG_BIN or `scripts/pg-server.sh bin`. See docs/benchmarks.md.
 *
 * Every Node-side step (raw COPY out/in, vectordr snapshot/restore) runs in its own child process, so
 * its peak RSS is the kernel's high-water mark (process.resourceUsage().maxRSS) of that step alone,
 * and its CPU time is its own. The child also samples RSS every 50 ms and reads the CPU time of the
 * PostgreSQL backends it used (/proc/<pid>/stat), to tell client-bound from server-bound steps.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { type BenchStep, type ChildMeasures, type ChildStepResult, addRun, backendCpuSeconds } from './bench-lib.js';
import { benchOptions, benchRun, benchSize, childPool, childStepResult, diskBytes, fillTable } from './bench-lib.js';
import { fmtMB, fmtMs, log, machineBusyCpuS, MB, measuredChild, median, parentPool } from './bench-lib.js';
import { procCpuSeconds, ratio, reportChildResult, restoreStep, startStep, stepsForResult } from './bench-lib.js';
import { pgClient } from '../test/helpers/pg.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');

const { values: args } = parseArgs({
  options: {
    ...benchOptions({ rows: '200000', dims: '768', repeat: '1' }),
    'rss-scaling': { type: 'boolean', default: false },
    'scaling-rows': { type: 'string', default: '100000,1000000' },
    'tags-type': { type: 'string', default: 'text[]' },
    /** The embedding column's type: `vector` (float32) or `halfvec` (float16, pgvector >= 0.7). */
    'vector-type': { type: 'string', default: 'vector' },
    fsync: { type: 'string', default: 'true' },
    'batch-size': { type: 'string', default: 'library' },
    'segment-bytes': { type: 'string', default: 'library' },
    /** Passed to repo.snapshot as vectorCompression ('none' | 'zstd'); omitted = the library default. */
    'vector-compression': { type: 'string' },
    /** Passed to repo.snapshot as encodeWorkers; omitted = the library default. */
    'encode-workers': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'skip-dump': { type: 'boolean', default: false },
    'skip-restore': { type: 'boolean', default: false },
    'reuse-table': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    // child-process mode (internal)
    repo: { type: 'string' },
    file: { type: 'string' },
  },
  strict: true,
});

// `--table NAME` (parent) names the bench's tables, so two runs can share one server; the child
// steps get the table they work on as `--table` too.
const TABLE = args.table ?? 'bench_docs';
const VECTOR_TYPE = String(args['vector-type']);
if (!['vector', 'halfvec'].includes(VECTOR_TYPE)) throw new Error('--vector-type must be vector or halfvec');
const COPY_TABLE = `${TABLE}2`;
const RESTORE_TABLE = `${TABLE}_restored`;
const RESTORE_DB = args.table ? `${TABLE}_restore_db` : 'vectordr_bench_restore';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Child steps
// ---------------------------------------------------------------------------------------------

/** A child step's own result, and what the parent measured around it (the machine is shared: see foreignCpuS). */
type ChildResult = ChildStepResult & Partial<ChildMeasures>;

async function runChild(step: string): Promise<void> {
  const appName = `vectordr-bench-${step}-${process.pid}`;
  const pool = await childPool(appName);
  // Backends opened by this child: CPU at connect time is ~0, so their CPU at the end is this step's.
  const backendCpu = (): Promise<number | null> => backendCpuSeconds(pool, appName);
  const table = args.table ?? TABLE;
  const fsync = args.fsync !== 'false';

  // Load everything the step needs before the clock starts.
  // BENCH_DIST=1: the built package (npm run build first), as users run it: plain JS, and the segment
  // worker starts from dist/segment-worker.js instead of through tsx.
  const lib = step === 'snapshot' || step === 'restore';
  const dist = process.env.BENCH_DIST === '1';
  const vdr = lib ? ((await import(dist ? '../dist/index.js' : '../src/index.js')) as typeof import('../src/index.js')) : undefined;
  const pgv = lib
    ? ((await import(
        dist ? '../dist/adapters/pgvector/index.js' : '../adapters/pgvector/index.js'
      )) as typeof import('../adapters/pgvector/index.js'))
    : undefined;
  if (global.gc) global.gc();

  const window = await startStep(backendCpu, args['cpu-prof']);
  const extra: Record<string, unknown> = {};

  if (step === 'copy-out') {
    const client = await pool.connect();
    try {
      const src = client.query(copyTo(`COPY ${table} TO STDOUT (FORMAT binary)`));
      let bytes = 0;
      if (args.file) {
        const fh = await fs.open(args.file, 'w');
        const out = createWriteStream('', { fd: fh.fd, autoClose: false, highWaterMark: 4 * MB });
        src.on('data', (c: Buffer) => (bytes += c.length));
        await pipeline(src, out);
        if (fsync) await fh.sync();
        await fh.close();
      } else {
        await pipeline(
          src,
          new Writable({
            write(chunk: Buffer, _enc, cb) {
              bytes += chunk.length;
              cb();
            },
          }),
        );
      }
      extra.bytes = bytes;
    } finally {
      client.release();
    }
  } else if (step === 'copy-in') {
    const client = await pool.connect();
    try {
      const target = args.target as string;
      await pipeline(
        createReadStream(args.file as string, { highWaterMark: 4 * MB }),
        client.query(copyFrom(`COPY ${target} FROM STDIN (FORMAT binary)`)),
      );
    } finally {
      client.release();
    }
  } else if (step === 'snapshot' && vdr && pgv) {
    const repo = await vdr.openRepository({ storage: vdr.fsStorage({ path: args.repo as string, fsync }), create: true });
    const adapter = pgv.pgvectorAdapter({ pool });
    const opts: Record<string, unknown> = {};
    if (args['segment-bytes'] !== 'library') opts.segmentBytes = Number(args['segment-bytes']);
    if (args['batch-size'] !== 'library') opts.batchSize = Number(args['batch-size']);
    if (args['vector-compression']) opts.vectorCompression = args['vector-compression'];
    if (args['encode-workers']) opts.encodeWorkers = Number(args['encode-workers']);
    const res = await repo.snapshot(adapter, table, opts as Parameters<typeof repo.snapshot>[2]);
    extra.snapshot = res.manifest.id;
    extra.rows = res.manifest.rows.upserts;
    extra.segments = res.manifest.segments.length;
    extra.bytes = res.manifest.segments.reduce((s, x) => s + x.bytes, 0);
    extra.timings = res.manifest.timings;
    extra.collectionDigest = res.manifest.digest.collection;
  } else if (step === 'restore' && vdr && pgv) {
    const repo = await vdr.openRepository({ storage: vdr.fsStorage({ path: args.repo as string, fsync }) });
    const adapter = pgv.pgvectorAdapter({ pool });
    await restoreStep(repo, adapter, table, args, extra);
  } else {
    throw new Error(`unknown child step ${step}`);
  }

  const result = childStepResult(step, await window.stop(extra), extra);
  await pool.end();
  reportChildResult(result);
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

interface Ctx {
  url: string;
  pgBin: string;
  pool: pg.Pool;
  work: string;
  dims: number;
  tagsType: string;
  cpuProfDir: string | undefined;
}

function child(ctx: Ctx, step: string, childArgs: Record<string, string>, profile = false): Promise<ChildResult> {
  const argv = [
    ...process.execArgv,
    SCRIPT,
    '--child',
    step,
    '--fsync',
    String(args.fsync),
    '--batch-size',
    String(args['batch-size']),
    '--segment-bytes',
    String(args['segment-bytes']),
  ];
  if (args['vector-compression']) argv.push('--vector-compression', args['vector-compression']);
  if (args['encode-workers']) argv.push('--encode-workers', args['encode-workers']);
  if (profile && ctx.cpuProfDir)
    argv.push(
      '--cpu-prof',
      path.join(ctx.cpuProfDir, `${step}-${childArgs.table ?? ''}-${new Date().toISOString().replace(/[:.]/g, '')}.cpuprofile`),
    );
  for (const [k, v] of Object.entries(childArgs)) argv.push(`--${k}`, v);
  return measuredChild<ChildResult>(step, argv, { ...process.env, PG_URL: ctx.url });
}

interface CliResult {
  ms: number;
  clientCpuS: number | null;
  maxRssBytes: number | null;
  /** CPU of the tool's PostgreSQL backend, polled every 100 ms (so up to 100 ms short). */
  serverCpuS: number | null;
  machineCpuS: number;
  foreignCpuS: number | null;
  childWallMs: number;
  diskReadBytes: number;
  diskWrittenBytes: number;
}

/** Runs a PostgreSQL CLI tool, timing it; /usr/bin/time (if present) adds its CPU and peak RSS. */
async function cli(ctx: Ctx, tool: string, toolArgs: string[]): Promise<CliResult> {
  const bin = path.join(ctx.pgBin, tool);
  const timeBin = '/usr/bin/time';
  const useTime = (() => {
    try {
      execFileSync(timeBin, ['-f', '%e', 'true'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  const marker = '@@TIME ';
  const appName = `vectordr-bench-${tool}-${Date.now()}`;
  const [cmd, argv] = useTime ? [timeBin, ['-f', `${marker}%U %S %M`, bin, ...toolArgs]] : [bin, toolArgs];
  const backendCpu = new Map<number, number>();
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const r = await ctx.pool.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName]).catch(() => ({ rows: [] }));
      for (const row of r.rows) {
        const pid = Number((row as { pid: number }).pid);
        const c = procCpuSeconds(pid);
        if (c !== undefined) backendCpu.set(pid, c);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  const cpuBefore = machineBusyCpuS();
  const disk0 = diskBytes();
  const t0 = performance.now();
  const code = await new Promise<{ code: number | null; err: string }>((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, PGAPPNAME: appName } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (c) => resolve({ code: c, err }));
  });
  const ms = performance.now() - t0;
  const machineCpuS = machineBusyCpuS() - cpuBefore;
  const disk1 = diskBytes();
  polling = false;
  await poll;
  const { err } = code;
  const line = err.split('\n').find((l) => l.startsWith(marker));
  const rest = err
    .split('\n')
    .filter((l) => l && !l.startsWith(marker))
    .join('\n');
  if (code.code !== 0) throw new Error(`${tool} exited with ${code.code}: ${rest}`);
  if (rest) process.stderr.write(`${rest}\n`);
  const serverCpuS = backendCpu.size ? [...backendCpu.values()].reduce((a, b) => a + b, 0) : null;
  let clientCpuS: number | null = null;
  let maxRssBytes: number | null = null;
  if (line) {
    const [u, s, m] = line.slice(marker.length).trim().split(' ').map(Number);
    clientCpuS = (u as number) + (s as number);
    maxRssBytes = (m as number) * 1024;
  }
  const foreignCpuS = clientCpuS === null ? null : Math.max(0, machineCpuS - clientCpuS - (serverCpuS ?? 0));
  return {
    ms,
    clientCpuS,
    maxRssBytes,
    serverCpuS,
    machineCpuS,
    foreignCpuS,
    childWallMs: ms,
    diskReadBytes: disk1.read - disk0.read,
    diskWrittenBytes: disk1.written - disk0.written,
  };
}

async function resolveServer(): Promise<{ url: string; pgBin: string }> {
  let url = process.env.PG_URL;
  if (!url) {
    log('PG_URL not set: starting scripts/pg-server.sh');
    const out = execFileSync(path.join(ROOT, 'scripts/pg-server.sh'), ['start'], { encoding: 'utf8' });
    const m = /PG_URL=(\S+)/.exec(out);
    if (!m) throw new Error(`scripts/pg-server.sh start printed no PG_URL: ${out}`);
    url = m[1] as string;
  }
  const pgBin = process.env.PG_BIN ?? execFileSync(path.join(ROOT, 'scripts/pg-server.sh'), ['bin'], { encoding: 'utf8' }).trim();
  return { url, pgBin };
}

function tableDdl(name: string, dims: number, tagsType: string): string {
  return `CREATE TABLE ${name} (id bigint PRIMARY KEY, embedding ${VECTOR_TYPE}(${dims}) NOT NULL, title text, source text, lang text,
    tags ${tagsType}, score real, created timestamptz)`;
}

/** Rows [from, to] generated server-side; the correlated `WHERE i > 0` makes random() run per row. */
function fillSql(name: string, dims: number, tagsType: string, from: number, to: number): string {
  const tags = `ARRAY['tag' || (i % 17), 'topic-' || (i % 101), 'k' || (i % 7)]`;
  const tagsExpr = tagsType === 'text[]' ? tags : tagsType === 'jsonb' ? `to_jsonb(${tags})` : `array_to_string(${tags}, ',')`;
  return `INSERT INTO ${name}
    SELECT i, ARRAY(SELECT random() FROM generate_series(1, ${dims}) WHERE i > 0)::${VECTOR_TYPE}(${dims}),
      'Document ' || i || ' ' || md5(i::text),
      'https://example.com/docs/' || (i % 1000) || '/' || substr(md5((i * 7)::text), 1, 12),
      (ARRAY['en', 'de', 'fr', 'es', 'ja'])[1 + i % 5],
      ${tagsExpr},
      random()::real,
      '2024-01-01 00:00:00+00'::timestamptz + i * interval '37 seconds'
    FROM generate_series(${from}, ${to}) AS i`;
}

/** Fills rows (have, want], 50,000 a statement. */
function fill(ctx: Ctx, name: string, have: number, want: number): Promise<number> {
  return fillTable(ctx.pool, name, have, want, 50_000, (from, to) => fillSql(name, ctx.dims, ctx.tagsType, from, to));
}

/** Reads every heap and TOAST page once so the measured steps start from a warm cache. */
async function warm(ctx: Ctx, name: string): Promise<void> {
  const t0 = performance.now();
  await ctx.pool.query(`SELECT sum(vector_dims(embedding)), sum(length(title || source || lang)), count(tags), sum(score) FROM ${name}`);
  log(`warm-up read of ${name}: ${fmtMs(performance.now() - t0)}`);
}

async function otherActiveSessions(ctx: Ctx): Promise<number> {
  const r = await ctx.pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> ` +
      `pg_backend_pid() AND backend_type = 'client backend' AND application_name NOT LIKE ` +
      `'vectordr-bench%'`,
  );
  return Number(r.rows[0]?.n ?? 0);
}

async function checkpoint(ctx: Ctx): Promise<void> {
  await ctx.pool.query('CHECKPOINT');
}

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return total;
}

type Step = BenchStep<Record<string, unknown>>;

async function mainBench(ctx: Ctx, rows: number, repeat: number): Promise<Record<string, unknown>> {
  const steps: Record<string, Step> = {};
  const record = (name: string, ms: number, detail: Record<string, unknown>): void => {
    addRun(steps, name, ms, detail);
    log(`${name}: ${fmtMs(ms)} ${JSON.stringify(detail)}`);
  };

  let fillMs: number | null = null;
  const existing = await ctx.pool.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [TABLE]);
  if (args['reuse-table'] && existing.rows[0]?.e) {
    const n = Number((await ctx.pool.query(`SELECT count(*)::int AS n FROM ${TABLE}`)).rows[0]?.n);
    if (n !== rows) throw new Error(`--reuse-table: ${TABLE} has ${n} rows, wanted ${rows}`);
    log(`reusing ${TABLE} (${n} rows)`);
  } else {
    await ctx.pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await ctx.pool.query(tableDdl(TABLE, ctx.dims, ctx.tagsType));
    fillMs = await fill(ctx, TABLE, 0, rows);
  }
  const size = (
    await ctx.pool.query(`SELECT pg_total_relation_size($1)::int8::text AS b, pg_relation_size($1)::int8::text AS heap`, [TABLE])
  ).rows[0] as { b: string; heap: string };
  const payloadBytes = Number(
    (
      await ctx.pool.query(
        `SELECT avg(length(json_build_object('created', created, 'lang', lang, 'score', score, ` +
          `'source', source, 'tags', tags, 'title', title)::text))::int AS n FROM ${TABLE} WHERE id ` +
          `% 100 = 0`,
      )
    ).rows[0]?.n,
  );
  await warm(ctx, TABLE);
  // A throwaway raw COPY as warm-up of the Node/pg path too (not recorded).
  await child(ctx, 'copy-out', { table: TABLE });

  const copyFile = path.join(ctx.work, 'bench_docs.copybin');
  const dumpFile = path.join(ctx.work, 'bench_docs.dump');
  const dumpFileZ0 = path.join(ctx.work, 'bench_docs_z0.dump');
  let snapshotId: string;
  let repoDir = '';

  for (let r = 0; r < repeat; r++) {
    log(`--- repetition ${r + 1}/${repeat}`);
    // anchor A0: raw binary COPY consumed by Node and discarded
    await checkpoint(ctx);
    let c = await child(ctx, 'copy-out', { table: TABLE });
    record('A0 raw COPY TO STDOUT (discard)', c.ms, { ...c, other: await otherActiveSessions(ctx) });
    // anchor A: same, written to a file and fsynced (what a backup must do)
    await checkpoint(ctx);
    await fs.rm(copyFile, { force: true });
    c = await child(ctx, 'copy-out', { table: TABLE, file: copyFile });
    record('A  raw COPY TO STDOUT -> file+fsync', c.ms, { ...c });

    // vectordr snapshot
    if (repoDir) await fs.rm(repoDir, { recursive: true, force: true });
    repoDir = path.join(ctx.work, `repo-${r}`);
    await checkpoint(ctx);
    c = await child(ctx, 'snapshot', { table: TABLE, repo: repoDir }, true);
    snapshotId = String(c.extra.snapshot);
    record('S  vectordr snapshot', c.ms, { ...c, repoBytes: await dirBytes(repoDir) });

    if (!args['skip-dump']) {
      await checkpoint(ctx);
      await fs.rm(dumpFile, { force: true });
      const d = await cli(ctx, 'pg_dump', ['-Fc', '-t', TABLE, '-f', dumpFile, '-d', ctx.url]);
      record('B  pg_dump -Fc -t bench_docs', d.ms, { ...d, bytes: (await fs.stat(dumpFile)).size });
      await checkpoint(ctx);
      await fs.rm(dumpFileZ0, { force: true });
      const d0 = await cli(ctx, 'pg_dump', ['-Fc', '-Z', '0', '-t', TABLE, '-f', dumpFileZ0, '-d', ctx.url]);
      record('B0 pg_dump -Fc -Z0 (no compression)', d0.ms, { ...d0, bytes: (await fs.stat(dumpFileZ0)).size });
      await fs.rm(dumpFileZ0, { force: true });
    }

    if (!args['skip-restore']) {
      // anchor C: raw binary COPY FROM STDIN of A's bytes into an empty copy (pk only)
      await ctx.pool.query(`DROP TABLE IF EXISTS ${COPY_TABLE}`);
      await ctx.pool.query(tableDdl(COPY_TABLE, ctx.dims, ctx.tagsType));
      await checkpoint(ctx);
      c = await child(ctx, 'copy-in', { target: COPY_TABLE, file: copyFile });
      record('C  raw COPY FROM STDIN (binary)', c.ms, { ...c, other: await otherActiveSessions(ctx) });
      await ctx.pool.query(`DROP TABLE IF EXISTS ${COPY_TABLE}`);

      // vectordr restore into a new table, no index build (the source has none but the pk)
      await ctx.pool.query(`DROP TABLE IF EXISTS ${RESTORE_TABLE}`);
      await checkpoint(ctx);
      c = await child(ctx, 'restore', { table: TABLE, repo: repoDir, snapshot: snapshotId, target: RESTORE_TABLE }, true);
      const t = c.extra.timings as { loadMs: number; indexMs: number; totalMs: number };
      record('R  vectordr restore (total)', c.ms, { ...c, other: await otherActiveSessions(ctx) });
      record('R  vectordr restore (loadMs)', t.loadMs, {});
      // Fidelity check on a 0.5% sample: restored rows equal the source rows, column by column.
      const diff = await ctx.pool.query(
        `SELECT (SELECT count(*) FROM ${RESTORE_TABLE})::int AS n,
                (SELECT count(*) FROM (SELECT * FROM ${TABLE} WHERE id % 200 = 0 EXCEPT SELECT * FROM ${RESTORE_TABLE} WHERE id % 200 = 0) d)::int AS differ`,
      );
      const check = diff.rows[0] as { n: number; differ: number };
      if (check.n !== rows || check.differ !== 0) throw new Error(`restore check failed: ${JSON.stringify(check)}`);
      log(`restore check: ${check.n} rows, sample identical`);
      await ctx.pool.query(`DROP TABLE IF EXISTS ${RESTORE_TABLE}`);

      if (!args['skip-dump']) {
        // anchor D: pg_restore of the -Fc dump into a fresh database (table, data, then pk)
        const restoreUrl = withDb(ctx.url, RESTORE_DB);
        await ctx.pool.query(`DROP DATABASE IF EXISTS ${RESTORE_DB}`);
        await ctx.pool.query(`CREATE DATABASE ${RESTORE_DB}`);
        const c2 = pgClient({ connectionString: restoreUrl });
        await c2.connect();
        await c2.query('CREATE EXTENSION IF NOT EXISTS vector');
        await c2.end();
        await checkpoint(ctx);
        const d = await cli(ctx, 'pg_restore', ['--no-owner', '-d', restoreUrl, dumpFile]);
        record('D  pg_restore (into new database)', d.ms, { ...d });
        await ctx.pool.query(`DROP DATABASE IF EXISTS ${RESTORE_DB}`);
      }
    }
  }

  const med = (name: string): number | null => (steps[name] ? median(steps[name].ms) : null);
  const S = med('S  vectordr snapshot') as number;
  const A0 = med('A0 raw COPY TO STDOUT (discard)') as number;
  const A = med('A  raw COPY TO STDOUT -> file+fsync') as number;
  const B = med('B  pg_dump -Fc -t bench_docs');
  const C = med('C  raw COPY FROM STDIN (binary)');
  const R = med('R  vectordr restore (total)');
  const RL = med('R  vectordr restore (loadMs)');
  const D = med('D  pg_restore (into new database)');
  const peak = (name: string, key: 'maxRssBytes' | 'sampledPeakRssBytes'): number | null => {
    const d = steps[name]?.detail ?? [];
    const xs = d.map((x) => x[key]).filter((x): x is number => typeof x === 'number');
    return xs.length ? Math.max(...xs) : null;
  };
  const snapDetail = steps['S  vectordr snapshot']?.detail.at(-1) ?? {};
  return {
    rows,
    dims: ctx.dims,
    repeat,
    tagsType: ctx.tagsType,
    fillMs,
    tableBytes: Number(size.b),
    heapBytes: Number(size.heap),
    avgPayloadJsonBytes: payloadBytes,
    copyBinaryBytes: (steps['A  raw COPY TO STDOUT -> file+fsync']?.detail.at(-1)?.extra as { bytes?: number } | undefined)?.bytes ?? null,
    snapshotBytes: (snapDetail.extra as { bytes?: number } | undefined)?.bytes ?? null,
    snapshotSegments: (snapDetail.extra as { segments?: number } | undefined)?.segments ?? null,
    dumpBytes: steps['B  pg_dump -Fc -t bench_docs']?.detail.at(-1)?.bytes ?? null,
    steps: stepsForResult(steps),
    ratios: {
      snapshotVsCopyOutDiscard: ratio(S, A0),
      snapshotVsCopyOutFile: ratio(S, A),
      snapshotVsPgDump: B === null ? null : ratio(S, B),
      restoreTotalVsCopyIn: C === null || R === null ? null : ratio(R, C),
      restoreLoadVsCopyIn: C === null || RL === null ? null : ratio(RL, C),
      restoreTotalVsPgRestore: D === null || R === null ? null : ratio(R, D),
    },
    peakRss: {
      copyOutDiscard: peak('A0 raw COPY TO STDOUT (discard)', 'maxRssBytes'),
      snapshot: peak('S  vectordr snapshot', 'maxRssBytes'),
      snapshotSampled: peak('S  vectordr snapshot', 'sampledPeakRssBytes'),
      copyIn: peak('C  raw COPY FROM STDIN (binary)', 'maxRssBytes'),
      restore: peak('R  vectordr restore (total)', 'maxRssBytes'),
      restoreSampled: peak('R  vectordr restore (total)', 'sampledPeakRssBytes'),
      pgDump: peak('B  pg_dump -Fc -t bench_docs', 'maxRssBytes'),
      pgRestore: peak('D  pg_restore (into new database)', 'maxRssBytes'),
    },
  };
}

function printMain(r: Record<string, unknown>): void {
  const steps = r.steps as { name: string; medianMs: number; ms: number[]; detail: Record<string, unknown>[] }[];
  const ratios = r.ratios as Record<string, number | null>;
  const byName = (n: string): number | undefined => steps.find((s) => s.name.startsWith(n))?.medianMs;
  const rows = r.rows as number;
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `pgvector ${rows} rows x ${r.dims as number} dims, payload ` +
      `~${r.avgPayloadJsonBytes as number} B JSON, table ${fmtMB(r.tableBytes as number)} (tags ` +
      `${r.tagsType as string}); median of ${r.repeat as number}`,
  );
  lines.push('');
  lines.push(
    '| step | time (median) | all runs | rows/s | MB/s (COPY bytes) | client CPU | server CPU ' +
      '| peak RSS | other load | disk read | disk written |',
  );
  lines.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const copyBytes = (r.copyBinaryBytes as number | null) ?? 0;
  for (const s of steps) {
    // Figures of the repetition whose time is the median (the first such one).
    const d = s.detail[s.ms.indexOf(s.medianMs)] ?? s.detail.at(-1) ?? {};
    const cpu = typeof d.clientCpuS === 'number' ? `${(d.clientCpuS as number).toFixed(1)} s` : '';
    const scpu = typeof d.serverCpuS === 'number' ? `${(d.serverCpuS as number).toFixed(1)} s` : '';
    const rss = typeof d.maxRssBytes === 'number' ? fmtMB(d.maxRssBytes as number) : '';
    const other =
      typeof d.foreignCpuS === 'number' && typeof d.childWallMs === 'number'
        ? `${((d.foreignCpuS as number) / ((d.childWallMs as number) / 1000)).toFixed(2)} cores`
        : '';
    const disk = (k: string): string => (typeof d[k] === 'number' ? fmtMB(d[k] as number) : '');
    lines.push(
      `| ${s.name} | ${fmtMs(s.medianMs)} | ` +
        `${s.ms.map((x) => (x / 1000).toFixed(1)).join(' / ')} | ` +
        `${Math.round(rows / (s.medianMs / 1000)).toLocaleString('en')} | ` +
        `${copyBytes ? (copyBytes / MB / (s.medianMs / 1000)).toFixed(0) : ''} | ${cpu} | ${scpu} ` +
        `| ${rss} | ${other} | ${disk('diskReadBytes')} | ${disk('diskWrittenBytes')} |`,
    );
  }
  lines.push('');
  const t = (v: number | null, target: number, better: 'le'): string =>
    v === null ? 'n/a' : `${v.toFixed(2)}x (target <= ${target.toFixed(2)}x: ` + `${better === 'le' && v <= target ? 'MET' : 'MISSED'})`;
  lines.push(`snapshot / raw COPY out (discard)     ${t(ratios.snapshotVsCopyOutDiscard ?? null, 1.3, 'le')}`);
  lines.push(`snapshot / raw COPY out (file+fsync)  ${t(ratios.snapshotVsCopyOutFile ?? null, 1.3, 'le')}`);
  lines.push(`snapshot / pg_dump -Fc                ${t(ratios.snapshotVsPgDump ?? null, 1 / 3, 'le')}`);
  lines.push(`restore total / raw COPY in           ${t(ratios.restoreTotalVsCopyIn ?? null, 1.3, 'le')}`);
  lines.push(`restore loadMs / raw COPY in          ${t(ratios.restoreLoadVsCopyIn ?? null, 1.3, 'le')}`);
  lines.push(
    `restore total / pg_restore            ` +
      `${ratios.restoreTotalVsPgRestore == null ? 'n/a' : `${ratios.restoreTotalVsPgRestore.toFixed(2)}x`}`,
  );
  const rss = r.peakRss as Record<string, number | null>;
  lines.push(
    `peak RSS: snapshot ${rss.snapshot ? fmtMB(rss.snapshot) : 'n/a'} (target <= 300 MB), ` +
      `restore ${rss.restore ? fmtMB(rss.restore) : 'n/a'}, raw COPY out ` +
      `${rss.copyOutDiscard ? fmtMB(rss.copyOutDiscard) : 'n/a'}`,
  );
  lines.push(
    `sizes: COPY binary ${fmtMB(copyBytes)}, snapshot ` +
      `${fmtMB((r.snapshotBytes as number) ?? 0)} in ${r.snapshotSegments as number} segments, ` +
      `pg_dump -Fc ${r.dumpBytes ? fmtMB(r.dumpBytes as number) : 'n/a'}`,
  );
  void byName;
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function rssScaling(ctx: Ctx, sizes: number[]): Promise<Record<string, unknown>> {
  await ctx.pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await ctx.pool.query(tableDdl(TABLE, ctx.dims, ctx.tagsType));
  let have = 0;
  const out: Record<string, unknown>[] = [];
  for (const n of sizes) {
    const fillMs = await fill(ctx, TABLE, have, n);
    have = n;
    await warm(ctx, TABLE);
    await checkpoint(ctx);
    const raw = await child(ctx, 'copy-out', { table: TABLE });
    log(`raw COPY out ${n}: ${fmtMs(raw.ms)}, maxRSS ${fmtMB(raw.maxRssBytes)}`);
    const repoDir = path.join(ctx.work, `repo-scale-${n}`);
    await checkpoint(ctx);
    const s = await child(ctx, 'snapshot', { table: TABLE, repo: repoDir }, true);
    log(`snapshot ${n}: ${fmtMs(s.ms)}, maxRSS ${fmtMB(s.maxRssBytes)}, sampled ${fmtMB(s.sampledPeakRssBytes)}`);
    await fs.rm(repoDir, { recursive: true, force: true });
    out.push({ rows: n, fillMs, copyOut: raw, snapshot: s, snapshotVsCopyOut: ratio(s.ms, raw.ms) });
  }
  const lines = [
    '',
    `snapshot peak RSS scaling (${ctx.dims} dims, tags ${ctx.tagsType})`,
    '',
    '| rows | snapshot time | snapshot / raw COPY | snapshot peak RSS (maxRSS) | sampled peak ' +
      '| baseline before step | raw COPY out peak RSS |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const o of out) {
    const s = o.snapshot as ChildResult;
    const raw = o.copyOut as ChildResult;
    lines.push(
      `| ${(o.rows as number).toLocaleString('en')} | ${fmtMs(s.ms)} | ` +
        `${(o.snapshotVsCopyOut as number).toFixed(2)}x | ${fmtMB(s.maxRssBytes)} | ` +
        `${fmtMB(s.sampledPeakRssBytes)} | ${fmtMB(s.baselineRssBytes)} | ` +
        `${fmtMB(raw.maxRssBytes)} |`,
    );
  }
  const peaks = out.map((o) => (o.snapshot as ChildResult).maxRssBytes);
  lines.push(
    '',
    `target: flat and <= 300 MB -> ${peaks.every((p) => p <= 300 * MB) ? 'MET' : 'MISSED'} ` +
      `(max ${fmtMB(Math.max(...peaks))}, growth ` +
      `${fmtMB(Math.max(...peaks) - Math.min(...peaks))} between smallest and largest)`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  return { dims: ctx.dims, tagsType: ctx.tagsType, sizes: out };
}

async function main(): Promise<void> {
  if (args.child) return runChild(args.child);
  const { rows, dims, repeat } = benchSize(args);
  const tagsType = String(args['tags-type']);
  if (!['text[]', 'text', 'jsonb'].includes(tagsType)) throw new Error('--tags-type must be text[], text or jsonb');
  const { url, pgBin } = await resolveServer();
  const work = await fs.mkdtemp(path.join(args.tmp as string, 'vectordr-bench-'));
  const cpuProfDir = args['cpu-prof'] ? path.resolve(args['cpu-prof']) : undefined;
  if (cpuProfDir) await fs.mkdir(cpuProfDir, { recursive: true });
  const pool = parentPool(url);
  const ctx: Ctx = { url, pgBin, pool, work, dims, tagsType, cpuProfDir };
  const started = new Date().toISOString();
  try {
    const { code, server: v, machine } = await benchRun(pool);
    log(`server ${url} (PostgreSQL ${String(v?.pg)}, pgvector ${String(v?.pgvector)}); work dir ${work}`);
    const result = args['rss-scaling']
      ? await rssScaling(ctx, String(args['scaling-rows']).split(',').map(Number))
      : await mainBench(ctx, rows, repeat);
    if (!args['rss-scaling']) printMain(result);
    const json = {
      bench: args['rss-scaling'] ? 'pgvector-rss-scaling' : 'pgvector-snapshot-restore',
      started,
      code,
      machine,
      server: v,
      options: {
        fsync: args.fsync,
        batchSize: args['batch-size'],
        segmentBytes: args['segment-bytes'],
        vectorCompression: args['vector-compression'] ?? 'library default',
        encodeWorkers: args['encode-workers'] ?? 'library default',
        dist: process.env.BENCH_DIST === '1',
        vectorType: VECTOR_TYPE,
      },
      ...result,
    };
    const line = JSON.stringify(json);
    process.stdout.write(`BENCH_JSON ${line}\n`);
    if (args.out) await fs.writeFile(args.out, `${JSON.stringify(json, null, 2)}\n`);
  } finally {
    if (!args.keep) {
      log('cleanup: dropping tables and temp dirs');
      const staging = await pool
        .query(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE $1`, [`${RESTORE_TABLE}\\_vdr\\_%`])
        .catch(() => ({ rows: [] }));
      const names = [TABLE, COPY_TABLE, RESTORE_TABLE, ...staging.rows.map((r) => String((r as { relname: string }).relname))];
      for (const t of names) await pool.query(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      await pool.query(`DROP DATABASE IF EXISTS ${RESTORE_DB}`).catch(() => undefined);
      await fs.rm(work, { recursive: true, force: true });
    } else {
      log(`--keep: left ${work} and the tables in place`);
    }
    await pool.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
