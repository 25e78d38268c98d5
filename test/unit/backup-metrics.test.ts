/**
 * Backup metrics (src/metrics/): names, labels and values after real snapshots on PGlite into an
 * in-memory repository; failures by code; refresh() from the repository (what a failed job still
 * reports); bounded, secret-free labels; the textfile writer and the push client (against a small
 * local HTTP server here; test/metrics/ pushes to a real Pushgateway).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import * as prom from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { EngineError } from '../../src/errors.js';
import { registerBackupMetrics, pushMetrics, pushgatewayTarget, writeTextfile } from '../../src/metrics/index.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';

/** The value of one sample, by metric name and exact labels (undefined when absent). */
async function sample(registry: prom.Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const found = metric?.values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels));
  return found?.value;
}

const names = async (registry: prom.Registry): Promise<string[]> => (await registry.getMetricsAsJSON()).map((m) => m.name).sort();

describe('backup metrics on PGlite and a memory repository', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let repo: Repository;

  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4), t text);
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector, 'row ' || g FROM generate_series(1, 600) g;
      CREATE TABLE other (id int8 PRIMARY KEY, e vector(4));
      INSERT INTO other SELECT g, ARRAY[g, 0, 0, 1]::real[]::vector FROM generate_series(1, 10) g;`));
    repo = await openRepository({ storage: memoryStorage(), create: true });
  });
  afterAll(async () => {
    await db.close();
  });

  it('a tracked snapshot sets every per-run metric, labelled by repository, collection, engine and op', async () => {
    const registry = new prom.Registry();
    const metrics = registerBackupMetrics({ prom, registry, repository: repo });
    const before = Date.now() / 1000;
    const r = await metrics.track('snapshot', { collection: 'docs', engine: adapter.engine }, () =>
      repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 }),
    );
    const labels = { repository: 'memory://', collection: 'docs', engine: 'pgvector', op: 'snapshot' };
    const m = r.manifest;
    expect(await names(registry)).toEqual(
      [
        'failures_total',
        'last_attempt_timestamp',
        'last_bytes',
        'last_duration_seconds',
        'last_rows',
        'last_segment_bytes',
        'last_segments',
        'last_status',
        'last_successful_timestamp',
        'newest_snapshot_timestamp',
        'repository_size_bytes',
        'since_last_completion_seconds',
        'snapshots',
      ].map((n) => `vectordr_backup_${n}`),
    );
    expect(await sample(registry, 'vectordr_backup_last_status', labels)).toBe(1);
    expect(await sample(registry, 'vectordr_backup_last_successful_timestamp', labels)).toBe(Date.parse(m.completedAt) / 1000);
    expect(await sample(registry, 'vectordr_backup_last_attempt_timestamp', labels)).toBe(Date.parse(m.completedAt) / 1000);
    expect(await sample(registry, 'vectordr_backup_last_rows', labels)).toBe(600);
    expect(await sample(registry, 'vectordr_backup_last_bytes', labels)).toBe(m.segments.reduce((s, x) => s + x.bytes, 0));
    expect(m.segments.length).toBeGreaterThan(1);
    expect(await sample(registry, 'vectordr_backup_last_segments', { ...labels, state: 'written' })).toBe(m.segments.length);
    expect(await sample(registry, 'vectordr_backup_last_segments', { ...labels, state: 'reused' })).toBe(0);
    const segmentBytes = m.segments.reduce((s, x) => s + x.bytes, 0);
    expect(await sample(registry, 'vectordr_backup_last_segment_bytes', { ...labels, state: 'written' })).toBe(segmentBytes);
    expect(await sample(registry, 'vectordr_backup_last_segment_bytes', { ...labels, state: 'reused' })).toBe(0);
    const duration = (await sample(registry, 'vectordr_backup_last_duration_seconds', labels)) as number;
    expect(duration).toBeGreaterThan(0);
    expect(duration).toBeLessThan(Date.now() / 1000 - before + 0.01);
    const perCollection = { repository: 'memory://', collection: 'docs', engine: 'pgvector' };
    expect(await sample(registry, 'vectordr_backup_newest_snapshot_timestamp', perCollection)).toBe(Date.parse(m.createdAt) / 1000);
    const age = (await sample(registry, 'vectordr_backup_since_last_completion_seconds', perCollection)) as number;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(60);
    // Not read yet: refresh() reads the repository for counts and size.
    expect(await sample(registry, 'vectordr_backup_snapshots', perCollection)).toBeUndefined();
    expect(await sample(registry, 'vectordr_backup_repository_size_bytes', { repository: 'memory://' })).toBeUndefined();

    // The same data again: every segment is already stored.
    const again = await metrics.track('snapshot', { collection: 'docs' }, () =>
      repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 }),
    );
    expect(await sample(registry, 'vectordr_backup_last_segments', { ...labels, state: 'written' })).toBe(0);
    expect(await sample(registry, 'vectordr_backup_last_segments', { ...labels, state: 'reused' })).toBe(again.reusedSegments);
    expect(again.reusedSegments).toBe(m.segments.length);
    expect(await sample(registry, 'vectordr_backup_last_segment_bytes', { ...labels, state: 'written' })).toBe(0);
    expect(await sample(registry, 'vectordr_backup_last_segment_bytes', { ...labels, state: 'reused' })).toBe(segmentBytes);
    expect(await sample(registry, 'vectordr_backup_newest_snapshot_timestamp', perCollection)).toBe(
      Date.parse(again.manifest.createdAt) / 1000,
    );
  });

  it('failures count by error code; the last status turns 0 and back to 1', async () => {
    const registry = new prom.Registry();
    const metrics = registerBackupMetrics({ prom, registry, repository: repo });
    const labels = { repository: 'memory://', collection: 'missing', engine: 'pgvector', op: 'snapshot' };
    for (let i = 0; i < 2; i++) {
      await expectError(
        metrics.track('snapshot', { collection: 'missing', engine: 'pgvector' }, () => repo.snapshot(adapter, 'missing')),
        'COLLECTION_NOT_FOUND',
      );
    }
    expect(await sample(registry, 'vectordr_backup_failures_total', { ...labels, code: 'COLLECTION_NOT_FOUND' })).toBe(2);
    expect(await sample(registry, 'vectordr_backup_last_status', labels)).toBe(0);
    expect(await sample(registry, 'vectordr_backup_last_successful_timestamp', labels)).toBeUndefined();
    expect(await sample(registry, 'vectordr_backup_last_duration_seconds', labels)).toBeGreaterThan(0);

    // Anything that is not a VectordrError is UNKNOWN; a verify that found problems is VERIFY_FAILED.
    await expect(
      metrics.track('restore', { collection: 'docs', engine: 'pgvector' }, () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    const restore = { repository: 'memory://', collection: 'docs', engine: 'pgvector', op: 'restore' };
    expect(await sample(registry, 'vectordr_backup_failures_total', { ...restore, code: 'UNKNOWN' })).toBe(1);
    const verify = await metrics.track('verify-parity', { collection: 'docs', engine: 'pgvector' }, async () => ({ ok: false }));
    expect(verify).toEqual({ ok: false });
    const parity = { ...restore, op: 'verify-parity' };
    expect(await sample(registry, 'vectordr_backup_failures_total', { ...parity, code: 'VERIFY_FAILED' })).toBe(1);
    expect(await sample(registry, 'vectordr_backup_last_status', parity)).toBe(0);

    // A restore that succeeds: status 1, rows written; the engine is the one last seen for the collection.
    await db.exec('DROP TABLE IF EXISTS restored');
    const restored = await metrics.track('restore', { collection: 'docs' }, () =>
      repo.restore(adapter, { collection: 'docs', target: 'restored' }),
    );
    expect(await sample(registry, 'vectordr_backup_last_status', restore)).toBe(1);
    expect(await sample(registry, 'vectordr_backup_last_rows', restore)).toBe(restored.rows);
    expect(restored.rows).toBe(600);

    // Repository-wide operations have an empty collection (no label in Prometheus) and no engine.
    metrics.recordFailure('prune', {}, new EngineError('down', 'transient'));
    expect(
      await sample(registry, 'vectordr_backup_failures_total', {
        repository: 'memory://',
        collection: '',
        engine: '',
        op: 'prune',
        code: 'ENGINE_ERROR',
      }),
    ).toBe(1);
    expect(await prom.Registry.merge([registry]).metrics()).toMatch(
      /^vectordr_backup_failures_total\{repository="memory:\/\/",collection="",engine="",op="prune",code="ENGINE_ERROR"\} 1$/m,
    );
  });

  it('refresh() reads the newest snapshot of every collection, its completion, the counts and the storage size', async () => {
    await repo.snapshot(adapter, 'other');
    // A new process (a job whose run failed) still reports when the last snapshot succeeded.
    const registry = new prom.Registry();
    const metrics = registerBackupMetrics({ prom, registry, repository: repo, ages: false });
    metrics.recordFailure('snapshot', { collection: 'docs', engine: 'pgvector' }, new EngineError('connection refused', 'transient'));
    await metrics.refresh();
    const list = await repo.list();
    const newest = list.filter((s) => s.collection === 'docs').at(-1);
    const manifest = await repo.readManifest('docs', newest?.id as string);
    const labels = { repository: 'memory://', collection: 'docs', engine: 'pgvector', op: 'snapshot' };
    expect(await sample(registry, 'vectordr_backup_last_status', labels)).toBe(0);
    expect(await sample(registry, 'vectordr_backup_last_successful_timestamp', labels)).toBe(Date.parse(manifest.completedAt) / 1000);
    const docs = { repository: 'memory://', collection: 'docs', engine: 'pgvector' };
    expect(await sample(registry, 'vectordr_backup_snapshots', docs)).toBe(list.filter((s) => s.collection === 'docs').length);
    expect(await sample(registry, 'vectordr_backup_snapshots', { ...docs, collection: 'other' })).toBe(1);
    expect(await sample(registry, 'vectordr_backup_newest_snapshot_timestamp', docs)).toBe(Date.parse(manifest.createdAt) / 1000);
    let size = 0;
    for await (const o of repo.storage.list('')) size += o.size;
    expect(await sample(registry, 'vectordr_backup_repository_size_bytes', { repository: 'memory://' })).toBe(size);
    // ages: false (textfiles, pushes) leaves out the age that would never grow once written.
    expect(await names(registry)).not.toContain('vectordr_backup_since_last_completion_seconds');
  });

  it('labels hold no secrets and stay bounded: locations lose userinfo and query; labels that look like credentials are refused', async () => {
    const storage = memoryStorage();
    const leaky: Storage = Object.assign(Object.create(Object.getPrototypeOf(storage) as object) as Storage, storage, {
      location: 's3://AKIAEXAMPLE:topsecret@bucket/backups?X-Amz-Signature=deadbeef',
    });
    const leakyRepo = await openRepository({ storage: leaky, create: true });
    const registry = new prom.Registry();
    const metrics = registerBackupMetrics({ prom, registry, repository: leakyRepo });
    expect(metrics.repository).toBe('s3://bucket/backups');
    await metrics.track('snapshot', { collection: 'other', engine: 'pgvector' }, () => leakyRepo.snapshot(adapter, 'other'));
    await metrics.refresh();
    const text = await registry.metrics();
    expect(text).toContain('repository="s3://bucket/backups"');
    expect(text).not.toMatch(/topsecret|AKIA|Signature|deadbeef/);

    await expectError(
      Promise.resolve().then(() => registerBackupMetrics({ prom, registry, repository: 'https://u:pw@host/x' })),
      'INVALID_OPTIONS',
    );
    await expectError(
      Promise.resolve().then(() => registerBackupMetrics({ prom, registry, repository: 's3://b/p?token=x' })),
      'INVALID_OPTIONS',
    );
    await expectError(
      Promise.resolve().then(() => metrics.recordSuccess('snapshot', { engine: 'postgres://u:pw@h/db' })),
      'INVALID_ARGUMENT',
    );
    await expectError(
      Promise.resolve().then(() => metrics.recordSuccess('backup' as 'snapshot', {})),
      'INVALID_ARGUMENT',
    );
    expect(await registry.metrics()).not.toMatch(/pw@|token/);
  });

  it('repositories registered on one registry share the families; registering one twice returns its handle', async () => {
    const registry = new prom.Registry();
    const a = registerBackupMetrics({ prom, registry, repository: repo });
    const b = registerBackupMetrics({ prom, registry, repository: 'offsite' });
    expect(registerBackupMetrics({ prom, registry, repository: repo })).toBe(a);
    a.recordSuccess('verify-integrity', { collection: 'docs', engine: 'pgvector' });
    b.recordFailure('verify-integrity', { collection: 'docs' }, new Error('x'));
    const op = { collection: 'docs', engine: 'pgvector', op: 'verify-integrity' };
    expect(await sample(registry, 'vectordr_backup_last_status', { repository: 'memory://', ...op })).toBe(1);
    expect(await sample(registry, 'vectordr_backup_last_status', { repository: 'offsite', ...op, engine: '' })).toBe(0);
    await expectError(b.refresh(), 'INVALID_ARGUMENT');
    expect(() => registerBackupMetrics({ prom, registry, repository: 'third', ages: false })).toThrow(/ages/);
  });
});

describe('metrics for jobs: node-exporter textfile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vectordr-textfile-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the exposition atomically to a .prom file, leaving no temporary file', async () => {
    const registry = new prom.Registry();
    const metrics = registerBackupMetrics({ prom, registry, repository: 'nightly', ages: false });
    metrics.recordSuccess('snapshot', { collection: 'docs', engine: 'qdrant', rows: 7, durationMs: 1500 });
    const file = path.join(dir, 'vectordr.prom');
    await writeTextfile(registry, file);
    const text = await readFile(file, 'utf8');
    expect(text).toBe(await registry.metrics());
    expect(text).toMatch(/^# TYPE vectordr_backup_last_successful_timestamp gauge$/m);
    expect(text).toMatch(/^vectordr_backup_last_rows\{repository="nightly",collection="docs",engine="qdrant",op="snapshot"\} 7$/m);
    expect(text).toMatch(/^vectordr_backup_last_duration_seconds\{.*\} 1\.5$/m);
    metrics.recordFailure('snapshot', { collection: 'docs' }, new Error('x'));
    await writeTextfile(registry, file);
    expect(await readFile(file, 'utf8')).toMatch(/^vectordr_backup_last_status\{.*op="snapshot"\} 0$/m);
    expect(await readdir(dir)).toEqual(['vectordr.prom']);
  });

  it('refuses a name the collector would not read, and says what is wrong with a missing directory', async () => {
    const registry = new prom.Registry();
    await expectError(writeTextfile(registry, path.join(dir, 'vectordr.txt')), 'INVALID_ARGUMENT');
    const err = await expectError(writeTextfile(registry, path.join(dir, 'nope', 'vectordr.prom')), 'METRICS_EXPORT_FAILED');
    expect(err.message).toMatch(/does not exist/);
    const open = new prom.Registry<prom.OpenMetricsContentType>();
    open.setContentType(prom.Registry.OPENMETRICS_CONTENT_TYPE);
    await expectError(writeTextfile(open, path.join(dir, 'om.prom')), 'INVALID_ARGUMENT');
  });
});

describe('metrics for jobs: Pushgateway push (local HTTP server)', () => {
  let server: Server;
  let base: string;
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let answers: number[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const status = answers.shift() ?? 200;
        res.writeHead(status).end(status === 400 ? 'pushed metrics are invalid or inconsistent with existing metrics' : '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('groups by job and labels in the path (base64url when a value is empty or has a slash)', () => {
    expect(pushgatewayTarget({ url: 'http://gw:9091/', job: 'vectordr', grouping: { collection: 'docs' } }).url).toBe(
      'http://gw:9091/metrics/job/vectordr/collection/docs',
    );
    expect(pushgatewayTarget({ url: 'http://gw/prefix', job: 'a/b', grouping: { instance: '' } }).url).toBe(
      `http://gw/prefix/metrics/job@base64/${Buffer.from('a/b').toString('base64url')}/instance@base64/=`,
    );
  });

  it('PUTs the exposition with basic auth from the URL, retries a 503, and never shows the password', async () => {
    const registry = new prom.Registry();
    registerBackupMetrics({ prom, registry, repository: 'nightly', ages: false }).recordSuccess('prune');
    seen.length = 0;
    answers = [503];
    const url = base.replace('http://', 'http://ops:s3cret@');
    await pushMetrics(registry, { url, grouping: { instance: 'docs-nightly' }, baseDelayMs: 1 });
    expect(seen.map((s) => [s.method, s.url])).toEqual([
      ['PUT', '/metrics/job/vectordr/instance/docs-nightly'],
      ['PUT', '/metrics/job/vectordr/instance/docs-nightly'],
    ]);
    expect(seen[1]?.headers.authorization).toBe(`Basic ${Buffer.from('ops:s3cret').toString('base64')}`);
    expect(seen[1]?.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(seen[1]?.body).toBe(await registry.metrics());

    answers = [400];
    const err = await expectError(pushMetrics(registry, { url, method: 'post', baseDelayMs: 1 }), 'METRICS_EXPORT_FAILED');
    expect(err.message).toMatch(/answered 400: pushed metrics are invalid/);
    expect(err.message).toMatch(/1 attempt/);
    expect(err.message).not.toContain('s3cret');
    expect(seen.at(-1)?.method).toBe('POST');

    // The gateway would overwrite the metrics' own collection label with the group's.
    seen.length = 0;
    await expectError(pushMetrics(registry, { url: base, grouping: { collection: 'docs' } }), 'INVALID_OPTIONS');
    await expectError(pushMetrics(registry, { url: base, grouping: { job: 'x' } }), 'INVALID_OPTIONS');
    expect(seen).toEqual([]);
  });

  it('a gateway that is down fails as transient after its attempts', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await expectError(
      pushMetrics(new prom.Registry(), { url: `http://127.0.0.1:${port}`, attempts: 2, baseDelayMs: 1 }),
      'METRICS_EXPORT_FAILED',
    );
    expect(err).toMatchObject({ category: 'transient' });
    expect(err.message).toMatch(/2 attempt/);
  });
});
