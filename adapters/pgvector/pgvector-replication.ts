/**
 * A replication connection (`pg` Client with `replication: 'database'`): the commands change
 * capture runs on it (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT with an exported snapshot), and one
 * START_REPLICATION stream read as a queue of events with backpressure (the socket pauses while
 * the consumer is behind, so a transaction of any size never sits whole in memory).
 */
import { type PgoutputMessage, decodePgoutput, parseCopyData, standbyStatus } from './pgvector-pgoutput.js';
import { quoteIdent, quoteLiteral } from './pgvector-sql.js';

/** The slice of a `pg` Client the replication link uses (declared here; pg's types are not imported). */
export interface PgReplicationClient {
  connect(): Promise<unknown>;
  query(text: string): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  readonly connection: {
    on(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): unknown;
    sendCopyFromChunk(chunk: Buffer): void;
    endCopyFrom(): void;
    readonly stream: { pause(): unknown; resume(): unknown; destroy(): unknown };
  };
}

/** Makes an unconnected replication client: a `pg.Client` made from `{ ...config, replication: 'database' }`. */
export type PgReplicationClientFactory = () => PgReplicationClient;

type ClientCtor = new (config: Record<string, unknown>) => PgReplicationClient;

/**
 * A replication client factory for the `pool` or `client` the adapter was given: a `pg` Pool keeps
 * its Client class and config (`pool.Client`, `pool.options`); a `pg` Client its connection
 * parameters. Undefined for anything else (a router's `asPool()`, a wrapper): pass
 * `replicationClient` then.
 */
export function deriveReplicationFactory(source: unknown): PgReplicationClientFactory | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const pool = source as { Client?: unknown; options?: Record<string, unknown> };
  if (typeof pool.Client === 'function' && typeof pool.options === 'object' && pool.options !== null) {
    const Ctor = pool.Client as ClientCtor;
    const options = pool.options;
    return () => new Ctor({ ...options, replication: 'database' });
  }
  const client = source as { constructor?: unknown; connectionParameters?: Record<string, unknown> };
  const p = client.connectionParameters;
  if (typeof client.constructor === 'function' && typeof p === 'object' && p !== null && 'host' in p) {
    const Ctor = client.constructor as ClientCtor;
    const config: Record<string, unknown> = { replication: 'database' };
    for (const k of ['user', 'password', 'host', 'port', 'database', 'ssl', 'options', 'keepAlive'])
      if (p[k] !== undefined) config[k] = p[k];
    return () => new Ctor(config);
  }
  return undefined;
}

export type LinkEvent =
  | { type: 'message'; message: PgoutputMessage }
  | { type: 'keepalive'; walEnd: bigint }
  | { type: 'error'; error: unknown }
  | { type: 'end' };

/** Events queued before the socket is paused, and the level it resumes at. */
const HIGH_WATER = 4096;
const LOW_WATER = 512;
/** How often an idle link asks the walsender where it is (a keepalive answers). */
const PROD_MS = 1000;

/** One replication connection; `close()` it (also on error). */
export class ReplicationConnection {
  private readonly queue: LinkEvent[] = [];
  private wake: (() => void) | undefined;
  private paused = false;
  private streaming = false;
  private closed = false;
  private ack = 0n;
  private timer: NodeJS.Timeout | undefined;
  private copyDone: Promise<unknown> | undefined;

  private constructor(private readonly client: PgReplicationClient) {
    // Mandatory: pg emits a lost connection as 'error', which would otherwise crash the process.
    client.on('error', (err) => this.push({ type: 'error', error: err }));
    client.connection.on('copyData', (msg) => this.onCopyData(msg.chunk));
  }

  static async open(factory: PgReplicationClientFactory): Promise<ReplicationConnection> {
    const conn = new ReplicationConnection(factory());
    try {
      await conn.client.connect();
    } catch (err) {
      await conn.close();
      throw err;
    }
    return conn;
  }

  /** IDENTIFY_SYSTEM: the cluster's system identifier (a chain continued on another cluster is refused). */
  async systemId(): Promise<string> {
    const r = await this.client.query('IDENTIFY_SYSTEM');
    return String(r.rows[0]?.systemid ?? '');
  }

  /**
   * CREATE_REPLICATION_SLOT ... LOGICAL pgoutput with an exported snapshot: the snapshot stays
   * importable (SET TRANSACTION SNAPSHOT) until this connection runs another command or closes.
   */
  async createSlot(slot: string, serverVersionNum: number): Promise<{ consistentPoint: string; snapshotName: string }> {
    const opt = serverVersionNum >= 150000 ? `(SNAPSHOT 'export')` : 'EXPORT_SNAPSHOT';
    const r = await this.client.query(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${opt}`);
    const row = r.rows[0] ?? {};
    return { consistentPoint: String(row.consistent_point), snapshotName: String(row.snapshot_name) };
  }

  /**
   * START_REPLICATION from the slot's confirmed position (`0/0`), proto 1, text mode. Every status
   * update the link sends confirms `ack` (the slot's position when the link opened), never more.
   */
  start(slot: string, publication: string, ack: bigint): void {
    this.ack = ack;
    this.streaming = true;
    const sql =
      `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL 0/0 ` +
      `(proto_version '1', publication_names ${quoteLiteral(quoteIdent(publication))})`;
    // Settles when the copy ends: rejects at once on a refused start (55000 slot lost, 55006 active).
    this.copyDone = this.client.query(sql).then(
      () => this.push({ type: 'end' }),
      (err: unknown) => this.push({ type: 'error', error: err }),
    );
    this.timer = setInterval(() => this.send(true), PROD_MS);
    this.timer.unref();
  }

  /** The next event of the stream, in server order. */
  async next(): Promise<LinkEvent> {
    for (;;) {
      const ev = this.queue.shift();
      if (ev !== undefined) {
        if (this.paused && this.queue.length <= LOW_WATER) {
          this.paused = false;
          this.client.connection.stream.resume();
        }
        return ev;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Ends the stream (CopyDone; the socket is destroyed when the server does not finish within 5 s) and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const stream = this.client.connection.stream;
    if (this.paused) stream.resume();
    const timeout = <T>(p: Promise<T>): Promise<T | 'timeout'> =>
      Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref())]);
    try {
      if (this.streaming && this.copyDone) {
        this.client.connection.endCopyFrom();
        if ((await timeout(this.copyDone)) === 'timeout') throw new Error('copy did not end');
      }
      if ((await timeout(this.client.end())) === 'timeout') throw new Error('end timed out');
    } catch {
      stream.destroy();
    }
  }

  private send(replyRequested: boolean): void {
    if (this.closed || !this.streaming) return;
    try {
      this.client.connection.sendCopyFromChunk(standbyStatus(this.ack, replyRequested));
    } catch (err) {
      this.push({ type: 'error', error: err });
    }
  }

  private onCopyData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      const m = parseCopyData(chunk);
      if (m.kind === 'keepalive') {
        if (m.replyRequested) this.send(false);
        this.push({ type: 'keepalive', walEnd: m.walEnd });
      } else {
        // Decoded now: the chunk is a view of pg's read buffer, reused by the next read.
        this.push({ type: 'message', message: decodePgoutput(m.payload) });
      }
    } catch (err) {
      this.push({ type: 'error', error: err });
    }
  }

  private push(ev: LinkEvent): void {
    this.queue.push(ev);
    if (!this.paused && this.queue.length >= HIGH_WATER && !this.closed) {
      this.paused = true;
      this.client.connection.stream.pause();
    }
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
