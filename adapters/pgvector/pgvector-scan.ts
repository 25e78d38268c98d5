/**
 * Scans: one REPEATABLE READ READ ONLY transaction holds describe, checkpoint (LSN and txid
 * snapshot), count and every row; rows come by binary COPY on pg, by keyset pages of buffered COPY
 * on PGlite, or by keyset SELECT pages with copy: 'never'.
 */
import type { KeyRange, ScanOptions, ScanSession } from '../../src/adapter.js';
import { throwIfAborted } from '../../src/errors.js';
import { type Checkpoint, type CollectionSchema, type Id, type RecordBatch, type VectorRecord, recordAt } from '../../src/model.js';
import { BatchBuilder, type RawField, rawText } from './pgvector-batch.js';
import type { PgvectorContext } from './pgvector-context.js';
import { CopyBinaryParser } from './pgvector-copy.js';
import { readDefinition, withDefinition } from './pgvector-definition.js';
import { type TableInfo, describeTable } from './pgvector-describe.js';
import type { PgQueryable, PgSession } from './pgvector-driver.js';
import { pgvectorError } from './pgvector-errors.js';
import { checkNativeType, quoteIdent, quoteLiteral } from './pgvector-sql.js';
import { selectExpr } from './pgvector-types.js';
import { payloadJsonWriter } from './pgvector-payload-json.js';

/** The select list of a scan or fetch: id as text, vectors (as their type's send bytes, or as themselves for COPY), payload as canonical text. */
export function selectList(info: TableInfo, vectorsAsBytea: boolean): string {
  const parts = [`${quoteIdent(info.pk.name)}::text`];
  for (const v of info.vectors) parts.push(vectorsAsBytea ? `${v.type}_send(${quoteIdent(v.name)})` : quoteIdent(v.name));
  for (const p of info.payload) parts.push(selectExpr(p.col, p.field));
  // Positional aliases: row objects keep every column even when expressions share a name.
  return parts.map((e, i) => `${e} AS c${i}`).join(', ');
}

/** The records of `ids` (those the table holds), read as a scan reads them, in key order. */
export async function selectByIds(q: PgQueryable, info: TableInfo, tableSql: string, ids: readonly Id[]): Promise<VectorRecord[]> {
  if (ids.length === 0) return [];
  const r = await q.query(
    `SELECT ${selectList(info, true)} FROM ${tableSql} WHERE ` +
      `${quoteIdent(info.pk.name)} = ANY($1::text[]::${checkNativeType(info.pk.formatted)}[]) ORDER BY 1`,
    [ids.map(String)],
  );
  const builder = new BatchBuilder(info, Math.max(1, r.rows.length));
  for (const row of r.rows) builder.add(Object.values(row) as RawField[]);
  const batch = builder.take();
  return Array.from({ length: batch.length }, (_, i) => recordAt(batch, i));
}

/**
 * @param importSnapshot an exported snapshot (`CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export')`,
 *   or `pg_export_snapshot()` of a distributed snapshot's coordinator) the scan's transaction runs
 *   under: it reads exactly the state a change feed starts after, or the coordinator's view.
 * @param range only the keys of this range, in key order (a distributed snapshot's part).
 */
export async function openScan(
  ctx: PgvectorContext,
  collection: string,
  options: ScanOptions,
  useCopy: boolean,
  importSnapshot?: string,
  range?: KeyRange,
): Promise<ScanSession> {
  const { batchSize, signal, payloadJson } = options;
  // Must be the transaction's first statement.
  const begin = async (session: PgSession): Promise<void> => {
    if (importSnapshot !== undefined) await session.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(importSnapshot)}`);
  };
  const view = await openReadView(ctx, collection, 'scan', begin, range === undefined);
  return {
    schema: view.schema,
    checkpoint: view.checkpoint,
    estimatedRows: view.estimate,
    close: view.close,
    batches: () => scanBatches(ctx, view.session, view.info, { batchSize, signal, useCopy, range, payloadJson }),
  };
}

/** An open read view: one REPEATABLE READ READ ONLY transaction on its own session, described and checkpointed. */
export interface ReadView<T> {
  session: PgSession;
  info: TableInfo;
  /** The table's schema, with its definition (pgvector-definition.ts) when the view was opened with `definition`. */
  schema: CollectionSchema;
  checkpoint: Checkpoint;
  estimate: number;
  /** What `begin` returned. */
  begun: T;
  /** Commits and releases the session; idempotent. */
  close: () => Promise<void>;
}

/**
 * One REPEATABLE READ snapshot for describe, checkpoint, count and every row: what a scan and a
 * distributed snapshot's exported view both hold. `begin` runs first in the transaction (it imports
 * or exports a snapshot); with `definition` the table definition is read in it too. On failure the
 * session is released and the error mapped.
 */
export async function openReadView<T>(
  ctx: PgvectorContext,
  collection: string,
  op: 'scan' | 'export',
  begin: (session: PgSession) => Promise<T>,
  definition: boolean,
): Promise<ReadView<T>> {
  const session = await ctx.run(`${op} ${collection}`, () => ctx.driver.acquire());
  let open = true;
  const close = async (): Promise<void> => {
    if (!open) return;
    open = false;
    // A scan abandoned mid-COPY leaves the connection unusable: it is destroyed, which also ends
    // the read-only transaction on the server.
    if (!session.broken) await session.query('COMMIT').catch(() => undefined);
    session.release(session.broken);
  };
  try {
    await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const begun = await begin(session);
    const info = await describeTable(session, ...ctx.ref(collection), collection);
    const { checkpoint, estimate } = await readScanState(ctx, session, info);
    // A part of a distributed snapshot records no definition: its coordinator's view does.
    const schema = definition ? withDefinition(info.schema, await readDefinition(session, info.oid, ...ctx.ref(collection))) : info.schema;
    return { session, info, schema, checkpoint, estimate, begun, close };
  } catch (err) {
    await close();
    throw pgvectorError(err, `${op} ${collection}`);
  }
}

/**
 * The checkpoint (LSN and txid snapshot) and row estimate of the transaction `session` holds: what a
 * scan records, and what a distributed snapshot's coordinator records for its exported view.
 */
export async function readScanState(
  ctx: PgvectorContext,
  session: PgQueryable,
  info: TableInfo,
): Promise<{ checkpoint: Checkpoint; estimate: number }> {
  const cp = await session.query(
    `SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END AS lsn,
            txid_current_snapshot()::text AS snap, c.reltuples::int8::text AS estimate
       FROM pg_catalog.pg_class c WHERE c.oid = $1::oid`,
    [info.oid],
  );
  const row = cp.rows[0] ?? {};
  const checkpoint: Checkpoint = {
    engine: 'pgvector',
    kind: 'pg-lsn',
    value: { lsn: String(row.lsn ?? ''), snapshot: String(row.snap ?? '') },
    takenAt: new Date().toISOString(),
  };
  let estimate = Number(row.estimate ?? -1);
  // reltuples is -1 on a table never analyzed (always so on PGlite, which has no autovacuum) and
  // 0 when it was empty at its last analyze: count it then, in the same snapshot. Autovacuum
  // analyzes any table of real size, so on a server this extra pass is for small or fresh tables.
  if (!(estimate > 0))
    estimate = Number((await session.query(`SELECT count(*)::text AS n FROM ${ctx.table(info.schema.name)}`)).rows[0]?.n ?? 0);
  return { checkpoint, estimate };
}

/** Rows of an open scan session: binary COPY on pg, keyset pages on PGlite (or with copy: 'never'). */
async function* scanBatches(
  ctx: PgvectorContext,
  session: PgSession,
  info: TableInfo,
  o: {
    batchSize: number;
    signal: AbortSignal | undefined;
    useCopy: boolean;
    range?: KeyRange | undefined;
    payloadJson?: boolean | undefined;
  },
): AsyncIterable<RecordBatch> {
  const { batchSize, signal, useCopy, range } = o;
  const builder = new BatchBuilder(info, batchSize, o.payloadJson ? payloadJsonWriter(info) : undefined);
  const table = ctx.table(info.schema.name);
  const path = useCopy && session.copyOut ? 'copy-stream' : useCopy && session.copyOutBuffered ? 'copy-paged' : 'select-paged';
  ctx.logger.debug({ collection: info.schema.name, path, batchSize }, 'scan started');
  try {
    const pk = quoteIdent(info.pk.name);
    const pkType = checkNativeType(info.pk.formatted);
    const inRange = rangeConditions(pk, pkType, range);
    if (useCopy && session.copyOut) {
      const parser = new CopyBinaryParser();
      const where = inRange.length === 0 ? '' : `WHERE ${inRange.join(' AND ')} ORDER BY ${pk}`;
      for await (const chunk of session.copyOut(
        `COPY (SELECT ${selectList(info, false)} FROM ${table} ${where}) TO STDOUT (FORMAT binary)`,
      )) {
        throwIfAborted(signal);
        for (const fields of parser.push(chunk)) {
          builder.add(fields);
          if (builder.length === batchSize) yield builder.take();
        }
      }
    } else {
      // Keyset pages: by binary COPY into a buffer where only that exists (PGlite), else SELECT.
      let after: string | null = null;
      for (;;) {
        throwIfAborted(signal);
        let rows = 0;
        if (useCopy && session.copyOutBuffered) {
          const conds = after === null ? inRange : [...inRange, `${pk} > ${quoteLiteral(after)}::${pkType}`];
          const where = conds.length === 0 ? '' : `WHERE ${conds.join(' AND ')}`;
          const bytes = await session.copyOutBuffered(
            `COPY (SELECT ${selectList(info, false)} FROM ${table} ${where} ORDER BY ${pk} LIMIT ` +
              `${batchSize}) TO STDOUT (FORMAT binary)`,
          );
          for (const fields of new CopyBinaryParser().push(bytes)) {
            builder.add(fields);
            after = rawText(fields[0] ?? null);
            rows++;
          }
        } else {
          const conds = after === null ? inRange : [...inRange, `${pk} > $1::${pkType}`];
          const where = conds.length === 0 ? '' : `WHERE ${conds.join(' AND ')}`;
          const r = await session.query(
            `SELECT ${selectList(info, true)} FROM ${table} ${where} ORDER BY ${pk} LIMIT ${batchSize}`,
            after === null ? [] : [after],
          );
          for (const rowObj of r.rows) builder.add(Object.values(rowObj) as RawField[]);
          if (r.rows.length > 0) after = String(Object.values(r.rows[r.rows.length - 1] as object)[0]);
          rows = r.rows.length;
        }
        if (rows === 0) break;
        yield builder.take();
        if (rows < batchSize) break;
      }
    }
    if (builder.length > 0) yield builder.take();
  } catch (err) {
    throw pgvectorError(err, `scan ${info.schema.name}`);
  }
}

/** The SQL conditions of a key range (none for the whole key space); bounds are literals of the key's type. */
function rangeConditions(pk: string, pkType: string, range: KeyRange | undefined): string[] {
  const out: string[] = [];
  if (range?.lo != null) out.push(`${pk} >= ${quoteLiteral(range.lo)}::${pkType}`);
  if (range?.hi != null) out.push(`${pk} < ${quoteLiteral(range.hi)}::${pkType}`);
  return out;
}
