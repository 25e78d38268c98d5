/**
 * Pushes of backup metrics to a real Pushgateway (Debian's prometheus-pushgateway 1.5.1,
 * scripts/pushgateway.sh): what a cron job's runs leave there. A run after a failed one still
 * reports the last success (refresh() reads it from the repository); PUT replaces the group, POST
 * only the names it sends; grouping values with a slash travel base64url-encoded; a body the
 * gateway refuses fails at once with the gateway's reason.
 */
import type { PGlite } from '@electric-sql/pglite';
import * as prom from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { pushMetrics, pushgatewayTarget, registerBackupMetrics } from '../../src/metrics/index.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { expectError } from '../helpers/errors.js';
import { randomName } from '../helpers/engines.js';
import { type PushedGroup, pushedGroups, pushgatewayAvailable, pushgatewayUrl } from '../helpers/metrics-servers.js';
import { openPglite } from '../helpers/pglite.js';

describe.runIf(pushgatewayAvailable)('backup metrics pushed to a real Pushgateway', () => {
  const url = pushgatewayUrl as string;
  const job = randomName('vectordr_test');
  const groups: Record<string, string>[] = [];
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let repo: Repository;

  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4));
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector FROM generate_series(1, 300) g;`));
    repo = await openRepository({ storage: memoryStorage(), create: true });
  });
  afterAll(async () => {
    for (const grouping of groups) await fetch(pushgatewayTarget({ url, job, grouping }).url, { method: 'DELETE' });
    await db?.close();
  });

  /** One run of a job: a fresh registry (a new process), the work, refresh(), the push. */
  async function run(
    grouping: Record<string, string>,
    work: (m: ReturnType<typeof registerBackupMetrics>) => Promise<unknown>,
  ): Promise<PushedGroup> {
    const registry = new prom.Registry();
    const metrics = registerBackupMetrics({ prom, registry, repository: repo, ages: false });
    await work(metrics).catch(() => undefined);
    await metrics.refresh();
    await pushMetrics(registry, { url, job, grouping });
    groups.push(grouping);
    return group(grouping);
  }

  async function group(grouping: Record<string, string>): Promise<PushedGroup> {
    const g = (await pushedGroups()).find((x) => x.labels.job === job && Object.entries(grouping).every(([k, v]) => x.labels[k] === v));
    if (g === undefined) throw new Error(`no group ${job} ${JSON.stringify(grouping)} on the gateway`);
    return g;
  }
  const value = (g: PushedGroup, name: string, labels: Record<string, string>): string | undefined =>
    g.families.get(name)?.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

  it("a job's runs: a success, then a failure that still reports the last success, replacing the group (PUT)", async () => {
    const grouping = { instance: 'docs-nightly' };
    const docs = { repository: 'memory://', collection: 'docs', engine: 'pgvector', op: 'snapshot' };
    let completedAt = '';
    const first = await run(grouping, async (m) => {
      const r = await m.track('snapshot', { collection: 'docs', engine: 'pgvector' }, () => repo.snapshot(adapter, 'docs'));
      completedAt = r.manifest.completedAt;
      await m.track('verify-integrity', { collection: 'docs', engine: 'pgvector' }, () => repo.verify({ collection: 'docs' }));
    });
    expect(Number(value(first, 'vectordr_backup_last_successful_timestamp', docs))).toBeCloseTo(Date.parse(completedAt) / 1000, 3);
    expect(value(first, 'vectordr_backup_last_status', docs)).toBe('1');
    expect(value(first, 'vectordr_backup_last_rows', docs)).toBe('300');
    expect(value(first, 'vectordr_backup_last_status', { ...docs, op: 'verify-integrity' })).toBe('1');
    expect(value(first, 'vectordr_backup_snapshots', { collection: 'docs' })).toBe('1');
    expect(Number(value(first, 'vectordr_backup_repository_size_bytes', { repository: 'memory://' }))).toBeGreaterThan(0);
    // The gateway adds the group's labels to every sample; ages computed at scrape time are not pushed.
    expect(first.families.get('vectordr_backup_last_status')?.[0]?.labels).toMatchObject({ job, instance: 'docs-nightly' });
    expect(first.families.has('vectordr_backup_since_last_completion_seconds')).toBe(false);

    // The next run is stopped (a CronJob's pod gets SIGTERM: the CLI aborts the snapshot).
    const second = await run(grouping, (m) =>
      m.track('snapshot', { collection: 'docs', engine: 'pgvector' }, () =>
        repo.snapshot(adapter, 'docs', { signal: AbortSignal.abort() }),
      ),
    );
    expect(value(second, 'vectordr_backup_last_status', docs)).toBe('0');
    expect(value(second, 'vectordr_backup_failures_total', { ...docs, code: 'ABORTED' })).toBe('1');
    expect(Number(value(second, 'vectordr_backup_last_successful_timestamp', docs))).toBeCloseTo(Date.parse(completedAt) / 1000, 3);
    // PUT: what the failed run did not report (its verify) is gone from the group.
    expect(value(second, 'vectordr_backup_last_status', { ...docs, op: 'verify-integrity' })).toBeUndefined();
  });

  it('POST replaces only the names it sends; a grouping value with a slash travels base64url-encoded', async () => {
    const grouping = { instance: 'docs/hourly' };
    await run(grouping, (m) => m.track('prune', {}, () => repo.prune()));
    const registry = new prom.Registry();
    new prom.Gauge({ name: 'vectordr_test_extra', help: 'Another metric of the job.', registers: [registry] }).set(7);
    await pushMetrics(registry, { url, job, grouping, method: 'post' });
    const g = await group(grouping);
    expect(g.labels.instance).toBe('docs/hourly');
    expect(value(g, 'vectordr_test_extra', {})).toBe('7');
    expect(value(g, 'vectordr_backup_last_status', { op: 'prune', collection: '' })).toBe('1');
  });

  it('a body the gateway refuses fails at once, with its reason', async () => {
    const started = performance.now();
    const err = await expectError(
      pushMetrics({ metrics: () => 'vectordr_broken{collection="docs" 1\n' }, { url, job, baseDelayMs: 2000 }),
      'METRICS_EXPORT_FAILED',
    );
    expect(err.message).toMatch(/answered 400: .*pars/i);
    expect(err.message).toMatch(/1 attempt/);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
