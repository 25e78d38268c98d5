/** Read-your-writes sessions over a `PgRouter`: see `PgRouter.session()`. */
import { RoutingError } from '../../src/errors.js';
import { withRetry } from '../../src/router/retry.js';
import { formatLsn, parseLsn } from './pgvector-lsn.js';
import type { PgRouter } from './pgvector-router.js';
import type { PgReadOptions, PgRouterClient, PgWorkOptions } from './pgvector-router-options.js';

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
        const check =
          seen !== undefined && seen >= need
            ? undefined
            : async (c: PgRouterClient) =>
                (await c.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [formatLsn(need)])).rows[0]?.ok === true;
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
