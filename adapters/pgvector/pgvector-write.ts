/**
 * Writes: one transaction per batch. Binary COPY where every column has a binary codec (straight
 * into the table for inserts; through a temporary staging table and INSERT ... ON CONFLICT for
 * upserts), else batched INSERT ... SELECT FROM unnest() of text parameters cast by the server.
 * A restore marker in the same batch is set in the same transaction.
 */
import type { WriteOptions } from '../../src/adapter.js';
import { InvalidInputError, throwIfAborted } from '../../src/errors.js';
import type { Payload, PayloadField, PayloadValue, RecordBatch, VectorColumn } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { PgvectorContext } from './pgvector-context.js';
import { ByteSink, binaryEncoder, copyHeader } from './pgvector-copy.js';
import { type TableInfo, describeTable, findTableOid } from './pgvector-describe.js';
import type { PgSession } from './pgvector-driver.js';
import { setMarker } from './pgvector-marker.js';
import { checkNativeType, quoteIdent } from './pgvector-sql.js';
import { castExpr, isArrayLiteral, toText, vectorLiteral } from './pgvector-types.js';

const PLUGIN = 'pgvector';

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
    await this.ctx.transaction(`write ${collection}`, async (s) => {
      const info = await this.describeForWrite(s, collection);
      validateBatchVectors(
        batch,
        info.schema.vectors.filter((v) => v.name in batch.vectors),
        PLUGIN,
      );
      const fields = this.writableFields(info, batch);
      const copyable =
        this.o.useCopy &&
        s.copyIn !== undefined &&
        [info.pk, ...fields.payload.map((p) => p.col)].every((c) => binaryEncoder(c.typname) !== undefined) &&
        // Arrays held as their text form ('[0:2]={1,2,3}') are cast by the server, on the INSERT path.
        !fields.payload.some((p) => batch.payloads.some((row) => isArrayLiteral(own(row, p.field.name), p.col, p.field)));
      if (batch.length > 0) {
        if (copyable) await this.writeCopy(s, info, fields, batch, options.mode);
        else await this.writeInsert(s, info, fields, batch, options.mode);
      }
      if (options.marker !== undefined) await setMarker(this.ctx, s, info.oid, info.schema.name, options.marker);
    });
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

  private async writeCopy(
    s: PgSession,
    info: TableInfo,
    fields: WriteFields,
    batch: RecordBatch,
    mode: WriteOptions['mode'],
  ): Promise<void> {
    const sink = new ByteSink();
    copyHeader(sink);
    const nFields = 1 + fields.vectors.length + fields.payload.length;
    const idEnc = binaryEncoder(info.pk.typname) as (t: string) => Uint8Array;
    const encs = fields.payload.map((p) => binaryEncoder(p.col.typname) as (t: string) => Uint8Array);
    const cols = fields.vectors.map((v) => batch.vectors[v.name] as VectorColumn);
    for (let i = 0; i < batch.length; i++) {
      sink.int16(nFields);
      sink.field(idEnc(String(batch.ids[i])));
      for (const col of cols) {
        if (col.valid && col.valid[i] === 0) sink.int32(-1);
        else sink.vector(col.data, i * col.dims, col.dims);
      }
      const payload = batch.payloads[i] ?? {};
      fields.payload.forEach((p, k) => {
        const t = toText(own(payload, p.field.name), p.col, p.field);
        sink.field(t === null ? null : (encs[k] as (t: string) => Uint8Array)(t));
      });
    }
    sink.int16(-1);
    const columns = this.columnList(info, fields);
    const copyIn = s.copyIn as NonNullable<PgSession['copyIn']>;
    if (mode === 'insert') {
      await copyIn(`COPY ${this.ctx.table(info.schema.name)} (${columns}) FROM STDIN (FORMAT binary)`, sink.finish());
      return;
    }
    const tmp = quoteIdent(`vectordr_stage_${process.pid}`);
    await s.query(`CREATE TEMP TABLE ${tmp} (LIKE ${this.ctx.table(info.schema.name)} INCLUDING DEFAULTS) ON COMMIT DROP`);
    await copyIn(`COPY ${tmp} (${columns}) FROM STDIN (FORMAT binary)`, sink.finish());
    await s.query(
      `INSERT INTO ${this.ctx.table(info.schema.name)} (${columns}) SELECT ${columns} FROM ` +
        `${tmp}${this.conflictClause(info, fields, mode)}`,
    );
  }

  private async writeInsert(
    s: PgSession,
    info: TableInfo,
    fields: WriteFields,
    batch: RecordBatch,
    mode: WriteOptions['mode'],
  ): Promise<void> {
    const all: { nativeType: string; field: Pick<PayloadField, 'type' | 'array'> }[] = [
      { nativeType: info.pk.formatted, field: { type: 'string', array: false } },
      ...fields.vectors.map((v) => ({ nativeType: v.formatted, field: { type: 'string' as const, array: false } })),
      ...fields.payload.map((p) => ({ nativeType: p.col.formatted, field: p.field })),
    ];
    const casts = all.map((c, k) => castExpr(`u.c${k}`, checkNativeType(c.nativeType), c.field));
    const sql = `INSERT INTO ${this.ctx.table(info.schema.name)} (${this.columnList(info, fields)})
      SELECT ${casts.join(', ')} FROM unnest(${all.map((_, k) => `$${k + 1}::text[]`).join(', ')}) AS u(${all.map((_, k) => `c${k}`).join(', ')})${this.conflictClause(info, fields, mode)}`;
    for (let start = 0; start < batch.length; start += this.o.writeBatchRows) {
      const end = Math.min(batch.length, start + this.o.writeBatchRows);
      const params: (string | null)[][] = all.map(() => []);
      for (let i = start; i < end; i++) {
        (params[0] as (string | null)[]).push(String(batch.ids[i]));
        fields.vectors.forEach((v, k) => {
          const col = batch.vectors[v.name] as VectorColumn;
          (params[1 + k] as (string | null)[]).push(
            col.valid && col.valid[i] === 0 ? null : vectorLiteral(col.data.subarray(i * col.dims, (i + 1) * col.dims)),
          );
        });
        const payload = batch.payloads[i] ?? {};
        fields.payload.forEach((p, k) => {
          (params[1 + fields.vectors.length + k] as (string | null)[]).push(toText(own(payload, p.field.name), p.col, p.field));
        });
      }
      await s.query(sql, params);
    }
  }
}

/** A payload's own value for a field: never one inherited from Object.prototype (a column named "constructor"). */
function own(payload: Payload, name: string): PayloadValue | undefined {
  return Object.hasOwn(payload, name) ? payload[name] : undefined;
}
