/**
 * Native change capture on PostgreSQL (logical decoding, pgoutput), docs/adapters/pgvector.md
 * "Change capture". A chain starts with a publication for the table and a replication slot created
 * with an exported snapshot that the base scan runs under (gap-free). Each link streams the slot
 * from its confirmed position up to a marker written when the link opened, and confirms nothing
 * while it runs: the slot advances only in `commit()`, after the link's manifest is durable.
 */
import type { CapturePlan, CaptureStatus, Change, ChangeSession, ScanOptions, ScanSession } from '../../src/adapter.js';
import { sleep } from '../../src/async.js';
import { ConflictError, InvalidInputError, UnsupportedOperationError, VectordrError, throwIfAborted } from '../../src/errors.js';
import type { Checkpoint, CollectionSchema, Id, VectorRecord } from '../../src/model.js';
import { retry } from '../../src/retry.js';
import {
  type RawUpsert,
  type TableColumn,
  idFromText,
  publishedShape,
  rawUpsert,
  relationShape,
  renderChanges,
  tableColumns,
} from './pgvector-capture-render.js';
import type { PgvectorContext } from './pgvector-context.js';
import { type TableInfo, describeTable } from './pgvector-describe.js';
import type { PgDriver, PgQueryable, PgSession } from './pgvector-driver.js';
import { pgvectorError } from './pgvector-errors.js';
import { formatLsn, parseLsn } from './pgvector-lsn.js';
import type { PgoutputMessage, RelationColumn, TupleValue } from './pgvector-pgoutput.js';
import { type PgReplicationClientFactory, ReplicationConnection } from './pgvector-replication.js';
import { openScan, selectByIds } from './pgvector-scan.js';
import { quoteIdent } from './pgvector-sql.js';

const PLUGIN = 'pgvector';
const CAPTURE_ID = /^[a-z0-9]{1,40}$/;
/** Changes per batch `changes()` yields (and per rendering round trip). */
const BATCH = 1000;
/** How long a slot may stay active (a walsender still exiting) before a link or an advance gives up waiting. */
const ACTIVE_WAIT_MS = 15_000;
/** How long a drop waits for the walsender holding the slot before it ends it. */
const DROP_WAIT_MS = 2_000;

/** The slot and publication of a capture id (`vectordr_<id>`: both are cluster- or database-wide names). */
export function captureNames(captureId: string): { slot: string; publication: string } {
  if (!CAPTURE_ID.test(captureId)) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `Capture id ${JSON.stringify(captureId)} is not 1 to 40 characters of a-z and 0-9; it names ` +
        `the replication slot and publication vectordr_<id>.`,
      { plugin: PLUGIN, details: { captureId } },
    );
  }
  const name = `vectordr_${captureId}`;
  return { slot: name, publication: name };
}

function chainBroken(reason: string, message: string, cause?: unknown): VectordrError {
  return new VectordrError('CHAIN_BROKEN', 'conflict', `${message} The chain cannot continue; a new full snapshot starts a new chain.`, {
    plugin: PLUGIN,
    cause,
    details: { reason },
  });
}

const sqlstate = (err: unknown): string => {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : '';
};

/** The slot as pg_replication_slots shows it (to_jsonb: columns newer servers add are read when present). */
interface SlotRow {
  confirmed_flush_lsn?: string | null;
  wal_status?: string | null;
  safe_wal_size?: number | null;
  active_pid?: number | null;
  invalidation_reason?: string | null;
  plugin?: string | null;
  database?: string | null;
}

async function slotRow(q: PgQueryable, slot: string): Promise<SlotRow | undefined> {
  const r = await q.query(`SELECT to_jsonb(s) AS s FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1`, [slot]);
  return r.rows[0]?.s as SlotRow | undefined;
}

/** Waits while a walsender still holds the slot (one that just ended exits asynchronously). */
async function waitInactive(q: PgQueryable, slot: string, ms: number, signal?: AbortSignal): Promise<SlotRow | undefined> {
  const until = performance.now() + ms;
  for (;;) {
    const row = await slotRow(q, slot);
    if (row?.active_pid == null || performance.now() > until) return row;
    await sleep(100, signal);
  }
}

async function serverVersion(q: PgQueryable): Promise<number> {
  return Number((await q.query(`SELECT current_setting('server_version_num') AS v`)).rows[0]?.v ?? 0);
}

export class PgvectorCapture {
  constructor(
    private readonly ctx: PgvectorContext,
    private readonly replication: PgReplicationClientFactory | undefined,
    private readonly useCopy: boolean,
  ) {}

  async plan(collection: string): Promise<CapturePlan> {
    if (this.ctx.driver.kind === 'pglite') return { mode: 'digest', reason: 'PGlite has no logical decoding' };
    if (this.replication === undefined)
      return { mode: 'digest', reason: 'the adapter cannot open a replication connection from its pool or client; pass replicationClient' };
    return this.ctx.run(`plan capture of ${collection}`, async () => {
      const info = await describeTable(this.ctx.driver, ...this.ctx.ref(collection), collection);
      const r = await this.ctx.driver.query(
        `SELECT current_setting('wal_level') AS wal_level, r.rolsuper::text AS super, r.rolreplication::text AS repl, c.relreplident AS ident,
                (SELECT bool_or(a.attname = $2)::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid
                   AND a.attnum = ANY(i.indkey) WHERE i.indrelid = c.oid AND i.indisreplident) AS ident_has_key
           FROM pg_catalog.pg_roles r, pg_catalog.pg_class c WHERE r.rolname = current_user AND c.oid = $1::oid`,
        [info.oid, info.pk.name],
      );
      const row = r.rows[0] ?? {};
      if (row.wal_level !== 'logical') return { mode: 'digest', reason: `wal_level is ${String(row.wal_level)}, not logical` };
      if (row.super !== 'true' && row.repl !== 'true')
        return { mode: 'digest', reason: 'the role has no REPLICATION privilege (ALTER ROLE ... REPLICATION)' };
      if (row.ident === 'n')
        return { mode: 'digest', reason: 'the table has REPLICA IDENTITY NOTHING: deletes would arrive without a key' };
      if (row.ident === 'i' && row.ident_has_key !== 'true')
        return { mode: 'digest', reason: 'the replica identity index does not contain the primary key: deletes would arrive without it' };
      return { mode: 'native' };
    });
  }

  private factory(what: string): PgReplicationClientFactory {
    if (this.ctx.driver.kind === 'pglite')
      throw new UnsupportedOperationError(`${what}: PGlite has no logical decoding.`, { plugin: PLUGIN });
    if (this.replication === undefined) {
      throw new UnsupportedOperationError(
        `${what}: the adapter cannot open a replication connection from its pool or client; pass ` +
          `replicationClient (a function returning a pg.Client made with replication: 'database').`,
        { plugin: PLUGIN },
      );
    }
    return this.replication;
  }

  /** A scan that starts the feed of `captureId` (`ScanOptions.startCapture`); any feed it had is dropped first. */
  async startScan(collection: string, options: ScanOptions & { startCapture: { captureId: string } }): Promise<ScanSession> {
    const { slot, publication } = captureNames(options.startCapture.captureId);
    const factory = this.factory(`start capture of ${collection}`);
    throwIfAborted(options.signal);
    // Refused before anything is created: a publication that publishes deletes makes PostgreSQL
    // refuse the application's DELETEs and UPDATEs on a table without a replica identity.
    const plan = await this.plan(collection);
    if (plan.mode !== 'native')
      throw new UnsupportedOperationError(`Cannot start native change capture of ${collection}: ${String(plan.reason)}.`, {
        plugin: PLUGIN,
        details: { reason: plan.reason },
      });
    await this.drop(options.startCapture.captureId);
    const version = await this.ctx.run(`start capture of ${collection}`, async () => {
      await this.ctx.driver.query(
        `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${this.ctx.table(collection)} WITH (publish = 'insert, update, delete, truncate')`,
      );
      return serverVersion(this.ctx.driver);
    });
    let repl: ReplicationConnection | undefined;
    try {
      repl = await this.ctx.run(`start capture of ${collection}`, () => ReplicationConnection.open(factory));
      const systemId = await repl.systemId();
      const { consistentPoint, snapshotName } = await repl.createSlot(slot, version);
      // The table's shape, read before the scan takes its connection (a driver on one pg Client has
      // no other). A change of the table from here on shows in the next link's Relation message.
      const oid = (await describeTable(this.ctx.driver, ...this.ctx.ref(collection), collection)).oid;
      const shape = publishedShape(await tableColumns(this.ctx.driver, oid));
      const scan = await openScan(this.ctx, collection, options, this.useCopy, snapshotName);
      // The snapshot is imported: the replication connection may go now (any command on it ends the export).
      await repl.close();
      const checkpoint: Checkpoint = {
        engine: 'pgvector',
        kind: 'pg-slot',
        value: { slot, publication, lsn: consistentPoint, systemId, shape },
        takenAt: new Date().toISOString(),
      };
      return { ...scan, checkpoint };
    } catch (err) {
      await repl?.close();
      await this.drop(options.startCapture.captureId).catch(() => undefined);
      throw pgvectorError(err, `start capture of ${collection}`);
    }
  }

  async open(collection: string, from: Checkpoint, options: { captureId: string; signal?: AbortSignal }): Promise<ChangeSession> {
    const { slot, publication } = captureNames(options.captureId);
    const factory = this.factory(`capture changes of ${collection}`);
    const v = from.value;
    if (from.engine !== 'pgvector' || from.kind !== 'pg-slot')
      throw chainBroken('no-feed', `The parent's checkpoint (${from.engine} ${from.kind}) started no change feed.`);
    if (v.slot !== slot || v.publication !== publication) {
      throw new InvalidInputError(
        'INVALID_ARGUMENT',
        `The checkpoint belongs to slot ${String(v.slot)}, not to capture id ${options.captureId} (${slot}).`,
        { plugin: PLUGIN, details: { captureId: options.captureId, slot: v.slot } },
      );
    }
    const fromLsn = parseLsn(String(v.lsn));
    const what = `capture changes of ${collection}`;
    const q = this.ctx.driver;
    const [schemaName, tableName] = this.ctx.ref(collection);
    const { info, columns } = await this.ctx.run(what, async () => {
      const info = await describeTable(q, schemaName, tableName, collection);
      return { info, columns: await tableColumns(q, info.oid) };
    });
    const shape = publishedShape(columns);
    if (typeof v.shape === 'string' && v.shape !== shape)
      throw chainBroken('schema-changed', `The columns of ${this.ctx.display(collection)} changed since the parent (ALTER TABLE).`);

    const repl = await this.ctx.run(what, () => ReplicationConnection.open(factory));
    let view: PgSession | undefined;
    try {
      const systemId = await this.ctx.run(what, () => repl.systemId());
      if (systemId !== String(v.systemId))
        throw chainBroken(
          'other-cluster',
          `This PostgreSQL cluster (system ${systemId}) is not the one the chain started on (${String(v.systemId)}).`,
        );
      // Before the marker: a snapshot in which every field the link leaves unsent has its value (fill()).
      if (q.concurrent) view = await this.ctx.run(what, () => openView(q));
      const start = await this.ctx.run(what, () => this.prepareLink({ slot, publication, schemaName, tableName, fromLsn }, options.signal));
      repl.start(slot, publication, start.ack);
      const table = { info, columns, shape, slot, publication, systemId, collection };
      return new PgoutputSession(this.ctx, table, repl, start, view, options.signal);
    } catch (err) {
      await repl.close();
      view?.release(true);
      throw pgvectorError(err, what);
    }
  }

  /**
   * Checks the slot and the publication, advances a slot the parent's commit did not reach, and
   * writes the link's marker: where the link ends (`target`) and the time it is complete up to.
   */
  private async prepareLink(
    l: { slot: string; publication: string; schemaName: string; tableName: string; fromLsn: bigint },
    signal: AbortSignal | undefined,
  ): Promise<{ ack: bigint; target: bigint; watermark: string }> {
    const { slot, publication, schemaName, tableName, fromLsn } = l;
    const q = this.ctx.driver;
    const slotState = await waitInactive(q, slot, ACTIVE_WAIT_MS, signal);
    if (slotState === undefined) throw chainBroken('capture-lost', `Replication slot ${slot} no longer exists.`);
    if (slotState.active_pid != null) {
      throw new ConflictError('LOCKED', `Replication slot ${slot} is being streamed by another session (pid ${slotState.active_pid}).`, {
        plugin: PLUGIN,
        details: { slot, pid: slotState.active_pid },
      });
    }
    if (slotState.wal_status === 'lost' || (slotState.invalidation_reason ?? null) !== null) {
      throw chainBroken(
        'capture-lost',
        `Replication slot ${slot} was invalidated (${slotState.invalidation_reason ?? `wal_status ${String(slotState.wal_status)}`}): ` +
          `it lost WAL the next link needs (max_slot_wal_keep_size).`,
      );
    }
    const pub = await q.query(
      `SELECT p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate AS ok,
              EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables t WHERE t.pubname = p.pubname AND t.schemaname = $2 AND t.tablename = $3) AS covers
         FROM pg_catalog.pg_publication p WHERE p.pubname = $1`,
      [publication, schemaName, tableName],
    );
    const p = pub.rows[0];
    if (p?.ok !== true || p.covers !== true)
      throw chainBroken('publication-changed', `Publication ${publication} is missing, changed, or no longer covers the table.`);
    let confirmed = parseLsn(String(slotState.confirmed_flush_lsn));
    if (confirmed > fromLsn) {
      throw chainBroken(
        'capture-lost',
        `Replication slot ${slot} is at ${formatLsn(confirmed)}, past the parent's checkpoint ${formatLsn(fromLsn)}: ` +
          `the changes between were released.`,
      );
    }
    if (confirmed < fromLsn) {
      // The parent's manifest is durable but its advance did not happen (a crash in between).
      const r = await q.query(`SELECT end_lsn::text AS lsn FROM pg_catalog.pg_replication_slot_advance($1, $2::pg_lsn)`, [
        slot,
        formatLsn(fromLsn),
      ]);
      confirmed = parseLsn(String(r.rows[0]?.lsn));
    }
    const flush = (await serverVersion(q)) >= 170000 ? ', true' : '';
    // The clock first, then the marker: every transaction committed before the watermark commits
    // before the marker, so the link (commits before the marker) holds it.
    const t = await q.query(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS watermark,
              pg_catalog.pg_logical_emit_message(false, 'vectordr', $1${flush})::text AS target`,
      [slot],
    );
    return { ack: confirmed, target: parseLsn(String(t.rows[0]?.target)), watermark: String(t.rows[0]?.watermark) };
  }

  async status(captureId: string): Promise<CaptureStatus> {
    const { slot, publication } = captureNames(captureId);
    if (this.ctx.driver.kind === 'pglite') return { exists: false, warnings: ['PGlite has no logical decoding'] };
    return this.ctx.run(`capture status of ${captureId}`, async () => {
      const r = await this.ctx.driver.query(
        `SELECT to_jsonb(s) AS s, pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::int8::text AS retained,
                current_setting('max_slot_wal_keep_size') AS keep,
                EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $2) AS publication
           FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1`,
        [slot, publication],
      );
      const row = r.rows[0];
      if (row === undefined) return { exists: false, warnings: [] };
      const s = row.s as SlotRow;
      const warnings: string[] = [];
      if (row.keep === '-1')
        warnings.push(
          `max_slot_wal_keep_size = -1: the slot can fill the disk with WAL; set a limit, or drop the capture when it is not used.`,
        );
      if (s.wal_status === 'unreserved')
        warnings.push('wal_status unreserved: the slot is about to lose WAL; run the next incremental now.');
      if (s.wal_status === 'lost' || s.invalidation_reason)
        warnings.push('the slot lost WAL: the next incremental cannot continue the chain and a new full snapshot starts a new one.');
      if (row.publication !== true) warnings.push(`publication ${publication} is missing: the next incremental breaks the chain.`);
      const status: CaptureStatus = { exists: true, warnings };
      if (row.retained != null) status.retainedBytes = Number(row.retained);
      if (s.wal_status) status.health = s.wal_status;
      if (typeof s.safe_wal_size === 'number') status.safeBytes = s.safe_wal_size;
      return status;
    });
  }

  /** Drops the slot (waiting for a walsender that still holds it, then ending it) and the publication; nothing when neither exists. */
  async drop(captureId: string): Promise<void> {
    const { slot, publication } = captureNames(captureId);
    if (this.ctx.driver.kind === 'pglite') return;
    const q = this.ctx.driver;
    await this.ctx.run(`drop capture ${captureId}`, async () => {
      await retry(
        async () => {
          const row = await waitInactive(q, slot, DROP_WAIT_MS);
          if (row === undefined) return;
          // Only a vectordr link streams this slot: one that outlived its process is ended.
          if (row.active_pid != null) await q.query('SELECT pg_catalog.pg_terminate_backend($1)', [row.active_pid]);
          await q.query(`SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, [
            slot,
          ]);
        },
        { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000, retryable: (err) => sqlstate(err) === '55006' },
      );
      await q.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`);
    });
  }
}

/**
 * A REPEATABLE READ snapshot taken now, held for `PgoutputSession.fill`. Taken before the link's
 * end marker is written, it sees a state between the parent's checkpoint and the link's end: every
 * transaction it sees committed before the marker, and every transaction of earlier links committed
 * before it was taken. A field no change of the link sent kept one value over that whole span.
 */
async function openView(q: PgDriver): Promise<PgSession> {
  const view = await q.acquire();
  try {
    await view.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await view.query('SELECT 1'); // the transaction's snapshot is taken by its first statement
    return view;
  } catch (err) {
    view.release(true);
    throw err;
  }
}

interface SessionTable {
  info: TableInfo;
  columns: TableColumn[];
  shape: string;
  slot: string;
  publication: string;
  systemId: string;
  collection: string;
}

type RawChange = RawUpsert | { op: 'delete'; id: Id };

/** One link: the stream from the slot's confirmed position to the marker written at open. */
class PgoutputSession implements ChangeSession {
  readonly schema: CollectionSchema;
  readonly capture = { mode: 'pgoutput', exact: true } as const;
  private lastCommitEnd: bigint | undefined;
  private started = false;
  private finished = false;
  private relation: { relid: number; columns: RelationColumn[]; keyIndex: number } | undefined;

  constructor(
    private readonly ctx: PgvectorContext,
    private readonly t: SessionTable,
    private repl: ReplicationConnection | undefined,
    private readonly start: { ack: bigint; target: bigint; watermark: string },
    private view: PgSession | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.schema = t.info.schema;
    // Without a second connection (a single Client, a pool of one) the core fills from the chain.
    if (view === undefined) this.fill = undefined;
  }

  /** The records of `ids` in the snapshot taken before the link's end marker (`openView`). */
  fill?: (ids: readonly Id[]) => Promise<VectorRecord[]> = async (ids) => {
    const view = this.view;
    if (view === undefined) throw new Error('fill() after close()');
    return this.ctx.run(`capture changes of ${this.t.collection}`, () =>
      selectByIds(view, this.t.info, this.ctx.table(this.t.collection), ids),
    );
  };

  async *changes(): AsyncIterable<readonly Change[]> {
    const repl = this.repl;
    if (repl === undefined || this.started) throw new Error('changes() of a change session runs once');
    this.started = true;
    const { target } = this.start;
    let pending: RawChange[] = [];
    let inTransaction = false;
    const flush = async (): Promise<Change[]> => {
      const batch = pending;
      pending = [];
      return this.ctx.run(`capture changes of ${this.t.collection}`, () =>
        renderChanges(this.ctx.driver, this.t.info, this.ctx.table(this.t.collection), batch),
      );
    };
    try {
      for (;;) {
        throwIfAborted(this.signal);
        const ev = await repl.next();
        if (ev.type === 'error') throw this.streamError(ev.error);
        if (ev.type === 'end')
          throw pgvectorError(new Error('the replication stream ended early'), `capture changes of ${this.t.collection}`);
        if (ev.type === 'keepalive') {
          if (!inTransaction && ev.walEnd >= target) break;
          continue;
        }
        const m = ev.message;
        if (m.tag === 'begin') {
          // Commits at or after the marker belong to the next link.
          if (m.finalLsn >= target) break;
          inTransaction = true;
        } else if (m.tag === 'commit') {
          inTransaction = false;
          this.lastCommitEnd = m.endLsn;
          if (m.endLsn >= target) break;
        } else {
          const change = this.onMessage(m);
          if (change !== undefined) pending.push(...change);
          if (pending.length >= BATCH) yield await flush();
        }
      }
      if (pending.length > 0) yield await flush();
      this.finished = true;
    } finally {
      // The stream is done with (or abandoned): the walsender lets the slot go, for commit()'s advance.
      await this.closeLink();
    }
  }

  private onMessage(m: PgoutputMessage): RawChange[] | undefined {
    const display = this.ctx.display(this.t.collection);
    switch (m.tag) {
      case 'relation': {
        if (relationShape(m.columns) !== this.t.shape)
          throw chainBroken('schema-changed', `The columns of ${display} changed during the link (ALTER TABLE).`);
        const keyIndex = m.columns.findIndex((c) => c.name === this.t.info.pk.name);
        this.relation = { relid: m.relid, columns: m.columns, keyIndex };
        return undefined;
      }
      case 'truncate':
        throw chainBroken('truncate', `${display} was truncated (TRUNCATE): the rows it removed are not in the change feed.`);
      case 'insert':
      case 'update':
      case 'delete': {
        const rel = this.relation;
        if (rel === undefined || rel.relid !== m.relid) return undefined;
        const id = (tuple: readonly TupleValue[]): Id | undefined => {
          const text = tuple[rel.keyIndex];
          return typeof text === 'string' ? idFromText(this.t.info, text) : undefined;
        };
        if (m.tag === 'delete') {
          const old = id(m.old.tuple);
          if (old === undefined) throw chainBroken('schema-changed', `A delete from ${display} arrived without its key.`);
          return [{ op: 'delete', id: old }];
        }
        const oldRow = m.tag === 'update' && m.old?.kind === 'O' ? m.old.tuple : undefined;
        const upsert = rawUpsert(this.t.columns, rel.columns, m.tuple, oldRow);
        if (m.tag === 'update' && m.old !== undefined) {
          // The key changed (UPDATE ... SET id = ...): the old id is gone.
          const before = id(m.old.tuple);
          const after = id(m.tuple);
          if (before !== undefined && after !== undefined && before !== after) return [{ op: 'delete', id: before }, upsert];
        }
        return [upsert];
      }
      default:
        return undefined;
    }
  }

  private streamError(err: unknown): VectordrError {
    if (err instanceof VectordrError) return err;
    if (sqlstate(err) === '55000') {
      return chainBroken(
        'capture-lost',
        `Replication slot ${this.t.slot} can no longer be read: it lost WAL the link needs (max_slot_wal_keep_size).`,
        err,
      );
    }
    return pgvectorError(err, `capture changes of ${this.t.collection}`);
  }

  end(): { checkpoint: Checkpoint; watermark: string } {
    if (!this.finished) throw new Error('end() before changes() ended');
    const lsn = this.lastCommitEnd ?? this.start.target;
    const { slot, publication, systemId, shape } = this.t;
    return {
      checkpoint: {
        engine: 'pgvector',
        kind: 'pg-slot',
        value: { slot, publication, lsn: formatLsn(lsn), systemId, shape },
        takenAt: new Date().toISOString(),
      },
      watermark: this.start.watermark,
    };
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    await this.closeLink();
    const lsn = parseLsn(String(checkpoint.value.lsn));
    const q = this.ctx.driver;
    await this.ctx.run(`advance slot ${this.t.slot}`, () =>
      retry(
        async () => {
          const row = await waitInactive(q, this.t.slot, ACTIVE_WAIT_MS);
          if (row === undefined) throw chainBroken('capture-lost', `Replication slot ${this.t.slot} no longer exists.`);
          // Advancing to where the slot already is (or behind it) is an error in PostgreSQL, and nothing to do here.
          if (parseLsn(String(row.confirmed_flush_lsn)) >= lsn) return;
          await q.query(`SELECT pg_catalog.pg_replication_slot_advance($1, $2::pg_lsn)`, [this.t.slot, formatLsn(lsn)]);
        },
        { attempts: 20, baseDelayMs: 100, maxDelayMs: 1000, deadlineMs: 30_000, retryable: (err) => sqlstate(err) === '55006' },
      ),
    );
  }

  async close(): Promise<void> {
    await this.closeLink();
    const view = this.view;
    this.view = undefined;
    if (view !== undefined) {
      const ok = await view.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      view.release(!ok);
    }
  }

  private async closeLink(): Promise<void> {
    const repl = this.repl;
    this.repl = undefined;
    await repl?.close();
  }
}
