/**
 * The CLI's backup metrics for cron and Kubernetes jobs, which exit before any scrape:
 * `--metrics-textfile <path>` (node-exporter's textfile collector, written atomically) and
 * `--metrics-push <pushgateway-url>` (`--metrics-job`, default `vectordr`), on `vectordr/metrics`
 * (docs/metrics.md): each operation of a command runs through `track`, a failure outside one
 * (the repository cannot be opened) is recorded as the command's, and `flush` reads the repository
 * (`refresh()`: the newest snapshot of every collection, so a failed run still reports when the
 * last one succeeded) before writing. prom-client, an optional peer, is loaded only here.
 */
import type { Registry } from 'prom-client';
import { UnsupportedOperationError } from '../index.js';
import {
  type BackupMetrics,
  type BackupOperation,
  type BackupTarget,
  type MetricsRepository,
  pushMetrics,
  registerBackupMetrics,
  writeTextfile,
} from '../metrics/index.js';

/** The verbs that take metrics options, and the operation a failure outside any tracked one is recorded as. */
export const METRICS_OPERATION = {
  snapshot: 'snapshot',
  restore: 'restore',
  verify: 'verify-integrity',
  forget: 'forget',
  prune: 'prune',
} as const satisfies Record<string, BackupOperation>;
export type MetricsVerb = keyof typeof METRICS_OPERATION;

export interface MetricsTargets {
  textfile?: string;
  push?: string;
  job: string;
}

export interface MetricsHook {
  /** Runs one operation of the command, recording its duration and its result or error. */
  track<T>(op: BackupOperation, target: BackupTarget, run: () => Promise<T>): Promise<T>;
  /** Records a failure of the command, unless a tracked operation already recorded this error. */
  recordFailure(op: BackupOperation, target: BackupTarget, err: unknown): void;
  /**
   * Reads `repository` (when the command could open it) and writes the metrics where asked. A
   * repository that cannot be read leaves the run's own metrics to be written; its error is returned.
   */
  flush(targets: MetricsTargets, repository: MetricsRepository | undefined): Promise<{ refreshError?: unknown }>;
}

async function loadPromClient(): Promise<typeof import('prom-client')> {
  try {
    return await import('prom-client');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
    throw new UnsupportedOperationError('--metrics-textfile and --metrics-push need the package prom-client: npm install prom-client', {
      plugin: 'cli',
    });
  }
}

/**
 * Loads prom-client and returns the hook. `label` names the repository in every series (a location
 * without credentials); it is read when the first metric is recorded, once the settings are known.
 */
export async function createMetricsHook(label: () => string): Promise<MetricsHook> {
  const prom = await loadPromClient();
  const registry: Registry = new prom.Registry();
  let handle: BackupMetrics | undefined;
  // ages: false — written once, an age would never grow (docs/metrics.md, "Ages").
  const metrics = (): BackupMetrics => (handle ??= registerBackupMetrics({ prom, registry, repository: label(), ages: false }));
  const recorded = new WeakSet<object>();
  return {
    async track(op, target, run) {
      try {
        return await metrics().track(op, target, run);
      } catch (err) {
        if (typeof err === 'object' && err !== null) recorded.add(err);
        throw err;
      }
    },
    recordFailure(op, target, err) {
      if (typeof err === 'object' && err !== null && recorded.has(err)) return;
      metrics().recordFailure(op, target, err);
    },
    async flush(t, repository) {
      let refreshError: unknown;
      if (repository !== undefined)
        await metrics()
          .refresh({ repository })
          .catch((err: unknown) => (refreshError = err));
      if (t.textfile !== undefined) await writeTextfile(registry, t.textfile);
      if (t.push !== undefined) await pushMetrics(registry, { url: t.push, job: t.job });
      return refreshError === undefined ? {} : { refreshError };
    },
  };
}
