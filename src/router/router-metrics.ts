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
import type { GaugeLike, PromClientLike } from '../metrics/prom-client-like.js';
import type { FailoverRouter, RouterEvent, RouterStatus } from './router.js';

export type { PromClientLike } from '../metrics/prom-client-like.js';

export interface RouterMetricsOptions<R = unknown> {
  prom: PromClientLike<R>;
  /** @default prom.register */
  registry?: R;
  /** @default 'vectordr_router_' */
  prefix?: string;
}

/** Anything with a core router: `FailoverRouter` or an engine router such as `PgRouter`. */
type HasStatus = Pick<FailoverRouter, 'status' | 'on'> & {
  readonly options?: { name: string };
  readonly core?: Pick<FailoverRouter, 'options'>;
};

const ROLES = ['primary', 'standby', 'unknown'] as const;

/** Registers the router's metrics; returns a function that stops the counters (gauges stay registered). */
export function registerRouterMetrics<R>(router: HasStatus, options: RouterMetricsOptions<R>): () => void {
  const { prom } = options;
  const registers = [options.registry ?? prom.register];
  const prefix = options.prefix ?? 'vectordr_router_';
  const routerName = router.options?.name ?? router.core?.options.name ?? 'default';
  // Gauges are filled from one status() read per gauge at scrape time (cheap: a few endpoints).
  const gauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    fill: (set: (labels: Record<string, string>, v: number) => void, s: RouterStatus) => void,
  ): void => {
    const g: GaugeLike = new prom.Gauge({
      name: `${prefix}${name}`,
      help,
      labelNames: ['router', ...labelNames],
      registers,
      collect() {
        g.reset();
        fill((labels, v) => g.set({ router: routerName, ...labels }, v), router.status());
      },
    });
  };
  gauge(
    'endpoint_up',
    'Whether the endpoint answers probes (1) or is down (0); suspect and recovering count as up.',
    ['endpoint'],
    (set, s) => {
      for (const e of s.endpoints) set({ endpoint: e.name }, e.health === 'down' || e.health === 'unknown' ? 0 : 1);
    },
  );
  gauge('endpoint_role', "The endpoint's role as last probed: 1 for its role, 0 for the others.", ['endpoint', 'role'], (set, s) => {
    for (const e of s.endpoints) for (const r of ROLES) set({ endpoint: e.name, role: r }, e.role === r ? 1 : 0);
  });
  gauge(
    'endpoint_fenced',
    'Whether the router fenced the endpoint (a stale or second primary): no work goes there.',
    ['endpoint'],
    (set, s) => {
      for (const e of s.endpoints) set({ endpoint: e.name }, e.fenced === undefined ? 0 : 1);
    },
  );
  gauge(
    'replication_lag_bytes',
    'Bytes a standby is behind the primary, by the last probes (the RPO of a failover to it).',
    ['endpoint'],
    (set, s) => {
      for (const e of s.endpoints) if (e.lagBytes !== undefined) set({ endpoint: e.name }, e.lagBytes);
    },
  );
  gauge(
    'replay_lag_seconds',
    'Time since the standby replayed its last transaction (grows while the primary is idle).',
    ['endpoint'],
    (set, s) => {
      for (const e of s.endpoints) if (e.replayLagMs !== undefined) set({ endpoint: e.name }, e.replayLagMs / 1000);
    },
  );
  gauge('primary_present', 'Whether the router has a primary to send writes to.', [], (set, s) => set({}, s.primary === undefined ? 0 : 1));
  gauge(
    'no_primary_seconds_total',
    'Total time without a primary since the router started (writes waited or failed meanwhile).',
    [],
    (set, s) => set({}, s.noPrimaryMs / 1000),
  );
  const failovers = new prom.Counter({
    name: `${prefix}failovers_total`,
    help: 'Primary changes to a different endpoint, by cause (promoted by this router, switchover, ' + 'followed an external promotion).',
    labelNames: ['router', 'kind'],
    registers,
  });
  const fences = new prom.Counter({
    name: `${prefix}fences_total`,
    help: 'Endpoints fenced, by reason.',
    labelNames: ['router', 'reason'],
    registers,
  });
  let lastPrimary: string | undefined;
  return router.on((e: RouterEvent) => {
    if (e.type === 'fenced') fences.inc({ router: routerName, reason: e.reason });
    if (e.type === 'primary-changed' && e.to !== undefined) {
      if (lastPrimary !== undefined && lastPrimary !== e.to) failovers.inc({ router: routerName, kind: e.cause });
      lastPrimary = e.to;
    }
  });
}
