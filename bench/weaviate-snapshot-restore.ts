/**
 * Benchmark: vectordr snapshot + restore of a Weaviate collection against Weaviate's own
 * backup-filesystem create + restore of the same collection, same server, same run.
 *
 *   scripts/weaviate-server.sh start      # or VECTORDR_WEAVIATE_ASYNC_INDEXING=true scripts/weaviate-server.sh start
 *   eval "$(scripts/weaviate-server.sh env)"
 *   npx tsx bench/weaviate-snapshot-restore.ts [--rows 100000] [--dims 768] [--repeat 1] [--hnsw-restore false] [--cpu-prof DIR]
 *
 * Steps (in this order; S, R and F each in a child process of their own, so that their peak RSS and
 * client CPU are theirs alone (--cpu-prof DIR profiles them); the Weaviate server's CPU over each step
 * is read from /proc via $WEAVIATE_PIDFILE, default .cache/weaviate/weaviate.pid):
 *   L   load the source collection (HNSW cosine, maxConnections 16, efConstruction 64, one text and one
 *       int property) with the adapter's batched writes, then wait for its vector queue to drain
 *   S   repo.snapshot(weaviateAdapter, source) into a fresh filesystem repository
 *   B   native: POST /v1/backups/filesystem { include: [source] }, polled until SUCCESS
 *   R   repo.restore(weaviateAdapter, { target }) into a new collection: loadMs (objects written),
 *       indexMs (waiting for Weaviate's vector queue; 0 unless the server runs with ASYNC_INDEXING),
 *       then verifyParity of the restored collection against the snapshot (reported, not timed in R)
 *   F   the same restore into a collection created beforehand with a `flat` vector index (no graph
 *       to build): the data path alone. Weaviate builds HNSW while objects arrive, so R − F is the
 *       index-build share of R. --hnsw-restore false skips R (and its parity check)
 *   N   native: drop the source, POST /v1/backups/filesystem/{id}/restore, polled until SUCCESS, then
 *       until the restored class answers a count and its vector queue is empty (the native backup
 *       holds the HNSW graph's files: nothing is rebuilt)
 * F and N run --repeat times, taking turns going first; the ratios use their medians.
 * Ratios: F / N (the target: ≤ 1.5, index build reported apart), R / N, S / B. Writes bench/results/<commit>-weaviate-<rows>.json.
 * Classes are named <--prefix>_src_<tag>, ..._vdr_..., ..._flat_... and dropped at the end.
 */
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { weaviateAdapter } from '../adapters/weaviate/index.js';
import type { CollectionSchema, RecordBatch } from '../src/model.js';
import { openRepository } from '../src/repository/repository.js';
import { fsStorage } from '../src/storage/fs-storage.js';
import { type ChildStepResult, childStepResult, codeVersion, fmtMB, fmtMs, inTurn, log, measuredChild, median } from './bench-lib.js';
import { procCpuSeconds, ratio, reportChildResult, startStep } from './bench-lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    dims: { type: 'string', default: '768' },
    'write-rows': { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '1' },
    'hnsw-restore': { type: 'string', default: 'true' },
    prefix: { type: 'string', default: 'Bench' },
    /** Vector index of the source: `hnsw` (the default), or `flat` for a quick load (N then restores no graph either). */
    'source-index': { type: 'string', default: 'hnsw' },
    'cpu-prof': { type: 'string' },
    out: { type: 'string' },
    // child-process mode (internal)
    child: { type: 'string' },
    repo: { type: 'string' },
    source: { type: 'string' },
    snapshot: { type: 'string' },
    target: { type: 'string' },
    profile: { type: 'string' },
  },
});
const SCRIPT = fileURLToPath(import.meta.url);
const ROWS = Number(args.rows);
const DIMS = Number(args.dims);
const url = process.env.WEAVIATE_URL ?? 'http://127.0.0.1:54350';
const grpcAddress = process.env.WEAVIATE_GRPC ?? '127.0.0.1:54351';
const backupPath = process.env.WEAVIATE_BACKUP_PATH ?? path.join(ROOT, '.cache/weaviate/backups');

function serverPid(): number | undefined {
  try {
    return Number(readFileSync(process.env.WEAVIATE_PIDFILE ?? path.join(ROOT, '.cache/weaviate/weaviate.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
}

async function rest(method: string, p: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${p}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${p}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function poll(p: string): Promise<void> {
  for (;;) {
    const s = await rest('GET', p);
    if (s.status === 'SUCCESS') return;
    if (s.status === 'FAILED' || s.status === 'CANCELED') throw new Error(`${p}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function vectorQueueEmpty(className: string): Promise<void> {
  for (;;) {
    const n = (await rest('GET', `/v1/nodes?output=verbose&collection=${className}`)) as {
      nodes?: { shards?: { class?: string; vectorQueueLength?: number; vectorIndexingStatus?: string }[] }[];
    };
    const shards = (n.nodes ?? []).flatMap((x) => x.shards ?? []).filter((s) => s.class === className);
    if (shards.length > 0 && shards.every((s) => (s.vectorQueueLength ?? 0) === 0 && (s.vectorIndexingStatus ?? 'READY') === 'READY'))
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return total;
}

/** Deterministic batch i: vectors from a xorshift stream, a title and a counter. */
function makeBatch(start: number, n: number): RecordBatch {
  const ids = new BigInt64Array(n);
  const data = new Float32Array(n * DIMS);
  let s = (start + 1) * 2654435761;
  for (let j = 0; j < data.length; j++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[j] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  const payloads = Array.from({ length: n }, (_, k) => ({ title: `document ${start + k} about topic ${(start + k) % 97}`, n: start + k }));
  for (let k = 0; k < n; k++) ids[k] = BigInt(start + k + 1);
  return { length: n, ids, vectors: { embedding: { dims: DIMS, data } }, payloads };
}

async function timed<T>(step: string, run: () => Promise<T>): Promise<{ value: T; ms: number; serverCpuS: number | null }> {
  const pid = serverPid();
  const c0 = pid ? procCpuSeconds(pid) : undefined;
  const t0 = performance.now();
  const value = await run();
  const ms = performance.now() - t0;
  const c1 = pid ? procCpuSeconds(pid) : undefined;
  const serverCpuS = c0 === undefined || c1 === undefined ? null : Math.round((c1 - c0) * 10) / 10;
  log(`${step}: ${fmtMs(ms)} (server CPU ${serverCpuS ?? '?'} s)`);
  return { value, ms, serverCpuS };
}

type StepResult = ChildStepResult & { watchedCpuS: number | null; foreignCpuS: number };

/** S, R or F in this (child) process: one snapshot or restore, measured; prints its result line. */
async function runChild(step: string): Promise<void> {
  const pid = serverPid();
  // BENCH_DIST=1: the measured step runs the built package (npm run build first), as users run it:
  // plain JS, and the segment worker starts from dist/segment-worker.js instead of through tsx.
  const dist = process.env.BENCH_DIST === '1';
  const core = dist ? '../dist/index.js' : '../src/index.js';
  const weaviate = dist ? '../dist/adapters/weaviate/index.js' : '../adapters/weaviate/index.js';
  const lib = {
    ...((await import(core)) as typeof import('../src/index.js')),
    ...((await import(weaviate)) as typeof import('../adapters/weaviate/index.js')),
  };
  const adapter = lib.weaviateAdapter({ url, grpcAddress });
  const repo = await lib.openRepository({ storage: lib.fsStorage({ path: args.repo as string }), create: false });
  await adapter.probe(); // connection up before the clock
  const window = await startStep(async () => (pid ? (procCpuSeconds(pid) ?? null) : null), args.profile);
  const extra: Record<string, unknown> = {};
  if (step === 'snapshot') {
    const { manifest } = await repo.snapshot(adapter, args.source as string);
    Object.assign(extra, { snapshot: manifest.id, segments: manifest.segments.length, rows: manifest.rows.upserts });
  } else {
    const r = await repo.restore(adapter, {
      collection: args.source as string,
      snapshot: args.snapshot as string,
      target: args.target as string,
    });
    Object.assign(extra, { rows: r.rows, segments: r.segments, timings: r.timings });
  }
  const readings = await window.stop(extra);
  await adapter.close();
  reportChildResult(childStepResult(step, readings, extra));
}

function child(step: string, childArgs: Record<string, string>, profileDir: string | undefined): Promise<StepResult> {
  const argv = [...process.execArgv, SCRIPT, '--child', step];
  for (const [k, v] of Object.entries(childArgs)) argv.push(`--${k}`, v);
  if (profileDir) argv.push('--profile', path.join(profileDir, `${step}-${childArgs.target ?? 'source'}.cpuprofile`));
  return measuredChild<ChildStepResult>(step, argv, process.env).then((r) => {
    const mb = (b: number): string => fmtMB(b);
    log(
      `${step}: ${fmtMs(r.ms)} (peak RSS ${mb(r.maxRssBytes)}, before the step ${mb(r.baselineRssBytes)}; CPU client ` +
        `${r.clientCpuS.toFixed(1)} s, Weaviate ${r.serverCpuS?.toFixed(1) ?? '?'} s, other ${r.foreignCpuS.toFixed(1)} s)`,
    );
    return r;
  });
}

/** The fields of a child step kept in the results JSON. */
function stepJson(r: StepResult): Record<string, unknown> {
  return {
    ms: Math.round(r.ms),
    clientCpuS: Math.round(r.clientCpuS * 10) / 10,
    serverCpuS: r.serverCpuS === null ? null : Math.round(r.serverCpuS * 10) / 10,
    otherCpuS: Math.round(r.foreignCpuS * 10) / 10,
    peakRssMB: Math.round(r.maxRssBytes / 2 ** 20),
    baselineRssMB: Math.round(r.baselineRssBytes / 2 ** 20),
    ...r.extra,
  };
}

async function main(): Promise<void> {
  if (args.child) return runChild(args.child);
  const code = codeVersion(); // now: the code that runs was loaded at start
  const repeat = Number(args.repeat);
  const hnswRestore = args['hnsw-restore'] !== 'false';
  const profileDir = args['cpu-prof'] ? path.resolve(args['cpu-prof']) : undefined;
  if (profileDir) await fs.mkdir(profileDir, { recursive: true });
  const tag = Math.random().toString(36).slice(2, 8);
  const prefix = args.prefix as string;
  const source = `${prefix}_src_${tag}`;
  const target = `${prefix}_vdr_${tag}`;
  const flatTargets: string[] = [];
  const backupId = `${prefix.toLowerCase()}-${tag}`;
  const meta = await rest('GET', '/v1/meta');
  const adapter = weaviateAdapter({ url, grpcAddress });
  const repoDir = path.join(ROOT, '.cache/bench-weaviate', tag);
  await fs.mkdir(repoDir, { recursive: true });
  await openRepository({ storage: fsStorage({ path: repoDir }), create: true });
  const schema: CollectionSchema = {
    name: source,
    idField: 'id',
    idType: 'int64',
    vectors: [{ name: 'embedding', dims: DIMS, metric: 'cosine', element: 'float32', nullable: false }],
    payload: [
      { name: 'title', type: 'string', array: false, nullable: true },
      { name: 'n', type: 'int64', array: false, nullable: true },
    ],
    indexes:
      args['source-index'] === 'flat'
        ? [{ kind: 'flat', field: 'embedding', metric: 'cosine', params: {} }]
        : [{ kind: 'hnsw', field: 'embedding', metric: 'cosine', params: { m: 16, ef_construction: 64 } }],
  };
  log(
    `Weaviate ${String(meta.version)} at ${url}; ${ROWS} x ${DIMS}; repeat ${repeat}; async indexing: ` +
      `${process.env.VECTORDR_WEAVIATE_ASYNC_INDEXING ?? 'unknown (server setting)'}; source index ${args['source-index'] as string}`,
  );
  try {
    await adapter.create(schema, { indexes: 'now' });
    const per = Number(args['write-rows']);
    const load = await timed('L load source', async () => {
      for (let i = 0; i < ROWS; i += per) await adapter.write(source, makeBatch(i, Math.min(per, ROWS - i)), { mode: 'insert' });
      if ((await adapter.count(source)) !== ROWS) throw new Error('the source does not hold every row'); // waits for the writes in flight
      const t = performance.now();
      await vectorQueueEmpty(source);
      return { queueMs: Math.round(performance.now() - t) };
    });

    const snap = await child('snapshot', { repo: repoDir, source }, profileDir);
    const snapshotId = snap.extra.snapshot as string;
    const backup = await timed('B native backup create', async () => {
      await rest('POST', '/v1/backups/filesystem', { id: backupId, include: [source] });
      await poll(`/v1/backups/filesystem/${backupId}`);
    });

    let restore: StepResult | undefined;
    let parity: { ms: number; ok: boolean } | undefined;
    if (hnswRestore) {
      restore = await child('restore', { repo: repoDir, source, snapshot: snapshotId, target }, profileDir);
      const repo = await openRepository({ storage: fsStorage({ path: repoDir }), create: false });
      const p = await timed('  parity (not part of R)', () =>
        repo.verifyParity(adapter, { collection: source, snapshot: snapshotId, live: target }),
      );
      if (!p.value.ok) throw new Error(`parity failed: ${JSON.stringify(p.value.mismatchedBuckets.slice(0, 3))}`);
      parity = { ms: Math.round(p.ms), ok: p.value.ok };
      await adapter.drop(target);
    }

    // F and N take turns going first. N needs the source gone: it is dropped once, and every N
    // restores it from the backup (dropping the previous N's class first).
    await adapter.drop(source);
    const flats: StepResult[] = [];
    const natives: { ms: number; readyAfterSuccessMs: number; serverCpuS: number | null }[] = [];
    const runFlat = async (): Promise<void> => {
      const flatTarget = `${prefix}_flat_${tag}_${flats.length}`;
      flatTargets.push(flatTarget);
      await adapter.create(
        { ...schema, name: flatTarget, indexes: [{ kind: 'flat', field: 'embedding', metric: 'cosine', params: {} }] },
        { indexes: 'now' },
      );
      flats.push(await child('restore-flat', { repo: repoDir, source, snapshot: snapshotId, target: flatTarget }, profileDir));
      await adapter.drop(flatTarget);
    };
    const runNative = async (): Promise<void> => {
      await adapter.drop(source);
      const n = await timed('N native restore', async () => {
        await rest('POST', `/v1/backups/filesystem/${backupId}/restore`, { include: [source] });
        await poll(`/v1/backups/filesystem/${backupId}/restore`);
        const t = performance.now();
        while ((await adapter.count(source).catch(() => -1)) !== ROWS) await new Promise((r) => setTimeout(r, 100));
        await vectorQueueEmpty(source);
        return { readyAfterSuccessMs: Math.round(performance.now() - t) };
      });
      natives.push({ ms: n.ms, readyAfterSuccessMs: n.value.readyAfterSuccessMs, serverCpuS: n.serverCpuS });
    };
    for (let i = 0; i < repeat; i++) await inTurn(i, runFlat, runNative);

    const flatMs = median(flats.map((f) => f.ms));
    const nativeMs = median(natives.map((n) => n.ms));
    const repoBytes = await dirBytes(repoDir);
    const backupBytes = await dirBytes(path.join(backupPath, backupId)).catch(() => Number.NaN);
    const result = {
      benchmark: 'weaviate-snapshot-restore',
      code,
      when: new Date().toISOString(),
      weaviate: meta.version,
      asyncIndexing: process.env.VECTORDR_WEAVIATE_ASYNC_INDEXING ?? null,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memGB: Math.round(os.totalmem() / 1024 ** 3),
        node: process.version,
        loadavg: os.loadavg(),
      },
      rows: ROWS,
      dims: DIMS,
      repeat,
      sourceIndex: args['source-index'],
      dist: process.env.BENCH_DIST === '1',
      steps: {
        load: { ms: Math.round(load.ms), queueMs: load.value.queueMs, serverCpuS: load.serverCpuS },
        snapshot: stepJson(snap),
        nativeBackup: { ms: Math.round(backup.ms), serverCpuS: backup.serverCpuS },
        restore: restore ? stepJson(restore) : null,
        parity: parity ?? null,
        restoreFlat: { medianMs: Math.round(flatMs), runs: flats.map(stepJson) },
        indexBuildMs: restore ? Math.round(restore.ms - flatMs) : null,
        nativeRestore: { medianMs: Math.round(nativeMs), runs: natives.map((n) => ({ ...n, ms: Math.round(n.ms) })) },
      },
      bytes: { repository: repoBytes, nativeBackup: backupBytes },
      ratios: {
        dataPathVsNative: ratio(flatMs, nativeMs),
        restoreVsNative: restore ? ratio(restore.ms, nativeMs) : null,
        snapshotVsNativeBackup: ratio(snap.ms, backup.ms),
      },
    };
    log(`data path (F) / native restore = ${result.ratios.dataPathVsNative} (medians of ${repeat})`);
    if (restore)
      log(`restore (HNSW) / native restore = ${result.ratios.restoreVsNative}; index build ≈ ${fmtMs(result.steps.indexBuildMs ?? 0)}`);
    log(
      `snapshot / native backup = ${result.ratios.snapshotVsNativeBackup}; repository ${fmtMB(repoBytes)}, native backup ${fmtMB(backupBytes)}`,
    );
    const out =
      args.out ??
      path.join(
        ROOT,
        'bench/results',
        `${(result.code.commit ?? 'unknown').slice(0, 7)}-weaviate-${ROWS}${process.env.VECTORDR_WEAVIATE_ASYNC_INDEXING === 'true' ? '-async' : ''}.json`,
      );
    await fs.writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const c of [source, target, ...flatTargets]) await adapter.drop(c).catch(() => undefined);
    await adapter.close().catch(() => undefined);
    await fs.rm(repoDir, { recursive: true, force: true });
    await fs.rm(path.join(backupPath, backupId), { recursive: true, force: true }).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
