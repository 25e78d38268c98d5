/**
 * Benchmark: vectordr restore into Milvus against a tuned insert loop of the official client, and
 * vectordr's Milvus snapshot (export) against a raw keyset query loop: same data, same server, same run.
 *
 *   scripts/pg-server.sh start; scripts/milvus-server.sh start
 *   MILVUS_ADDRESS=127.0.0.1:54340 npx tsx bench/milvus-restore.ts [--rows 100000] [--dims 768] [--repeat 1]
 *
 * Needs a running Milvus-protocol server ($MILVUS_ADDRESS) and PostgreSQL + pgvector ($PG_URL, default
 * postgres://postgres@127.0.0.1:54329/postgres); it starts neither. It creates its own table and
 * collections (random names, `bench_milvus_<hex>...`) and drops them at the end. See docs/benchmarks.md.
 *
 * The data: a pgvector table (id bigint, embedding vector(D), title text, n int8, score float8,
 * meta jsonb) filled server-side, with an HNSW cosine index (m 16, ef_construction 64) so that the
 * snapshot records the metric and the index. Its rows are exported once, in id order, to two files
 * (float32 vectors, JSON lines of the rest); the insert-loop children read those before their clock starts.
 *
 * Steps, each in its own child process (peak RSS and CPU are the step's own; the Milvus server's
 * CPU over the step is read from /proc via .cache/milvus/milvus.pid):
 *   P   repo.snapshot(pgvectorAdapter({ pool }), table) into a fresh fs repository (reported, not a ratio)
 *   Iw  sweep: the insert loop on a prefix, one batch size per child, each into a fresh collection
 *   I   anchor: MilvusClient.insert of all rows (number[] vectors, prepared before the clock), best batch size
 *   X   anchor: createIndex (HNSW, M 16, efConstruction 64, COSINE) + loadCollectionSync, after I
 *   R   repo.restore(milvusAdapter(...), { collection, snapshot, target }): loadMs, indexMs, total
 *   Qw  sweep: the raw keyset query loop on a prefix, one page size per child
 *   Q   anchor: raw keyset query loop (`id > last`, iterator params, Strong) over all rows, best page size
 *   M   repo.snapshot(milvusAdapter(...), <restored collection>) into a fresh fs repository
 *
 * Every SDK call gets a 10-minute deadline (--sdk-timeout-ms): the anchor's client is created with it,
 * and the adapter is handed a client of the same configuration (`milvusAdapter({ client })`) rather
 * than building its own from `{ address }`, whose calls have the SDK's 15 s default deadline. milvus-lite
 * builds an HNSW index inside createIndex, ~14 s at 100k x 768, so with the default a 100k restore
 * can fail with DEADLINE_EXCEEDED after loading every row. --sdk-timeout-ms 0 measures the default.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DataType, type FieldType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import pg from 'pg';
import { type BenchStep, type ChildMeasures, type ChildStepResult, backendCpuSeconds, benchOptions, benchRun } from './bench-lib.js';
import { benchSize, childPool, childStepResult, fillTable, fmtMB, fmtMs, inTurn, log, MB, measuredChild, median } from './bench-lib.js';
import { addRun, parentPool, ratio, reportChildResult, startStep, stepsForResult } from './bench-lib.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:54329/postgres';
// The keyset loop's start: one above -2^63, which Milvus 2.3.5 cannot parse (its ids here are 1..rows).
const INT64_MIN = '-9223372036854775807';
/** HNSW parameters of both the pgvector source index and the anchor's Milvus index. */
const HNSW = { m: 16, efConstruction: 64 };

const { values: args } = parseArgs({
  options: {
    ...benchOptions({ rows: '100000', dims: '768', repeat: '1' }),
    /** Rows of the prefix the batch-size and page-size sweeps run on. */
    'sweep-rows': { type: 'string', default: '10000' },
    batches: { type: 'string', default: '250,500,1000,2000,4000' },
    'page-sweep-rows': { type: 'string', default: '32768' },
    'page-sizes': { type: 'string', default: '1260,4096,16384' },
    /**
     * Deadline of every SDK call (ms), for the anchor's client and for the client handed to the
     * adapter. 0: the SDK's default (15 s), and the adapter is built from `{ address }` (at 100k rows
     * milvus-lite's synchronous createIndex then exceeds it; see docs/benchmarks.md).
     */
    'sdk-timeout-ms': { type: 'string', default: '600000' },
    /** Prefix of the table and collection names (a random suffix follows). */
    prefix: { type: 'string', default: 'bench_milvus' },
    /** Directory: CPU profiles (.cpuprofile) of the measured windows of the I, R, Q and M children. */
    'cpu-prof': { type: 'string' },
    // child-process mode (internal)
    collection: { type: 'string' },
    location: { type: 'string' },
    data: { type: 'string' },
    limit: { type: 'string' },
    batch: { type: 'string' },
    page: { type: 'string' },
    profile: { type: 'string' },
  },
  strict: true,
});

// ---------------------------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------------------------

/** The Milvus collection schema of the anchor; the same fields vectordr creates from the snapshot. */
function milvusFields(dims: number): FieldType[] {
  return [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
    { name: 'embedding', data_type: DataType.FloatVector, dim: dims },
    { name: 'title', data_type: DataType.VarChar, max_length: 65_535 },
    { name: 'n', data_type: DataType.Int64 },
    { name: 'score', data_type: DataType.Double },
    { name: 'meta', data_type: DataType.JSON },
  ];
}

interface Status {
  error_code?: string | number;
  code?: number;
  reason?: string;
}

/** Throws unless a Milvus response (or its `status`) is Success. */
function must<T>(res: T, what: string): T {
  const r = res as { status?: Status } & Status;
  const st: Status | undefined = r && typeof r.status === 'object' ? r.status : r && r.error_code !== undefined ? r : undefined;
  if (st && !(st.error_code === 'Success' || st.error_code === 0 || (st.code === 0 && !st.error_code)))
    throw new Error(`${what}: ${String(st.error_code)} ${st.reason ?? ''}`);
  return res;
}

function milvusClient(): MilvusClient {
  const address = process.env.MILVUS_ADDRESS;
  if (!address) throw new Error('MILVUS_ADDRESS must be set (scripts/milvus-server.sh start prints it); this benchmark starts no server');
  const timeout = Number(args['sdk-timeout-ms']);
  return new MilvusClient({ address, logLevel: 'error', ...(timeout > 0 ? { timeout } : {}) });
}

/**
 * The Milvus server in use, if its pid file is known: $MILVUS_PIDFILE, else the milvus-lite of
 * scripts/milvus-server.sh (.cache/milvus/milvus.pid); its pid, to read its CPU time. A milvus-lite
 * pid must be the one listening on $MILVUS_ADDRESS's port.
 */
function milvusPid(): number | undefined {
  try {
    const pid = Number(readFileSync(process.env.MILVUS_PIDFILE ?? path.join(ROOT, '.cache/milvus/milvus.pid'), 'utf8').trim());
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (process.env.MILVUS_PIDFILE && cmd.includes('milvus') && !cmd.includes('milvus_lite')) return pid;
    return cmd.includes('milvus_lite') &&
      cmd.includes(
        String(process.env.MILVUS_ADDRESS ?? '')
          .split(':')
          .at(-1) ?? '',
      )
      ? pid
      : undefined;
  } catch {
    return undefined;
  }
}

function procRssBytes(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** One exported row, as a user's loop would hold it. */
interface Row {
  id: number;
  embedding: number[];
  title: string;
  n: number;
  score: number;
  meta: Record<string, unknown>;
}

/** The exported rows (files written by the parent from the pg table, in id order), as number[] rows. */
async function loadRows(prefix: string, dims: number, limit: number): Promise<Row[]> {
  const vec = await fs.readFile(`${prefix}.f32`);
  const f32 = new Float32Array(vec.buffer, vec.byteOffset, vec.byteLength / 4);
  const lines = (await fs.readFile(`${prefix}.jsonl`, 'utf8')).split('\n');
  const n = Math.min(limit, f32.length / dims);
  const rows: Row[] = new Array<Row>(n);
  for (let i = 0; i < n; i++) {
    const [id, title, nn, score, meta] = JSON.parse(lines[i] as string) as [number, string, number, number, Record<string, unknown>];
    rows[i] = { id, embedding: Array.from(f32.subarray(i * dims, (i + 1) * dims)), title, n: nn, score, meta };
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Child steps
// ---------------------------------------------------------------------------------------------

/** A child step's own result (its PostgreSQL backends: step P only), and what the parent measured around it. */
interface ChildResult extends ChildStepResult, Partial<ChildMeasures> {
  /** CPU seconds of the Milvus server over the child (set by the parent). */
  milvusCpuS?: number | null;
}

async function runChild(step: string): Promise<void> {
  const dims = Number(args.dims);
  const extra: Record<string, unknown> = {};
  const appName = `vectordr-bench-milvus-${step}-${process.pid}`;
  const pool = step === 'pg-snapshot' ? await childPool(appName) : undefined;
  const backendCpu = (): Promise<number | null> => backendCpuSeconds(pool, appName);

  // Load everything the step needs, and prepare its inputs, before the clock starts.
  const usesVdr = step === 'pg-snapshot' || step === 'restore' || step === 'mv-snapshot';
  // BENCH_DIST=1: the built package (npm run build first), as users run it: plain JS, and the segment
  // worker starts from dist/segment-worker.js instead of through tsx (its RSS and start-up CPU).
  const dist = process.env.BENCH_DIST === '1';
  const vdr = usesVdr ? ((await import(dist ? '../dist/index.js' : '../src/index.js')) as typeof import('../src/index.js')) : undefined;
  const mva =
    step === 'restore' || step === 'mv-snapshot'
      ? ((await import(
          dist ? '../dist/adapters/milvus/index.js' : '../adapters/milvus/index.js'
        )) as typeof import('../adapters/milvus/index.js'))
      : undefined;
  const pgv =
    step === 'pg-snapshot'
      ? ((await import(
          dist ? '../dist/adapters/pgvector/index.js' : '../adapters/pgvector/index.js'
        )) as typeof import('../adapters/pgvector/index.js'))
      : undefined;
  const client = step === 'insert' || step === 'index' || step === 'query' ? milvusClient() : undefined;
  // The adapter gets the same client configuration as the anchor (a caller's client, which it does not close).
  const adapterClient = mva && Number(args['sdk-timeout-ms']) > 0 ? milvusClient() : undefined;
  const collection = args.collection as string;
  const limit = args.limit ? Number(args.limit) : Number.POSITIVE_INFINITY;
  let rows: Row[] = [];
  if (step === 'insert' && client) {
    rows = await loadRows(args.data as string, dims, limit);
    must(await client.createCollection({ collection_name: collection, fields: milvusFields(dims) } as never), 'createCollection');
  }
  if (client) must(await client.hasCollection({ collection_name: collection }), 'hasCollection'); // connection up
  const repo = vdr
    ? await vdr.openRepository({ storage: vdr.fsStorage({ path: args.location as string }), create: step !== 'restore' })
    : undefined;
  const adapter = mva
    ? mva.milvusAdapter(adapterClient ? { client: adapterClient } : { url: process.env.MILVUS_ADDRESS as string })
    : pgv && pool
      ? pgv.pgvectorAdapter({ pool })
      : undefined;
  if (mva && adapter) await adapter.probe(); // connection up
  if (global.gc) global.gc();

  const window = await startStep(backendCpu, args.profile);
  const t0 = window.t0;

  if (step === 'insert' && client) {
    const batch = Number(args.batch);
    let requests = 0;
    let inserted = 0;
    for (let s = 0; s < rows.length; s += batch) {
      const res = must(await client.insert({ collection_name: collection, data: rows.slice(s, s + batch) } as never), 'insert');
      inserted += Number((res as { insert_cnt?: string | number }).insert_cnt ?? 0);
      requests++;
    }
    if (inserted !== rows.length) throw new Error(`insert loop: the server acknowledged ${inserted} of ${rows.length} rows`);
    Object.assign(extra, { rows: rows.length, batch, requests });
  } else if (step === 'index' && client) {
    must(
      await client.createIndex({
        collection_name: collection,
        field_name: 'embedding',
        index_type: 'HNSW',
        metric_type: 'COSINE',
        params: { M: HNSW.m, efConstruction: HNSW.efConstruction },
      } as never),
      'createIndex',
    );
    extra.createIndexMs = performance.now() - t0;
    must(await client.loadCollectionSync({ collection_name: collection }), 'loadCollectionSync');
    extra.loadMs = performance.now() - t0 - (extra.createIndexMs as number);
  } else if (step === 'query' && client) {
    const page = Number(args.page);
    let last: string | undefined;
    let n = 0;
    let pages = 0;
    while (n < limit) {
      const res = must(
        await client.query({
          collection_name: collection,
          filter: last === undefined ? `id >= ${INT64_MIN}` : `id > ${last}`,
          limit: page,
          output_fields: ['*'],
          consistency_level: 'Strong',
          params: { iterator: true, reduce_stop_for_best: true },
        } as never),
        'query',
      );
      const data = (res as unknown as { data: Record<string, unknown>[] }).data;
      pages++;
      n += data.length;
      // Only an empty page ends it, as in vectordr's scan: with reduce_stop_for_best, Milvus 2.3.5
      // answers short pages before the end (a loop that stopped at the first read 43035 of 100000 rows).
      if (data.length === 0) break;
      last = String((data[data.length - 1] as Record<string, unknown>).id);
    }
    Object.assign(extra, { rows: n, page, pages });
  } else if ((step === 'pg-snapshot' || step === 'mv-snapshot') && repo && adapter) {
    const res = await repo.snapshot(adapter, collection);
    Object.assign(extra, {
      snapshot: res.manifest.id,
      rows: res.manifest.rows.upserts,
      segments: res.manifest.segments.length,
      bytes: res.manifest.segments.reduce((s, x) => s + x.bytes, 0),
      timings: res.manifest.timings,
      digest: res.manifest.digest.collection,
      indexes: res.manifest.schema.indexes,
      metric: res.manifest.schema.vectors[0]?.metric,
    });
  } else if (step === 'restore' && repo && adapter) {
    const res = await repo.restore(adapter, {
      collection: args.table as string,
      snapshot: args.snapshot as string,
      target: args.target as string,
    });
    Object.assign(extra, { rows: res.rows, segments: res.segments, timings: res.timings, indexes: res.indexes });
  } else {
    throw new Error(`unknown child step ${step}`);
  }

  const result = childStepResult(step, await window.stop(extra), extra);
  if (adapter && 'close' in adapter) await adapter.close();
  await client?.closeConnection();
  await adapterClient?.closeConnection();
  await pool?.end();
  reportChildResult(result);
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

interface Ctx {
  url: string;
  pool: pg.Pool;
  milvus: MilvusClient;
  work: string;
  dims: number;
  table: string;
  /** Export of the table's rows (`<data>.f32`, `<data>.jsonl`), input of the insert loop. */
  data: string;
  milvusPid: number | undefined;
  cpuProfDir: string | undefined;
}

function child(ctx: Ctx, step: string, childArgs: Record<string, string | number>): Promise<ChildResult> {
  const argv = [...process.execArgv, SCRIPT, '--child', step, '--dims', String(ctx.dims)];
  for (const [k, v] of Object.entries(childArgs)) argv.push(`--${k}`, String(v));
  return measuredChild<ChildResult>(step, argv, { ...process.env, PG_URL: ctx.url }, ctx.milvusPid).then((r) => ({
    ...r,
    milvusCpuS: r.watchedCpuS,
  }));
}

function tableDdl(name: string, dims: number): string {
  return `CREATE TABLE ${name} (id bigint PRIMARY KEY, embedding vector(${dims}) NOT NULL, title text, n int8, score float8, meta jsonb)`;
}

/**
 * Rows [from, to] generated server-side; the correlated `WHERE i > 0` makes random() run per row.
 * title ~40 characters, meta ~100 bytes of JSON.
 */
function fillSql(name: string, dims: number, from: number, to: number): string {
  return `INSERT INTO ${name}
    SELECT i, ARRAY(SELECT random() FROM generate_series(1, ${dims}) WHERE i > 0)::vector(${dims}),
      'Document ' || i || ' ' || substr(md5(i::text), 1, 24),
      (i::int8 * 2654435761) % 1000000007,
      random(),
      jsonb_build_object('source', 'https://example.com/docs/' || (i % 1000), 'lang', (ARRAY['en', 'de', 'fr', 'es', 'ja'])[1 + i % 5],
        'tags', jsonb_build_array('tag' || (i % 17), 'topic-' || (i % 101)), 'rank', i % 100)
    FROM generate_series(${from}, ${to}) AS i`;
}

/** Fills rows 1..want, 25,000 a statement. */
function fill(ctx: Ctx, want: number): Promise<number> {
  return fillTable(ctx.pool, ctx.table, 0, want, 25_000, (from, to) => fillSql(ctx.table, ctx.dims, from, to));
}

/** The source's HNSW cosine index, so the snapshot records the metric and the index parameters. */
async function pgIndex(ctx: Ctx): Promise<number> {
  const t0 = performance.now();
  const c = await ctx.pool.connect();
  try {
    await c.query(`SET maintenance_work_mem = '2GB'`);
    await c.query(
      `CREATE INDEX ON ${ctx.table} USING hnsw (embedding vector_cosine_ops) WITH (m = ` +
        `${HNSW.m}, ef_construction = ${HNSW.efConstruction})`,
    );
  } finally {
    c.release();
  }
  const ms = performance.now() - t0;
  log(`pgvector HNSW index (m ${HNSW.m}, ef_construction ${HNSW.efConstruction}, cosine): ${fmtMs(ms)}`);
  return ms;
}

/** Exports the table in id order: float32 vectors to `<data>.f32`, [id, title, n, score, meta] lines to `<data>.jsonl`. */
async function exportRows(ctx: Ctx): Promise<{ ms: number; rows: number; vectorBytes: number; payloadBytes: number }> {
  const t0 = performance.now();
  const vf = await fs.open(`${ctx.data}.f32`, 'w');
  const jf = await fs.open(`${ctx.data}.jsonl`, 'w');
  let last = '-9223372036854775808';
  let rows = 0;
  let payloadBytes = 0;
  try {
    for (;;) {
      const r = await ctx.pool.query(
        `SELECT id, embedding::text AS e, title, n, score, meta FROM ${ctx.table} WHERE id > $1 ` + `ORDER BY id LIMIT 5000`,
        [last],
      );
      if (r.rows.length === 0) break;
      const f32 = new Float32Array(r.rows.length * ctx.dims);
      let lines = '';
      r.rows.forEach((row: { id: string; e: string; title: string; n: string; score: number; meta: Record<string, unknown> }, i) => {
        f32.set(JSON.parse(row.e) as number[], i * ctx.dims);
        lines += `${JSON.stringify([Number(row.id), row.title, Number(row.n), row.score, row.meta])}\n`;
        last = row.id;
      });
      await vf.write(new Uint8Array(f32.buffer));
      await jf.write(lines);
      payloadBytes += Buffer.byteLength(lines);
      rows += r.rows.length;
    }
  } finally {
    await vf.close();
    await jf.close();
  }
  const ms = performance.now() - t0;
  log(`exported ${rows} rows for the insert loop in ${fmtMs(ms)}`);
  return { ms, rows, vectorBytes: rows * ctx.dims * 4, payloadBytes };
}

async function countRows(ctx: Ctx, collection: string): Promise<number> {
  const res = must(
    await ctx.milvus.query({ collection_name: collection, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' } as never),
    'count',
  );
  return Number(((res as unknown as { data: Record<string, unknown>[] }).data[0] ?? {})['count(*)']);
}

/** JSON with object keys sorted (vectordr stores JSON canonically; jsonb orders keys by length): equal values, equal text. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** Every field of ~60 rows spread over the id range, as Milvus returns them, in id order. */
async function sampleRows(ctx: Ctx, collection: string, rows: number): Promise<string> {
  const ids = [...new Set(Array.from({ length: 60 }, (_, i) => 1 + Math.floor((i * (rows - 1)) / 59)))];
  const res = must(
    await ctx.milvus.query({
      collection_name: collection,
      filter: `id in [${ids.join(', ')}]`,
      output_fields: ['*'],
      consistency_level: 'Strong',
    } as never),
    'sample query',
  );
  // Milvus before 2.4 has no nullable fields: vectordr keeps nullable payload as dynamic keys, which
  // such a server returns inside `$meta` instead of beside the fields.
  const flat = (r: Record<string, unknown>): Record<string, unknown> => {
    const { $meta, ...rest } = r;
    return $meta && typeof $meta === 'object' ? { ...rest, ...($meta as Record<string, unknown>) } : r;
  };
  const data = (res as unknown as { data: Record<string, unknown>[] }).data
    .map(flat)
    .map((r) => ({ ...r, id: String(r.id), n: String(r.n) }));
  data.sort((a, b) => Number(a.id) - Number(b.id));
  if (data.length !== ids.length) throw new Error(`sample of ${collection}: ${data.length} of ${ids.length} rows found`);
  return JSON.stringify(canonical(data));
}

/** Where two samples (sampleRows) differ: the first row and field, for the error message. */
function sampleDiff(a: string, b: string): string {
  const ra = JSON.parse(a) as Record<string, unknown>[];
  const rb = JSON.parse(b) as Record<string, unknown>[];
  for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
    const x = ra[i] ?? {};
    const y = rb[i] ?? {};
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      const sx = JSON.stringify(x[k]);
      const sy = JSON.stringify(y[k]);
      if (sx !== sy) return `row ${String(x.id)}/${String(y.id)} field ${k}: ${String(sx).slice(0, 120)} vs ${String(sy).slice(0, 120)}`;
    }
  }
  return 'equal';
}

async function dropCollection(ctx: Ctx, name: string): Promise<void> {
  const has = await ctx.milvus.hasCollection({ collection_name: name });
  if (has.value) must(await ctx.milvus.dropCollection({ collection_name: name }), `drop ${name}`);
}

type Step = BenchStep<ChildResult>;

const STEP = {
  pgSnapshot: 'P  vectordr snapshot of the pgvector table (fs)',
  sweep: (b: number): string => `Iw insert loop sweep, batch ${b}`,
  insert: 'I  insert loop (anchor)',
  index: 'X  createIndex + load (anchor)',
  restore: 'R  vectordr restore into Milvus',
  pageSweep: (p: number): string => `Qw query loop sweep, page ${p}`,
  query: 'Q  raw keyset query loop (anchor)',
  mvSnapshot: 'M  vectordr snapshot of the Milvus collection (fs)',
};

async function mainBench(ctx: Ctx, rows: number, repeat: number): Promise<Record<string, unknown>> {
  const steps: Record<string, Step> = {};
  const record = (name: string, c: ChildResult): void => {
    const milvusRss = procRssBytes(ctx.milvusPid);
    addRun(steps, name, c.ms, { ...c, extra: { ...c.extra, milvusServerRssBytes: milvusRss } });
    const cpu =
      `client ${c.clientCpuS.toFixed(1)} s, milvus ${c.milvusCpuS?.toFixed(1) ?? '-'} s, pg ` +
      `${c.serverCpuS?.toFixed(1) ?? '-'} s, other ${c.foreignCpuS?.toFixed(1) ?? '-'} s`;
    log(
      `${name}: ${fmtMs(c.ms)} (maxRSS ${fmtMB(c.maxRssBytes)}, before the step ` +
        `${fmtMB(c.baselineRssBytes)}; CPU ${cpu}) ${JSON.stringify(c.extra)}`,
    );
  };
  const base = ctx.table;
  /** With --cpu-prof: where the measured child writes its profile. */
  const prof = (name: string): { profile?: string } => (ctx.cpuProfDir ? { profile: path.join(ctx.cpuProfDir, `${name}.cpuprofile`) } : {});

  // The source table, its index, and the export the insert loop reads.
  await ctx.pool.query(tableDdl(ctx.table, ctx.dims));
  const fillMs = await fill(ctx, rows);
  const pgIndexMs = await pgIndex(ctx);
  const size = (
    await ctx.pool.query(`SELECT pg_total_relation_size($1)::int8::text AS b, pg_relation_size($1)::int8::text AS heap`, [ctx.table])
  ).rows[0] as { b: string; heap: string };
  const exported = await exportRows(ctx);
  if (exported.rows !== rows) throw new Error(`exported ${exported.rows} rows, expected ${rows}`);

  // The snapshot every restore uses.
  const pgRepo = path.join(ctx.work, 'repo-pg');
  const p = await child(ctx, 'pg-snapshot', { collection: ctx.table, location: pgRepo });
  record(STEP.pgSnapshot, p);
  const snapshotId = String(p.extra.snapshot);
  const snapshotBytes = Number(p.extra.bytes);
  if (p.extra.metric !== 'cosine') throw new Error(`the pgvector snapshot records metric ${String(p.extra.metric)}, expected cosine`);

  // Batch-size sweep of the insert loop on a prefix, each into a fresh collection.
  const sweepRows = Math.min(rows, Number(args['sweep-rows']));
  const batches = (args.batches as string).split(',').map(Number);
  const sweep: { batch: number; ms: number; rowsPerS: number }[] = [];
  for (const b of batches) {
    const name = `${base}_sw${b}`;
    const c = await child(ctx, 'insert', { collection: name, data: ctx.data, limit: sweepRows, batch: b });
    record(STEP.sweep(b), c);
    sweep.push({ batch: b, ms: Math.round(c.ms), rowsPerS: Math.round(sweepRows / (c.ms / 1000)) });
    await dropCollection(ctx, name);
  }
  const best = sweep.reduce((a, b) => (b.ms < a.ms ? b : a)).batch;
  log(
    `insert loop sweep on ${sweepRows} rows: ${sweep.map((s) => `${s.batch}: ${fmtMs(s.ms)} (${s.rowsPerS} rows/s)`).join(', ')}; best ${best}`,
  );

  const pageSweepRows = Math.min(rows, Number(args['page-sweep-rows']));
  const pageSizes = (args['page-sizes'] as string).split(',').map(Number);
  const pageSweep: { page: number; ms: number; rowsPerS: number }[] = [];
  let bestPage = 16_384;
  let reference: string | undefined;
  const checks: Record<string, unknown>[] = [];
  const mvDigests: string[] = [];
  let mvSnapshotBytes = 0;

  /**
   * The collection made by the insert loop (`loop`) or the restore (`vectordr`) holds every row, and
   * the same sample as the other; recorded in `checks`, the first sample is the reference.
   */
  const checkCollection = async (r: number, made: 'loop' | 'vectordr', name: string): Promise<void> => {
    const n = await countRows(ctx, name);
    const sample = await sampleRows(ctx, name, rows);
    checks.push({ repetition: r, collection: made, count: n, sampleMatches: reference === undefined ? 'reference' : sample === reference });
    if (n !== rows || (reference !== undefined && sample !== reference)) {
      const [what, other] =
        made === 'loop' ? ['insert-loop collection', "the restored collection's"] : ['restored collection', "the insert loop's"];
      throw new Error(`${what} check failed: ${n} rows; sample vs ${other}: ${sampleDiff(sample, reference ?? sample)}`);
    }
    reference ??= sample;
  };

  for (let r = 0; r < repeat; r++) {
    log(`--- repetition ${r + 1}/${repeat}`);
    const vdrName = `${base}_vdr${r}`;
    const runLoop = async (): Promise<void> => {
      const name = `${base}_loop${r}`;
      record(STEP.insert, await child(ctx, 'insert', { collection: name, data: ctx.data, batch: best, ...prof(`insert-r${r}`) }));
      record(STEP.index, await child(ctx, 'index', { collection: name }));
      await checkCollection(r, 'loop', name);
      await dropCollection(ctx, name);
    };
    const runRestore = async (): Promise<void> => {
      const c = await child(ctx, 'restore', {
        table: ctx.table,
        location: pgRepo,
        snapshot: snapshotId,
        target: vdrName,
        ...prof(`restore-r${r}`),
      });
      record(STEP.restore, c);
      await checkCollection(r, 'vectordr', vdrName);
    };
    // Each goes first in turn; only one of the two collections exists while the other is measured.
    await inTurn(r, runLoop, runRestore);

    if (r === 0) {
      for (const page of pageSizes) {
        const c = await child(ctx, 'query', { collection: vdrName, limit: pageSweepRows, page });
        record(STEP.pageSweep(page), c);
        pageSweep.push({ page, ms: Math.round(c.ms), rowsPerS: Math.round(Number(c.extra.rows) / (c.ms / 1000)) });
      }
      bestPage = pageSweep.reduce((a, b) => (b.rowsPerS > a.rowsPerS ? b : a)).page;
      log(
        `query loop sweep on ${pageSweepRows} rows: ` +
          `${pageSweep.map((s) => `${s.page}: ${fmtMs(s.ms)} (${s.rowsPerS} rows/s)`).join(', ')}; ` +
          `best ${bestPage}`,
      );
    }
    const runQuery = async (): Promise<void> => {
      const c = await child(ctx, 'query', { collection: vdrName, page: bestPage, ...prof(`query-r${r}`) });
      record(STEP.query, c);
      if (c.extra.rows !== rows) throw new Error(`query loop read ${String(c.extra.rows)} rows, expected ${rows}`);
    };
    const runMvSnapshot = async (): Promise<void> => {
      const location = path.join(ctx.work, `repo-mv-${r}`);
      const c = await child(ctx, 'mv-snapshot', { collection: vdrName, location, ...prof(`mv-snapshot-r${r}`) });
      record(STEP.mvSnapshot, c);
      if (c.extra.rows !== rows) throw new Error(`Milvus snapshot has ${String(c.extra.rows)} rows, expected ${rows}`);
      mvDigests.push(String(c.extra.digest));
      mvSnapshotBytes = Number(c.extra.bytes);
      await fs.rm(location, { recursive: true, force: true });
    };
    await inTurn(r, runMvSnapshot, runQuery);
    await dropCollection(ctx, vdrName);
  }

  const med = (name: string): number => median(steps[name]?.ms ?? [Number.NaN]);
  const medExtra = (name: string, f: (e: Record<string, unknown>) => number): number =>
    median((steps[name]?.detail ?? []).map((d) => f(d.extra)));
  const insertMs = med(STEP.insert);
  const indexMs = med(STEP.index);
  const restoreMs = med(STEP.restore);
  const rLoadMs = medExtra(STEP.restore, (e) => Number((e.timings as Record<string, number>).loadMs));
  const rIndexMs = medExtra(STEP.restore, (e) => Number((e.timings as Record<string, number>).indexMs));
  const rTotalMs = medExtra(STEP.restore, (e) => Number((e.timings as Record<string, number>).totalMs));
  const queryMs = med(STEP.query);
  const mvMs = med(STEP.mvSnapshot);
  const pgDigest = String(p.extra.digest);
  const maxOf = (name: string, key: 'maxRssBytes' | 'sampledPeakRssBytes' | 'baselineRssBytes'): number | null => {
    const xs = (steps[name]?.detail ?? []).map((d) => d[key]);
    return xs.length ? Math.max(...xs) : null;
  };
  return {
    rows,
    dims: ctx.dims,
    repeat,
    table: ctx.table,
    fillMs: Math.round(fillMs),
    pgIndexMs: Math.round(pgIndexMs),
    tableBytes: Number(size.b),
    exported: { ms: Math.round(exported.ms), vectorBytes: exported.vectorBytes, payloadJsonBytes: exported.payloadBytes },
    snapshot: { id: snapshotId, bytes: snapshotBytes, segments: p.extra.segments, indexes: p.extra.indexes },
    milvusSnapshotBytes: mvSnapshotBytes,
    sweep: { rows: sweepRows, results: sweep, best },
    pageSweep: { rows: pageSweepRows, results: pageSweep, best: bestPage },
    checks,
    digest: { pgSnapshot: pgDigest, milvusSnapshots: mvDigests, equal: mvDigests.every((d) => d === pgDigest) },
    steps: stepsForResult(steps),
    figures: {
      insertLoopMs: Math.round(insertMs),
      insertLoopRowsPerS: Math.round(rows / (insertMs / 1000)),
      anchorIndexAndLoadMs: Math.round(indexMs),
      restoreStepMs: Math.round(restoreMs),
      restoreLoadMs: rLoadMs,
      restoreIndexMs: rIndexMs,
      restoreTotalMs: rTotalMs,
      restoreLoadRowsPerS: Math.round(rows / (rLoadMs / 1000)),
      queryLoopMs: Math.round(queryMs),
      queryLoopRowsPerS: Math.round(rows / (queryMs / 1000)),
      queryLoopMBps: Math.round((snapshotBytes / MB / (queryMs / 1000)) * 10) / 10,
      milvusSnapshotMs: Math.round(mvMs),
      milvusSnapshotRowsPerS: Math.round(rows / (mvMs / 1000)),
      milvusSnapshotMBps: Math.round((mvSnapshotBytes / MB / (mvMs / 1000)) * 10) / 10,
    },
    ratios: {
      /** Target >= 0.8: vectordr's load no slower than 1.25x the tuned loop. */
      tunedLoopVsRestoreLoad: ratio(insertMs, rLoadMs),
      restoreLoadVsTunedLoop: ratio(rLoadMs, insertMs),
      restoreTotalVsLoopPlusIndex: ratio(rTotalMs, insertMs + indexMs),
      restoreIndexVsAnchorIndex: ratio(rIndexMs, indexMs),
      milvusSnapshotVsQueryLoop: ratio(mvMs, queryMs),
    },
    peakRss: Object.fromEntries(
      Object.keys(steps).map((n) => [
        n.trim(),
        { maxRss: maxOf(n, 'maxRssBytes'), sampled: maxOf(n, 'sampledPeakRssBytes'), beforeStep: maxOf(n, 'baselineRssBytes') },
      ]),
    ),
  };
}

function printResult(r: Record<string, unknown>): void {
  const steps = r.steps as { name: string; medianMs: number; ms: number[]; detail: ChildResult[] }[];
  const f = r.figures as Record<string, number>;
  const x = r.ratios as Record<string, number>;
  const snap = r.snapshot as { bytes: number; segments: number };
  const rows = r.rows as number;
  const lines: string[] = [''];
  lines.push(
    `${rows} rows x ${r.dims as number} dims (+ title, n, score, meta); pgvector table ` +
      `${fmtMB(r.tableBytes as number)}, snapshot ${fmtMB(snap.bytes)} in ${snap.segments} ` +
      `segments; median of ${r.repeat as number}`,
  );
  lines.push('');
  lines.push(
    '| step | time (median) | all runs (s) | rows/s | client CPU | Milvus CPU | PG CPU | peak ' +
      'RSS | RSS before step | sampled peak | other load |',
  );
  lines.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const secs = (v: number | null | undefined): string => (v === undefined || v === null ? '' : `${v.toFixed(1)} s`);
  for (const s of steps) {
    const d = s.detail[s.ms.indexOf(s.medianMs)] ?? s.detail.at(-1);
    if (!d) continue;
    const n = typeof d.extra.rows === 'number' ? d.extra.rows : rows;
    const rate = s.name.startsWith('X') ? '' : String(Math.round(n / (s.medianMs / 1000)));
    const other =
      d.foreignCpuS === undefined || d.childWallMs === undefined ? '' : `${(d.foreignCpuS / (d.childWallMs / 1000)).toFixed(2)} cores`;
    lines.push(
      `| ${s.name} | ${fmtMs(s.medianMs)} | ` +
        `${s.ms.map((v) => (v / 1000).toFixed(2)).join(' / ')} | ${rate} | ${secs(d.clientCpuS)} | ` +
        `${secs(d.milvusCpuS)} | ${secs(d.serverCpuS)} | ${fmtMB(d.maxRssBytes)} | ` +
        `${fmtMB(d.baselineRssBytes)} | ${fmtMB(d.sampledPeakRssBytes)} | ${other} |`,
    );
  }
  const sw = r.sweep as { rows: number; results: { batch: number; ms: number; rowsPerS: number }[]; best: number };
  const ps = r.pageSweep as { rows: number; results: { page: number; ms: number; rowsPerS: number }[]; best: number };
  lines.push('');
  lines.push(
    `insert loop batch sweep (${sw.rows} rows): ` +
      `${sw.results.map((s) => `${s.batch} -> ${fmtMs(s.ms)} (${s.rowsPerS} rows/s)`).join(', ')}; ` +
      `best ${sw.best}`,
  );
  lines.push(
    `query loop page sweep (${ps.rows} rows): ` +
      `${ps.results.map((s) => `${s.page} -> ${fmtMs(s.ms)} (${s.rowsPerS} rows/s)`).join(', ')}; ` +
      `best ${ps.best}`,
  );
  lines.push('');
  lines.push(
    `anchor: insert loop ${fmtMs(f.insertLoopMs as number)} (${f.insertLoopRowsPerS} rows/s), ` +
      `createIndex + load ${fmtMs(f.anchorIndexAndLoadMs as number)}`,
  );
  lines.push(
    `vectordr restore: total ${fmtMs(f.restoreTotalMs as number)} (load ` +
      `${fmtMs(f.restoreLoadMs as number)}, ${f.restoreLoadRowsPerS} rows/s; index ` +
      `${fmtMs(f.restoreIndexMs as number)}); child-measured ${fmtMs(f.restoreStepMs as number)}`,
  );
  lines.push(
    `export: raw query loop ${fmtMs(f.queryLoopMs as number)} (${f.queryLoopRowsPerS} rows/s, ` +
      `${f.queryLoopMBps} MB/s of snapshot bytes); vectordr Milvus snapshot ` +
      `${fmtMs(f.milvusSnapshotMs as number)} (${f.milvusSnapshotRowsPerS} rows/s, ` +
      `${f.milvusSnapshotMBps} MB/s)`,
  );
  lines.push('');
  const xx = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? 'n/a' : `${v.toFixed(2)}x`);
  lines.push(
    `tuned loop / vectordr load            ${xx(x.tunedLoopVsRestoreLoad)}   (target >= 0.80; ` +
      `vectordr load / loop ${xx(x.restoreLoadVsTunedLoop)})`,
  );
  lines.push(
    `vectordr total / (loop + index+load)  ${xx(x.restoreTotalVsLoopPlusIndex)}   (index+load ` +
      `alone: vectordr / anchor ${xx(x.restoreIndexVsAnchorIndex)})`,
  );
  lines.push(`vectordr Milvus snapshot / query loop ${xx(x.milvusSnapshotVsQueryLoop)}`);
  const dg = r.digest as { equal: boolean };
  lines.push(
    `data checks: row counts and a 60-row sample equal in both collections; Milvus snapshot ` +
      `digest ${dg.equal ? '=' : '!='} pgvector snapshot digest`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  if (args.child) return runChild(args.child);
  const { rows, dims, repeat } = benchSize(args, 2);
  const url = process.env.PG_URL ?? DEFAULT_PG_URL;
  const milvus = milvusClient();
  const work = await fs.mkdtemp(path.join(args.tmp as string, 'vectordr-bench-milvus-'));
  const pool = parentPool(url);
  const suffix = randomBytes(4).toString('hex');
  const cpuProfDir = args['cpu-prof'] ? path.resolve(args['cpu-prof']) : undefined;
  if (cpuProfDir) await fs.mkdir(cpuProfDir, { recursive: true });
  const ctx: Ctx = {
    url,
    pool,
    milvus,
    work,
    dims,
    table: `${args.prefix as string}_${suffix}`,
    data: path.join(work, 'rows'),
    milvusPid: milvusPid(),
    cpuProfDir,
  };
  const started = new Date().toISOString();
  try {
    const { code, server: v, machine } = await benchRun(pool);
    const mv = await milvus.getVersion().catch(() => undefined);
    log(
      `Milvus ${process.env.MILVUS_ADDRESS as string} (version ` +
        `${String(mv?.version)}${ctx.milvusPid === undefined ? '; server pid unknown: its CPU is not measured' : `; server pid ${ctx.milvusPid}`}); ` +
        `PostgreSQL ${url} (${String(v?.pg)}, pgvector ${String(v?.pgvector)}); table/collections ` +
        `${ctx.table}*; work dir ${work}`,
    );
    const result = await mainBench(ctx, rows, repeat);
    printResult(result);
    const sdkTimeoutMs = Number(args['sdk-timeout-ms']);
    const options = {
      sdkTimeoutMs: sdkTimeoutMs > 0 ? sdkTimeoutMs : 'SDK default (15 s); adapter from { address }',
      sweepRows: Number(args['sweep-rows']),
      batches: args.batches,
      pageSweepRows: Number(args['page-sweep-rows']),
      pageSizes: args['page-sizes'],
      cpuProfiled: cpuProfDir !== undefined,
      dist: process.env.BENCH_DIST === '1',
    };
    const json = {
      bench: 'milvus-restore',
      started,
      code,
      machine,
      server: v,
      options,
      milvus: {
        address: process.env.MILVUS_ADDRESS,
        version: mv?.version ?? null,
        server: ctx.milvusPid === undefined ? 'unknown' : (process.env.MILVUS_PIDFILE ?? 'milvus-lite (scripts/milvus-server.sh)'),
      },
      ...result,
    };
    process.stdout.write(`BENCH_JSON ${JSON.stringify(json)}\n`);
    const out = args.out ?? path.join(ROOT, 'bench/results', `${(code.commit ?? 'unknown').slice(0, 7)}-milvus-restore-${rows}.json`);
    await fs.writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
    log(`results: ${out}`);
  } finally {
    log('cleanup: dropping the table and collections, removing the work dir');
    const listed = await milvus.showCollections().catch(() => undefined);
    for (const c of listed?.data ?? [])
      if (c.name.startsWith(ctx.table))
        await dropCollection(ctx, c.name).catch((err: unknown) => log(`drop ${c.name} failed: ${String(err)}`));
    await pool.query(`DROP TABLE IF EXISTS ${ctx.table}`).catch(() => undefined);
    await fs.rm(work, { recursive: true, force: true });
    await milvus.closeConnection();
    await pool.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
