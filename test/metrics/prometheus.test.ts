/**
 * A real Prometheus (Debian's prometheus 2.42.0, scripts/prometheus.sh) scraping the Pushgateway
 * every second, with the example alert rules loaded: what a cron job pushes becomes queryable
 * (vectordr_backup_last_successful_timestamp), and a failed run fires VectordrBackupLastAttemptFailed,
 * which the next successful run clears.
 */
import type { PGlite } from '@electric-sql/pglite';
import * as prom from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { pushMetrics, pushgatewayTarget, registerBackupMetrics } from '../../src/metrics/index.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { randomName } from '../helpers/engines.js';
import { prometheusAvailable, prometheusUrl, pushgatewayAvailable, pushgatewayUrl } from '../helpers/metrics-servers.js';
import { openPglite } from '../helpers/pglite.js';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${prometheusUrl}${path}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
  return body.data;
}
/** Scrapes and rule evaluations are every second (scripts/prometheus.sh); a few are enough. */
const WAIT = { timeout: 30_000, interval: 250 };
const query = async (q: string): Promise<Sample[]> =>
  (await api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(q)}`)).result;

describe.runIf(prometheusAvailable && pushgatewayAvailable)('a real Prometheus scraping pushed backup metrics', () => {
  const job = randomName('vectordr_prom');
  const grouping = { instance: 'docs-nightly' };
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let repo: Repository;

  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4));
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector FROM generate_series(1, 100) g;`));
    repo = await openRepository({ storage: memoryStorage(), create: true });
  });
  afterAll(async () => {
    await fetch(pushgatewayTarget({ url: pushgatewayUrl as string, job, grouping }).url, { method: 'DELETE' });
    await db?.close();
  });

  /** One run of the job: a fresh registry, the work, refresh(), the push. */
  async function run(work: (m: ReturnType<typeof registerBackupMetrics>) => Promise<unknown>): Promise<void> {
    const registry = new prom.Registry();
    const metrics = registerBackupMetrics({ prom, registry, repository: repo, ages: false });
    await work(metrics).catch(() => undefined);
    await metrics.refresh();
    await pushMetrics(registry, { url: pushgatewayUrl as string, job, grouping });
  }

  it('the example rules are loaded and evaluate without errors', async () => {
    await vi.waitFor(async () => {
      const { groups } = await api<{ groups: { name: string; rules: { name: string; health: string }[] }[] }>('/api/v1/rules');
      const rules = groups.find((g) => g.name === 'vectordr-backup')?.rules ?? [];
      expect(rules.map((r) => r.name).sort()).toEqual([
        'VectordrBackupLastAttemptFailed',
        'VectordrBackupNoRecentSuccess',
        'VectordrBackupTooOld',
        'VectordrRepositoryGrowing',
      ]);
      expect(rules.map((r) => r.health)).toEqual(['ok', 'ok', 'ok', 'ok']);
    }, WAIT);
  });

  it("a job's pushed success is queryable; its failed run fires the alert and the next success clears it", async () => {
    let completedAt = '';
    await run(async (m) => {
      completedAt = (await m.track('snapshot', { collection: 'docs', engine: adapter.engine }, () => repo.snapshot(adapter, 'docs')))
        .manifest.completedAt;
    });
    const selector = `{job="${job}",collection="docs",op="snapshot"}`;
    await vi.waitFor(async () => {
      const [s] = await query(`vectordr_backup_last_successful_timestamp${selector}`);
      expect(s?.metric).toMatchObject({ repository: 'memory://', engine: 'pgvector', instance: 'docs-nightly' });
      expect(Number(s?.value[1])).toBeCloseTo(Date.parse(completedAt) / 1000, 3);
    }, WAIT);
    // The RPO as the example rule computes it: seconds, not hours.
    const [rpo] = await query(`time() - max by (collection) (vectordr_backup_newest_snapshot_timestamp{job="${job}"})`);
    expect(Number(rpo?.value[1])).toBeLessThan(120);

    await run((m) =>
      m.track('snapshot', { collection: 'docs', engine: adapter.engine }, () =>
        repo.snapshot(adapter, 'docs', { signal: AbortSignal.abort() }),
      ),
    );
    const firing = async (): Promise<Alert[]> =>
      (await api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.filter(
        (a) => a.labels.alertname === 'VectordrBackupLastAttemptFailed' && a.labels.job === job,
      );
    await vi.waitFor(async () => {
      const alerts = await firing();
      expect(alerts.map((a) => [a.state, a.labels.collection, a.labels.op, a.labels.severity])).toEqual([
        ['firing', 'docs', 'snapshot', 'warning'],
      ]);
    }, WAIT);
    // The failed run still reported the last success (read from the repository).
    const [last] = await query(`vectordr_backup_last_successful_timestamp${selector}`);
    expect(Number(last?.value[1])).toBeCloseTo(Date.parse(completedAt) / 1000, 3);
    const [failures] = await query(`vectordr_backup_failures_total${selector}`);
    expect(failures?.metric.code).toBe('ABORTED');

    await run((m) => m.track('snapshot', { collection: 'docs', engine: adapter.engine }, () => repo.snapshot(adapter, 'docs')));
    await vi.waitFor(async () => expect(await firing()).toEqual([]), WAIT);
  });
});
