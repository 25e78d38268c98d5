/**
 * Benchmark: vectordr snapshot + restore of a Weaviate collection against Weaviate's own
 * backup-filesystem create + restore of the same collection, same server, same run.
 *
 *   scripts/weaviate-server.sh start      # or VECTORDR_WEAVIATE_ASYNC_INDEXING=true scripts/weaviate-server.sh start
 *   eval "$(scripts/weaviate-server.sh env)"
 *   npx tsx bench/weaviate-snapshot-restore.ts [--rows 100000] [--dims 768]
 *
 * Steps (one process, in this order; the Weaviate server's CPU over each step is read from /proc via
 * $WEAVIATE_PIDFILE, default .cache/weaviate/weaviate.pid):
 *   L   load the source collection (HNSW cosine, maxConnections 16, efConstruction 64, one text and one
 *       int property) with the adapter's batched writes, then wait for its vector queue to drain
 *   S   repo.snapshot(weaviateAdapter, source) into a fresh filesystem repository
 *   B   native: POST /v1/backups/filesystem { include: [source] }, polled until SUCCESS
 *   R   repo.restore(weaviateAdapter, { target }) into a new collection: loadMs (objects written),
 *       indexMs (waiting for Weaviate's vector queue; 0 unless the server runs with ASYNC_INDEXING),
 *       then verifyParity of the restored collection against the snapshot (reported, not timed in R)
 *   F   the same restore into a collection created beforehand with a `flat` vector index (no graph
 *       to build): the data path alone. Weaviate builds HNSW while objects arrive, so R − F is the
 *       index-build share of R
 *   N   native: drop the source, POST /v1/backups/filesystem/{id}/restore, polled until SUCCESS, then
 *       until the restored class answers a count and its vector queue is empty (the native backup
 *       holds the HNSW graph's files: nothing is rebuilt)
 * Ratios: F / N (the target: ≤ 1.5, index build reported apart), R / N, S / B. Writes bench/results/<commit>-weaviate-<rows>.json.
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
import { codeVersion, fmtMB, fmtMs, log, procCpuSeconds, ratio, sampleRss } from './bench-lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    dims: { type: 'string', default: '768' },
    'write-rows': { type: 'string', default: '1000' },
    out: { type: 'string' },
  },
});
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

async function main(): Promise<void> {
  const code = codeVersion(); // now: the code that runs was loaded at start
  const tag = Math.random().toString(36).slice(2, 8);
  const source = `Bench_src_${tag}`;
  const target = `Bench_vdr_${tag}`;
  const flatTarget = `Bench_flat_${tag}`;
  const backupId = `bench-${tag}`;
  const meta = await rest('GET', '/v1/meta');
  const adapter = weaviateAdapter({ url, grpcAddress });
  const repoDir = path.join(ROOT, '.cache/bench-weaviate', tag);
  await fs.mkdir(repoDir, { recursive: true });
  const repo = await openRepository({ storage: fsStorage({ path: repoDir }), create: true });
  const schema: CollectionSchema = {
    name: source,
    idField: 'id',
    idType: 'int64',
    vectors: [{ name: 'embedding', dims: DIMS, metric: 'cosine', element: 'float32', nullable: false }],
    payload: [
      { name: 'title', type: 'string', array: false, nullable: true },
      { name: 'n', type: 'int64', array: false, nullable: true },
    ],
    indexes: [{ kind: 'hnsw', field: 'embedding', metric: 'cosine', params: { m: 16, ef_construction: 64 } }],
  };
  log(
    `Weaviate ${String(meta.version)} at ${url}; ${ROWS} x ${DIMS}; async indexing: ` +
      `${process.env.VECTORDR_WEAVIATE_ASYNC_INDEXING ?? 'unknown (server setting)'}`,
  );
  try {
    await adapter.create(schema, { indexes: 'now' });
    const per = Number(args['write-rows']);
    const load = await timed('L load source', async () => {
      for (let i = 0; i < ROWS; i += per) await adapter.write(source, makeBatch(i, Math.min(per, ROWS - i)), { mode: 'insert' });
      const t = performance.now();
      await vectorQueueEmpty(source);
      return { queueMs: Math.round(performance.now() - t) };
    });

    const rssS = sampleRss();
    const snap = await timed('S vectordr snapshot', () => repo.snapshot(adapter, source));
    const snapRss = rssS.stop();
    const backup = await timed('B native backup create', async () => {
      await rest('POST', '/v1/backups/filesystem', { id: backupId, include: [source] });
      await poll(`/v1/backups/filesystem/${backupId}`);
    });

    const rssR = sampleRss();
    const restore = await timed('R vectordr restore', () =>
      repo.restore(adapter, { collection: source, snapshot: snap.value.manifest.id, target }),
    );
    const restoreRss = rssR.stop();
    log(`  restore load ${fmtMs(restore.value.timings.loadMs)}, index wait ${fmtMs(restore.value.timings.indexMs)}`);
    const parity = await timed('  parity (not part of R)', () =>
      repo.verifyParity(adapter, { collection: source, snapshot: snap.value.manifest.id, live: target }),
    );
    if (!parity.value.ok) throw new Error(`parity failed: ${JSON.stringify(parity.value.mismatchedBuckets.slice(0, 3))}`);

    await adapter.create(
      { ...schema, name: flatTarget, indexes: [{ kind: 'flat', field: 'embedding', metric: 'cosine', params: {} }] },
      { indexes: 'now' },
    );
    const flat = await timed('F vectordr restore into a flat index (data path only)', () =>
      repo.restore(adapter, { collection: source, snapshot: snap.value.manifest.id, target: flatTarget }),
    );
    await adapter.drop(flatTarget);

    await adapter.drop(source);
    const native = await timed('N native restore', async () => {
      await rest('POST', `/v1/backups/filesystem/${backupId}/restore`, { include: [source] });
      await poll(`/v1/backups/filesystem/${backupId}/restore`);
      const t = performance.now();
      while ((await adapter.count(source).catch(() => -1)) !== ROWS) await new Promise((r) => setTimeout(r, 100));
      await vectorQueueEmpty(source);
      return { readyAfterSuccessMs: Math.round(performance.now() - t) };
    });

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
      },
      rows: ROWS,
      dims: DIMS,
      steps: {
        load: { ms: Math.round(load.ms), queueMs: load.value.queueMs, serverCpuS: load.serverCpuS },
        snapshot: {
          ms: Math.round(snap.ms),
          serverCpuS: snap.serverCpuS,
          segments: snap.value.manifest.segments.length,
          peakRssMB: Math.round(snapRss.sampledPeakRssBytes / 2 ** 20),
        },
        nativeBackup: { ms: Math.round(backup.ms), serverCpuS: backup.serverCpuS },
        restore: {
          ms: Math.round(restore.ms),
          loadMs: restore.value.timings.loadMs,
          indexMs: restore.value.timings.indexMs,
          serverCpuS: restore.serverCpuS,
          peakRssMB: Math.round(restoreRss.sampledPeakRssBytes / 2 ** 20),
        },
        parity: { ms: Math.round(parity.ms), ok: parity.value.ok },
        restoreFlat: { ms: Math.round(flat.ms), loadMs: flat.value.timings.loadMs, serverCpuS: flat.serverCpuS },
        indexBuildMs: Math.round(restore.ms - flat.ms),
        nativeRestore: { ms: Math.round(native.ms), readyAfterSuccessMs: native.value.readyAfterSuccessMs, serverCpuS: native.serverCpuS },
      },
      bytes: { repository: repoBytes, nativeBackup: backupBytes },
      ratios: {
        dataPathVsNative: ratio(flat.ms, native.ms),
        restoreVsNative: ratio(restore.ms, native.ms),
        restoreLoadVsNative: ratio(restore.value.timings.loadMs, native.ms),
        snapshotVsNativeBackup: ratio(snap.ms, backup.ms),
      },
    };
    log(`data path (F) / native restore = ${result.ratios.dataPathVsNative}; index build ≈ ${fmtMs(result.steps.indexBuildMs)}`);
    log(
      `restore / native restore = ${result.ratios.restoreVsNative} (load only: ` +
        `${result.ratios.restoreLoadVsNative}); snapshot / native backup = ` +
        `${result.ratios.snapshotVsNativeBackup}`,
    );
    log(`repository ${fmtMB(repoBytes)}, native backup ${fmtMB(backupBytes)}`);
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
    for (const c of [source, target, flatTarget]) await adapter.drop(c).catch(() => undefined);
    await adapter.close();
    await fs.rm(repoDir, { recursive: true, force: true });
    await fs.rm(path.join(backupPath, backupId), { recursive: true, force: true }).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
