/**
 * The minimal slice of a PostgreSQL client the adapter needs. `pg` (Pool or Client) and PGlite both
 * satisfy `PgQueryable`; only `pg` offers COPY streams. Declared here rather than imported so that
 * neither client is a hard dependency.
 */
import type { Readable, Writable } from 'node:stream';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { type Logger, silentLogger } from '../../src/logger.js';

export interface PgQueryResult {
  rows: Record<string, unknown>[];
}

/** Anything with `query(text, values)`: pg.Pool, pg.Client, pg.PoolClient, PGlite. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
}

/** A `pg` Pool (connect hands out a client for a transaction). */
export interface PgPoolLike extends PgQueryable {
  connect(): Promise<PgPoolClientLike>;
}

export interface PgPoolClientLike extends PgQueryable {
  release(err?: Error | boolean): void;
  /** `pg` clients are EventEmitters: a connection lost while checked out is emitted as 'error'. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
  off?(event: 'error', listener: (err: Error) => void): unknown;
}

/** One connection held for a transaction or a COPY. */
export interface PgSession extends PgQueryable {
  /** Set when the connection was left mid-protocol (a COPY stream abandoned early): never reuse it. */
  broken: boolean;
  /** `COPY ... TO STDOUT (FORMAT binary)` as a byte stream; absent on PGlite. */
  copyOut?(sql: string): AsyncIterable<Uint8Array>;
  /**
   * `COPY ... FROM STDIN` from chunks (on PGlite through its /dev/blob device). Chunks are pulled as
   * the connection takes them, so an async source encodes while the server parses; a source that
   * throws ends the COPY with CopyFail (the statement fails, the connection stays usable).
   */
  copyIn?(sql: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void>;
  /** `COPY ... TO STDOUT` collected in memory (PGlite); callers page it to bound memory. */
  copyOutBuffered?(sql: string): Promise<Uint8Array>;
  release(broken?: boolean): void;
}

export interface PgDriver {
  readonly kind: 'pg' | 'pglite';
  /** Whether a session can be held while other statements run (a pool of two or more connections). */
  readonly concurrent: boolean;
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
  acquire(): Promise<PgSession>;
}

type CopyModule = typeof import('pg-copy-streams');
let copyModule: Promise<CopyModule> | undefined;
function loadCopy(): Promise<CopyModule> {
  copyModule ??= import('pg-copy-streams');
  return copyModule;
}

/** Submittable-capable query: what pg-copy-streams needs from a pg client. */
interface PgSubmitter {
  query(stream: unknown): unknown;
}

/**
 * @param drainAbandonedCopy read an abandoned COPY to its end instead of marking the connection
 *   broken: for a caller's own Client, which cannot be replaced.
 */
function pgSession(client: PgQueryable, release: (broken?: boolean) => void, drainAbandonedCopy = false): PgSession {
  const session: PgSession = {
    broken: false,
    query: (t, v) => client.query(t, v),
    async *copyOut(sql: string): AsyncIterable<Uint8Array> {
      const { to } = await loadCopy();
      const stream = (client as unknown as PgSubmitter).query(to(sql)) as Readable;
      // An explicit iterator: leaving early must not call the stream iterator's return(), which
      // would destroy the stream before we decide between draining and discarding the connection.
      const it = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      let ended = false;
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) {
            ended = true;
            break;
          }
          yield r.value;
        }
      } finally {
        if (!ended && drainAbandonedCopy) {
          while (!(await it.next()).done) {
            // discard: the caller's Client must be usable after this session
          }
        } else if (!ended) {
          // The server is still sending COPY data: the connection cannot run another statement.
          session.broken = true;
          stream.destroy();
        }
      }
    },
    async copyIn(sql: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
      const { from } = await loadCopy();
      const stream = (client as unknown as PgSubmitter).query(from(sql)) as Writable;
      const done = finished(stream);
      done.catch(() => undefined); // awaited below; never an unhandled rejection while writing
      try {
        for await (const c of chunks) {
          // events.once removes both of its listeners whichever fires, and rejects on 'error'.
          if (!stream.write(c)) await once(stream, 'drain');
        }
      } catch (err) {
        // The source failed (a batch refused, an abort): CopyFail ends the statement, the server
        // answers with an error and the connection is ready for the ROLLBACK.
        stream.destroy(err instanceof Error ? err : new Error(String(err)));
        await done.catch(() => undefined);
        throw err;
      }
      stream.end();
      await done;
    },
    release: (broken) => release(broken === true || session.broken),
  };
  return session;
}

export function pgPoolDriver(pool: PgPoolLike, logger: Logger = silentLogger): PgDriver {
  // pg.Pool's `options.max` (default 10); a pool of one connection queues a statement behind a held session.
  const max = (pool as { options?: { max?: unknown } }).options?.max;
  return {
    kind: 'pg',
    concurrent: typeof max !== 'number' || max >= 2,
    query: (t, v) => pool.query(t, v),
    async acquire() {
      const client = await pool.connect();
      // The pool stops listening to a client it hands out: while vectordr holds it, a lost connection
      // (a terminated backend, 57P01; a failover) is emitted as 'error' on the client, which would
      // crash the process without a listener. The statement in flight, if any, rejects with it too.
      const onError = (err: Error): void => {
        session.broken = true;
        logger.warn(
          { err: err.message, code: (err as { code?: unknown }).code },
          'vectordr [pgvector]: a connection vectordr held from the pool was lost; it is discarded, ' + 'not returned',
        );
      };
      client.on?.('error', onError);
      // release(true) destroys the connection instead of returning it to the pool.
      const session = pgSession(client, (broken) => {
        client.off?.('error', onError);
        client.release(broken === true ? true : undefined);
      });
      return session;
    },
  };
}

/**
 * One connection shared by everything: a transaction must not interleave with other statements, so
 * sessions and single queries are queued. (Never call the driver while holding its session.)
 */
function serialised(kind: PgDriver['kind'], conn: PgQueryable, session: (release: () => void) => PgSession | Promise<PgSession>): PgDriver {
  let tail: Promise<void> = Promise.resolve();
  const turn = async (): Promise<() => void> => {
    let release!: () => void;
    const prev = tail;
    tail = new Promise<void>((r) => (release = r));
    await prev;
    return release;
  };
  return {
    kind,
    concurrent: false,
    async acquire() {
      const release = await turn();
      try {
        return await session(release);
      } catch (err) {
        release();
        throw err;
      }
    },
    async query(t, v) {
      // One statement needs no session: the connection runs it whole (PGlite: under its own lock).
      const release = await turn();
      try {
        return await conn.query(t, v);
      } finally {
        release();
      }
    },
  };
}

/** A single pg Client. Prefer a Pool: with a Client, snapshots and app queries take turns. */
export function pgClientDriver(client: PgQueryable): PgDriver {
  return serialised('pg', client, (release) => pgSession(client, release, true));
}

/** The part of PGlite's query() that moves COPY data through its virtual /dev/blob device. */
interface PgliteBlobQueryable {
  query(text: string, values?: unknown[], options?: { blob?: Blob }): Promise<PgQueryResult & { blob?: Blob }>;
}

/**
 * PGlite: one in-process connection. COPY runs through `/dev/blob` (PGlite has no COPY protocol
 * stream): loads in one blob per batch, scans in keyset-paged blobs so memory stays bounded.
 */
export function pgliteDriver(db: PgQueryable): PgDriver {
  return serialised('pglite', db, async (release) => {
    const held = await holdExclusive(db);
    const blobDb = held.conn as PgliteBlobQueryable;
    return {
      broken: false,
      query: (t, v) => held.conn.query(t, v),
      async copyIn(sql: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
        const all: Uint8Array[] = [];
        for await (const c of chunks) all.push(c);
        await blobDb.query(sql.replace(/ FROM STDIN \(FORMAT binary\)$/, " FROM '/dev/blob' (FORMAT binary)"), [], {
          blob: new Blob(all as unknown as ArrayBuffer[]),
        });
      },
      async copyOutBuffered(sql: string): Promise<Uint8Array> {
        const r = await blobDb.query(sql.replace(/ TO STDOUT \(FORMAT binary\)$/, " TO '/dev/blob' (FORMAT binary)"));
        return r.blob ? new Uint8Array(await r.blob.arrayBuffer()) : new Uint8Array(0);
      },
      release: () => held.release(release),
    };
  });
}

/** The part of PGlite's API that takes its connection exclusively. */
interface PgliteTransactional {
  transaction<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T>;
}

/**
 * Takes PGlite's one connection for a session, so that statements the application sends meanwhile
 * (`db.query`, `db.exec`, `db.transaction`) queue behind the session instead of running inside its
 * transaction (an INSERT inside a snapshot's read-only transaction failed). PGlite's public way to
 * hold its lock is `transaction()`; its own BEGIN is ended at once, so the session runs its
 * statements (and its own BEGIN ... COMMIT) exactly as on a dedicated connection. Without
 * `transaction()` (a PGlite-like object), the session shares the connection as before.
 */
async function holdExclusive(db: PgQueryable): Promise<{ conn: PgQueryable; release: (then: () => void) => void }> {
  const pglite = db as unknown as Partial<PgliteTransactional>;
  if (typeof pglite.transaction !== 'function') return { conn: db, release: (then) => then() };
  let opened!: (tx: PgQueryable) => void;
  let failed!: (err: unknown) => void;
  const ready = new Promise<PgQueryable>((res, rej) => {
    opened = res;
    failed = rej;
  });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const whole = pglite.transaction(async (tx) => {
    await tx.query('ROLLBACK');
    opened(tx);
    await finished;
    // Something for PGlite's closing COMMIT to end (a session always ends its own transaction).
    await tx.query('BEGIN');
  });
  whole.catch(failed);
  const conn = await ready;
  return {
    conn,
    release: (then) => {
      done();
      whole.then(then, then);
    },
  };
}
