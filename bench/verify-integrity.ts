/**
 * Benchmark: `repo.verify()` (integrity) throughput, MB of segment data per second of wall time and
 * per second of CPU (process.cpuUsage: every thread of the process, so workers count), on a
 * synthetic collection shaped like bench/pgvector-snapshot-restore.ts's table (int8 ids, one
 * vector, a six-field payload with a timestamp), in a filesystem repository, plaintext and encrypted.
 *
 *   npx tsx bench/verify-integrity.ts [--rows 200000] [--dims 768] [--repeat 3] [--workers 0,1,2] [--out file.json]
 *
 * No server needed. The repositories are written once (a snapshot through a small in-memory
 * adapter), then every worker count is timed `--repeat` times, in turns, and the median kept. The
 * `split` step times the stages of one inline verify separately over every segment (storage read,
 * segment SHA-256, decode, canonical-payload check, record digests and buckets), so what is left
 * after the codec is visible. See docs/benchmarks.md, "Verify throughput".
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type VectorAdapter, defineCapabilities } from '../src/adapter.js';
import { digestVectorOrder, hashRecords } from '../src/format/rows.js';
import { sha256Hex } from '../src/format/digest.js';
import { decodeSegment, segmentLayout } from '../src/format/segment-codec.js';
import type { CollectionSchema, RecordBatch } from '../src/model.js';
import { canonicalPayload } from '../src/format/canonical-json.js';
import { SegmentPool } from '../src/parallel/segment-pool.js';
import { type Repository, openRepository } from '../src/repository/repository.js';
import { fsStorage } from '../src/storage/fs-storage.js';
import { MB, benchSize, codeVersion, fmtMs, log, machineInfo, median } from './bench-lib.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    dims: { type: 'string', default: '768' },
    repeat: { type: 'string', default: '3' },
    workers: { type: 'string', default: '0,1,2' },
    tmp: { type: 'string', default: os.tmpdir() },
    out: { type: 'string' },
  },
  strict: true,
});
const { rows, dims, repeat } = benchSize(args);
const workerCounts = args.workers.split(',').map(Number);
const COLLECTION = 'docs';
const BATCH = 1000;

/** The pgvector benchmark's row shape, made in memory: what `repo.snapshot` reads through `scan`. */
function syntheticAdapter(): VectorAdapter {
  const schema: CollectionSchema = {
    name: COLLECTION,
    idField: 'id',
    idType: 'int64',
    vectors: [{ name: 'embedding', dims, metric: 'cosine', element: 'float32', nullable: false }],
    payload: ['title', 'source', 'lang', 'created'].map((name) => ({ name, type: 'string' as const, array: false, nullable: true })),
    indexes: [],
  };
  let seed = 1;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  async function* batches(): AsyncIterable<RecordBatch> {
    for (let from = 1; from <= rows; from += BATCH) {
      const n = Math.min(BATCH, rows - from + 1);
      const data = new Float32Array(n * dims);
      for (let i = 0; i < data.length; i++) data[i] = random();
      const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i));
      const payloads = Array.from({ length: n }, (_, k) => {
        const i = from + k;
        return {
          created: new Date(Date.UTC(2024, 0, 1) + i * 37_000).toISOString(),
          lang: ['en', 'de', 'fr', 'es', 'ja'][i % 5] as string,
          score: Math.fround(random()),
          source: `https://example.com/docs/${i % 1000}/${(i * 7).toString(16).padStart(12, '0')}`,
          tags: [`tag${i % 17}`, `topic-${i % 101}`, `k${i % 7}`],
          title: `Document ${i} ${(i * 2654435761).toString(16)}`,
        };
      });
      yield { length: n, ids, vectors: { embedding: { dims, data } }, payloads };
    }
  }
  const refuse = (): never => {
    throw new Error('not part of the benchmark');
  };
  return {
    engine: 'pgvector',
    capabilities: defineCapabilities({ idTypes: ['int64'], maxDims: 16_000, changeCapture: 'none' }),
    describe: async () => schema,
    exists: async () => true,
    scan: async () => ({ schema, checkpoint: undefined, consistent: true, estimatedRows: rows, batches, close: async () => {} }),
    create: refuse,
    buildIndexes: refuse,
    write: refuse,
    readMarker: refuse,
    writeMarker: refuse,
    drop: refuse,
    delete: refuse,
    count: async () => rows,
    fetch: refuse,
    search: refuse,
    probe: refuse,
    describeEndpoint: async () => ({ engineVersion: 'synthetic', endpoint: 'memory' }),
  } as unknown as VectorAdapter;
}

interface Run {
  ms: number;
  cpuS: number;
}

/** What starting (and stopping) a pool of `workers` threads costs, part of every verify on workers. */
async function poolStart(workers: number): Promise<Run> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await (await SegmentPool.open(workers)).close();
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuS: (c.user + c.system) / 1e6 };
}

async function timedVerify(repo: Repository, workers: number): Promise<Run> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await repo.verify({ collection: COLLECTION, workers });
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (!r.ok) throw new Error(`verify failed: ${JSON.stringify(r.snapshots[0]?.problems.slice(0, 3))}`);
  return { ms, cpuS: (c.user + c.system) / 1e6 };
}

/** The stages of an inline verify, each timed alone over every segment (CPU ms). */
async function split(repo: Repository, dir: string): Promise<Record<string, number>> {
  const manifest = await repo.readManifest(COLLECTION, 'latest');
  const layout = segmentLayout(manifest.schema);
  const order = digestVectorOrder(manifest.schema);
  const cpu = (): number => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  const out: Record<string, number> = { read: 0, sha256: 0, decode: 0, canonical: 0, digests: 0 };
  const storage = fsStorage({ path: dir });
  for (const ref of manifest.segments) {
    let t = cpu();
    const bytes = await storage.get(ref.key);
    out.read = (out.read as number) - t + (t = cpu());
    sha256Hex(bytes);
    out.sha256 = (out.sha256 as number) - t + (t = cpu());
    const seg = decodeSegment(layout, bytes, ref.key);
    out.decode = (out.decode as number) - t + (t = cpu());
    for (let i = 0; i < seg.payloadJson.length; i++) {
      if (canonicalPayload(seg.batch.payloads[i] ?? {}) !== seg.payloadJson[i]) throw new Error(`${ref.key} row ${i}: not canonical`);
    }
    out.canonical = (out.canonical as number) - t + (t = cpu());
    hashRecords(layout.idType, order, seg.batch, seg.payloadJson, manifest.digest.buckets);
    out.digests = (out.digests as number) - t + cpu();
  }
  return out;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(args.tmp, 'vectordr-verify-bench-'));
  const result: Record<string, unknown> = { rows, dims, repeat, ...codeVersion(), machine: { ...machineInfo(), loadavg: os.loadavg() } };
  const table: Record<string, unknown>[] = [];
  try {
    const adapter = syntheticAdapter();
    const encryption = { passphrase: 'vectordr verify benchmark', scrypt: { N: 2 ** 14 } };
    for (const kind of ['plaintext', 'encrypted'] as const) {
      const dir = path.join(root, kind);
      const options = { storage: fsStorage({ path: dir, fsync: false }), ...(kind === 'encrypted' ? { encryption } : {}) };
      const t0 = performance.now();
      const repo = await openRepository({ ...options, create: true });
      const snap = await repo.snapshot(adapter, COLLECTION, {});
      const bytes = snap.manifest.segments.reduce((s, r) => s + r.bytes, 0);
      log(`${kind}: ${snap.manifest.segments.length} segments, ${(bytes / MB).toFixed(0)} MB written in ${fmtMs(performance.now() - t0)}`);
      if (kind === 'plaintext') result.split = await split(repo, dir);
      for (const w of workerCounts) {
        const runs: Run[] = [];
        const starts: Run[] = [];
        for (let r = 0; r < repeat; r++) {
          runs.push(await timedVerify(repo, w));
          if (w > 0) starts.push(await poolStart(w));
        }
        const start =
          starts.length > 0 ? { ms: median(starts.map((x) => x.ms)), cpuS: median(starts.map((x) => x.cpuS)) } : { ms: 0, cpuS: 0 };
        const ms = median(runs.map((x) => x.ms));
        const cpuS = median(runs.map((x) => x.cpuS));
        const row = {
          repository: kind,
          workers: w,
          segments: snap.manifest.segments.length,
          mb: Math.round(bytes / MB),
          medianMs: Math.round(ms),
          medianCpuS: Math.round(cpuS * 100) / 100,
          mbPerS: Math.round(bytes / MB / (ms / 1000)),
          mbPerCpuS: Math.round(bytes / MB / cpuS),
          /** The pool's start and stop alone (threads loading their modules), and the figures without it. */
          poolStartMs: Math.round(start.ms),
          poolStartCpuS: Math.round(start.cpuS * 100) / 100,
          mbPerCpuSWithoutStart: Math.round(bytes / MB / (cpuS - start.cpuS)),
          runs,
        };
        table.push(row);
        log(
          `${kind} workers=${w}: ${fmtMs(ms)} wall, ${cpuS.toFixed(2)} s CPU: ${row.mbPerS} MB/s, ${row.mbPerCpuS} MB/s per core ` +
            `(pool start ${start.cpuS.toFixed(2)} s CPU; without it ${row.mbPerCpuSWithoutStart} MB/s per core)`,
        );
      }
    }
    result.verify = table;
    result.loadavgAfter = os.loadavg();
    log(`split (inline, CPU ms over every segment): ${JSON.stringify(result.split)}`);
    if (args.out) await writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
