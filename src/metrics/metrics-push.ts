/**
 * Metrics of a job that exits before any scrape, pushed to a Prometheus Pushgateway
 * (https://github.com/prometheus/pushgateway#api): `PUT /metrics/job/<job>{/<label>/<value>}`
 * replaces every metric of that group (this run replaces the last one), `POST` only the metric
 * names it sends. Label values that are empty or hold a `/` go base64url-encoded
 * (`<label>@base64/<value>`), as the API asks. Transient failures (network, timeouts, 408, 429,
 * 5xx) are retried with back-off (src/retry.ts); a 4xx is not (the gateway says why, in the error).
 *
 * @example
 * ```ts
 * await pushMetrics(registry, { url: 'http://pushgateway:9091', job: 'vectordr', grouping: { instance: 'docs-nightly' } });
 * ```
 */
import { z } from 'zod';
import { AbortedError, InvalidInputError, VectordrError } from '../errors.js';
import { isNetworkError, isTransientHttpStatus } from '../engine-errors.js';
import { parseOptions } from '../options.js';
import { retry } from '../retry.js';
import { exposition } from './metrics-textfile.js';
import type { MetricsRegistryLike } from './prom-client-like.js';

const LabelNameSchema = z
  .string()
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a Prometheus label name')
  .refine((n) => n !== 'job' && !n.startsWith('__'), 'not "job" (give it as `job`) nor a reserved __ name');

export const PushMetricsOptionsSchema = z.strictObject({
  /**
   * The Pushgateway's base URL, e.g. `http://pushgateway:9091` (a path prefix is kept). A
   * `user:password@` in it is sent as HTTP Basic authentication and never shown in errors.
   */
  url: z.url({ protocol: /^https?$/ }),
  /** The `job` label of the group. @default 'vectordr' */
  job: z.string().min(1).default('vectordr'),
  /**
   * Further labels of the group (e.g. `{ instance: 'docs-nightly' }`): one group per distinct set,
   * each replaced by its own pushes, so every schedule needs its own group (or job name). The
   * gateway sets these labels on every metric of the group, so a name the metrics use themselves
   * (`collection`, `op`, ...) is refused. @default {}
   */
  grouping: z.record(LabelNameSchema, z.string()).default({}),
  /**
   * `put` replaces the group's metrics (the usual choice for a job: what the last run says);
   * `post` replaces only the metric names pushed, keeping the others of the group. @default 'put'
   */
  method: z.enum(['put', 'post']).default('put'),
  /** Extra request headers (e.g. `{ authorization: 'Bearer ...' }`); never shown in errors. @default {} */
  headers: z.record(z.string(), z.string()).default({}),
  /** Deadline of one attempt. @default 10000 */
  timeoutMs: z.number().int().min(1).max(600_000).default(10_000),
  /** Attempts in all, the first included. @default 4 */
  attempts: z.number().int().min(1).max(20).default(4),
  /** First back-off; doubles per attempt up to 5 s. @default 250 */
  baseDelayMs: z.number().int().min(0).max(60_000).default(250),
  signal: z.instanceof(AbortSignal).optional(),
});
export type PushMetricsOptions = z.input<typeof PushMetricsOptionsSchema>;

/** One path segment pair of the grouping key, base64url-encoded when the API requires it. */
function groupingSegment(name: string, value: string): string {
  if (value === '' || value.includes('/')) return `${name}@base64/${Buffer.from(value, 'utf8').toString('base64url') || '='}`;
  return `${name}/${encodeURIComponent(value)}`;
}

/** The group's URL (without credentials) and its Basic authorization header, if the URL carried a user. */
export function pushgatewayTarget(options: Pick<PushMetricsOptions, 'url' | 'job' | 'grouping'>): { url: string; authorization?: string } {
  const base = new URL(options.url);
  const user = decodeURIComponent(base.username);
  const password = decodeURIComponent(base.password);
  base.username = '';
  base.password = '';
  const path = [
    groupingSegment('job', options.job ?? 'vectordr'),
    ...Object.entries(options.grouping ?? {}).map(([k, v]) => groupingSegment(k, v)),
  ];
  const url = `${base.origin}${base.pathname.replace(/\/+$/, '')}/metrics/${path.join('/')}`;
  return user === '' && password === ''
    ? { url }
    : { url, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

class PushHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Label names used by the samples of a text exposition (values are skipped, escaped quotes included). */
function labelNamesOf(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    for (const m of line.matchAll(/[{,]\s*([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) names.add(m[1] as string);
  }
  return names;
}

const quoteBody = (body: string): string => (body.trim() === '' ? '' : `: ${body.trim().slice(0, 300)}`);

/** fetch's message (`fetch failed`) with the socket's code under it (`ECONNREFUSED`). */
function networkReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' ? `${message} (${code})` : message;
}

/** Pushes the registry's metrics to a Pushgateway group; resolves once the gateway accepted them (2xx). */
export async function pushMetrics(registry: MetricsRegistryLike, options: PushMetricsOptions): Promise<void> {
  const o = parseOptions(PushMetricsOptionsSchema, options, 'push metrics', 'metrics');
  const body = await exposition(registry, 'A Pushgateway push');
  const clash = Object.keys(o.grouping).filter((name) => labelNamesOf(body).has(name));
  if (clash.length > 0) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      `Grouping label ${clash.map((n) => JSON.stringify(n)).join(', ')} is also a label of the pushed metrics: the Pushgateway sets a ` +
        `grouping label on every metric of the group, so all of them would read as one ${clash[0]}. Group by another label ` +
        `(e.g. { instance: 'docs-nightly' }) or use a job name per schedule.`,
      { plugin: 'metrics' },
    );
  }
  const { url, authorization } = pushgatewayTarget(o);
  const headers: Record<string, string> = {
    ...o.headers,
    'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    ...(authorization === undefined ? {} : { authorization }),
  };
  let attempts = 0;
  try {
    await retry(
      async (attempt) => {
        attempts = attempt;
        const deadline = AbortSignal.timeout(o.timeoutMs);
        const res = await fetch(url, {
          method: o.method.toUpperCase(),
          headers,
          body,
          signal: o.signal ? AbortSignal.any([o.signal, deadline]) : deadline,
        });
        const text = await res.text();
        if (!res.ok) throw new PushHttpError(res.status, text);
      },
      {
        attempts: o.attempts,
        baseDelayMs: o.baseDelayMs,
        maxDelayMs: 5000,
        jitter: 'equal',
        signal: o.signal,
        retryable: (err) => (err instanceof PushHttpError ? isTransientHttpStatus(err.status) : isNetworkError(err)),
      },
    );
  } catch (err) {
    if (err instanceof AbortedError || o.signal?.aborted)
      throw err instanceof AbortedError ? err : new AbortedError(undefined, { cause: err });
    const why = err instanceof PushHttpError ? `the gateway answered ${err.status}${quoteBody(err.body)}` : networkReason(err);
    const transient = err instanceof PushHttpError ? isTransientHttpStatus(err.status) : isNetworkError(err);
    throw new VectordrError(
      'METRICS_EXPORT_FAILED',
      transient ? 'transient' : 'permanent',
      `Could not push metrics to ${url} (${o.method.toUpperCase()}, ${attempts} attempt(s)): ${why}.`,
      { plugin: 'metrics', cause: err, details: { url, ...(err instanceof PushHttpError ? { status: err.status } : {}) } },
    );
  }
}
