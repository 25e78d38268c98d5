/**
 * The router's connections: one `pg` Pool per endpoint, the clients checked out of each (ended when
 * their endpoint goes down or is fenced), work on one endpoint with its failures turned into
 * retryable `RoutingError`s, and the `pg.Pool`-shaped view `asPool()` hands to `pgvectorAdapter`.
 */
import { isVectordrError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { FailoverRouter } from '../../src/router/router.js';
import { destroyClient } from './pgvector-router-driver.js';
import { isEndpointFailure, redact, redactError } from './pgvector-router-errors.js';
import type { PgModuleLike, PgPoolClient, PgPoolLike, PgRouterClient, PgRouterPool } from './pgvector-router-options.js';

export class EndpointPools {
  private readonly pools = new Map<string, PgPoolLike>();
  private readonly active = new Map<string, Set<PgPoolClient>>();

  constructor(
    private readonly core: FailoverRouter,
    private readonly pg: PgModuleLike,
    private readonly url: (endpoint: string) => string,
    private readonly o: { poolMax: number; logger: Logger },
  ) {}

  /** A client checked out on `endpoint`; a connection failure becomes a `RoutingError` (not applied). */
  async connect(endpoint: string): Promise<PgPoolClient> {
    try {
      return await this.pool(endpoint).connect();
    } catch (err) {
      if (isEndpointFailure(err)) throw await this.core.failedUnder(endpoint, redactError(err), 'not-applied');
      throw err;
    }
  }

  /** Runs `fn` on `endpoint`; routing failures become `RoutingError`s. */
  async run<T>(endpoint: string, fn: (client: PgRouterClient) => Promise<T>): Promise<T> {
    const r = await this.runIf(endpoint, undefined, fn);
    return (r as { value: T }).value;
  }

  /** Runs `fn` on `endpoint` only when `check` passes on the connection (else undefined); failures as `run`. */
  async runIf<T>(
    endpoint: string,
    check: ((client: PgRouterClient) => Promise<boolean>) | undefined,
    fn: (client: PgRouterClient) => Promise<T>,
  ): Promise<{ value: T } | undefined> {
    const client = await this.connect(endpoint);
    const set = this.active.get(endpoint) ?? new Set<PgPoolClient>();
    this.active.set(endpoint, set);
    set.add(client);
    let broken = false;
    // pg emits a connection loss on a checked-out client as an 'error' event, which would crash the
    // process without a listener; the query in flight rejects with it as well, and is handled below.
    const onError = (): void => {
      broken = true;
      this.core.reportFailure(endpoint);
    };
    client.on('error', onError);
    try {
      if (check !== undefined && !(await check(client))) return undefined;
      return { value: await fn(client) };
    } catch (err) {
      if (isEndpointFailure(err) && !isVectordrError(err)) {
        broken = true;
        throw await this.core.failedUnder(endpoint, redactError(err), 'unknown');
      }
      throw err;
    } finally {
      set.delete(client);
      client.off('error', onError);
      client.release(broken);
    }
  }

  private pool(endpoint: string): PgPoolLike {
    let p = this.pools.get(endpoint);
    if (p === undefined) {
      p = new this.pg.Pool({
        connectionString: this.url(endpoint),
        max: this.o.poolMax,
        connectionTimeoutMillis: Math.max(1000, this.core.options.probeTimeoutMs),
        application_name: 'vectordr-router',
      });
      // An idle connection died (a terminated backend, a dead server): pg emits it on the pool, which
      // would crash the process without a listener.
      p.on('error', (err: Error) => {
        this.o.logger.warn({ endpoint, err: redact(err.message) }, 'vectordr router: an idle pooled connection was lost');
        this.core.reportFailure(endpoint);
      });
      this.pools.set(endpoint, p);
    }
    return p;
  }

  /** A down or fenced endpoint: end the work still running there and drop its idle connections. */
  detach(endpoint: string): void {
    const p = this.pools.get(endpoint);
    this.pools.delete(endpoint);
    for (const c of this.active.get(endpoint) ?? []) destroyClient(c);
    p?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((p) => p.end()));
  }
}

/** A `pg.Pool`-shaped view whose every `query()` / `connect()` goes to the endpoint `pick` names at the time. */
export function poolView(pools: EndpointPools, pick: () => Promise<string>): PgRouterPool {
  return {
    query: async (text, values) => {
      const name = await pick();
      return pools.run(name, (c) => c.query(text, values));
    },
    connect: async () => pools.connect(await pick()),
  };
}
