/**
 * Benchmark: vectordr snapshot and restore of a Qdrant collection, over REST and over gRPC, against
 * Qdrant's own snapshot (create + download) and a hand-tuned upsert loop of the official client:
 * same server, same data, ratios in one run.
 *
 *   source /tmp/srv/env.sh     # QDRANT_URL (a real Qdrant; its gRPC port is the REST port + 1)
 *   npx tsx bench/qdrant-snapshot-restore.ts [--rows 100000] [--dims 768] [--repeat 1] [--reuse]
 *
 * The source collection `<prefix>_src` (cosine, Qdrant's default HNSW, payload {title, n}) is loaded
 * with the hand-tuned loop unless --reuse finds it with --rows points already. Every collection and
 * native snapshot file this creates is deleted at the end (the source too, unless --keep).
 *
 * Steps, each in its own child process (peak RSS and CPU are the step's own; the Qdrant server's CPU
 * over the step is read from /proc when its process is visible):
 *   N   native: POST /collections/{src}/snapshots (waits for the file), then GET it to a local file
 *   Ss  repo.snapshot(qdrantAdapter({ transport: 'rest' }), src) into a fresh fs repository
 *   Sg  the same with transport 'grpc' (its repository is the one the restores read)
 *   L   anchor: @qdrant/js-client-rest upsert of every point (number[] vectors prepared before the
 *       clock), 256 points a request, 4 in flight, wait=false, then one wait=true upsert: the time
 *       until the last request is acknowledged (`loopMs`) and until every point is applied (`ms`)
 *   Rr  repo.restore(qdrantAdapter({ transport: 'rest' }), ...) into a new collection, no index build
 *   Rg  the same with transport 'grpc'
 * Ratios: Sg / N, Ss / N (target ≤ 3), Rg / L, Rr / L (target ≤ 1.25 = 0.8x the loop's throughput).
 */
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { QdrantClient } from '@qdrant/js-client-rest';
import {
  type ChildMeasures,
  type ChildStepResult,
  benchOptions,
  benchSize,
  childStepResult,
  codeVersion,
  fmtMB,
  fmtMs,
  log,
} from './bench-lib.js';
import { machineInfo, measuredChild, median, procCpuSeconds, ratio, reportChildResult, startStep } from './bench-lib.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const { values: args } = parseArgs({
  options: {
    ...benchOptions({ rows: '100000', dims: '768', repeat: '1' }),
    prefix: { type: 'string', default: 'h18qdrant_bench' },
    reuse: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    steps: { type: 'string', default: 'N,Ss,Sg,L,Rr,Rg' },
    repo: { type: 'string' },
    transport: { type: 'string' },
    'loop-batch': { type: 'string', default: '256' },
    'loop-inflight': { type: 'string', default: '4' },
  },
});
const { rows: ROWS, dims: DIMS, repeat: REPEAT } = benchSize(args);
const url = process.env.QDRANT_URL ?? 'http://127.0.0.1:6333';
const SOURCE = `${args.prefix}_src`;

/** The Qdrant server's pid, when this machine runs it (for its CPU over a step). */
function qdrantPid(): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'qdrant') return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const rest = (): QdrantClient => new QdrantClient({ url, checkCompatibility: false, timeout: 600_000 });

/** Point i of the data set: a xorshift vector in [-1, 1), a title and a counter. */
function point(i: number): { id: number; vector: number[]; payload: { title: string; n: number } } {
  const vector = new Array<number>(DIMS);
  let s = (i + 1) * 2654435761;
  for (let j = 0; j < DIMS; j++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    vector[j] = Math.fround(((s >>> 0) / 4294967296) * 2 - 1);
  }
  return { id: i + 1, vector, payload: { title: `document ${i} about topic ${i % 97}`, n: i } };
}

/** The anchor: `batch` points a request, `inflight` requests in flight, wait=false; then one wait=true upsert. */
async function handTunedLoop(
  client: QdrantClient,
  collection: string,
  points: ReturnType<typeof point>[],
): Promise<{ loopMs: number; ms: number; retries: number }> {
  const batch = Number(args['loop-batch']);
  let retries = 0;
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const start = next;
      next += batch;
      if (start >= points.length) return;
      // A dropped connection on a loaded machine ("fetch failed") is retried, as a tuned loop would.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.upsert(collection, { wait: false, points: points.slice(start, start + batch) });
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
          retries++;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Number(args['loop-inflight']) }, worker));
  const loopMs = performance.now() - t0;
  // Qdrant applies a shard's updates in log order: once this one is applied, every point is.
  await client.upsert(collection, { wait: true, points: points.slice(0, 1) });
  return { loopMs, ms: performance.now() - t0, retries };
}

async function createTarget(client: QdrantClient, name: string): Promise<void> {
  await client.deleteCollection(name).catch(() => undefined);
  await client.createCollection(name, { vectors: { size: DIMS, distance: 'Cosine' } });
}

// ---- child steps ------------------------------------------------------------------------------

async function runChild(step: string): Promise<void> {
  const pid = qdrantPid();
  const serverCpu = async (): Promise<number | null> => (pid === undefined ? null : (procCpuSeconds(pid) ?? null));
  const extra: Record<string, unknown> = {};
  const client = rest();
  let window;
  if (step === 'N') {
    const file = path.join(args.tmp, `${args.prefix}-native.snapshot`);
    window = await startStep(serverCpu);
    const created = await client.createSnapshot(SOURCE, { wait: true });
    const name = (created as { name: string }).name;
    // node:http, not fetch: fetch's web stream read 392 MB at ~3 MB/s on this machine (curl: 1.4 s).
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`${url}/collections/${SOURCE}/snapshots/${encodeURIComponent(name)}`, resolve).on('error', reject),
    );
    if (res.statusCode !== 200) throw new Error(`download ${name}: HTTP ${res.statusCode}`);
    const fh = await fs.open(file, 'w');
    await pipeline(res, fh.createWriteStream({ flush: true }));
    const bytes = (await fs.stat(file)).size;
    Object.assign(extra, { snapshot: name, bytes });
    const r = await window.stop(extra);
    await client.deleteSnapshot(SOURCE, name);
    await fs.rm(file, { force: true });
    return reportChildResult(childStepResult(step, r, extra));
  }
  if (step === 'L') {
    const target = args.target as string;
    const points = Array.from({ length: ROWS }, (_, i) => point(i));
    await createTarget(client, target);
    window = await startStep(serverCpu);
    const t = await handTunedLoop(client, target, points);
    Object.assign(extra, {
      loopMs: t.loopMs,
      retries: t.retries,
      batch: Number(args['loop-batch']),
      inflight: Number(args['loop-inflight']),
    });
    const r = await window.stop(extra, t.ms);
    await client.deleteCollection(target);
    return reportChildResult(childStepResult(step, r, extra));
  }
  const transport = args.transport as 'rest' | 'grpc';
  // BENCH_DIST=1: the built package (npm run build first), as users run it: plain JS, and the segment
  // worker starts from dist/segment-worker.js instead of through tsx (its RSS and start-up CPU).
  const dist = process.env.BENCH_DIST === '1';
  const { qdrantAdapter } = (await import(
    dist ? '../dist/adapters/qdrant/index.js' : '../adapters/qdrant/index.js'
  )) as typeof import('../adapters/qdrant/index.js');
  const { openRepository, fsStorage } = (await import(dist ? '../dist/index.js' : '../src/index.js')) as typeof import('../src/index.js');
  const adapter = qdrantAdapter({ url, transport });
  const repo = await openRepository({ storage: fsStorage({ path: args.repo as string }), create: true });
  if (step === 'S') {
    window = await startStep(serverCpu);
    const snap = await repo.snapshot(adapter, SOURCE);
    Object.assign(extra, { snapshot: snap.manifest.id, segments: snap.manifest.segments.length, transport });
    const r = await window.stop(extra);
    await adapter.close();
    return reportChildResult(childStepResult(step, r, extra));
  }
  if (step === 'R') {
    const target = args.target as string;
    window = await startStep(serverCpu);
    const res = await repo.restore(adapter, { collection: SOURCE, snapshot: args.snapshot as string, target, buildIndexes: false });
    Object.assign(extra, { rows: res.rows, segments: res.segments, timings: res.timings, transport });
    const r = await window.stop(extra);
    const stored = await adapter.count(target);
    if (stored !== ROWS) throw new Error(`restored ${stored} points, expected ${ROWS}`);
    await adapter.drop(target);
    await adapter.close();
    return reportChildResult(childStepResult(step, r, extra));
  }
  throw new Error(`unknown step ${step}`);
}

// ---- parent -----------------------------------------------------------------------------------

type StepResult = ChildStepResult & ChildMeasures;

function child(step: string, extraArgs: string[]): Promise<StepResult> {
  const argv = [...process.execArgv, SCRIPT, '--child', step, '--rows', String(ROWS), '--dims', String(DIMS), '--prefix', args.prefix];
  argv.push('--tmp', args.tmp, ...extraArgs);
  return measuredChild<StepResult>(step, argv, process.env).then((r) => {
    log(
      `${step}${r.extra.transport ? ` (${String(r.extra.transport)})` : ''}: ${fmtMs(r.ms)}, client CPU ${r.clientCpuS.toFixed(1)} s, ` +
        `server CPU ${r.serverCpuS === null ? '?' : r.serverCpuS.toFixed(1)} s, peak RSS ${fmtMB(r.maxRssBytes)} ` +
        `(sampled ${fmtMB(r.sampledPeakRssBytes)}), other load ${r.foreignCpuS.toFixed(1)} CPU s`,
    );
    return r;
  });
}

async function ensureSource(client: QdrantClient): Promise<{ loaded: boolean; ms: number }> {
  if (args.reuse && (await client.collectionExists(SOURCE)).exists) {
    const { count } = await client.count(SOURCE, { exact: true });
    if (count === ROWS) return { loaded: false, ms: 0 };
    log(`--reuse: ${SOURCE} has ${count} points, not ${ROWS}: loading it again`);
  }
  await createTarget(client, SOURCE);
  log(`loading ${SOURCE}: ${ROWS} x ${DIMS}`);
  const t0 = performance.now();
  for (let start = 0; start < ROWS; start += 20_000) {
    const points = Array.from({ length: Math.min(20_000, ROWS - start) }, (_, k) => point(start + k));
    await handTunedLoop(client, SOURCE, points);
  }
  return { loaded: true, ms: performance.now() - t0 };
}

async function main(): Promise<void> {
  if (args.child) return runChild(args.child);
  const code = codeVersion();
  const client = rest();
  const version = (await client.versionInfo()).version;
  log(`Qdrant ${version} at ${url}; ${ROWS} x ${DIMS}; repeat ${REPEAT}; load ${os.loadavg()[0]?.toFixed(1)}`);
  const load = await ensureSource(client);
  const want = new Set(args.steps.split(','));
  const repoDir = (t: string): string => path.join(ROOT, '.cache/bench-qdrant', `${args.prefix}-${t}`);
  const runs: Record<string, StepResult[]> = {};
  const add = (k: string, r: StepResult): void => void (runs[k] ??= []).push(r);
  try {
    for (let rep = 0; rep < REPEAT; rep++) {
      if (want.has('N')) add('nativeSnapshot', await child('N', []));
      let snapshot: string | undefined;
      for (const t of ['rest', 'grpc'] as const) {
        if (!want.has(t === 'rest' ? 'Ss' : 'Sg')) continue;
        await fs.rm(repoDir(t), { recursive: true, force: true });
        const r = await child('S', ['--transport', t, '--repo', repoDir(t)]);
        add(`snapshot_${t}`, r);
        if (t === 'grpc' || snapshot === undefined) snapshot = r.extra.snapshot as string;
      }
      const restoreRepo = want.has('Sg') ? repoDir('grpc') : repoDir('rest');
      if (want.has('L')) add('handTunedLoop', await child('L', ['--target', `${args.prefix}_loop`]));
      for (const t of ['rest', 'grpc'] as const) {
        if (!want.has(t === 'rest' ? 'Rr' : 'Rg') || snapshot === undefined) continue;
        add(
          `restore_${t}`,
          await child('R', ['--transport', t, '--repo', restoreRepo, '--snapshot', snapshot, '--target', `${args.prefix}_r${t}`]),
        );
      }
    }
  } finally {
    for (const t of ['rest', 'grpc']) {
      await fs.rm(repoDir(t), { recursive: true, force: true });
      await client.deleteCollection(`${args.prefix}_r${t}`).catch(() => undefined);
    }
    await client.deleteCollection(`${args.prefix}_loop`).catch(() => undefined);
    if (!args.keep) await client.deleteCollection(SOURCE).catch(() => undefined);
  }
  const med = (k: string): number | undefined => (runs[k] ? median(runs[k].map((r) => r.ms)) : undefined);
  const ratioOf = (a: string, b: string): number | null => {
    const x = med(a);
    const y = med(b);
    return x === undefined || y === undefined ? null : ratio(x, y);
  };
  const summary = Object.fromEntries(
    Object.entries(runs).map(([k, rs]) => [
      k,
      {
        medianMs: Math.round(median(rs.map((r) => r.ms))),
        ms: rs.map((r) => Math.round(r.ms)),
        clientCpuS: rs.map((r) => Math.round(r.clientCpuS * 10) / 10),
        serverCpuS: rs.map((r) => (r.serverCpuS === null ? null : Math.round(r.serverCpuS * 10) / 10)),
        peakRssMB: rs.map((r) => Math.round(r.maxRssBytes / 2 ** 20)),
        sampledPeakRssMB: rs.map((r) => Math.round(r.sampledPeakRssBytes / 2 ** 20)),
        foreignCpuS: rs.map((r) => Math.round(r.foreignCpuS * 10) / 10),
        loadavg1: rs.map((r) => r.loadavg1),
        extra: rs.map((r) => r.extra),
      },
    ]),
  );
  const result = {
    benchmark: 'qdrant-snapshot-restore',
    code,
    when: new Date().toISOString(),
    qdrant: version,
    machine: machineInfo(),
    rows: ROWS,
    dims: DIMS,
    repeat: REPEAT,
    sourceLoad: load,
    steps: summary,
    ratios: {
      snapshotGrpcVsNative: ratioOf('snapshot_grpc', 'nativeSnapshot'),
      snapshotRestVsNative: ratioOf('snapshot_rest', 'nativeSnapshot'),
      restoreGrpcVsLoop: ratioOf('restore_grpc', 'handTunedLoop'),
      restoreRestVsLoop: ratioOf('restore_rest', 'handTunedLoop'),
    },
  };
  log(`ratios: ${JSON.stringify(result.ratios)}`);
  const out = args.out ?? path.join(ROOT, 'bench/results', `${(code.commit ?? 'unknown').slice(0, 7)}-qdrant-${ROWS}.json`);
  await fs.writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${out}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
