/**
 * What the adapter's parts share: the driver, where a collection's table lives (`schema.table`, or
 * the `schema` option's table), and running work with typed errors, on one session or in one
 * transaction.
 */
import { engineCall } from '../../src/engine-errors.js';
import type { Logger } from '../../src/logger.js';
import type { PgDriver, PgSession } from './pgvector-driver.js';
import { pgvectorErrors } from './pgvector-errors.js';
import { collectionRef, qualified } from './pgvector-sql.js';

export class PgvectorContext {
  constructor(
    readonly driver: PgDriver,
    private readonly schemaName: string,
    readonly logger: Logger,
  ) {}

  /**
   * Schema and table of a collection name: `schema.table` when it holds a dot, else the `schema`
   * option's table (docs/adapters/pgvector.md, "Collection names").
   */
  ref(name: string): [schema: string, table: string] {
    return collectionRef(name, this.schemaName);
  }

  display(name: string): string {
    return this.ref(name).join('.');
  }

  /** The quoted, schema-qualified table of a collection. */
  table(name: string): string {
    return qualified(...this.ref(name));
  }

  /** Runs one piece of work; what it throws comes out typed (`pgvectorErrors`). */
  run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return engineCall(pgvectorErrors, what, undefined, fn);
  }

  async withSession<T>(fn: (s: PgSession) => Promise<T>): Promise<T> {
    const s = await this.driver.acquire();
    let broken = false;
    try {
      return await fn(s);
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      s.release(broken);
    }
  }

  /** Runs fn in a transaction on one session, rolling back on error. */
  transaction<T>(what: string, fn: (s: PgSession) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    return this.run(what, () =>
      this.withSession(async (s) => {
        await s.query(begin);
        try {
          const out = await fn(s);
          await s.query('COMMIT');
          return out;
        } catch (err) {
          await s.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    );
  }
}
