import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { Lease } from './lease.js';

const isLease = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as Lease).acquire === 'function' && typeof (v as Lease).release === 'function';

/** Endpoint names appear in events, errors and metric labels: short identifiers, never URLs. */
export const EndpointNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
    'an endpoint name is 1-63 letters, digits, "_", "." or "-" (it becomes a metric label; never a URL)',
  );

/** Engine-neutral router options (timings, thresholds, failover mode). Engine routers extend them. */
export const RouterCoreOptionsSchema = z
  .object({
    /**
     * How often each endpoint is probed while it is healthy. Follow mode discovers an external
     * promotion within one interval.
     * @default 1000
     */
    probeIntervalMs: z.number().int().min(50).max(600_000).default(1000),
    /**
     * How often an endpoint is re-probed while `suspect`, `down` or `recovering`: detection time is
     * about `failThreshold × fastProbeIntervalMs` after the first failure.
     * @default 100
     */
    fastProbeIntervalMs: z.number().int().min(10).max(60_000).default(100),
    /**
     * A probe (connect when needed, plus one query) that takes longer fails. Too short and a slow
     * network looks like a dead endpoint; too long and detection is slow.
     * @default 1000
     */
    probeTimeoutMs: z.number().int().min(10).max(120_000).default(1000),
    /** Consecutive failed probes that make an endpoint `down`. @default 3 */
    failThreshold: z.number().int().min(1).max(100).default(3),
    /** Consecutive good probes before a `down` endpoint is routed to again. @default 2 */
    recoverThreshold: z.number().int().min(1).max(100).default(2),
    /**
     * `follow`: an external system (an operator, Patroni, a recovery plan) promotes; the router
     * discovers the new primary. `promote`: the router promotes the most advanced standby itself
     * when the primary is down, guarded by `lease`.
     * @default 'follow'
     */
    mode: z.enum(['follow', 'promote']).default('follow'),
    /** Required in promote mode: the lease every instance of the application shares. */
    lease: z.custom<Lease>(isLease, 'a Lease (memoryLease(), pgLease(...) or your own)').optional(),
    /** How long a promotion lease is held; other instances cannot promote within it. @default 15000 */
    leaseTtlMs: z.number().int().min(1000).max(3_600_000).default(15_000),
    /** Identifies this instance as a lease holder. @default a random id */
    instanceId: z.string().min(1).max(200).optional(),
    /**
     * What fencing a stale primary (an older timeline, or a second primary) does: `route` only stops
     * this router sending work there; `read-only` also makes the endpoint refuse writes from every
     * client (PostgreSQL: `ALTER SYSTEM SET default_transaction_read_only`, reload, and end the
     * other sessions).
     * @default 'route'
     */
    fence: z.enum(['route', 'read-only']).default('route'),
    /** `start()` probes for this long for a primary before it fails with `NO_PRIMARY`. @default 10000 */
    startTimeoutMs: z.number().int().min(0).max(3_600_000).default(10_000),
    /** Work waits this long for a primary (during a failover) before it fails with `NO_PRIMARY`. @default 5000 */
    acquireTimeoutMs: z.number().int().min(0).max(3_600_000).default(5000),
    /**
     * When work fails under a primary, the error waits up to this long for the router to find the
     * new primary, so that it can name it (`RoutingError.newPrimary`).
     * @default 2000
     */
    errorWaitMs: z.number().int().min(0).max(600_000).default(2000),
    /** Standbys further behind the primary than this are not read from (`prefer-standby`). @default 16 MiB */
    maxLagBytes: z
      .number()
      .int()
      .min(0)
      .default(16 * 1024 * 1024),
    /** Name used in metric labels and events. @default 'default' */
    name: EndpointNameSchema.default('default'),
    logger: z.custom<Logger>().optional(),
  })
  .refine((o) => o.probeTimeoutMs <= o.probeIntervalMs, {
    message: 'probeTimeoutMs must not exceed probeIntervalMs (probes would overlap)',
    path: ['probeTimeoutMs'],
  })
  .refine((o) => o.mode !== 'promote' || o.lease !== undefined, {
    message:
      'promote mode needs a lease shared by every instance (memoryLease() within one process, ' +
      'pgLease(...) across processes), so two instances never promote two primaries',
    path: ['lease'],
  })
  .refine((o) => o.leaseTtlMs > o.probeTimeoutMs * 2, {
    message: 'leaseTtlMs must be more than twice probeTimeoutMs (a promotion probes, promotes and probes again under it)',
    path: ['leaseTtlMs'],
  });

export type RouterCoreOptions = z.input<typeof RouterCoreOptionsSchema>;
export type ResolvedRouterCoreOptions = z.output<typeof RouterCoreOptionsSchema>;
