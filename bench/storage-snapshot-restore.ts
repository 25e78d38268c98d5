/**
 * Benchmark: vectordr snapshot/restore of a pgvector table into filesystem and S3 repositories,
 * plaintext and encrypted, against raw anchors measured in the same run.
 *
 *   eval "$(scripts/s3-server.sh env)"
 *   PG_URL=postgres://postgres@127.0.0.1:54329/postgres npx tsx bench/storage-snapshot-restore.ts [--rows 200000] [--dims 768] [--repeat 3]
 *
 * Needs a running PostgreSQL + pgvector ($PG_URL) and a running S3-compatible server ($VECTORDR_S3_ENDPOINT,
 * _ACCESS_KEY, _SECRET_KEY, _REGION, _BUCKET); it starts neither. It creates its own table (random
 * name) and S3 prefix (random), and drops/deletes both at the end. See docs/benchmarks.md.
 *
 * Anchors: raw binary COPY out (discarded) and in; a raw sequential upload of the snapshot's bytes,
 * one object per segment of the same sizes, with the bare SDK's PutObjectCommand (fs: writeFile +
 * fsync per file); the raw sequential download of those objects (GetObject + transformToByteArray;
 * fs: readFile). vectordr: snapshot into fs and S3, plaintext and encrypted, and restore of each into
 * a new table. As in bench/pgvector-snapshot-restore.ts every step runs in its own child process, so
 * its peak RSS (kernel high-water mark, plus 50 ms samples) and CPU time are its own.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { type BenchStep, type ChildMeasures, type ChildStepResult, backendCpuSeconds, benchOptions, benchRun } from './bench-lib.js';
import { benchSize, childPool, childStepResult, fillTable, fmtMB, fmtMs, log, MB, measuredChild, median, parentPool } from './bench-lib.js';
import { addRun, ratio, reportChildResult, restoreStep, startStep, stepsForResult } from './bench-lib.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const PASSPHRASE = 'vectordr storage benchmark passphrase';
/** Cheap KDF for the measured runs (the minimum vectordr accepts); the default (N=2^17) is timed once, separately. */
const FAST_SCRYPT = { N: 2 ** 14 };
// The SDK warns, once per process, that its releases from 2027 need Node >= 22: noise in every S3 step's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values: args } = parseArgs({
  options: {
    ...benchOptions({ rows: '200000', dims: '768', repeat: '3' }),
    /** S3Storage writeConcurrency for the vectordr steps (segment uploads in flight); omitted = the library default. */
    's3-write-concurrency': { type: 'string' },
    // child-process mode (internal)
    file: { type: 'string' },
    storage: { type: 'string' },
    location: { type: 'string' },
    encrypted: { type: 'boolean', default: false },
    sizes: { type: 'string' },
  },
  strict: true,
});

// ---------------------------------------------------------------------------------------------
// Helpers (the same as bench/pgvector-snapshot-restore.ts)
// ---------------------------------------------------------------------------------------------

/** The MinIO started by scripts/s3-server.sh, if that is the server in use: its pid, to read its CPU time. */
function minioPid(): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(ROOT, '.cache/s3/minio.pid'), 'utf8').trim());
    return path.basename(readlinkSync(`/proc/${pid}/exe`)) === 'minio' ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface S3Env {
  endpoint: string;
  region: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

function s3Env(): S3Env {
  const e = process.env;
  if (!e.VECTORDR_S3_ENDPOINT || !e.VECTORDR_S3_ACCESS_KEY || !e.VECTORDR_S3_SECRET_KEY || !e.VECTORDR_S3_BUCKET) {
    throw new Error('VECTORDR_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY and _BUCKET must be set: eval "$(scripts/s3-server.sh env)"');
  }
  return {
    endpoint: e.VECTORDR_S3_ENDPOINT,
    region: e.VECTORDR_S3_REGION ?? 'us-east-1',
    bucket: e.VECTORDR_S3_BUCKET,
    credentials: { accessKeyId: e.VECTORDR_S3_ACCESS_KEY, secretAccessKey: e.VECTORDR_S3_SECRET_KEY },
  };
}

/**
 * A bare SDK client for the anchors and the cleanup. Checksums as vectordr's own client sets them
 * (CRC32 computed on upload, downloads not re-validated: vectordr checks SHA-256/AES-GCM itself), so
 * the anchors measure the transfer, not a different checksum policy.
 */
async function bareS3(): Promise<{ sdk: typeof import('@aws-sdk/client-s3'); client: S3Client; env: S3Env }> {
  const sdk = await import('@aws-sdk/client-s3');
  const env = s3Env();
  const client = new sdk.S3Client({
    endpoint: env.endpoint,
    region: env.region,
    credentials: env.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_SUPPORTED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return { sdk, client, env };
}

// ---------------------------------------------------------------------------------------------
// Child steps
// ---------------------------------------------------------------------------------------------

/** A child step's own result, and what the parent measured around it. */
interface ChildResult extends ChildStepResult, Partial<ChildMeasures> {
  /** CPU seconds of the MinIO server while the child ran (all its clients); set by the parent. */
  s3ServerCpuS?: number | null;
}

async function runChild(step: string): Promise<void> {
  const usesPg = ['copy-out', 'copy-in', 'snapshot', 'restore'].includes(step);
  const appName = `vectordr-bench-${step}-${process.pid}`;
  const pool = usesPg ? await childPool(appName) : undefined;
  const backendCpu = (): Promise<number | null> => backendCpuSeconds(pool, appName);
  const table = args.table as string;
  const location = args.location as string;
  const extra: Record<string, unknown> = {};

  // Load everything the step needs, and prepare its inputs, before the clock starts.
  const usesVdr = step === 'snapshot' || step === 'restore' || step === 'kdf';
  const vdr = usesVdr ? await import('../src/index.js') : undefined;
  const pgv = step === 'snapshot' || step === 'restore' ? await import('../adapters/pgvector/index.js') : undefined;
  const s3mod = usesVdr && args.storage === 's3' ? await import('../src/storage/s3-storage.js') : undefined;
  const raw = (step === 'raw-write' || step === 'raw-read') && args.storage === 's3' ? await bareS3() : undefined;
  const sizes = args.sizes ? (JSON.parse(await fs.readFile(args.sizes, 'utf8')) as number[]) : [];
  const rawKey = (i: number): string => `${location}/raw/${String(i).padStart(6, '0')}`;
  const rawFile = (i: number): string => path.join(location, String(i).padStart(6, '0'));
  // One incompressible buffer; each object is a prefix of it with its index in the first bytes.
  const payload = step === 'raw-write' ? randomBytes(Math.max(8, ...sizes)) : undefined;
  if (step === 'raw-write' && args.storage === 'fs') await fs.mkdir(location, { recursive: true });
  if (raw) await raw.client.send(new raw.sdk.HeadBucketCommand({ Bucket: raw.env.bucket })); // connection up
  const storage = !vdr
    ? undefined
    : s3mod
      ? s3mod.s3Storage({
          ...s3Env(),
          prefix: location,
          ...(process.env.BENCH_S3_WRITE_CONCURRENCY ? { writeConcurrency: Number(process.env.BENCH_S3_WRITE_CONCURRENCY) } : {}),
        })
      : vdr.fsStorage({ path: location });
  const encryption = args.encrypted ? { passphrase: PASSPHRASE, scrypt: FAST_SCRYPT } : undefined;
  if (global.gc) global.gc();

  const window = await startStep(backendCpu);
  const t0 = window.t0;
  /** Set by steps whose time is one part of what they do; otherwise the whole window counts. */
  let stepMs: number | undefined;

  if (step === 'copy-out' && pool) {
    const client = await pool.connect();
    try {
      let bytes = 0;
      const src = client.query(copyTo(`COPY ${table} TO STDOUT (FORMAT binary)`));
      if (args.file) {
        // Input of the COPY FROM anchor (not a measured step).
        const fh = await fs.open(args.file, 'w');
        src.on('data', (c: Buffer) => (bytes += c.length));
        await pipeline(src, fh.createWriteStream({ highWaterMark: 4 * MB }));
      } else {
        const sink = new Writable({
          write(chunk: Buffer, _enc, cb) {
            bytes += chunk.length;
            cb();
          },
        });
        await pipeline(src, sink);
      }
      extra.bytes = bytes;
    } finally {
      client.release();
    }
  } else if (step === 'copy-in' && pool) {
    const client = await pool.connect();
    try {
      await pipeline(
        createReadStream(args.file as string, { highWaterMark: 4 * MB }),
        client.query(copyFrom(`COPY ${args.target as string} FROM STDIN (FORMAT binary)`)),
      );
    } finally {
      client.release();
    }
  } else if (step === 'raw-write' && payload) {
    for (const [i, size] of sizes.entries()) {
      payload.writeUInt32LE(i, 0);
      const body = payload.subarray(0, size);
      if (raw) {
        await raw.client.send(
          new raw.sdk.PutObjectCommand({ Bucket: raw.env.bucket, Key: rawKey(i), Body: body, ChecksumAlgorithm: 'CRC32' }),
        );
      } else {
        const fh = await fs.open(rawFile(i), 'w');
        try {
          await fh.writeFile(body);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }
    extra.objects = sizes.length;
    extra.bytes = sizes.reduce((a, b) => a + b, 0);
  } else if (step === 'raw-read') {
    let bytes = 0;
    for (let i = 0; i < sizes.length; i++) {
      if (raw) {
        const res = await raw.client.send(new raw.sdk.GetObjectCommand({ Bucket: raw.env.bucket, Key: rawKey(i) }));
        bytes += (await (res.Body as NonNullable<typeof res.Body>).transformToByteArray()).length;
      } else {
        bytes += (await fs.readFile(rawFile(i))).length;
      }
    }
    if (bytes !== sizes.reduce((a, b) => a + b, 0))
      throw new Error(`raw read got ${bytes} bytes, expected the ${sizes.length} objects' sum`);
    extra.objects = sizes.length;
    extra.bytes = bytes;
  } else if (step === 'kdf' && vdr && storage) {
    // Create (one scrypt to wrap the key) and open (one scrypt to unwrap it) with the default cost,
    // then the same open with the cost the measured runs use.
    await vdr.openRepository({ storage, create: true, encryption: { passphrase: PASSPHRASE } });
    extra.createMs = performance.now() - t0;
    const t1 = performance.now();
    await vdr.openRepository({ storage, encryption: { passphrase: PASSPHRASE } });
    stepMs = performance.now() - t1;
    const fast = vdr.fsStorage({ path: `${location}-fast` });
    await vdr.openRepository({ storage: fast, create: true, encryption: { passphrase: PASSPHRASE, scrypt: FAST_SCRYPT } });
    const t2 = performance.now();
    await vdr.openRepository({ storage: fast, encryption: { passphrase: PASSPHRASE } });
    extra.fastOpenMs = performance.now() - t2;
    extra.fastScryptN = FAST_SCRYPT.N;
  } else if ((step === 'snapshot' || step === 'restore') && vdr && pgv && storage && pool) {
    // The open (config read or create, and the KDF if encrypted) is timed apart from the data step.
    const repo = await vdr.openRepository({ storage, create: step === 'snapshot', encryption });
    extra.openMs = performance.now() - t0;
    const adapter = pgv.pgvectorAdapter({ pool });
    window.restart();
    if (step === 'snapshot') {
      const res = await repo.snapshot(adapter, table);
      extra.snapshot = res.manifest.id;
      extra.rows = res.manifest.rows.upserts;
      extra.segmentSizes = res.manifest.segments.map((s) => s.bytes);
      extra.bytes = res.manifest.segments.reduce((s, x) => s + x.bytes, 0);
      extra.timings = res.manifest.timings;
    } else {
      await restoreStep(repo, adapter, table, args, extra);
    }
  } else {
    throw new Error(`unknown child step ${step}`);
  }

  const readings = await window.stop(extra, stepMs);
  if (storage && step === 'snapshot') {
    let stored = 0;
    for await (const o of storage.list('')) stored += o.size;
    extra.storedBytes = stored;
  }
  const result = childStepResult(step, readings, extra);
  if (storage && 'close' in storage) await storage.close();
  raw?.client.destroy();
  await pool?.end();
  reportChildResult(result);
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

interface Ctx {
  url: string;
  pool: pg.Pool;
  work: string;
  dims: number;
  table: string;
  /** Prefix of everything this run writes into the bucket. */
  s3Prefix: string;
  minio: number | undefined;
}

function child(ctx: Ctx, step: string, childArgs: Record<string, string | boolean>): Promise<ChildResult> {
  const argv = [...process.execArgv, SCRIPT, '--child', step];
  for (const [k, v] of Object.entries(childArgs)) {
    if (v === true) argv.push(`--${k}`);
    else if (v !== false) argv.push(`--${k}`, v);
  }
  return measuredChild<ChildResult>(step, argv, { ...process.env, PG_URL: ctx.url }, ctx.minio).then((r) => ({
    ...r,
    s3ServerCpuS: r.watchedCpuS,
  }));
}

function tableDdl(name: string, dims: number): string {
  return `CREATE TABLE ${name} (id bigint PRIMARY KEY, embedding vector(${dims}) NOT NULL, title text, source text, lang text,
    tags text[], score real, created timestamptz)`;
}

/** Rows [from, to] generated server-side; the correlated `WHERE i > 0` makes random() run per row. */
function fillSql(name: string, dims: number, from: number, to: number): string {
  return `INSERT INTO ${name}
    SELECT i, ARRAY(SELECT random() FROM generate_series(1, ${dims}) WHERE i > 0)::vector(${dims}),
      'Document ' || i || ' ' || md5(i::text),
      'https://example.com/docs/' || (i % 1000) || '/' || substr(md5((i * 7)::text), 1, 12),
      (ARRAY['en', 'de', 'fr', 'es', 'ja'])[1 + i % 5],
      ARRAY['tag' || (i % 17), 'topic-' || (i % 101), 'k' || (i % 7)],
      random()::real,
      '2024-01-01 00:00:00+00'::timestamptz + i * interval '37 seconds'
    FROM generate_series(${from}, ${to}) AS i`;
}

/** Fills rows 1..want, 50,000 a statement. */
function fill(ctx: Ctx, want: number): Promise<number> {
  return fillTable(ctx.pool, ctx.table, 0, want, 50_000, (from, to) => fillSql(ctx.table, ctx.dims, from, to));
}

/** Reads every heap and TOAST page once so the measured steps start from a warm cache. */
async function warm(ctx: Ctx): Promise<void> {
  const t0 = performance.now();
  await ctx.pool.query(
    `SELECT sum(vector_dims(embedding)), sum(length(title || source || lang)), count(tags), sum(score) FROM ${ctx.table}`,
  );
  log(`warm-up read of ${ctx.table}: ${fmtMs(performance.now() - t0)}`);
}

async function checkpoint(ctx: Ctx): Promise<void> {
  await ctx.pool.query('CHECKPOINT');
}

/** Deletes every object under `prefix/` in the benchmark bucket; returns how many there were. */
async function deleteS3Prefix(prefix: string): Promise<number> {
  const { sdk, client, env } = await bareS3();
  try {
    let n = 0;
    let token: string | undefined;
    do {
      const res = await client.send(new sdk.ListObjectsV2Command({ Bucket: env.bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
      const objects = (res.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (objects.length) {
        const del = await client.send(new sdk.DeleteObjectsCommand({ Bucket: env.bucket, Delete: { Objects: objects, Quiet: true } }));
        if (del.Errors?.length) throw new Error(`deleting under ${prefix}/: ${JSON.stringify(del.Errors.slice(0, 3))}`);
      }
      n += objects.length;
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token !== undefined);
    return n;
  } finally {
    client.destroy();
  }
}

type Step = BenchStep<Record<string, unknown>>;

interface Variant {
  key: string;
  label: string;
  storage: 'fs' | 's3';
  encrypted: boolean;
}

const VARIANTS: Variant[] = [
  { key: 'fs-plain', label: 'fs plaintext', storage: 'fs', encrypted: false },
  { key: 'fs-enc', label: 'fs encrypted', storage: 'fs', encrypted: true },
  { key: 's3-plain', label: 'S3 plaintext', storage: 's3', encrypted: false },
  { key: 's3-enc', label: 'S3 encrypted', storage: 's3', encrypted: true },
];

const STEP = {
  copyOut: 'A0 raw COPY TO STDOUT (discard)',
  copyIn: 'C  raw COPY FROM STDIN (binary)',
  fsWrite: 'Wf raw fs write (writeFile+fsync per segment)',
  fsRead: 'Rf raw fs read (readFile per segment)',
  s3Write: 'Ws raw S3 upload (PutObject per segment)',
  s3Read: 'Rs raw S3 download (GetObject per segment)',
  kdf: 'K  open encrypted repo, default scrypt',
  snapshot: (v: Variant): string => `S  snapshot ${v.label}`,
  restore: (v: Variant): string => `R  restore ${v.label}`,
};

async function mainBench(ctx: Ctx, rows: number, repeat: number): Promise<Record<string, unknown>> {
  const steps: Record<string, Step> = {};
  const record = (name: string, c: ChildResult, more: Record<string, unknown> = {}): void => {
    addRun(steps, name, c.ms, { ...c, ...more });
    const rss = `maxRSS ${fmtMB(c.maxRssBytes)}`;
    const cpu =
      `client ${c.clientCpuS.toFixed(1)} s, pg ${c.serverCpuS?.toFixed(1) ?? '-'} s, minio ` +
      `${c.s3ServerCpuS?.toFixed(1) ?? '-'} s, other ${c.foreignCpuS?.toFixed(1) ?? '-'} s`;
    log(`${name}: ${fmtMs(c.ms)} (${rss}; CPU ${cpu}) ${JSON.stringify(c.extra)}`);
  };

  await ctx.pool.query(tableDdl(ctx.table, ctx.dims));
  const fillMs = await fill(ctx, rows);
  const size = (await ctx.pool.query(`SELECT pg_total_relation_size($1)::int8::text AS b`, [ctx.table])).rows[0] as { b: string };
  await warm(ctx);
  // A throwaway raw COPY as warm-up of the Node/pg path, and the COPY file anchor C loads (neither recorded).
  await child(ctx, 'copy-out', { table: ctx.table });
  const copyFile = path.join(ctx.work, 'table.copybin');
  const copyOut = await child(ctx, 'copy-out', { table: ctx.table, file: copyFile });
  log(`COPY file for anchor C: ${fmtMB(Number(copyOut.extra.bytes))} in ${fmtMs(copyOut.ms)}`);

  // The default KDF cost, once: what opening an encrypted repository costs before any data moves.
  const kdf = await child(ctx, 'kdf', { location: path.join(ctx.work, 'repo-kdf'), storage: 'fs' });
  record(STEP.kdf, kdf);
  await fs.rm(path.join(ctx.work, 'repo-kdf'), { recursive: true, force: true });
  await fs.rm(path.join(ctx.work, 'repo-kdf-fast'), { recursive: true, force: true });

  const sizesFile = path.join(ctx.work, 'segment-sizes.json');
  const copyTable = `${ctx.table}_copy`;
  const restoreTable = `${ctx.table}_restored`;
  let segmentSizes: number[] = [];
  for (let r = 0; r < repeat; r++) {
    log(`--- repetition ${r + 1}/${repeat}`);
    await checkpoint(ctx);
    record(STEP.copyOut, await child(ctx, 'copy-out', { table: ctx.table }));
    await ctx.pool.query(tableDdl(copyTable, ctx.dims));
    await checkpoint(ctx);
    record(STEP.copyIn, await child(ctx, 'copy-in', { target: copyTable, file: copyFile }));
    await ctx.pool.query(`DROP TABLE ${copyTable}`);

    // The variants take turns going first, so that no one always runs right after the COPY anchors.
    for (const v of VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length] as Variant)) {
      // A fresh repository per variant and repetition: a second snapshot into the same one would upload nothing (dedup).
      const location = v.storage === 'fs' ? path.join(ctx.work, `repo-${v.key}-${r}`) : `${ctx.s3Prefix}/${v.key}-${r}`;
      const common = { storage: v.storage, location, encrypted: v.encrypted, table: ctx.table };
      await checkpoint(ctx);
      const s = await child(ctx, 'snapshot', common);
      record(STEP.snapshot(v), s);
      if (!segmentSizes.length) {
        segmentSizes = s.extra.segmentSizes as number[];
        await fs.writeFile(sizesFile, JSON.stringify(segmentSizes));
      }
      await checkpoint(ctx);
      const c = await child(ctx, 'restore', { ...common, snapshot: String(s.extra.snapshot), target: restoreTable });
      record(STEP.restore(v), c);
      // Fidelity check on a 0.5% sample: restored rows equal the source rows, column by column.
      const diff = await ctx.pool.query(
        `SELECT (SELECT count(*) FROM ${restoreTable})::int AS n,
                (SELECT count(*) FROM (SELECT * FROM ${ctx.table} WHERE id % 200 = 0 EXCEPT SELECT * FROM ${restoreTable} WHERE id % 200 = 0) d)::int AS differ`,
      );
      const check = diff.rows[0] as { n: number; differ: number };
      if (check.n !== rows || check.differ !== 0) throw new Error(`restore check (${v.label}) failed: ${JSON.stringify(check)}`);
      await ctx.pool.query(`DROP TABLE ${restoreTable}`);
      if (v.storage === 'fs') await fs.rm(location, { recursive: true, force: true });
      else log(`deleted ${await deleteS3Prefix(location)} objects under s3://${s3Env().bucket}/${location}/`);
    }

    // Raw transfers of the same bytes, one object per segment of the same sizes.
    const rawFs = path.join(ctx.work, 'raw-fs');
    await fs.rm(rawFs, { recursive: true, force: true });
    await checkpoint(ctx);
    record(STEP.fsWrite, await child(ctx, 'raw-write', { storage: 'fs', location: rawFs, sizes: sizesFile }));
    await checkpoint(ctx);
    record(STEP.fsRead, await child(ctx, 'raw-read', { storage: 'fs', location: rawFs, sizes: sizesFile }));
    await fs.rm(rawFs, { recursive: true, force: true });
    await checkpoint(ctx);
    record(STEP.s3Write, await child(ctx, 'raw-write', { storage: 's3', location: ctx.s3Prefix, sizes: sizesFile }));
    await checkpoint(ctx);
    record(STEP.s3Read, await child(ctx, 'raw-read', { storage: 's3', location: ctx.s3Prefix, sizes: sizesFile }));
  }

  const med = (name: string): number => median(steps[name]?.ms ?? [Number.NaN]);
  const byKey = Object.fromEntries(VARIANTS.map((v) => [v.key, v])) as Record<string, Variant>;
  const S = (k: string): number => med(STEP.snapshot(byKey[k] as Variant));
  const R = (k: string): number => med(STEP.restore(byKey[k] as Variant));
  const copyOutMs = med(STEP.copyOut);
  const copyInMs = med(STEP.copyIn);
  const fsUp = copyOutMs + med(STEP.fsWrite);
  const fsDown = med(STEP.fsRead) + copyInMs;
  const s3Up = copyOutMs + med(STEP.s3Write);
  const s3Down = med(STEP.s3Read) + copyInMs;
  const maxOf = (name: string, key: 'maxRssBytes' | 'sampledPeakRssBytes'): number | null => {
    const xs = (steps[name]?.detail ?? []).map((d) => d[key]).filter((x): x is number => typeof x === 'number');
    return xs.length ? Math.max(...xs) : null;
  };
  const extraOf = (name: string): Record<string, unknown> => (steps[name]?.detail.at(-1) as ChildResult | undefined)?.extra ?? {};
  const kdfExtra = extraOf(STEP.kdf);
  return {
    rows,
    dims: ctx.dims,
    repeat,
    table: ctx.table,
    s3Prefix: ctx.s3Prefix,
    fillMs,
    tableBytes: Number(size.b),
    copyBinaryBytes: Number(copyOut.extra.bytes),
    snapshotBytes: segmentSizes.reduce((a, b) => a + b, 0),
    snapshotSegments: segmentSizes.length,
    storedBytes: Object.fromEntries(VARIANTS.map((v) => [v.key, extraOf(STEP.snapshot(v)).storedBytes ?? null])),
    kdf: {
      defaultOpenMs: Math.round(med(STEP.kdf)),
      defaultCreateMs: Math.round(Number(kdfExtra.createMs)),
      fastOpenMs: Math.round(Number(kdfExtra.fastOpenMs)),
      fastScryptN: FAST_SCRYPT.N,
    },
    steps: stepsForResult(steps),
    anchors: {
      copyOutPlusFsWriteMs: Math.round(fsUp),
      fsReadPlusCopyInMs: Math.round(fsDown),
      copyOutPlusS3UploadMs: Math.round(s3Up),
      s3DownloadPlusCopyInMs: Math.round(s3Down),
    },
    ratios: {
      s3SnapshotVsCopyOutPlusUpload: ratio(S('s3-plain'), s3Up),
      s3EncSnapshotVsCopyOutPlusUpload: ratio(S('s3-enc'), s3Up),
      s3RestoreVsDownloadPlusCopyIn: ratio(R('s3-plain'), s3Down),
      s3EncRestoreVsDownloadPlusCopyIn: ratio(R('s3-enc'), s3Down),
      fsSnapshotVsCopyOutPlusWrite: ratio(S('fs-plain'), fsUp),
      fsEncSnapshotVsCopyOutPlusWrite: ratio(S('fs-enc'), fsUp),
      fsRestoreVsReadPlusCopyIn: ratio(R('fs-plain'), fsDown),
      fsEncRestoreVsReadPlusCopyIn: ratio(R('fs-enc'), fsDown),
      encryptedVsPlainSnapshotFs: ratio(S('fs-enc'), S('fs-plain')),
      encryptedVsPlainSnapshotS3: ratio(S('s3-enc'), S('s3-plain')),
      encryptedVsPlainRestoreFs: ratio(R('fs-enc'), R('fs-plain')),
      encryptedVsPlainRestoreS3: ratio(R('s3-enc'), R('s3-plain')),
      s3VsFsSnapshot: ratio(S('s3-plain'), S('fs-plain')),
      s3VsFsRestore: ratio(R('s3-plain'), R('fs-plain')),
    },
    peakRss: Object.fromEntries(
      Object.keys(steps).map((n) => [n.trim(), { maxRss: maxOf(n, 'maxRssBytes'), sampled: maxOf(n, 'sampledPeakRssBytes') }]),
    ),
  };
}

function printResult(r: Record<string, unknown>): void {
  const steps = r.steps as { name: string; medianMs: number; ms: number[]; detail: Record<string, unknown>[] }[];
  const ratios = r.ratios as Record<string, number>;
  const anchors = r.anchors as Record<string, number>;
  const kdf = r.kdf as { defaultOpenMs: number; defaultCreateMs: number; fastOpenMs: number; fastScryptN: number };
  const bytes = r.snapshotBytes as number;
  const lines: string[] = [''];
  lines.push(
    `pgvector ${r.rows as number} rows x ${r.dims as number} dims, table ` +
      `${fmtMB(r.tableBytes as number)}, COPY binary ${fmtMB(r.copyBinaryBytes as number)}, ` +
      `snapshot ${fmtMB(bytes)} in ${r.snapshotSegments as number} segments; median of ` +
      `${r.repeat as number}`,
  );
  lines.push('');
  lines.push(
    '| step | time (median) | all runs (s) | MB/s (snapshot bytes) | open | client CPU | PG ' +
      'CPU | MinIO CPU | peak RSS | sampled peak | other load |',
  );
  lines.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const num = (d: Record<string, unknown>, k: string): number | undefined => (typeof d[k] === 'number' ? (d[k] as number) : undefined);
  const secs = (x: number | undefined): string => (x === undefined ? '' : `${x.toFixed(1)} s`);
  for (const s of steps) {
    // Figures of the repetition whose time is the median (the first such one).
    const d = s.detail[s.ms.indexOf(s.medianMs)] ?? s.detail.at(-1) ?? {};
    const e = (d.extra ?? {}) as Record<string, unknown>;
    const foreign = num(d, 'foreignCpuS');
    const wall = num(d, 'childWallMs');
    const other = foreign === undefined || wall === undefined ? '' : `${(foreign / (wall / 1000)).toFixed(2)} cores`;
    const rate = s.name.startsWith('K') ? '' : (bytes / MB / (s.medianMs / 1000)).toFixed(0);
    const open = typeof e.openMs === 'number' ? fmtMs(e.openMs) : '';
    const rss = (k: string): string => (num(d, k) === undefined ? '' : fmtMB(num(d, k) as number));
    lines.push(
      `| ${s.name} | ${fmtMs(s.medianMs)} | ` +
        `${s.ms.map((x) => (x / 1000).toFixed(2)).join(' / ')} | ${rate} | ${open} | ` +
        `${secs(num(d, 'clientCpuS'))} | ${secs(num(d, 'serverCpuS'))} | ` +
        `${secs(num(d, 's3ServerCpuS'))} | ${rss('maxRssBytes')} | ${rss('sampledPeakRssBytes')} | ` +
        `${other} |`,
    );
  }
  lines.push('');
  lines.push('vectordr timings of the median run (manifest.timings / restore timings):');
  for (const s of steps) {
    if (!/^[SR] /.test(s.name)) continue;
    const d = s.detail[s.ms.indexOf(s.medianMs)] ?? s.detail.at(-1) ?? {};
    const t = ((d.extra ?? {}) as Record<string, unknown>).timings as Record<string, number> | undefined;
    if (t)
      lines.push(
        `  ${s.name.padEnd(24)} ${Object.entries(t)
          .map(([k, v]) => `${k} ${fmtMs(v)}`)
          .join(', ')}`,
      );
  }
  const x = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? 'n/a' : `${v.toFixed(2)}x`);
  lines.push('');
  lines.push(
    `anchors (sums of medians): COPY out + S3 upload ` +
      `${fmtMs(anchors.copyOutPlusS3UploadMs as number)}, S3 download + COPY in ` +
      `${fmtMs(anchors.s3DownloadPlusCopyInMs as number)}, COPY out + fs write ` +
      `${fmtMs(anchors.copyOutPlusFsWriteMs as number)}, fs read + COPY in ` +
      `${fmtMs(anchors.fsReadPlusCopyInMs as number)}`,
  );
  lines.push(
    `S3 snapshot / (COPY out + raw S3 upload)      plaintext ` +
      `${x(ratios.s3SnapshotVsCopyOutPlusUpload)}, encrypted ` +
      `${x(ratios.s3EncSnapshotVsCopyOutPlusUpload)}`,
  );
  lines.push(
    `S3 restore / (raw S3 download + COPY in)      plaintext ` +
      `${x(ratios.s3RestoreVsDownloadPlusCopyIn)}, encrypted ` +
      `${x(ratios.s3EncRestoreVsDownloadPlusCopyIn)}`,
  );
  lines.push(
    `fs snapshot / (COPY out + raw fs write)       plaintext ` +
      `${x(ratios.fsSnapshotVsCopyOutPlusWrite)}, encrypted ` +
      `${x(ratios.fsEncSnapshotVsCopyOutPlusWrite)}`,
  );
  lines.push(
    `fs restore / (raw fs read + COPY in)          plaintext ` +
      `${x(ratios.fsRestoreVsReadPlusCopyIn)}, encrypted ` +
      `${x(ratios.fsEncRestoreVsReadPlusCopyIn)}`,
  );
  lines.push(
    `encrypted / plaintext                         snapshot fs ` +
      `${x(ratios.encryptedVsPlainSnapshotFs)}, S3 ${x(ratios.encryptedVsPlainSnapshotS3)}; ` +
      `restore fs ${x(ratios.encryptedVsPlainRestoreFs)}, S3 ` +
      `${x(ratios.encryptedVsPlainRestoreS3)}`,
  );
  lines.push(`S3 / fs (plaintext)                           snapshot ${x(ratios.s3VsFsSnapshot)}, restore ${x(ratios.s3VsFsRestore)}`);
  lines.push(
    `open of an encrypted repository: ${fmtMs(kdf.defaultOpenMs)} with the default scrypt ` +
      `(create ${fmtMs(kdf.defaultCreateMs)}), ${fmtMs(kdf.fastOpenMs)} with ` +
      `N=2^${Math.log2(kdf.fastScryptN)} (used above; not part of the snapshot/restore times)`,
  );
  const stored = r.storedBytes as Record<string, number | null>;
  lines.push(
    `stored bytes: ${Object.entries(stored)
      .map(([k, v]) => `${k} ${v === null ? 'n/a' : fmtMB(v)}`)
      .join(', ')}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  if (args.child) return runChild(args.child);
  // Children inherit it through the environment.
  if (args['s3-write-concurrency'] !== undefined) process.env.BENCH_S3_WRITE_CONCURRENCY = args['s3-write-concurrency'];
  const { rows, dims, repeat } = benchSize(args);
  const url = process.env.PG_URL;
  if (!url) throw new Error('PG_URL must be set (scripts/pg-server.sh start prints it); this benchmark starts no server');
  const s3 = s3Env();
  const work = await fs.mkdtemp(path.join(args.tmp as string, 'vectordr-bench-storage-'));
  const pool = parentPool(url);
  const suffix = randomBytes(4).toString('hex');
  const ctx: Ctx = { url, pool, work, dims, table: `bench_storage_${suffix}`, s3Prefix: `vectordr-bench-${suffix}`, minio: minioPid() };
  const started = new Date().toISOString();
  try {
    const { code, server: v, machine } = await benchRun(pool);
    log(
      `server ${url} (PostgreSQL ${String(v?.pg)}, pgvector ${String(v?.pgvector)}); S3 ` +
        `${s3.endpoint} s3://${s3.bucket}/${ctx.s3Prefix}/${ctx.minio === undefined ? ' (MinIO pid unknown: its CPU is not measured)' : ` (MinIO pid ${ctx.minio})`}; ` +
        `table ${ctx.table}; work dir ${work}`,
    );
    const result = await mainBench(ctx, rows, repeat);
    printResult(result);
    const json = {
      bench: 'storage-snapshot-restore',
      started,
      code,
      machine,
      server: v,
      options: { s3WriteConcurrency: args['s3-write-concurrency'] ?? 'library default' },
      s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region },
      ...result,
    };
    process.stdout.write(`BENCH_JSON ${JSON.stringify(json)}\n`);
    const out = args.out ?? path.join(ROOT, 'bench/results', `${(code.commit ?? 'unknown').slice(0, 7)}-storage-${rows}.json`);
    await fs.writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
    log(`results: ${out}`);
  } finally {
    log('cleanup: dropping tables, deleting S3 objects and temp dirs');
    const like = `${ctx.table.replace(/_/g, '\\_')}%`;
    const tables = await pool
      .query(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE $1`, [like])
      .catch(() => ({ rows: [] }));
    for (const t of tables.rows)
      await pool.query(`DROP TABLE IF EXISTS ${String((t as { relname: string }).relname)}`).catch(() => undefined);
    await deleteS3Prefix(ctx.s3Prefix).then(
      (n) => log(`deleted ${n} objects under s3://${s3.bucket}/${ctx.s3Prefix}/`),
      (err: unknown) => log(`S3 cleanup of ${ctx.s3Prefix}/ failed: ${String(err)}`),
    );
    await fs.rm(work, { recursive: true, force: true });
    await pool.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
