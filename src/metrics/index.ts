/**
 * `vectordr/metrics`: Prometheus metrics of backups (prom-client, an optional peer, passed in) and
 * the two ways a job that exits before any scrape hands them over: a node-exporter textfile and a
 * Pushgateway push. docs/metrics.md lists every metric and ships alert rules.
 *
 * @example
 * ```ts
 * import * as prom from 'prom-client';
 * import { registerBackupMetrics, writeTextfile } from 'vectordr/metrics';
 *
 * const registry = new prom.Registry();
 * const metrics = registerBackupMetrics({ prom, registry, repository: repo, ages: false });
 * try {
 *   await metrics.track('snapshot', { collection: 'docs', engine: adapter.engine }, () => repo.snapshot(adapter, 'docs'));
 * } finally {
 *   await metrics.refresh().catch((err: unknown) => console.error('vectordr: metrics refresh failed', err));
 *   await writeTextfile(registry, '/var/lib/node_exporter/textfile_collector/vectordr.prom');
 * }
 * ```
 */
export { BACKUP_OPERATIONS, BackupMetricsOptionsSchema, locationLabel, registerBackupMetrics } from './backup-metrics.js';
export type {
  BackupFailureCode,
  BackupMetrics,
  BackupMetricsOptions,
  BackupOperation,
  BackupRun,
  BackupTarget,
  MetricsRepository,
} from './backup-metrics.js';
export { writeTextfile } from './metrics-textfile.js';
export { PushMetricsOptionsSchema, pushMetrics, pushgatewayTarget } from './metrics-push.js';
export type { PushMetricsOptions } from './metrics-push.js';
export type { CounterLike, GaugeLike, MetricConfig, MetricsRegistryLike, PromClientLike } from './prom-client-like.js';
