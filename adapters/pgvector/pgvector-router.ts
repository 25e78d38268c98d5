/**
 * A failover-aware PostgreSQL pool: one `pg` Pool per endpoint behind the engine-neutral
 * `FailoverRouter`. Writes go to the one primary; reads by policy; in-flight work on a failed or
 * fenced endpoint rejects with a retryable `RoutingError` naming the new primary.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { pgRouter, pgLease } from 'vectordr/adapters/pgvector';
 *
 * const router = pgRouter({
 *   pg,
 *   endpoints: [
 *     { name: 'east', connectionString: process.env.PG_EAST },
 *     { name: 'west', connectionString: process.env.PG_WEST },
 *   ],
 *   mode: 'promote',
 *   lease: pgLease({ pg, connectionString: process.env.PG_WITNESS }),
 * });
 * await router.start();
 * await router.write((c) => c.query('INSERT INTO docs (id, embedding) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [id, vec]), { idempotent: true });
 * const hits = await router.read((c) => c.query('SELECT id FROM docs ORDER BY embedding <=> $1 LIMIT 10', [q]), { policy: 'prefer-standby' });
 * ```
 */
import type { z } from 'zod';
import { InvalidInputError } from '../../src/errors.js';
import { displayOnly } from '../../src/display.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import { FailoverRouter } from '../../src/router/router.js';
import type { RouterEvent, RouterStatus } from '../../src/router/router.js';
import { withRetry } from '../../src/router/retry.js';
import { parseLsn } from './pgvector-lsn.js';
import { PgRouterDriver } from './pgvector-router-driver.js';
import { PgRouterOptionsSchema } from './pgvector-router-options.js';
import type { PgReadOptions, PgRouterClient, PgRouterOptions, PgRouterPool, PgWorkOptions, ReadPolicy } from './pgvector-router-options.js';
import { EndpointPools, poolView } from './pgvector-router-pool.js';
import { PgRouterSession } from './pgvector-router-session.js';

/** A failover-aware pool over a PostgreSQL primary and its standbys. */
export class PgRouter {
  readonly core: FailoverRouter;
  private readonly pools: EndpointPools;
  private rr = 0;

  /** Use `pgRouter(options)`. */
  constructor(core: FailoverRouter, driver: PgRouterDriver, opts: z.output<typeof PgRouterOptionsSchema> & { logger: Logger }) {
    this.core = core;
    this.pools = new EndpointPools(core, opts.pg, (endpoint) => driver.url(endpoint), opts);
    driver.onConnectionLost = (endpoint) => core.reportFailure(endpoint);
    core.on((e) => this.onEvent(e));
    displayOnly(this, 'PgRouter', () => ({ endpoints: core.status().endpoints.map((e) => e.name), primary: core.primary }));
  }

  /** Probes every endpoint and waits for a primary (`startTimeoutMs`); fails with `NO_PRIMARY`. */
  start(signal?: AbortSignal): Promise<string> {
    return this.core.start(signal);
  }

  get primary(): string | undefined {
    return this.core.primary;
  }

  status(): RouterStatus {
    return this.core.status();
  }

  on(listener: (event: RouterEvent) => void): () => void {
    return this.core.on(listener);
  }

  /** Runs `fn` on a connection to the primary. */
  write<T>(fn: (client: PgRouterClient) => Promise<T>, opts: PgWorkOptions = {}): Promise<T> {
    const once = async (): Promise<T> => {
      const name = await this.core.waitForPrimary({ signal: opts.signal });
      return this.runOn(name, fn);
    };
    return opts.idempotent === true ? withRetry(once, { signal: opts.signal, ...opts.retry }) : once();
  }

  /** Runs `fn` where the policy says: the primary, or a standby within the lag bound (else the primary). */
  read<T>(fn: (client: PgRouterClient) => Promise<T>, opts: PgReadOptions = {}): Promise<T> {
    const once = async (): Promise<T> => this.runOn(await this.pick(opts.policy ?? 'primary', opts.maxLagBytes, opts.signal), fn);
    return opts.idempotent === false ? once() : withRetry(once, { signal: opts.signal, ...opts.retry });
  }

  /** Where a read by `policy` goes: a standby within the lag bound (round robin), else the primary once there is one. */
  private pick(policy: ReadPolicy, maxLagBytes: number | undefined, signal?: AbortSignal): Promise<string> {
    if (policy === 'prefer-standby') {
      const standbys = this.core.readableStandbys(maxLagBytes === undefined ? {} : { maxLagBytes });
      if (standbys.length > 0) return Promise.resolve(standbys[this.rr++ % standbys.length] as string);
    }
    return this.core.waitForPrimary({ signal });
  }

  /** One statement on the primary (not retried: see `write(..., { idempotent: true })`). */
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }> {
    return this.write((c) => c.query(text, values));
  }

  /**
   * A session with read-your-writes: after `session.write`, `session.read` goes only to a standby
   * that has replayed past that write (checked on the standby itself), else to the primary.
   * `lastWriteLsn` continues a session from its token (`session.lastWriteLsn`), e.g. carried in a
   * cookie to the next request, which another instance of the service may serve.
   */
  session(opts: { lastWriteLsn?: string } = {}): PgRouterSession {
    let lsn: bigint | undefined;
    if (opts.lastWriteLsn !== undefined) {
      try {
        lsn = parseLsn(opts.lastWriteLsn);
      } catch {
        throw new InvalidInputError(
          'INVALID_OPTIONS',
          `session({ lastWriteLsn }) takes a PostgreSQL LSN such as "16/B374D848" (from another ` +
            `session's lastWriteLsn); got ${JSON.stringify(opts.lastWriteLsn.slice(0, 40))}.`,
          { plugin: 'pgvector' },
        );
      }
    }
    return new PgRouterSession(this, lsn);
  }

  /**
   * A `pg.Pool`-shaped view that picks the endpoint at every `connect()` / `query()`: give it to
   * `pgvectorAdapter({ pool })` so that snapshots read from a standby (`'prefer-standby'`: the
   * adapter takes its consistent snapshot there, recording the replay LSN) and restores write to
   * the primary (`'primary'`), wherever the router finds them at the time.
   *
   * @example
   * ```ts
   * await repo.snapshot(pgvectorAdapter({ pool: router.asPool('prefer-standby') }), 'documents');
   * await repo.restore(pgvectorAdapter({ pool: router.asPool('primary') }), { collection: 'documents' });
   * ```
   */
  asPool(policy: ReadPolicy = 'primary', opts: { maxLagBytes?: number } = {}): PgRouterPool {
    return poolView(this.pools, () => this.pick(policy, opts.maxLagBytes));
  }

  /** Planned switchover (failback) to a caught-up standby; see `FailoverRouter.switchover`. */
  switchover(target: string, opts?: { timeoutMs?: number; maxLagBytes?: number }): Promise<void> {
    return this.core.switchover(target, opts);
  }

  unfence(endpoint: string): void {
    this.core.unfence(endpoint);
  }

  async close(): Promise<void> {
    await this.core.close();
    await this.pools.close();
  }

  /** @internal Runs `fn` on `endpoint`; routing failures become `RoutingError`s. */
  runOn<T>(endpoint: string, fn: (client: PgRouterClient) => Promise<T>): Promise<T> {
    return this.pools.run(endpoint, fn);
  }

  /** @internal Like `runOn`, but only when `check` passes on the connection (else undefined). */
  runIf<T>(
    endpoint: string,
    check: ((client: PgRouterClient) => Promise<boolean>) | undefined,
    fn: (client: PgRouterClient) => Promise<T>,
  ): Promise<{ value: T } | undefined> {
    return this.pools.runIf(endpoint, check, fn);
  }

  private onEvent(e: RouterEvent): void {
    if (e.type === 'fenced' || (e.type === 'endpoint-health' && e.to === 'down')) this.pools.detach(e.endpoint);
  }
}

/**
 * Creates a failover-aware router over a PostgreSQL primary and its standbys. Call `start()` before
 * use and `close()` at the end.
 */
export function pgRouter(options: PgRouterOptions): PgRouter {
  const { pg, endpoints, poolMax, requireVector, promoteWaitSeconds, ...core } = options;
  const parsed = PgRouterOptionsSchema.safeParse({ pg, endpoints, poolMax, requireVector, promoteWaitSeconds });
  if (!parsed.success) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      `Invalid pgRouter options: ` + `${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      { plugin: 'pgvector' },
    );
  }
  const o = parsed.data;
  const urls = new Map(o.endpoints.map((e) => [e.name, e.connectionString]));
  const logger = core.logger ?? silentLogger;
  const driver = new PgRouterDriver(o.pg, urls, { requireVector: o.requireVector, promoteWaitSeconds: o.promoteWaitSeconds, logger });
  const router = new FailoverRouter(
    driver,
    o.endpoints.map((e) => e.name),
    core,
  ); // validates the core options
  return new PgRouter(router, driver, { ...o, logger });
}
