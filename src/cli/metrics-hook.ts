/**
 * The CLI's side of backup metrics for cron and Kubernetes jobs, which exit before any scrape:
 * `--metrics-textfile <path>` (node-exporter's textfile collector; written atomically, tmp + rename)
 * and `--metrics-push <pushgateway-url>` (`--metrics-job`, default `vectordr`). A command records
 * its outcome once, then flushes; a flush that fails warns and leaves the exit code alone (the
 * missing sample is what the staleness alert sees).
 *
 * This is the interface the CLI calls. Its implementation here is a minimal one on prom-client
 * directly (an optional peer, loaded only when a metrics option is given), to be replaced by the
 * backup metrics of src/metrics/ (`registerBackupMetrics` and its textfile and push helpers) when
 * they land: only `createMetricsHook` changes then.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import { UnsupportedOperationError, isVectordrError } from '../index.js';

/** The verbs that record metrics. */
export type MetricsVerb = 'snapshot' | 'restore' | 'verify' | 'forget' | 'prune';

export interface MetricsOutcome {
  verb: MetricsVerb;
  /** The collection, when the command was about one. */
  collection?: string;
  /** The command's result (its report) when it finished; `error` when it failed. */
  result?: unknown;
  error?: unknown;
  /** True when the command finished but found problems (verify: exit 3). */
  partial?: boolean;
  durationMs: number;
}

export interface MetricsTargets {
  textfile?: string;
  push?: string;
  job: string;
}

export interface MetricsHook {
  recordOutcome(outcome: MetricsOutcome): void;
  flush(targets: MetricsTargets): Promise<void>;
}

const PREFIX = 'vectordr_cli_';
const LAST_SUCCESS = `${PREFIX}last_success_timestamp_seconds`;

/** Rows and bytes a report tells, when it tells them. */
function countsOf(result: unknown): { rows?: number; bytes?: number } {
  const r = result as {
    rows?: unknown;
    manifest?: { rows?: { upserts?: number }; segments?: { bytes: number }[] };
  } | null;
  if (r === null || typeof r !== 'object') return {};
  if (r.manifest?.rows?.upserts !== undefined) {
    return { rows: r.manifest.rows.upserts, bytes: (r.manifest.segments ?? []).reduce((s, x) => s + x.bytes, 0) };
  }
  return typeof r.rows === 'number' ? { rows: r.rows } : {};
}

/** Label sets and values of `name` in a text exposition (the previous textfile), to carry a last success over a failed run. */
function samplesOf(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{([^}]*)\\}\\s+(\\S+)`).exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[1] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1');
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

/** Loads prom-client and returns the hook; METRICS need the optional peer installed. */
export async function createMetricsHook(): Promise<MetricsHook> {
  let prom: typeof import('prom-client');
  try {
    prom = await import('prom-client');
  } catch {
    throw new UnsupportedOperationError('--metrics-textfile and --metrics-push need the package prom-client: npm install prom-client', {
      plugin: 'cli',
    });
  }
  const registry: Registry = new prom.Registry();
  const labelNames = ['operation', 'collection'] as const;
  const gauge = (name: string, help: string, extra: string[] = []): InstanceType<typeof prom.Gauge> =>
    new prom.Gauge({ name: `${PREFIX}${name}`, help, labelNames: [...labelNames, ...extra], registers: [registry] });
  const lastRun = gauge('last_run_timestamp_seconds', 'When the last run of the operation ended (Unix time).');
  const lastSuccess = gauge('last_success_timestamp_seconds', 'When the operation last succeeded (Unix time).');
  const status = gauge('last_run_success', '1 when the last run succeeded, 0 when it failed or found problems.');
  const duration = gauge('last_run_duration_seconds', 'How long the last run took.');
  const rows = gauge('last_run_rows', 'Rows the last run handled, when it reports them.');
  const bytes = gauge('last_run_bytes', 'Bytes the last run stored, when it reports them.');
  const failure = gauge('last_run_error', '1 with the error code of the last run, when it failed.', ['code']);
  const all = [lastRun, lastSuccess, status, duration, rows, bytes, failure];
  let failed = false;
  let collection = '';

  return {
    recordOutcome(o) {
      collection = o.collection ?? '';
      const labels = { operation: o.verb, collection };
      const now = Date.now() / 1000;
      const ok = o.error === undefined && o.partial !== true;
      failed = !ok;
      lastRun.set(labels, now);
      status.set(labels, ok ? 1 : 0);
      duration.set(labels, o.durationMs / 1000);
      if (ok) lastSuccess.set(labels, now);
      if (o.error !== undefined) failure.set({ ...labels, code: isVectordrError(o.error) ? o.error.code : 'UNEXPECTED' }, 1);
      const c = countsOf(o.result);
      if (c.rows !== undefined) rows.set(labels, c.rows);
      if (c.bytes !== undefined) bytes.set(labels, c.bytes);
    },
    async flush(t) {
      if (t.textfile !== undefined) {
        if (failed) {
          // A failed run has no success to report: keep the previous file's, so the age alert measures from it.
          const previous = await readFile(t.textfile, 'utf8').catch(() => '');
          for (const s of samplesOf(previous, LAST_SUCCESS)) lastSuccess.set(s.labels, s.value);
        }
        const tmp = `${t.textfile}.tmp-${process.pid}`;
        await writeFile(tmp, await registry.metrics());
        await rename(tmp, t.textfile);
      }
      if (t.push !== undefined) {
        // pushAdd (POST) replaces the metrics pushed, by name: a metric without samples (no success in a failed run)
        // is left out, so the gateway keeps the last success time it has.
        for (const m of all) {
          const { name, values } = await m.get();
          if (values.length === 0) registry.removeSingleMetric(name);
        }
        const gateway = new prom.Pushgateway(t.push, {}, registry);
        await gateway.pushAdd({ jobName: t.job, ...(collection === '' ? {} : { groupings: { collection } }) });
      }
    },
  };
}
