/**
 * Changed rows rendered exactly as a scan renders them, so that their record digests match: the
 * pgoutput text of each row goes back to the server as a row literal, is read through the table's
 * own row type (each column's input function, with its typmod, as the original INSERT text was),
 * and comes out through the scan's `selectList` into the scan's `BatchBuilder`. One round trip per
 * batch of changes.
 */
import type { Change } from '../../src/adapter.js';
import type { Id, VectorRecord } from '../../src/model.js';
import { recordAt } from '../../src/model.js';
import { BatchBuilder, type RawField } from './pgvector-batch.js';
import type { TableInfo } from './pgvector-describe.js';
import type { PgQueryable } from './pgvector-driver.js';
import { UNCHANGED, type RelationColumn, type TupleValue } from './pgvector-pgoutput.js';
import { selectList } from './pgvector-scan.js';

/** A column of the table's row type, in attribute order (generated columns included: the row type has them). */
export interface TableColumn {
  name: string;
  typeOid: number;
  typmod: number;
  generated: boolean;
}

/** The table's row type: what a row literal must fill, and what pgoutput's Relation message must match. */
export async function tableColumns(q: PgQueryable, oid: string): Promise<TableColumn[]> {
  const r = await q.query(
    `SELECT a.attname AS name, a.atttypid::int8::text AS oid, a.atttypmod::text AS typmod, (a.attgenerated <> '')::text AS generated
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  return r.rows.map((row) => ({
    name: String(row.name),
    typeOid: Number(row.oid),
    typmod: Number(row.typmod),
    generated: row.generated === 'true',
  }));
}

/** The columns pgoutput publishes (generated columns are not, by default), as `name:typeoid:typmod`. */
export function publishedShape(columns: readonly TableColumn[]): string {
  return columns
    .filter((c) => !c.generated)
    .map((c) => `${c.name}:${c.typeOid}:${c.typmod}`)
    .join(',');
}

export function relationShape(columns: readonly RelationColumn[]): string {
  return columns.map((c) => `${c.name}:${c.typeOid}:${c.typmod}`).join(',');
}

/** A row of the stream to render: its values by table column (null: SQL NULL), and the fields that arrived unchanged. */
export interface RawUpsert {
  op: 'upsert';
  values: (string | null)[];
  unchanged: string[];
}

/** Record literal text (`("a","b",)`): quoted values with `"` and `\` escaped, an empty field for NULL. */
function rowLiteral(values: readonly (string | null)[]): string {
  return `(${values.map((v) => (v === null ? '' : `"${v.replace(/["\\]/g, '\\$&')}"`)).join(',')})`;
}

/**
 * The new tuple of an insert or update as table-ordered values. A value pgoutput left out as
 * unchanged TOAST is taken from the old tuple when the server sent the whole old row (REPLICA
 * IDENTITY FULL); otherwise it stays NULL and its field is named in `unchanged`: the core fills it
 * through `fill()` (a snapshot taken before the link's end; the table now may hold a newer value)
 * or from the chain.
 */
export function rawUpsert(
  table: readonly TableColumn[],
  relation: readonly RelationColumn[],
  tuple: readonly TupleValue[],
  oldRow: readonly TupleValue[] | undefined,
): RawUpsert {
  const byName = new Map<string, number>(relation.map((c, i) => [c.name, i]));
  const unchanged: string[] = [];
  const values = table.map((col) => {
    const i = byName.get(col.name);
    if (i === undefined) return null; // a generated column: the scan does not read it
    let v = tuple[i] ?? null;
    if (v === UNCHANGED) v = oldRow?.[i] ?? UNCHANGED;
    if (v === UNCHANGED) {
      unchanged.push(col.name);
      return null;
    }
    return v;
  });
  return { op: 'upsert', values, unchanged };
}

/** A key as the scan reads it (`pk::text`): bpchar's text form has its trailing blanks stripped. */
export function idFromText(info: TableInfo, text: string): Id {
  if (info.schema.idType === 'int64') return BigInt(text);
  return info.pk.typname === 'bpchar' ? text.replace(/ +$/, '') : text;
}

/**
 * Renders the upserts of `raw` on the server (one query) and returns the changes in order. The
 * lateral subquery parses each literal once; the scan's select list resolves its column names
 * against the row type's columns (the innermost scope), never against `u`.
 */
export async function renderChanges(
  q: PgQueryable,
  info: TableInfo,
  tableSql: string,
  raw: readonly (RawUpsert | { op: 'delete'; id: Id })[],
): Promise<Change[]> {
  const upserts = raw.filter((c): c is RawUpsert => c.op === 'upsert');
  let records: VectorRecord[] = [];
  if (upserts.length > 0) {
    const r = await q.query(
      `SELECT s.* FROM unnest($1::text[]) WITH ORDINALITY AS u(r, o)
         CROSS JOIN LATERAL (SELECT ${selectList(info, true)} FROM unnest(ARRAY[u.r::${tableSql}]) AS t) AS s ORDER BY u.o`,
      [upserts.map((u) => rowLiteral(u.values))],
    );
    const builder = new BatchBuilder(info, r.rows.length);
    for (const row of r.rows) builder.add(Object.values(row) as RawField[]);
    const batch = builder.take();
    records = Array.from({ length: batch.length }, (_, i) => recordAt(batch, i));
  }
  let k = 0;
  return raw.map((c): Change => {
    if (c.op === 'delete') return c;
    const record = records[k++] as VectorRecord;
    return c.unchanged.length > 0 ? { op: 'upsert', record, unchanged: c.unchanged } : { op: 'upsert', record };
  });
}
