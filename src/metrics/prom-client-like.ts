/**
 * The parts of prom-client that vectordr's metrics use. prom-client is an optional peer dependency:
 * the caller passes its module (`import * as prom from 'prom-client'`) and, if they like, a
 * registry; vectordr never imports it, so nothing loads it for users who do not export metrics.
 */

export interface MetricConfig<R> {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registers?: R[];
  /** Called at every scrape before the values are read (gauges filled from state here). */
  collect?: () => void;
}

export interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
  reset(): void;
}

export interface CounterLike {
  inc(labels: Record<string, string>, value?: number): void;
}

/** The parts of prom-client used here: its module, `import * as prom from 'prom-client'`. */
export interface PromClientLike<R = unknown> {
  Gauge: new (config: MetricConfig<R>) => GaugeLike;
  Counter: new (config: MetricConfig<R>) => CounterLike;
  register: R;
}

/** A registry's text exposition, as prom-client's `Registry` gives it (`await registry.metrics()`). */
export interface MetricsRegistryLike {
  metrics(): Promise<string> | string;
  /** prom-client's: `text/plain; version=0.0.4; ...` or OpenMetrics. */
  readonly contentType?: string;
}
