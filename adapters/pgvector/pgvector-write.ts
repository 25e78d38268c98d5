/**
 * Writes: one transaction per call (one batch, or the batches of `writeBatches`). Binary COPY where
 * every column has a binary codec (straight into the table for inserts, one COPY across consecutive
 * batches, encoded while PostgreSQL ingests what was sent; through a temporary staging table and
 * INSERT ... ON CONFLICT for upserts), else batched INSERT ... SELECT FROM unnest() of text
 * parameters cast by the server. A restore marker is set in the same transaction.
 */
import type { WriteOptions } from '../../src/adapter.js';
import { InvalidInputError, throwIfAborted } from '../../src/errors.js';
import type { AnyVectorColumn, Payload, PayloadField, PayloadValue, RecordBatch } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { PgvectorContext } from './pgvector-context.js';
import { ByteSink, binaryEncoder, copyHeader } from './pgvector-copy.js';
import { type FieldWriter, idWriter, payloadWriter } from './pgvector-copy-encode.js';
import { type TableInfo, describeTable, findTableOid } from './pgvector-describe.js';
import type { PgSession } from './pgvector-driver.js';
import { setMarker } from './pgvector-marker.js';
import { checkNativeType, quoteIdent } from './pgvector-sql.js';
import { castExpr, isArrayLiteral, toText } from './pgvector-types.js';
import { type BoundVectorColumn, bindVectorColumn } from './pgvector-vector-write.js';
import { columnType } from './pgvector-vectors.js';

const PLUGIN = 'pgvector';
/** The recorded id goes in as it is, also into an identity column GENERATED ALWAYS (COPY always does so). */
export const OVERRIDING = 'OVERRIDING SYSTEM VALUE';

/** The columns of a table one write fills: every vector column and the payload columns the batch carries. */
type WriteFields = { vectors: TableInfo['vectors']; payload: TableInfo['payload'] };

export class PgvectorWriter {
  private readonly writeInfo = new Map<string, TableInfo>();

  constructor(
    private readonly ctx: PgvectorContext,
    private readonly o: { useCopy: boolean; writeBatchRows: number },
  ) {}

  async write(collection: string, batch: RecordBatch, options: WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    if (batch.length === 0 && options.marker === undefined) return;
    await this.writeBatches(collection, oneBatch(batch), options);
  }

  /**
   * Writes every batch of `batches` in one transaction, committed with the marker: all or nothing.
   * Each batch is validated (vectors, payload fields) before any of its rows is sent. Consecutive
   * batches that go in by binary COPY share one COPY statement, so PostgreSQL parses the rows sent
   * while the next batch is read and encoded.
   */
  async writeBatches(collection: string, batches: AsyncIterable<RecordBatch>, options: WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    await this.ctx.transaction(`write ${collection}`, async (s) => {
      const info = await this.describeForWrite(s, collection);
      const it = batches[Symbol.asyncIterator]();
      let next = await this.nextChecked(it, info, options);
      while (next !== undefined) {
        const { batch, fields } = next;
        if (batch.length === 0) next = await this.nextChecked(it, info, options);
        else if (options.mode === 'insert' && this.copyable(s, info, fields, batch)) next = await this.copyRun(s, info, next, it, options);
        else {
          if (this.copyable(s, info, fields, batch)) await this.writeCopy(s, info, next, options.mode);
          else await this.writeInsert(s, info, next, options.mode);
          next = await this.nextChecked(it, info, options);
        }
      }
      if (options.marker !== undefined) await setMarker(this.ctx, s, info.oid, info.schema.name, options.marker);
    });
  }

  /** The next batch with its target columns, checked (vectors, payload fields) before anything of it is sent. */
  private async nextChecked(it: AsyncIterator<RecordBatch>, info: TableInfo, options: WriteOptions): Promise<Checked | undefined> {
    const r = await it.next();
    if (r.done === true) return undefined;
    throwIfAborted(options.signal);
    const batch = r.value;
    validateBatchVectors(
      batch,
      info.schema.vectors.filter((v) => v.name in batch.vectors && info.vectors.some((c) => c.name === v.name && c.type === 'vector')),
      PLUGIN,
    );
    const fields = this.writableFields(info, batch);
    const table = this.ctx.display(info.schema.name);
    const vectors = fields.vectors.map((v) => bindVectorColumn(v, batch.vectors[v.name] as AnyVectorColumn, batch, table));
    return { batch, fields, vectors };
  }

  private copyable(s: PgSession, info: TableInfo, fields: WriteFields, batch: RecordBatch): boolean {
    return (
      this.o.useCopy &&
      s.copyIn !== undefined &&
      [info.pk, ...fields.payload.map((p) => p.col)].every((c) => binaryEncoder(c.typname) !== undefined) &&
      // Arrays held as their text form ('[0:2]={1,2,3}') are cast by the server, on the INSERT path.
      !fields.payload.some((p) => batch.payloads.some((row) => isArrayLiteral(own(row, p.field.name), p.col, p.field)))
    );
  }

  /**
   * One COPY of `first` and the batches after it that fill the same columns and can go by COPY;
   * returns the first batch it did not take (or undefined at the end). The chunks are encoded as
   * the driver sends them, so encoding overlaps PostgreSQL's parsing of what was already sent.
   */
  private async copyRun(
    s: PgSession,
    info: TableInfo,
    first: Checked,
    it: AsyncIterator<RecordBatch>,
    options: WriteOptions,
  ): Promise<Checked | undefined> {
    const columns = this.columnList(info, first.fields);
    let left: Checked | undefined;
    const next = (): Promise<Checked | undefined> => this.nextChecked(it, info, options);
    const streams = this.ctx.driver.kind === 'pg';
    const fits = (c: Checked): boolean => this.columnList(info, c.fields) === columns && this.copyable(s, info, c.fields, c.batch);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      const sink = new ByteSink();
      copyHeader(sink);
      let cur: Checked | undefined = first;
      while (cur !== undefined) {
        yield* encodeRows(sink, info, cur);
        cur = await next();
        // A batch of other columns, or one that needs the INSERT path, ends this COPY; so does every
        // batch on PGlite, whose COPY is one in-memory blob (a group's would hold all its segments).
        if (cur !== undefined && cur.batch.length > 0 && (!streams || !fits(cur))) {
          left = cur;
          break;
        }
      }
      sink.int16(-1);
      yield* sink.finish();
    }
    await (s.copyIn as NonNullable<PgSession['copyIn']>)(
      `COPY ${this.ctx.table(info.schema.name)} (${columns}) FROM STDIN (FORMAT binary)`,
      chunks(),
    );
    return left;
  }

  /**
   * The table's shape for write(), cached per table: a restore writes hundreds of batches into one
   * table, and describing it costs five catalog queries. The cache is keyed by the table's oid, so a
   * table dropped and recreated under the same name is described again.
   */
  private async describeForWrite(s: PgSession, collection: string): Promise<TableInfo> {
    const oid = await findTableOid(s, ...this.ctx.ref(collection));
    const cached = this.writeInfo.get(collection);
    if (cached && cached.oid === oid) return cached;
    const info = await describeTable(s, ...this.ctx.ref(collection), collection);
    this.writeInfo.set(collection, info);
    return info;
  }

  /** Target columns for the batch's fields; a payload field the table lacks is an error, never dropped. */
  private writableFields(info: TableInfo, batch: RecordBatch): WriteFields {
    const vectors = info.vectors.filter((v) => v.name in batch.vectors);
    const missing = Object.keys(batch.vectors).filter((n) => !info.vectors.some((v) => v.name === n));
    if (missing.length > 0)
      throw new InvalidInputError('SCHEMA_MISMATCH', `Table ${info.schema.name} has no vector column ${missing.join(', ')}.`, {
        plugin: PLUGIN,
      });
    const keys = new Set<string>();
    for (const p of batch.payloads) for (const k of Object.keys(p)) keys.add(k);
    const unknown = [...keys].filter((k) => !info.payload.some((p) => p.field.name === k));
    if (unknown.length > 0) {
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `Table ${info.schema.name} has no column for payload field(s) ${unknown.join(', ')}; add ` +
          `them or restore into a new table. Nothing was written.`,
        { plugin: PLUGIN },
      );
    }
    return { vectors, payload: info.payload };
  }

  private conflictClause(info: TableInfo, fields: WriteFields, mode: WriteOptions['mode']): string {
    if (mode === 'insert') return '';
    const sets = [...fields.vectors.map((v) => v.name), ...fields.payload.map((p) => p.col.name)].map(
      (n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`,
    );
    return ` ON CONFLICT (${quoteIdent(info.pk.name)}) DO ${sets.length ? `UPDATE SET ${sets.join(', ')}` : 'NOTHING'}`;
  }

  private columnList(info: TableInfo, fields: WriteFields): string {
    return [info.pk.name, ...fields.vectors.map((v) => v.name), ...fields.payload.map((p) => p.col.name)].map(quoteIdent).join(', ');
  }

  /** An upsert by COPY: into a temporary staging table, then INSERT ... ON CONFLICT. */
  private async writeCopy(s: PgSession, info: TableInfo, checked: Checked, mode: WriteOptions['mode']): Promise<void> {
    const { fields } = checked;
    const sink = new ByteSink();
    copyHeader(sink);
    const chunks = [...encodeRows(sink, info, checked)];
    sink.int16(-1);
    chunks.push(...sink.finish());
    const columns = this.columnList(info, fields);
    const copyIn = s.copyIn as NonNullable<PgSession['copyIn']>;
    if (mode === 'insert') {
      await copyIn(`COPY ${this.ctx.table(info.schema.name)} (${columns}) FROM STDIN (FORMAT binary)`, chunks);
      return;
    }
    const tmp = quoteIdent(`vectordr_stage_${process.pid}`);
    await s.query(`CREATE TEMP TABLE ${tmp} (LIKE ${this.ctx.table(info.schema.name)} INCLUDING DEFAULTS) ON COMMIT DROP`);
    await copyIn(`COPY ${tmp} (${columns}) FROM STDIN (FORMAT binary)`, chunks);
    await s.query(
      `INSERT INTO ${this.ctx.table(info.schema.name)} (${columns}) ${OVERRIDING} SELECT ${columns} FROM ` +
        `${tmp}${this.conflictClause(info, fields, mode)}`,
    );
    // The next batch of the same transaction creates it again.
    await s.query(`DROP TABLE ${tmp}`);
  }

  private async writeInsert(s: PgSession, info: TableInfo, checked: Checked, mode: WriteOptions['mode']): Promise<void> {
    const { batch, fields, vectors } = checked;
    const all: { nativeType: string; field: Pick<PayloadField, 'type' | 'array'> }[] = [
      { nativeType: checkNativeType(info.pk.formatted), field: { type: 'string', array: false } },
      // Built from the column's type and dims: a sparsevec's dims can exceed what checkNativeType accepts.
      ...fields.vectors.map((v) => ({ nativeType: columnType(v.type, v.dims), field: { type: 'string' as const, array: false } })),
      ...fields.payload.map((p) => ({ nativeType: checkNativeType(p.col.formatted), field: p.field })),
    ];
    const casts = all.map((c, k) => castExpr(`u.c${k}`, c.nativeType, c.field));
    const sql = `INSERT INTO ${this.ctx.table(info.schema.name)} (${this.columnList(info, fields)}) ${OVERRIDING}
      SELECT ${casts.join(', ')} FROM unnest(${all.map((_, k) => `$${k + 1}::text[]`).join(', ')}) AS u(${all.map((_, k) => `c${k}`).join(', ')})${this.conflictClause(info, fields, mode)}`;
    for (let start = 0; start < batch.length; start += this.o.writeBatchRows) {
      const end = Math.min(batch.length, start + this.o.writeBatchRows);
      const params: (string | null)[][] = all.map(() => []);
      for (let i = start; i < end; i++) {
        (params[0] as (string | null)[]).push(String(batch.ids[i]));
        vectors.forEach((v, k) => (params[1 + k] as (string | null)[]).push(v.text(i)));
        const payload = batch.payloads[i] ?? {};
        fields.payload.forEach((p, k) => {
          (params[1 + fields.vectors.length + k] as (string | null)[]).push(toText(own(payload, p.field.name), p.col, p.field));
        });
      }
      await s.query(sql, params);
    }
  }
}

/** A batch and the columns it fills, checked; `vectors` in the order of `fields.vectors`. */
interface Checked {
  batch: RecordBatch;
  fields: WriteFields;
  vectors: BoundVectorColumn[];
}

async function* oneBatch(batch: RecordBatch): AsyncGenerator<RecordBatch> {
  yield batch;
}

/** Rows ~256 KiB of COPY data at 768 dims: how often the encoder hands completed chunks over. */
const ROWS_PER_STEP = 64;

/**
 * The binary COPY tuples of a batch into `sink`, yielding the chunks it completes as it goes. Each
 * vector is copied and byte-swapped in place (faster than one swapped copy of the column, measured:
 * bench/restore-encode-micro.ts); payload fields go through their column's FieldWriter.
 */
function* encodeRows(sink: ByteSink, info: TableInfo, checked: Checked): Generator<Buffer> {
  const { fields, batch, vectors } = checked;
  const nFields = 1 + fields.vectors.length + fields.payload.length;
  const idWrite = idWriter(info.pk);
  const writers = fields.payload.map((p) => payloadWriter(p.col, p.field) as FieldWriter);
  const names = fields.payload.map((p) => p.field.name);
  const { ids, payloads } = batch;
  for (let i = 0; i < batch.length; i++) {
    sink.int16(nFields);
    idWrite(sink, ids[i] as bigint | string);
    for (let v = 0; v < vectors.length; v++) (vectors[v] as BoundVectorColumn).copy(sink, i);
    const payload = payloads[i];
    for (let k = 0; k < writers.length; k++) {
      (writers[k] as FieldWriter)(sink, payload === undefined ? undefined : own(payload, names[k] as string));
    }
    if (i % ROWS_PER_STEP === ROWS_PER_STEP - 1) yield* sink.take();
  }
  yield* sink.take();
}

/** A payload's own value for a field: never one inherited from Object.prototype (a column named "constructor"). */
function own(payload: Payload, name: string): PayloadValue | undefined {
  return Object.hasOwn(payload, name) ? payload[name] : undefined;
}
