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
import { connect } from 'node:net';
import { z } from 'zod';
import { InvalidInputError, RoutingError, isVectordrError } from '../../src/errors.js';
import { EndpointNameSchema } from '../../src/router/router-options.js';
import type { RouterCoreOptions } from '../../src/router/router-options.js';
import { FailoverRouter, ProbeError, errorText } from '../../src/router/router.js';
import type { EndpointObservation, RouterDriver, RouterEvent, RouterStatus } from '../../src/router/router.js';
import { withRetry } from '../../src/router/retry.js';
import type { RetryOptions } from '../../src/router/retry.js';
import { type Logger, silentLogger } from '../../src/logger.js';

/** What work receives: a `pg` PoolClient (declared minimally; cast to `pg.PoolClient` for more). */
export interface PgRouterClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** What `asPool()` returns: the slice of `pg.Pool` that `pgvectorAdapter({ pool })` uses. */
export interface PgRouterPool {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
  connect(): Promise<PgRouterClient & { release(destroy?: boolean | Error): void }>;
}

interface PgClientLike extends PgRouterClient {
  connect(): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error' | 'end', listener: (err: Error) => void): unknown;
}
interface PgPoolClient extends PgRouterClient {
  release(destroy?: boolean | Error): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}
interface PgPoolLike {
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
/** The parts of the `pg` module the router uses (pass `import pg from 'pg'`). */
export interface PgModuleLike {
  Pool: new (config: Record<string, unknown>) => PgPoolLike;
  Client: new (config: Record<string, unknown>) => PgClientLike;
}

const isPgModule = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as PgModuleLike).Pool === 'function' && typeof (v as PgModuleLike).Client === 'function';

export const PgRouterEndpointSchema = z.object({
  /** Appears in events, errors and metric labels (never the URL). */
  name: EndpointNameSchema,
  /** libpq-style URL; credentials in it are never logged or reported. */
  connectionString: z.string().min(1, 'a connectionString (postgres://user@host:port/db)'),
});
export type PgRouterEndpoint = z.input<typeof PgRouterEndpointSchema>;

export const PgRouterOptionsSchema = z.object({
  /** The `pg` module (`import pg from 'pg'`): the router creates one Pool per endpoint and a probe Client. */
  pg: z.custom<PgModuleLike>(isPgModule, 'the pg module (import pg from "pg")'),
  /** Every member of the cluster, in priority order (ties between equally advanced standbys go to the first). */
  endpoints: z.array(PgRouterEndpointSchema).min(1, 'at least one endpoint'),
  /** Connections per endpoint pool. @default 10 */
  poolMax: z.number().int().min(1).max(1000).default(10),
  /**
   * Refuse (as misconfigured) an endpoint whose database lacks the pgvector extension.
   * @default true
   */
  requireVector: z.boolean().default(true),
  /** `pg_promote(wait => true, wait_seconds)` waits this long for the promotion to finish. @default 60 */
  promoteWaitSeconds: z.number().int().min(1).max(3600).default(60),
});

export type PgRouterOptions = z.input<typeof PgRouterOptionsSchema> & RouterCoreOptions;

export type ReadPolicy = 'primary' | 'prefer-standby';

export interface PgWorkOptions {
  /** Retry on retryable routing errors (the work must be idempotent). @default false for writes, true for reads */
  idempotent?: boolean;
  retry?: RetryOptions;
  signal?: AbortSignal;
}

export interface PgReadOptions extends PgWorkOptions {
  /** @default 'primary' */
  policy?: ReadPolicy;
  /** For `prefer-standby`: the most a standby may lag. @default the router's maxLagBytes */
  maxLagBytes?: number;
}

const PROBE_SQL = `SELECT pg_is_in_recovery() AS standby,
  (SELECT system_identifier::text FROM pg_control_system()) AS system_id,
  (CASE WHEN pg_is_in_recovery() THEN COALESCE(pg_last_wal_replay_lsn(), '0/0'::pg_lsn) ELSE pg_current_wal_lsn() END)::text AS lsn,
  CASE WHEN pg_is_in_recovery()
    THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint()))
    ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline,
  CASE WHEN pg_is_in_recovery() THEN (EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 END AS replay_lag_ms,
  current_setting('default_transaction_read_only') = 'on' AS read_only,
  current_setting('server_version') AS version,
  (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector`;

const PROBE_APP = 'vectordr-router-probe';

/** Parses a pg_lsn text (`16/B374D848`). */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (m === null) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
// admin_shutdown, crash_shutdown, cannot_connect_now, connection exceptions, read-only transaction
const ROUTING_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '25006']);

/** True for errors that mean "this endpoint cannot do this work now" rather than "the work is wrong". */
export function isEndpointFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || ROUTING_SQLSTATES.has(code))) return true;
  const msg = err instanceof Error ? err.message : '';
  return /Connection terminated|connection error|Client was closed|timeout exceeded when trying to connect|not queryable|Connection ended/i.test(msg);
}

/** Strips anything URL-like (which may carry a password) from a driver message. */
function redact(msg: string): string {
  return msg.replace(/postgres(ql)?:\/\/\S+/gi, 'postgres://***');
}

class PgRouterDriver implements RouterDriver {
  readonly engine = 'pgvector';
  private readonly probes = new Map<string, PgClientLike>();
  onConnectionLost: (endpoint: string) => void = () => undefined;

  constructor(
    private readonly pg: PgModuleLike,
    private readonly urls: ReadonlyMap<string, string>,
    private readonly o: { requireVector: boolean; promoteWaitSeconds: number; logger: Logger },
  ) {}

  /** The endpoint's connection string (the one map of them: the router's pools use it too). */
  url(name: string): string {
    const u = this.urls.get(name);
    if (u === undefined) throw new InvalidInputError('INVALID_OPTIONS', `Unknown endpoint "${name}".`, { plugin: 'pgvector' });
    return u;
  }

  async probe(endpoint: string, timeoutMs: number): Promise<EndpointObservation> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.dropProbe(endpoint);
        reject(new ProbeError('timeout', `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.probeOnce(endpoint, timeoutMs), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async probeOnce(endpoint: string, timeoutMs: number): Promise<EndpointObservation> {
    let client = this.probes.get(endpoint);
    try {
      if (client === undefined) {
        const c = new this.pg.Client({ connectionString: this.url(endpoint), connectionTimeoutMillis: timeoutMs, application_name: PROBE_APP, keepAlive: true });
        this.probes.set(endpoint, c);
        client = c;
        // A probe connection that breaks (the server died) is the fastest failure signal there is.
        c.on('error', (err: Error) => {
          this.o.logger.debug({ endpoint, err: redact(err.message) }, 'vectordr router: probe connection lost');
          if (this.probes.get(endpoint) === c) this.dropProbe(endpoint);
          this.onConnectionLost(endpoint);
        });
        c.on('end', () => {
          if (this.probes.get(endpoint) === c) {
            this.probes.delete(endpoint);
            this.onConnectionLost(endpoint);
          }
        });
        await c.connect();
      }
      const { rows } = await client.query(PROBE_SQL);
      return this.observation(rows[0]);
    } catch (err) {
      // Only this probe's connection: a later probe may already have opened a new one.
      if (this.probes.get(endpoint) === client) this.dropProbe(endpoint);
      if (err instanceof ProbeError) throw err;
      const classified = classifyProbeError(err);
      // Cut off during the handshake: find out whether anything PostgreSQL-like listens there at all.
      if (classified.kind === 'unreachable' && /Connection terminated|ended unexpectedly/i.test(classified.message)) {
        const sniff = await sniffPostgres(this.url(endpoint), timeoutMs);
        if (sniff !== undefined) throw new ProbeError('misconfigured', sniff, { cause: err });
      }
      throw classified;
    }
  }

  private observation(row: Record<string, unknown> | undefined): EndpointObservation {
    if (row === undefined) throw new ProbeError('misconfigured', 'the role query returned no row');
    if (this.o.requireVector && (row.pgvector === null || row.pgvector === undefined)) {
      throw new ProbeError('misconfigured', 'the pgvector extension is not installed in this database (CREATE EXTENSION vector on the primary, or pass requireVector: false)');
    }
    const standby = row.standby === true;
    const lag = row.replay_lag_ms;
    return {
      role: standby ? 'standby' : 'primary',
      clusterId: String(row.system_id),
      epoch: Number(row.timeline),
      position: parseLsn(String(row.lsn)),
      ...(typeof lag === 'number' ? { replayLagMs: Math.max(0, Math.round(lag)) } : {}),
      readOnly: !standby && row.read_only === true,
      version: String(row.version),
    };
  }

  private dropProbe(endpoint: string): void {
    const c = this.probes.get(endpoint);
    this.probes.delete(endpoint);
    if (c !== undefined) destroyClient(c);
  }

  /** A short-lived connection for an administrative command. */
  private async admin<T>(endpoint: string, run: (c: PgClientLike) => Promise<T>): Promise<T> {
    const c = new this.pg.Client({ connectionString: this.url(endpoint), connectionTimeoutMillis: 5000, application_name: 'vectordr-router-admin' });
    // Without a listener a connection lost mid-command (a terminated backend) crashes the process;
    // the command in flight rejects with the same error, which the caller gets.
    c.on('error', (err: Error) => this.o.logger.warn({ endpoint, err: redact(err.message) }, 'vectordr router: administrative connection lost'));
    await c.connect();
    try {
      return await run(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async promote(endpoint: string): Promise<void> {
    await this.admin(endpoint, async (c) => {
      const { rows } = await c.query('SELECT pg_promote(true, $1) AS done', [this.o.promoteWaitSeconds]);
      if (rows[0]?.done !== true) throw new Error(`pg_promote did not finish within ${this.o.promoteWaitSeconds} s on "${endpoint}"`);
    });
  }

  async fence(endpoint: string): Promise<void> {
    await this.admin(endpoint, async (c) => {
      await c.query('ALTER SYSTEM SET default_transaction_read_only = on');
      await c.query('SELECT pg_reload_conf()');
      // Sessions already open keep their read-write default until they end: end them.
      await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> $1`, [PROBE_APP]);
    });
  }

  async unfence(endpoint: string): Promise<void> {
    await this.admin(endpoint, async (c) => {
      await c.query('ALTER SYSTEM RESET default_transaction_read_only');
      await c.query('SELECT pg_reload_conf()');
    });
  }

  close(): Promise<void> {
    for (const name of [...this.probes.keys()]) this.dropProbe(name);
    return Promise.resolve();
  }
}

/**
 * Sends PostgreSQL's SSLRequest: a PostgreSQL server answers with exactly one byte, 'S' or 'N'
 * (before any authentication or connection-limit check). Returns why the endpoint is not
 * PostgreSQL, or undefined when it is (or when the address cannot be sniffed: a socket path, a
 * key=value connection string).
 */
export function sniffPostgres(connectionString: string, timeoutMs: number): Promise<string | undefined> {
  let host: string;
  let port: number;
  try {
    const u = new URL(connectionString);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = u.port === '' ? 5432 : Number(u.port);
    if (host === '' || host.startsWith('/') || host.startsWith('%2F')) return Promise.resolve(undefined);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let settled = false;
    const done = (v: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('connect', () => sock.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    sock.on('data', (d: Buffer) => {
      const b = d[0];
      if (d.length === 1 && (b === 0x53 || b === 0x4e)) return done(undefined);
      const text = d.subarray(0, 16).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
      done(`the endpoint does not speak the PostgreSQL protocol (it answered an SSLRequest with "${text}"); check the host and port`);
    });
    sock.on('end', () => done('the endpoint does not speak the PostgreSQL protocol (it closed the connection on an SSLRequest); check the host and port'));
    sock.on('error', () => done(undefined));
  });
}

/**
 * Closes a pg client at once. `end()` alone sends Terminate and waits for the server to close the
 * socket, which never happens on a stalled link (a partition): the query in flight would hang. So
 * the socket is destroyed too (pg's `connection.stream`, when it is there); the query in flight
 * then rejects with a connection error.
 */
function destroyClient(c: object): void {
  const stream = (c as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
  (c as Partial<PgClientLike>).end?.().catch(() => undefined);
  stream?.destroy?.();
}

function classifyProbeError(err: unknown): ProbeError {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const msg = redact(errorText(err));
  if (/received invalid response|unexpected message|Unknown message code|invalid response/i.test(msg)) {
    return new ProbeError('misconfigured', `the endpoint does not speak the PostgreSQL protocol (${msg}); check the host and port`, { cause: err });
  }
  if (code === '28P01' || code === '28000' || code === '3D000' || code === '42501') {
    return new ProbeError('misconfigured', `${msg} (check the endpoint's user, password, database and privileges: the router needs pg_monitor and EXECUTE on pg_promote)`, { cause: err });
  }
  if (code === '42883' || code === '42P01') return new ProbeError('misconfigured', `the endpoint is not a PostgreSQL 10+ server the router understands (${msg})`, { cause: err });
  if (/timeout/i.test(msg)) return new ProbeError('timeout', msg, { cause: err });
  return new ProbeError('unreachable', code !== undefined && typeof code === 'string' ? `${code}: ${msg}` : msg, { cause: err });
}

/** A failover-aware pool over a PostgreSQL primary and its standbys. */
export class PgRouter {
  readonly core: FailoverRouter;
  private readonly driver: PgRouterDriver;
  private readonly opts: z.output<typeof PgRouterOptionsSchema> & { logger: Logger };
  private readonly pools = new Map<string, PgPoolLike>();
  private readonly active = new Map<string, Set<PgPoolClient>>();
  private rr = 0;

  /** Use `pgRouter(options)`. */
  constructor(core: FailoverRouter, driver: PgRouterDriver, opts: z.output<typeof PgRouterOptionsSchema> & { logger: Logger }) {
    this.core = core;
    this.driver = driver;
    this.opts = opts;
    driver.onConnectionLost = (endpoint) => core.reportFailure(endpoint);
    core.on((e) => this.onEvent(e));
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
        throw new InvalidInputError('INVALID_OPTIONS', `session({ lastWriteLsn }) takes a PostgreSQL LSN such as "16/B374D848" (from another session's lastWriteLsn); got ${JSON.stringify(opts.lastWriteLsn.slice(0, 40))}.`, { plugin: 'pgvector' });
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
    const pick = (): Promise<string> => this.pick(policy, opts.maxLagBytes);
    return {
      query: async (text, values) => {
        const name = await pick();
        return this.runOn(name, (c) => c.query(text, values));
      },
      connect: async () => {
        const name = await pick();
        try {
          return await this.pool(name).connect();
        } catch (err) {
          if (isEndpointFailure(err)) throw await this.core.failedUnder(name, redactError(err), 'not-applied');
          throw err;
        }
      },
    };
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
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((p) => p.end()));
  }

  /** @internal Runs `fn` on `endpoint`; routing failures become `RoutingError`s. */
  async runOn<T>(endpoint: string, fn: (client: PgRouterClient) => Promise<T>): Promise<T> {
    const r = await this.runIf(endpoint, undefined, fn);
    return (r as { value: T }).value;
  }

  /** @internal Like `runOn`, but only when `check` passes on the connection (else undefined). */
  async runIf<T>(endpoint: string, check: ((client: PgRouterClient) => Promise<boolean>) | undefined, fn: (client: PgRouterClient) => Promise<T>): Promise<{ value: T } | undefined> {
    let client: PgPoolClient;
    try {
      client = await this.pool(endpoint).connect();
    } catch (err) {
      if (isEndpointFailure(err)) throw await this.core.failedUnder(endpoint, redactError(err), 'not-applied');
      throw err;
    }
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
      p = new this.opts.pg.Pool({ connectionString: this.driver.url(endpoint), max: this.opts.poolMax, connectionTimeoutMillis: Math.max(1000, this.core.options.probeTimeoutMs), application_name: 'vectordr-router' });
      // An idle connection died (a terminated backend, a dead server): pg emits it on the pool, which
      // would crash the process without a listener.
      p.on('error', (err: Error) => {
        this.opts.logger.warn({ endpoint, err: redact(err.message) }, 'vectordr router: an idle pooled connection was lost');
        this.core.reportFailure(endpoint);
      });
      this.pools.set(endpoint, p);
    }
    return p;
  }

  /** A down or fenced endpoint: end the work still running there and drop its idle connections. */
  private detach(endpoint: string): void {
    const p = this.pools.get(endpoint);
    this.pools.delete(endpoint);
    for (const c of this.active.get(endpoint) ?? []) destroyClient(c);
    p?.end().catch(() => undefined);
  }

  private onEvent(e: RouterEvent): void {
    if (e.type === 'fenced' || (e.type === 'endpoint-health' && e.to === 'down')) this.detach(e.endpoint);
  }
}

function redactError(err: unknown): Error {
  const e = new Error(redact(errorText(err)));
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string') (e as Error & { code: string }).code = code;
  return e;
}

/** Read-your-writes: see `PgRouter.session()`. */
export class PgRouterSession {
  private lastWrite: bigint | undefined;

  constructor(
    private readonly router: PgRouter,
    lastWrite?: bigint,
  ) {
    this.lastWrite = lastWrite;
  }

  /** The WAL position this session's reads must see (after its last write). */
  get lastWriteLsn(): string | undefined {
    return this.lastWrite === undefined ? undefined : formatLsn(this.lastWrite);
  }

  async write<T>(fn: (client: PgRouterClient) => Promise<T>, opts: PgWorkOptions = {}): Promise<T> {
    return this.router.write(async (c) => {
      const out = await fn(c);
      // The insert position is at or past this session's commit record: a standby replayed past it has the write.
      const { rows } = await c.query('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const lsn = parseLsn(String(rows[0]?.lsn));
      if (this.lastWrite === undefined || lsn > this.lastWrite) this.lastWrite = lsn;
      return out;
    }, opts);
  }

  async read<T>(fn: (client: PgRouterClient) => Promise<T>, opts: Omit<PgReadOptions, 'policy'> = {}): Promise<T> {
    const need = this.lastWrite;
    if (need === undefined) return this.router.read(fn, { ...opts, policy: 'prefer-standby' });
    const once = async (): Promise<T> => {
      for (const s of this.router.core.readableStandbys(opts.maxLagBytes === undefined ? {} : { maxLagBytes: opts.maxLagBytes })) {
        const seen = this.router.core.positionOf(s);
        const check = seen !== undefined && seen >= need ? undefined : async (c: PgRouterClient) => (await c.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [formatLsn(need)])).rows[0]?.ok === true;
        try {
          const r = await this.router.runIf(s, check, fn);
          if (r !== undefined) return r.value;
        } catch (err) {
          if (!(err instanceof RoutingError)) throw err; // a standby failing under a read: try the next, then the primary
        }
      }
      const name = await this.router.core.waitForPrimary({ signal: opts.signal });
      return this.router.runOn(name, fn);
    };
    return opts.idempotent === false ? once() : withRetry(once, { signal: opts.signal, ...opts.retry });
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
    throw new InvalidInputError('INVALID_OPTIONS', `Invalid pgRouter options: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, { plugin: 'pgvector' });
  }
  const o = parsed.data;
  const urls = new Map(o.endpoints.map((e) => [e.name, e.connectionString]));
  const logger = core.logger ?? silentLogger;
  const driver = new PgRouterDriver(o.pg, urls, { requireVector: o.requireVector, promoteWaitSeconds: o.promoteWaitSeconds, logger });
  const router = new FailoverRouter(driver, o.endpoints.map((e) => e.name), core); // validates the core options
  return new PgRouter(router, driver, { ...o, logger });
}
