/**
 * Benchmark: incremental snapshots (links of a chain) against full snapshots of the same collection,
 * and point-in-time restore of a chain's head against restore of an equivalent full snapshot, per
 * engine, ratios from one run.
 *
 *   source /tmp/srv/env.sh   # or set PG_URL, QDRANT_URL, MILVUS_STANDALONE_ADDRESS, WEAVIATE_URL + WEAVIATE_GRPC
 *   npx tsx bench/incremental.ts [--rows 200000] [--dims 768] [--engine pgvector|qdrant|milvus|weaviate|all] [--links 10]
 *
 * It starts no server. Per engine it creates a collection `bench_incr_<random>` (Weaviate:
 * `Bench_incr_<random>`), two filesystem repositories in a temp dir (the chain's, and the anchors'
 * for plain full snapshots, so that a plain full snapshot never becomes a link's parent), and drops
 * the collections, any change feed and the temp dir at the end, whether or not the run succeeded.
 *
 * Steps per engine (every snapshot and restore in its own child process, so its peak RSS is the
 * kernel's high-water mark of that step alone, as in the other benchmarks):
 *   load  N rows x D dims + a small payload (title, n, score, lang); pgvector: server-side
 *         generate_series, no vector index; the others: the adapter's writes, HNSW cosine (m 16, ef 64)
 *   F0    repo.snapshot({ incremental: true }) on the empty chain repository: the full snapshot that
 *         starts the chain (with its delta index)
 *   then `--links` times: 1% churn spread at random (40% vector updates, 30% payload updates, 15%
 *         deletes, 15% inserts of new ids), then
 *   P1    (after the first churn only) a plain full snapshot of the same state into the anchor repository
 *   Lk    repo.snapshot({ incremental: true }): link k; its capture mode from manifest.capture
 *   Pn    a plain full snapshot of the final state (the chain head's state) into the anchor repository
 *   RH/RF restore of the chain head ({ snapshot: head }) and of Pn into new collections, taking turns
 *         (--repeat); pgvector with buildIndexes: false (nothing to build), the others with their index
 * Bytes written are the manifest's segment + delta index bytes; rows and bytes read from the engine
 * are counted by a wrapper around the adapter's scan, fetch and change feed (ids + float32 vectors
 * exactly, payload JSON estimated from every 64th row). Ratios: L1 / P1 (time, bytes written, rows
 * and bytes read), RH / RF (target <= 1.2), peak RSS of every step (target <= 300 MB).
 * Writes bench/results/<commit>-incremental-<engine>-<rows>.json (or --out, with `all` one file per engine).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { ChangeSession, ScanSession, VectorAdapter } from '../src/adapter.js';
import type { Manifest } from '../src/format/manifest.js';
import { batchFromRecords, type CollectionSchema, type RecordBatch, type VectorColumn, type VectorRecord } from '../src/model.js';
import { VectordrError } from '../src/errors.js';
import { retry } from '../src/retry.js';
import { type ChildMeasures, type ChildStepResult, backendCpuSeconds, benchEnvironment, benchOptions, benchSize } from './bench-lib.js';
import { childPool, childStepResult, codeVersion, fillTable, fmtMB, fmtMs, inTurn, log, MB, measuredChild } from './bench-lib.js';
import { machineInfo, parentPool, ratio, reportChildResult, startStep } from './bench-lib.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const ENGINES = ['pgvector', 'qdrant', 'milvus', 'weaviate'] as const;
type Engine = (typeof ENGINES)[number];
/** Share of each kind of change in a churn round. */
const CHURN_MIX = { vector: 0.4, payload: 0.3, delete: 0.15, insert: 0.15 };
const TARGETS = { nativeBytes: 0.02, nativeTime: 0.1, fingerprintBytes: 0.02, pitr: 1.2, rssBytes: 300 * MB };

const { values: args } = parseArgs({
  options: {
    ...benchOptions({ rows: '200000', dims: '768', repeat: '1' }),
    engine: { type: 'string', default: 'pgvector' },
    links: { type: 'string', default: '10' },
    /** Share of the rows changed before every link. */
    churn: { type: 'string', default: '0.01' },
    /**
     * pgvector: the table's REPLICA IDENTITY. `default` (the primary key): an UPDATE that leaves the
     * TOASTed vector alone sends no value for it, and the core fills it from the chain's segments;
     * `full`: the old row comes along in WAL and the adapter fills it itself.
     */
    'replica-identity': { type: 'string', default: 'default' },
    /** Rows per adapter write when loading a non-pgvector collection. */
    'write-rows': { type: 'string', default: '1000' },
    /** Directory: CPU profiles (.cpuprofile) of the measured window of every link and restore step. */
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
    // child-process mode (internal)
    repo: { type: 'string' },
    collection: { type: 'string' },
    incremental: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
  strict: true,
});

// ---------------------------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------------------------

function setting(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (source /tmp/srv/env.sh, or the server's env script); this benchmark starts no server`);
  return v;
}

/** The adapter of `engine`, configured from the environment; pgvector on `pool`. */
async function engineAdapter(engine: Engine, pool: pg.Pool | undefined): Promise<VectorAdapter> {
  switch (engine) {
    case 'pgvector':
      return (await import('../adapters/pgvector/index.js')).pgvectorAdapter({ pool: pool as pg.Pool });
    case 'qdrant':
      return (await import('../adapters/qdrant/index.js')).qdrantAdapter({ url: setting('QDRANT_URL') });
    case 'milvus':
      return (await import('../adapters/milvus/index.js')).milvusAdapter({ url: setting('MILVUS_STANDALONE_ADDRESS') });
    case 'weaviate':
      return (await import('../adapters/weaviate/index.js')).weaviateAdapter({
        url: setting('WEAVIATE_URL'),
        grpcAddress: setting('WEAVIATE_GRPC'),
      });
  }
}

function engineServer(engine: Engine): string {
  if (engine === 'pgvector') return setting('PG_URL').replace(/\/\/[^@]*@/, '//');
  if (engine === 'qdrant') return setting('QDRANT_URL');
  if (engine === 'milvus') return setting('MILVUS_STANDALONE_ADDRESS');
  return setting('WEAVIATE_URL');
}

// ---------------------------------------------------------------------------------------------
// Counting what a snapshot reads from the engine
// ---------------------------------------------------------------------------------------------

/** Rows and bytes read from the engine: ids + float32 vectors exactly, payload JSON estimated from every 64th row. */
interface ReadCount {
  rows: number;
  bytes: number;
}

function countBatch(c: ReadCount, batch: RecordBatch): void {
  c.rows += batch.length;
  c.bytes += batch.ids instanceof BigInt64Array ? batch.ids.byteLength : batch.ids.reduce((s, id) => s + id.length, 0);
  for (const v of Object.values(batch.vectors)) c.bytes += (v as VectorColumn).data.byteLength;
  for (let i = 0; i < batch.length; i += 64) c.bytes += JSON.stringify(batch.payloads[i]).length * Math.min(64, batch.length - i);
}

function countRecords(c: ReadCount, records: readonly VectorRecord[]): void {
  c.rows += records.length;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as VectorRecord;
    c.bytes += typeof r.id === 'bigint' ? 8 : r.id.length;
    for (const v of Object.values(r.vectors)) c.bytes += (v as Float32Array | null)?.byteLength ?? 0;
    if (i % 64 === 0) c.bytes += JSON.stringify(r.payload).length * Math.min(64, records.length - i);
  }
}

/** `target` with every method of `wrap` in place of its own (a Proxy: adapters keep private fields). */
function overlay<T extends object>(target: T, wrap: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(wrap, prop)) return (wrap as Record<string | symbol, unknown>)[prop];
      const v: unknown = Reflect.get(t, prop, t);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/** `adapter`, counting the rows its scans, fetches and change feeds return. */
function countingAdapter(adapter: VectorAdapter, reads: { scan: ReadCount; fetch: ReadCount; feed: ReadCount }): VectorAdapter {
  const wrap: Partial<VectorAdapter> = {
    async scan(collection, options) {
      const session = await adapter.scan(collection, options);
      return overlay<ScanSession>(session, {
        async *batches() {
          for await (const b of session.batches()) {
            countBatch(reads.scan, b);
            yield b;
          }
        },
      });
    },
    async fetch(collection, ids) {
      const records = await adapter.fetch(collection, ids);
      countRecords(reads.fetch, records);
      return records;
    },
  };
  if (adapter.captureChanges) {
    const capture = adapter.captureChanges.bind(adapter);
    wrap.captureChanges = async (collection, from, options) => {
      const session = await capture(collection, from, options);
      return overlay<ChangeSession>(session, {
        async *changes() {
          for await (const batch of session.changes()) {
            countRecords(
              reads.feed,
              batch.flatMap((c) => (c.op === 'upsert' ? [c.record] : [])),
            );
            reads.feed.rows += batch.filter((c) => c.op === 'delete').length;
            yield batch;
          }
        },
      });
    };
  }
  return overlay(adapter, wrap);
}

// ---------------------------------------------------------------------------------------------
// Child steps
// ---------------------------------------------------------------------------------------------

/** What a snapshot child reports of the snapshot it took. */
interface SnapshotExtra {
  snapshot: string;
  kind: 'full' | 'incremental';
  autoFull: string | null;
  capture: Manifest['capture'] | null;
  depth: number | null;
  upserts: number;
  deletes: number;
  segmentBytes: number;
  deltaIndexBytes: number;
  bytesWritten: number;
  segments: number;
  timings: Manifest['timings'];
  digest: string;
  reads: { scan: ReadCount; fetch: ReadCount; feed: ReadCount };
  cpuProfile?: string;
}

type ChildResult = ChildStepResult & Partial<ChildMeasures>;

async function runChild(step: string): Promise<void> {
  const engine = args.engine as Engine;
  const appName = `vectordr-bench-incr-${step}-${process.pid}`;
  const pool = engine === 'pgvector' ? await childPool(appName) : undefined;
  const backendCpu = (): Promise<number | null> => backendCpuSeconds(pool, appName);
  const vdr = await import('../src/index.js');
  const reads = { scan: { rows: 0, bytes: 0 }, fetch: { rows: 0, bytes: 0 }, feed: { rows: 0, bytes: 0 } };
  const base = await engineAdapter(engine, pool);
  const adapter = countingAdapter(base, reads);
  const repo = await vdr.openRepository({ storage: vdr.fsStorage({ path: args.repo as string }) });
  const collection = args.collection as string;
  if (global.gc) global.gc();

  const window = await startStep(backendCpu, args.profile);
  const extra: Record<string, unknown> = {};
  if (step === 'snapshot') {
    const res = await repo.snapshot(adapter, collection, args.incremental ? { incremental: true } : {});
    const m = res.manifest;
    const sum = (refs: readonly { bytes: number }[] | undefined): number => (refs ?? []).reduce((s, r) => s + r.bytes, 0);
    const e: SnapshotExtra = {
      snapshot: m.id,
      kind: res.kind,
      autoFull: res.autoFull ?? null,
      capture: m.capture ?? null,
      depth: m.depth ?? null,
      upserts: m.rows.upserts,
      deletes: m.rows.deletes,
      segmentBytes: sum(m.segments),
      deltaIndexBytes: sum(m.deltaIndex),
      bytesWritten: sum(m.segments) + sum(m.deltaIndex),
      segments: m.segments.length,
      timings: m.timings,
      digest: m.digest.collection,
      reads,
    };
    Object.assign(extra, e);
  } else if (step === 'restore') {
    const res = await repo.restore(base, {
      collection,
      snapshot: args.snapshot as string,
      target: args.target as string,
      buildIndexes: engine !== 'pgvector',
    });
    Object.assign(extra, { rows: res.rows, segments: res.segments, timings: res.timings });
  } else {
    throw new Error(`unknown child step ${step}`);
  }
  const result = childStepResult(step, await window.stop(extra), extra);
  await base.close?.();
  await pool?.end();
  reportChildResult(result);
}

// ---------------------------------------------------------------------------------------------
// Parent: data and churn
// ---------------------------------------------------------------------------------------------

/** A collection under test: its live ids (for random picks), and how to load and change it. */
interface Subject {
  engine: Engine;
  collection: string;
  dims: number;
  live: number[];
  nextId: number;
  load(rows: number): Promise<void>;
  /** Applies the changes; each list of ids is disjoint from the others. */
  change(c: { vector: number[]; payload: number[]; delete: number[]; insert: [number, number] }): Promise<void>;
  drop(name: string): Promise<void>;
  count(name: string): Promise<number>;
  close(): Promise<void>;
}

function pgTableDdl(name: string, dims: number): string {
  return `CREATE TABLE ${name} (id bigint PRIMARY KEY, embedding vector(${dims}) NOT NULL, title text, n bigint, score float8, lang text)`;
}

/** Rows [from, to] generated server-side; the correlated `WHERE i > 0` makes random() run per row. */
function pgFillSql(name: string, dims: number, from: number, to: number): string {
  return `INSERT INTO ${name}
    SELECT i, ARRAY(SELECT random() FROM generate_series(1, ${dims}) WHERE i > 0)::vector(${dims}),
      'document ' || i || ' about topic ' || (i % 97), i, random(), (ARRAY['en', 'de', 'fr', 'es', 'ja'])[1 + i % 5]
    FROM generate_series(${from}, ${to}) AS i`;
}

function pgSubject(pool: pg.Pool, collection: string, dims: number, identity: 'default' | 'full'): Subject {
  const s: Subject = {
    engine: 'pgvector',
    collection,
    dims,
    live: [],
    nextId: 1,
    async load(rows) {
      await pool.query(pgTableDdl(collection, dims));
      await fillTable(pool, collection, 0, rows, 50_000, (from, to) => pgFillSql(collection, dims, from, to));
      if (identity === 'full') await pool.query(`ALTER TABLE ${collection} REPLICA IDENTITY FULL`);
      for (let i = 1; i <= rows; i++) s.live.push(i);
      s.nextId = rows + 1;
      const t0 = performance.now();
      await pool.query(`SELECT sum(vector_dims(embedding)), sum(length(title || lang)) FROM ${collection}`);
      log(`warm-up read of ${collection}: ${fmtMs(performance.now() - t0)}`);
    },
    async change(c) {
      await pool.query(
        `UPDATE ${collection} t SET embedding = ARRAY(SELECT random() FROM generate_series(1, ${dims}) WHERE t.id > 0)::vector(${dims})
          WHERE id = ANY($1::bigint[])`,
        [c.vector],
      );
      await pool.query(`UPDATE ${collection} SET score = random(), title = title || ' (edited)' WHERE id = ANY($1::bigint[])`, [c.payload]);
      await pool.query(`DELETE FROM ${collection} WHERE id = ANY($1::bigint[])`, [c.delete]);
      if (c.insert[1] >= c.insert[0]) await pool.query(pgFillSql(collection, dims, c.insert[0], c.insert[1]));
    },
    async drop(name) {
      await pool.query(`DROP TABLE IF EXISTS ${name}`);
      const staging = await pool.query(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE $1`, [`${name}\\_vdr\\_%`]);
      for (const r of staging.rows as { relname: string }[]) await pool.query(`DROP TABLE IF EXISTS ${r.relname}`);
    },
    async count(name) {
      return Number((await pool.query(`SELECT count(*)::int AS n FROM ${name}`)).rows[0]?.n);
    },
    async close() {},
  };
  return s;
}

/** Deterministic rows [start, start + n) of ids start+1...: vectors from a xorshift stream, a small payload. */
function makeBatch(start: number, n: number, dims: number, seed: number): RecordBatch {
  const ids = new BigInt64Array(n);
  const data = new Float32Array(n * dims);
  let s = ((start + 1) * 2654435761 + seed) | 0 || 1;
  for (let j = 0; j < data.length; j++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[j] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  const payloads = Array.from({ length: n }, (_, k) => {
    const i = start + k + 1;
    return {
      title: `document ${i} about topic ${i % 97}`,
      n: i,
      score: Math.random(),
      lang: ['en', 'de', 'fr', 'es', 'ja'][i % 5] as string,
    };
  });
  for (let k = 0; k < n; k++) ids[k] = BigInt(start + k + 1);
  return { length: n, ids, vectors: { embedding: { dims, data } }, payloads };
}

function adapterSubject(engine: Engine, adapter: VectorAdapter, collection: string, dims: number, writeRows: number): Subject {
  const schema: CollectionSchema = {
    name: collection,
    idField: 'id',
    idType: 'int64',
    vectors: [{ name: 'embedding', dims, metric: 'cosine', element: 'float32', nullable: false }],
    payload: [
      { name: 'title', type: 'string', array: false, nullable: true },
      { name: 'n', type: 'int64', array: false, nullable: true },
      { name: 'score', type: 'float64', array: false, nullable: true },
      { name: 'lang', type: 'string', array: false, nullable: true },
    ],
    indexes: [{ kind: 'hnsw', field: 'embedding', metric: 'cosine', params: { m: 16, ef_construction: 64 } }],
  };
  let seed = 1;
  /**
   * Setup calls (load, churn) retried on a transient engine error: on a loaded shared machine an
   * upsert can fail with `fetch failed`. A retried write is an upsert, so it never stores a row twice.
   */
  const again = <T>(what: string, fn: (attempt: number) => Promise<T>): Promise<T> =>
    retry(fn, {
      attempts: 5,
      baseDelayMs: 1000,
      maxDelayMs: 10_000,
      retryable: (err) => err instanceof VectordrError && err.category === 'transient',
      onRetry: (err, attempt) => log(`  ${what}: ${String(err)}; retry ${attempt}`),
    });
  /** Fetches `ids` (256 at a time), changes each record with `edit`, writes them back as upserts. */
  const rewrite = async (ids: number[], edit: (r: VectorRecord) => void): Promise<void> => {
    for (let i = 0; i < ids.length; i += 256) {
      const part = ids.slice(i, i + 256).map((x) => BigInt(x));
      const records = await again('fetch', () => adapter.fetch(collection, part));
      for (const r of records) edit(r);
      const batch = batchFromRecords(schema, records);
      await again('upsert', () => adapter.write(collection, batch, { mode: 'upsert' }));
    }
  };
  const s: Subject = {
    engine,
    collection,
    dims,
    live: [],
    nextId: 1,
    async load(rows) {
      await adapter.create(schema, { indexes: 'now' });
      const t0 = performance.now();
      for (let i = 0; i < rows; i += writeRows) {
        const batch = makeBatch(i, Math.min(writeRows, rows - i), dims, 0);
        await again('insert', (attempt) => adapter.write(collection, batch, { mode: attempt === 1 ? 'insert' : 'upsert' }));
        if ((i / writeRows) % 10 === 9) log(`  loaded ${i + writeRows}/${rows} rows (${fmtMs(performance.now() - t0)})`);
      }
      for (let i = 1; i <= rows; i++) s.live.push(i);
      s.nextId = rows + 1;
    },
    async change(c) {
      const fresh = makeBatch(0, c.vector.length, dims, ++seed);
      let k = 0;
      await rewrite(c.vector, (r) => {
        r.vectors.embedding = (fresh.vectors.embedding as VectorColumn | undefined)?.data.slice(k * dims, (k + 1) * dims) as Float32Array;
        k++;
      });
      await rewrite(c.payload, (r) => {
        r.payload.score = Math.random();
        r.payload.title = `${String(r.payload.title)} (edited)`;
      });
      for (let i = 0; i < c.delete.length; i += 1000) {
        const part = c.delete.slice(i, i + 1000).map((x) => BigInt(x));
        await again('delete', () => adapter.delete(collection, part));
      }
      if (c.insert[1] >= c.insert[0]) {
        const batch = makeBatch(c.insert[0] - 1, c.insert[1] - c.insert[0] + 1, dims, ++seed);
        await again('upsert', () => adapter.write(collection, batch, { mode: 'upsert' }));
      }
    },
    drop: (name) => adapter.drop(name),
    count: (name) => adapter.count(name),
    close: async () => adapter.close?.(),
  };
  return s;
}

/** `fraction` of the live rows changed at random: updates of vectors and of payloads, deletes, and as many inserts of new ids. */
async function churn(
  s: Subject,
  fraction: number,
): Promise<{ vector: number; payload: number; delete: number; insert: number; ms: number }> {
  const n = Math.max(4, Math.round(s.live.length * fraction));
  const counts = {
    vector: Math.round(n * CHURN_MIX.vector),
    payload: Math.round(n * CHURN_MIX.payload),
    delete: Math.round(n * CHURN_MIX.delete),
    insert: 0,
  };
  counts.insert = n - counts.vector - counts.payload - counts.delete;
  // Partial Fisher-Yates over the live ids: the first `picked` are distinct and uniformly random.
  const picked = counts.vector + counts.payload + counts.delete;
  for (let i = 0; i < picked; i++) {
    const j = i + Math.floor(Math.random() * (s.live.length - i));
    [s.live[i], s.live[j]] = [s.live[j] as number, s.live[i] as number];
  }
  const vector = s.live.slice(0, counts.vector);
  const payload = s.live.slice(counts.vector, counts.vector + counts.payload);
  const del = s.live.slice(counts.vector + counts.payload, picked);
  const insert: [number, number] = [s.nextId, s.nextId + counts.insert - 1];
  const t0 = performance.now();
  await s.change({ vector, payload, delete: del, insert });
  // The deleted ids leave the live list; the inserted ones join it.
  s.live.splice(counts.vector + counts.payload, counts.delete);
  for (let id = insert[0]; id <= insert[1]; id++) s.live.push(id);
  s.nextId = insert[1] + 1;
  return { ...counts, ms: Math.round(performance.now() - t0) };
}

// ---------------------------------------------------------------------------------------------
// Parent: the run
// ---------------------------------------------------------------------------------------------

interface Ctx {
  engine: Engine;
  work: string;
  cpuProfDir: string | undefined;
}

function child(
  ctx: Ctx,
  step: string,
  childArgs: Record<string, string>,
  flags: string[] = [],
  profileName?: string,
): Promise<ChildResult> {
  const argv = [...process.execArgv, SCRIPT, '--child', step, '--engine', ctx.engine, ...flags];
  for (const [k, v] of Object.entries(childArgs)) argv.push(`--${k}`, v);
  if (profileName && ctx.cpuProfDir) argv.push('--profile', path.join(ctx.cpuProfDir, `${ctx.engine}-${profileName}.cpuprofile`));
  return measuredChild<ChildResult>(step, argv, process.env);
}

/** One measured snapshot: its child's readings and what it took. */
interface SnapStep {
  name: string;
  ms: number;
  maxRssBytes: number;
  sampledPeakRssBytes: number;
  clientCpuS: number;
  serverCpuS: number | null;
  foreignCpuS: number | undefined;
  loadavg1: number | undefined;
  snap: SnapshotExtra;
}

async function snapshotStep(
  ctx: Ctx,
  name: string,
  repo: string,
  collection: string,
  incremental: boolean,
  profile = false,
): Promise<SnapStep> {
  const c = await child(ctx, 'snapshot', { repo, collection }, incremental ? ['--incremental'] : [], profile ? name : undefined);
  const snap = c.extra as unknown as SnapshotExtra;
  const read = snap.reads.scan.rows + snap.reads.fetch.rows + snap.reads.feed.rows;
  log(
    `${name}: ${fmtMs(c.ms)}, ${snap.kind}${snap.capture ? ` (${snap.capture.mode})` : ''}, +${snap.upserts} -${snap.deletes} rows, ` +
      `${fmtMB(snap.bytesWritten)} written (${snap.bytesWritten} B), ${read} rows read, peak RSS ${fmtMB(c.maxRssBytes)}`,
  );
  return {
    name,
    ms: Math.round(c.ms),
    maxRssBytes: c.maxRssBytes,
    sampledPeakRssBytes: c.sampledPeakRssBytes,
    clientCpuS: Math.round(c.clientCpuS * 10) / 10,
    serverCpuS: c.serverCpuS === null ? null : Math.round(c.serverCpuS * 10) / 10,
    foreignCpuS: c.foreignCpuS === undefined ? undefined : Math.round(c.foreignCpuS * 10) / 10,
    loadavg1: c.loadavg1,
    snap,
  };
}

const readsOf = (s: SnapStep): ReadCount => ({
  rows: s.snap.reads.scan.rows + s.snap.reads.fetch.rows + s.snap.reads.feed.rows,
  bytes: s.snap.reads.scan.bytes + s.snap.reads.fetch.bytes + s.snap.reads.feed.bytes,
});

async function runEngine(engine: Engine, rows: number, dims: number, repeat: number, links: number, fraction: number) {
  const tag = randomBytes(4).toString('hex');
  const collection = engine === 'weaviate' ? `Bench_incr_${tag}` : `bench_incr_${tag}`;
  const work = await fs.mkdtemp(path.join(args.tmp as string, `vectordr-bench-incr-${engine}-`));
  const cpuProfDir = args['cpu-prof'] ? path.resolve(args['cpu-prof']) : undefined;
  if (cpuProfDir) await fs.mkdir(cpuProfDir, { recursive: true });
  const ctx: Ctx = { engine, work, cpuProfDir };
  const pool = engine === 'pgvector' ? parentPool(setting('PG_URL')) : undefined;
  const adapter = await engineAdapter(engine, pool);
  const subject =
    engine === 'pgvector'
      ? pgSubject(pool as pg.Pool, collection, dims, args['replica-identity'] === 'full' ? 'full' : 'default')
      : adapterSubject(engine, adapter, collection, dims, Number(args['write-rows']));
  const chainDir = path.join(work, 'chain');
  const anchorDir = path.join(work, 'anchor');
  const vdr = await import('../src/index.js');
  const chainRepo = await vdr.openRepository({ storage: vdr.fsStorage({ path: chainDir }), create: true });
  await vdr.openRepository({ storage: vdr.fsStorage({ path: anchorDir }), create: true });
  const targets: string[] = [];
  const started = new Date().toISOString();
  try {
    const server = pool ? (await benchEnvironment(pool)).server : undefined;
    if (pool) await pool.query('CREATE EXTENSION IF NOT EXISTS vector');
    log(
      `${engine} at ${engineServer(engine)}: ${rows} x ${dims}, ${links} links of ${fraction * 100}% churn; collection ${collection}; work dir ${work}`,
    );
    const t0 = performance.now();
    await subject.load(rows);
    const loadMs = Math.round(performance.now() - t0);
    log(`load: ${fmtMs(loadMs)}`);

    const f0 = await snapshotStep(ctx, 'F0 full (chain start)', chainDir, collection, true);
    const churns: Awaited<ReturnType<typeof churn>>[] = [];
    const chain: SnapStep[] = [];
    let p1: SnapStep | undefined;
    for (let k = 1; k <= links; k++) {
      const c = await churn(subject, fraction);
      churns.push(c);
      log(
        `churn ${k}: ${c.vector} vector updates, ${c.payload} payload updates, ${c.delete} deletes, ${c.insert} inserts (${fmtMs(c.ms)})`,
      );
      if (k === 1) p1 = await snapshotStep(ctx, 'P1 plain full (same state as L1)', anchorDir, collection, false, true);
      chain.push(await snapshotStep(ctx, `L${k} incremental`, chainDir, collection, true, k === 1));
    }
    const pn = await snapshotStep(ctx, `P${links} plain full (same state as L${links})`, anchorDir, collection, false);
    const head = chain.at(-1) as SnapStep;
    const l1 = chain[0] as SnapStep;
    const full = p1 as SnapStep;
    const digestsAgree = head.snap.digest === pn.snap.digest;
    log(`chain head ${head.snap.snapshot} digest ${digestsAgree ? 'equals' : 'DIFFERS FROM'} the plain full snapshot's`);

    const restores: {
      head: { ms: number; maxRssBytes: number; detail: unknown }[];
      full: { ms: number; maxRssBytes: number; detail: unknown }[];
    } = {
      head: [],
      full: [],
    };
    const restore = async (which: 'head' | 'full', r: number): Promise<void> => {
      const target = `${collection}_r${which === 'head' ? 'h' : 'f'}${r}`;
      targets.push(target);
      const c = await child(
        ctx,
        'restore',
        {
          repo: which === 'head' ? chainDir : anchorDir,
          collection,
          snapshot: which === 'head' ? head.snap.snapshot : pn.snap.snapshot,
          target,
        },
        [],
        r === 0 ? `restore-${which}` : undefined,
      );
      const n = await subject.count(target);
      if (n !== subject.live.length) throw new Error(`restore of the ${which} holds ${n} rows, the collection ${subject.live.length}`);
      log(`restore ${which} (${r + 1}/${repeat}): ${fmtMs(c.ms)}, ${n} rows, peak RSS ${fmtMB(c.maxRssBytes)}`);
      restores[which].push({ ms: Math.round(c.ms), maxRssBytes: c.maxRssBytes, detail: { ...c } });
      await subject.drop(target);
    };
    for (let r = 0; r < repeat; r++) {
      await inTurn(
        r,
        () => restore('head', r),
        () => restore('full', r),
      );
    }

    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
    const rh = med(restores.head.map((x) => x.ms));
    const rf = med(restores.full.map((x) => x.ms));
    const linkSteps = chain;
    const modes = [...new Set(linkSteps.map((s) => s.snap.capture?.mode ?? s.snap.kind))];
    const allSnapshots = [f0, full, ...linkSteps, pn];
    const peakSnapshotRss = Math.max(...allSnapshots.map((s) => s.maxRssBytes));
    const peakRestoreRss = Math.max(...restores.head.map((x) => x.maxRssBytes), ...restores.full.map((x) => x.maxRssBytes));
    const linkBytes = linkSteps.map((s) => s.snap.bytesWritten);
    const linkMs = linkSteps.map((s) => s.ms);
    return {
      engine,
      replicaIdentity: engine === 'pgvector' ? args['replica-identity'] : undefined,
      server: engineServer(engine),
      serverSettings: server,
      started,
      rows,
      dims,
      links,
      churn: fraction,
      churnMix: CHURN_MIX,
      repeat,
      loadMs,
      churns,
      captureModes: modes,
      captureReasons: [...new Set(linkSteps.map((s) => s.snap.capture?.reason).filter(Boolean))],
      steps: { chainStart: f0, plainFullAfterFirstChurn: full, links: linkSteps, plainFullOfHead: pn },
      restores,
      digestsAgree,
      ratios: {
        link1TimeVsFull: ratio(l1.ms, full.ms),
        link1BytesVsFull: ratio(l1.snap.bytesWritten, full.snap.bytesWritten),
        link1RowsReadVsFull: ratio(readsOf(l1).rows, readsOf(full).rows),
        link1BytesReadVsFull: ratio(readsOf(l1).bytes, readsOf(full).bytes),
        medianLinkTimeVsFull: ratio(med(linkMs), full.ms),
        medianLinkBytesVsFull: ratio(med(linkBytes), full.snap.bytesWritten),
        maxLinkBytesVsFull: ratio(Math.max(...linkBytes), full.snap.bytesWritten),
        chainStartTimeVsFull: ratio(f0.ms, full.ms),
        chainStartBytesVsFull: ratio(f0.snap.bytesWritten, full.snap.bytesWritten),
        pitrHeadVsFullRestore: ratio(rh, rf),
      },
      restoreMs: { head: rh, full: rf },
      peakRss: { snapshot: peakSnapshotRss, restore: peakRestoreRss },
    };
  } finally {
    if (!args.keep) {
      log('cleanup: dropping collections, change feed and temp dir');
      for (const t of [...targets, collection]) await subject.drop(t).catch((e: unknown) => log(`drop ${t}: ${String(e)}`));
      const captureId = (await import('../src/snapshot/incremental.js')).captureIdOf(chainRepo.config.id, collection);
      await adapter.dropCapture?.(captureId).catch((e: unknown) => log(`dropCapture: ${String(e)}`));
      await fs.rm(work, { recursive: true, force: true });
    } else {
      log(`--keep: left ${work} and ${collection} in place`);
    }
    await subject.close();
    await pool?.end();
  }
}

function verdict(ok: boolean): string {
  return ok ? 'MET' : 'MISSED';
}

type EngineResult = Awaited<ReturnType<typeof runEngine>>;

function printEngine(r: EngineResult): void {
  const { ratios, steps, peakRss: peak, restoreMs } = r;
  const modes = r.captureModes.join(', ');
  const native = r.captureModes.every((m) => m === 'pgoutput');
  const l1 = steps.links[0] as SnapStep;
  const full = steps.plainFullAfterFirstChurn;
  const lines = [
    '',
    `${r.engine}: ${r.rows} x ${r.dims}, ${r.links} links of ${r.churn * 100}% churn; capture: ${modes}` +
      (r.replicaIdentity ? `; REPLICA IDENTITY ${r.replicaIdentity.toUpperCase()}` : ''),
    '',
    '| step | time | kind (capture) | +upserts / -deletes | bytes written | rows read | bytes read | peak RSS | client CPU | other load |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of [steps.chainStart, full, ...steps.links, steps.plainFullOfHead]) {
    const reads = readsOf(s);
    const other = s.foreignCpuS === undefined ? '' : `${(s.foreignCpuS / (s.ms / 1000)).toFixed(2)} cores`;
    lines.push(
      `| ${s.name} | ${fmtMs(s.ms)} | ${s.snap.kind}${s.snap.capture ? ` (${s.snap.capture.mode})` : ''} | ` +
        `+${s.snap.upserts} / -${s.snap.deletes} | ${(s.snap.bytesWritten / MB).toFixed(2)} MB | ${reads.rows} | ${fmtMB(reads.bytes)} | ` +
        `${fmtMB(s.maxRssBytes)} | ${s.clientCpuS.toFixed(1)} s | ${other} |`,
    );
  }
  const bytesTarget = native ? TARGETS.nativeBytes : TARGETS.fingerprintBytes;
  lines.push(
    '',
    `link 1 / plain full, time:        ${ratios.link1TimeVsFull.toFixed(3)}x (${fmtMs(l1.ms)} vs ${fmtMs(full.ms)})` +
      (native
        ? ` (target <= ${TARGETS.nativeTime}: ${verdict(ratios.link1TimeVsFull <= TARGETS.nativeTime)})`
        : ' (native target <= 0.1 not applicable)'),
    `link 1 / plain full, bytes:       ${ratios.link1BytesVsFull.toFixed(4)}x (target <= ${bytesTarget}: ${verdict(ratios.link1BytesVsFull <= bytesTarget)})`,
    `links 1..n, median / max bytes:   ${ratios.medianLinkBytesVsFull.toFixed(4)}x / ${ratios.maxLinkBytesVsFull.toFixed(4)}x; median time ${ratios.medianLinkTimeVsFull.toFixed(3)}x`,
    `link 1 / plain full, rows read:   ${ratios.link1RowsReadVsFull.toFixed(3)}x, bytes read ${ratios.link1BytesReadVsFull.toFixed(3)}x`,
    `chain start / plain full:         time ${ratios.chainStartTimeVsFull.toFixed(3)}x, bytes ${ratios.chainStartBytesVsFull.toFixed(3)}x`,
    `PITR restore head / full restore: ${ratios.pitrHeadVsFullRestore.toFixed(3)}x (${fmtMs(restoreMs.head)} vs ${fmtMs(restoreMs.full)}) ` +
      `(target <= ${TARGETS.pitr}: ${verdict(ratios.pitrHeadVsFullRestore <= TARGETS.pitr)}); head digest equals full: ${String(r.digestsAgree)}`,
    `peak RSS: snapshots ${fmtMB(peak.snapshot)}, restores ${fmtMB(peak.restore)} ` +
      `(target <= 300 MB: ${verdict(Math.max(peak.snapshot, peak.restore) <= TARGETS.rssBytes)})`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  if (args.child) return runChild(args.child);
  const { rows, dims, repeat } = benchSize(args, 100);
  const links = Number(args.links);
  const fraction = Number(args.churn);
  if (!Number.isInteger(links) || links < 1) throw new Error('--links must be a positive integer');
  if (!(fraction > 0 && fraction < 0.5)) throw new Error('--churn must be a fraction in (0, 0.5)');
  if (!['default', 'full'].includes(String(args['replica-identity']))) throw new Error('--replica-identity must be default or full');
  const engines: Engine[] = args.engine === 'all' ? [...ENGINES] : [args.engine as Engine];
  if (!engines.every((e) => (ENGINES as readonly string[]).includes(e)))
    throw new Error(`--engine must be one of ${ENGINES.join(', ')} or all`);
  const code = codeVersion();
  log(`code ${code.commit ?? 'unknown commit'}${code.dirty ? ' + uncommitted changes in src/ or adapters/' : ''}`);
  const machine = { ...machineInfo(), loadavgAtStart: os.loadavg() };
  for (const engine of engines) {
    const result = await runEngine(engine, rows, dims, repeat, links, fraction);
    printEngine(result);
    const json = { bench: 'incremental', code, machine, loadavgAtEnd: os.loadavg(), ...result };
    const out =
      args.out && engines.length === 1
        ? args.out
        : path.join(ROOT, 'bench/results', `${(code.commit ?? 'unknown').slice(0, 7)}-incremental-${engine}-${rows}.json`);
    await fs.writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
    log(`result: ${path.relative(ROOT, out)}`);
    process.stdout.write(`BENCH_JSON ${JSON.stringify(json)}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
