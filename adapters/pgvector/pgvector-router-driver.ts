/**
 * The PostgreSQL `RouterDriver`: what a probe, a promotion and a fence mean for PostgreSQL. A probe
 * is one query on a long-lived connection per endpoint (role, system identifier, timeline, LSN, lag,
 * read-only default); a promotion is `pg_promote()`; a fence is `default_transaction_read_only`
 * plus ending the other sessions.
 */
import { InvalidInputError } from '../../src/errors.js';
import { displayOnly } from '../../src/display.js';
import type { Logger } from '../../src/logger.js';
import { ProbeError } from '../../src/router/router.js';
import type { EndpointObservation, RouterDriver } from '../../src/router/router.js';
import { parseLsn } from './pgvector-lsn.js';
import { classifyProbeError, redact } from './pgvector-router-errors.js';
import type { PgClientLike, PgModuleLike } from './pgvector-router-options.js';
import { sniffPostgres } from './pgvector-wire-sniff.js';

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

export class PgRouterDriver implements RouterDriver {
  readonly engine = 'pgvector';
  private readonly probes = new Map<string, PgClientLike>();
  onConnectionLost: (endpoint: string) => void = () => undefined;

  constructor(
    private readonly pg: PgModuleLike,
    private readonly urls: ReadonlyMap<string, string>,
    private readonly o: { requireVector: boolean; promoteWaitSeconds: number; logger: Logger },
  ) {
    displayOnly(this, 'PgRouterDriver', () => ({ engine: this.engine, endpoints: [...urls.keys()] }));
  }

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
        const c = new this.pg.Client({
          connectionString: this.url(endpoint),
          connectionTimeoutMillis: timeoutMs,
          application_name: PROBE_APP,
          keepAlive: true,
        });
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
      throw new ProbeError(
        'misconfigured',
        'the pgvector extension is not installed in this database (CREATE EXTENSION vector on the ' +
          'primary, or pass requireVector: false)',
      );
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
    const c = new this.pg.Client({
      connectionString: this.url(endpoint),
      connectionTimeoutMillis: 5000,
      application_name: 'vectordr-router-admin',
    });
    // Without a listener a connection lost mid-command (a terminated backend) crashes the process;
    // the command in flight rejects with the same error, which the caller gets.
    c.on('error', (err: Error) =>
      this.o.logger.warn({ endpoint, err: redact(err.message) }, 'vectordr router: administrative connection lost'),
    );
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
      await c.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client ` +
          `backend' AND pid <> pg_backend_pid() AND application_name <> $1`,
        [PROBE_APP],
      );
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
 * Closes a pg client at once. `end()` alone sends Terminate and waits for the server to close the
 * socket, which never happens on a stalled link (a partition): the query in flight would hang. So
 * the socket is destroyed too (pg's `connection.stream`, when it is there); the query in flight
 * then rejects with a connection error.
 */
export function destroyClient(c: object): void {
  const stream = (c as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
  (c as Partial<PgClientLike>).end?.().catch(() => undefined);
  stream?.destroy?.();
}
