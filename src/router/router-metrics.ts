/**
 * Prometheus metrics for a router, through prom-client (an optional peer: pass its module and, if
 * you like, your registry). Gauges are read from `router.status()` at scrape time; counters follow
 * events. Labels are the router's and endpoints' names only: never URLs or credentials.
 *
 * @example
 * ```ts
 * import * as prom from 'prom-client';
 * registerRouterMetrics(router, { prom, registry: prom.register });
 * ```
 */
import type { FailoverRouter, RouterEvent, RouterStatus } from './router.js';

interface MetricConfig<R> {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registers?: R[];
  collect?: () => void;
}
interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
  reset(): void;
}
interface CounterLike {
  inc(labels: Record<string, string>, value?: number): void;
}
/** The parts of prom-client used here. */
export interface PromClientLike<R = unknown> {
  Gauge: new (config: MetricConfig<R>) => GaugeLike;
  Counter: new (config: MetricConfig<R>) => CounterLike;
  register: R;
}

export interface RouterMetricsOptions<R = unknown> {
  prom: PromClientLike<R>;
  /** @default prom.register */
  registry?: R;
  /** @default 'vectordr_router_' */
  prefix?: string;
}

/** Anything with a core router: `FailoverRouter` or an engine router such as `PgRouter`. */
type HasStatus = Pick<FailoverRouter, 'status' | 'on'> & { readonly options?: { name: string }; readonly core?: Pick<FailoverRouter, 'options'> };

const ROLES = ['primary', 'standby', 'unknown'] as const;

/** Registers the router's metrics; returns a function that stops the counters (gauges stay registered). */
export function registerRouterMetrics<R>(router: HasStatus, options: RouterMetricsOptions<R>): () => void {
  const { prom } = options;
  const registers = [options.registry ?? prom.register];
  const prefix = options.prefix ?? 'vectordr_router_';
  const routerName = router.options?.name ?? router.core?.options.name ?? 'default';
  let snap: RouterStatus | undefined;
  const read = (): RouterStatus => {
    snap = router.status();
    return snap;
  };
  const up = new prom.Gauge({
    name: `${prefix}endpoint_up`,
    help: 'Whether the endpoint answers probes (1) or is down (0); suspect and recovering count as up.',
    labelNames: ['router', 'endpoint'],
    registers,
    collect() {
      for (const e of read().endpoints) up.set({ router: routerName, endpoint: e.name }, e.health === 'down' || e.health === 'unknown' ? 0 : 1);
    },
  });
  const role = new prom.Gauge({
    name: `${prefix}endpoint_role`,
    help: 'The endpoint\'s role as last probed: 1 for its role, 0 for the others.',
    labelNames: ['router', 'endpoint', 'role'],
    registers,
    collect() {
      for (const e of (snap ?? read()).endpoints) for (const r of ROLES) role.set({ router: routerName, endpoint: e.name, role: r }, e.role === r ? 1 : 0);
    },
  });
  const fenced = new prom.Gauge({
    name: `${prefix}endpoint_fenced`,
    help: 'Whether the router fenced the endpoint (a stale or second primary): no work goes there.',
    labelNames: ['router', 'endpoint'],
    registers,
    collect() {
      for (const e of (snap ?? read()).endpoints) fenced.set({ router: routerName, endpoint: e.name }, e.fenced === undefined ? 0 : 1);
    },
  });
  const lag = new prom.Gauge({
    name: `${prefix}replication_lag_bytes`,
    help: 'Bytes a standby is behind the primary, by the last probes (the RPO of a failover to it).',
    labelNames: ['router', 'endpoint'],
    registers,
    collect() {
      lag.reset();
      for (const e of (snap ?? read()).endpoints) if (e.lagBytes !== undefined) lag.set({ router: routerName, endpoint: e.name }, e.lagBytes);
    },
  });
  const replay = new prom.Gauge({
    name: `${prefix}replay_lag_seconds`,
    help: 'Time since the standby replayed its last transaction (grows while the primary is idle).',
    labelNames: ['router', 'endpoint'],
    registers,
    collect() {
      replay.reset();
      for (const e of (snap ?? read()).endpoints) if (e.replayLagMs !== undefined) replay.set({ router: routerName, endpoint: e.name }, e.replayLagMs / 1000);
    },
  });
  const hasPrimary = new prom.Gauge({
    name: `${prefix}primary_present`,
    help: 'Whether the router has a primary to send writes to.',
    labelNames: ['router'],
    registers,
    collect() {
      hasPrimary.set({ router: routerName }, (snap ?? read()).primary === undefined ? 0 : 1);
    },
  });
  const without = new prom.Gauge({
    name: `${prefix}no_primary_seconds_total`,
    help: 'Total time without a primary since the router started (writes waited or failed meanwhile).',
    labelNames: ['router'],
    registers,
    collect() {
      without.set({ router: routerName }, (snap ?? read()).noPrimaryMs / 1000);
      snap = undefined; // the last gauge of a scrape: the next scrape reads a fresh status
    },
  });
  const failovers = new prom.Counter({ name: `${prefix}failovers_total`, help: 'Primary changes to a different endpoint, by cause (promoted by this router, switchover, followed an external promotion).', labelNames: ['router', 'kind'], registers });
  const fences = new prom.Counter({ name: `${prefix}fences_total`, help: 'Endpoints fenced, by reason.', labelNames: ['router', 'reason'], registers });
  let lastPrimary: string | undefined;
  return router.on((e: RouterEvent) => {
    if (e.type === 'fenced') fences.inc({ router: routerName, reason: e.reason });
    if (e.type === 'primary-changed' && e.to !== undefined) {
      if (lastPrimary !== undefined && lastPrimary !== e.to) failovers.inc({ router: routerName, kind: e.cause });
      lastPrimary = e.to;
    }
  });
}
