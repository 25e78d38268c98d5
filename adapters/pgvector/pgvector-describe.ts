/** Reads a table's shape from the catalog: primary key, vector columns, payload columns, indexes. */
import { InvalidInputError, NotFoundError, UnsupportedOperationError } from '../../src/errors.js';
import type { CollectionSchema, IdType, IndexSpec, Metric, PayloadField, VectorField } from '../../src/model.js';
import type { PgQueryable } from './pgvector-driver.js';
import { quoteIdent } from './pgvector-sql.js';
import { type ColumnInfo, neutralType } from './pgvector-types.js';

export interface TableInfo {
  oid: string;
  schema: CollectionSchema;
  pk: ColumnInfo;
  vectors: ColumnInfo[];
  payload: { col: ColumnInfo; field: PayloadField }[];
  comment: string | null;
}

const OPCLASS_METRIC: Record<string, Metric> = {
  vector_l2_ops: 'l2',
  vector_ip_ops: 'dot',
  vector_cosine_ops: 'cosine',
  vector_l1_ops: 'l1',
};

export const METRIC_OPCLASS: Partial<Record<Metric, string>> = {
  l2: 'vector_l2_ops',
  dot: 'vector_ip_ops',
  cosine: 'vector_cosine_ops',
  l1: 'vector_l1_ops',
};

const ID_TYPES: Record<string, IdType> = {
  int2: 'int64',
  int4: 'int64',
  int8: 'int64',
  text: 'string',
  varchar: 'string',
  bpchar: 'string',
  uuid: 'uuid',
};
const UNSUPPORTED_VECTOR_TYPES = new Set(['halfvec', 'sparsevec', 'bit']);

const s = (v: unknown): string => String(v);

export async function findTableOid(q: PgQueryable, schemaName: string, table: string): Promise<string | undefined> {
  quoteIdent(table); // refuses names PostgreSQL would truncate or cannot hold
  const r = await q.query(
    `SELECT c.oid::int8::text AS oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schemaName, table],
  );
  const row = r.rows[0];
  return row ? s(row.oid) : undefined;
}

/** `name`: the collection name the caller addressed the table by (`schema.table` or `table`). */
export async function describeTable(q: PgQueryable, schemaName: string, table: string, name = table): Promise<TableInfo> {
  const oid = await findTableOid(q, schemaName, table);
  if (!oid) throw new NotFoundError('COLLECTION_NOT_FOUND', `Table ${schemaName}.${table} does not exist.`, { plugin: 'pgvector' });

  const cols = await q.query(
    `SELECT a.attname AS name, t.typname AS typname, format_type(a.atttypid, a.atttypmod) AS formatted,
            a.attnotnull::text AS notnull, a.atttypmod::text AS typmod, (a.attgenerated <> '')::text AS generated
       FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  const pkCols = await q.query(
    `SELECT a.attname AS name FROM pg_catalog.pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.ord`,
    [oid],
  );
  const idx = await q.query(
    `SELECT ic.relname AS name, am.amname AS am, pg_get_indexdef(i.indexrelid) AS def,
            COALESCE(array_to_string(ic.reloptions, ','), '') AS options, i.indisprimary::text AS is_primary, i.indisunique::text AS is_unique,
            i.indnatts::text AS natts, (i.indpred IS NOT NULL OR i.indexprs IS NOT NULL)::text AS complex,
            (SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0]) AS col,
            (SELECT opc.opcname FROM pg_catalog.pg_opclass opc WHERE opc.oid = i.indclass[0]) AS opclass
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid JOIN pg_catalog.pg_am am ON am.oid = ic.relam
      WHERE i.indrelid = $1::oid ORDER BY ic.relname`,
    [oid],
  );
  const comment = await q.query(`SELECT obj_description($1::oid, 'pg_class') AS c`, [oid]);

  if (pkCols.rows.length === 0) {
    throw new InvalidInputError(
      'NO_PRIMARY_KEY',
      `Table ${schemaName}.${table} has no primary key; vectordr needs one to identify rows. Add ` +
        `one (ALTER TABLE ... ADD PRIMARY KEY (id)) and retry.`,
      { plugin: 'pgvector' },
    );
  }
  if (pkCols.rows.length > 1) {
    throw new UnsupportedOperationError(
      `Table ${schemaName}.${table} has a composite primary key ` +
        `(${pkCols.rows.map((r) => s(r.name)).join(', ')}); only single-column keys are supported.`,
      { plugin: 'pgvector' },
    );
  }
  const pkName = s(pkCols.rows[0]?.name);
  const columns: (ColumnInfo & { typmod: number; generated: boolean })[] = cols.rows.map((r) => ({
    name: s(r.name),
    typname: s(r.typname),
    formatted: s(r.formatted),
    notNull: r.notnull === 'true',
    typmod: Number(r.typmod),
    generated: r.generated === 'true',
  }));

  const indexes: IndexSpec[] = [];
  const metricOf = new Map<string, Metric>();
  for (const r of idx.rows) {
    if (r.is_primary === 'true') continue;
    const spec: IndexSpec = { name: s(r.name), kind: s(r.am), field: s(r.col ?? ''), params: {}, native: s(r.def) };
    if (r.is_unique === 'true') spec.unique = true;
    const metric = r.opclass ? OPCLASS_METRIC[s(r.opclass)] : undefined;
    if (metric) {
      spec.metric = metric;
      if (!metricOf.has(spec.field)) metricOf.set(spec.field, metric);
    }
    for (const kv of s(r.options).split(',').filter(Boolean)) {
      const [k, v] = kv.split('=');
      if (k && v !== undefined) spec.params[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    }
    if (r.complex === 'true' || r.natts !== '1') spec.params.unsupported = 'expression, partial or multi-column index';
    indexes.push(spec);
  }

  let pk: ColumnInfo | undefined;
  const vectors: ColumnInfo[] = [];
  const vectorFields: VectorField[] = [];
  const payload: TableInfo['payload'] = [];
  for (const c of columns) {
    if (c.name === pkName) {
      pk = c;
      continue;
    }
    if (c.generated) continue; // derived by the database; recreated only with the table's DDL
    if (c.typname === 'vector') {
      if (c.typmod <= 0) {
        throw new UnsupportedOperationError(
          `Column ${c.name} of ${schemaName}.${table} is vector without dimensions; declare it as ` +
            `vector(n) (ALTER TABLE ... ALTER COLUMN ... TYPE vector(n)).`,
          { plugin: 'pgvector' },
        );
      }
      vectors.push(c);
      vectorFields.push({
        name: c.name,
        dims: c.typmod,
        metric: metricOf.get(c.name) ?? 'unspecified',
        element: 'float32',
        nullable: !c.notNull,
        nativeType: c.formatted,
      });
      continue;
    }
    if (UNSUPPORTED_VECTOR_TYPES.has(c.typname)) {
      throw new UnsupportedOperationError(
        `Column ${c.name} of ${schemaName}.${table} has type ${c.formatted}, which vectordr does ` +
          `not support yet; nothing was exported.`,
        { plugin: 'pgvector', details: { column: c.name } },
      );
    }
    const nt = neutralType(c.typname);
    const field: PayloadField = { name: c.name, type: nt.type, array: nt.array, nullable: !c.notNull, nativeType: c.formatted };
    payload.push({ col: c, field });
  }
  if (!pk) throw new InvalidInputError('NO_PRIMARY_KEY', `Primary key column of ${schemaName}.${table} not found.`, { plugin: 'pgvector' });
  const idType = ID_TYPES[pk.typname];
  if (!idType) {
    throw new UnsupportedOperationError(
      `Primary key ${pk.name} of ${schemaName}.${table} has type ${pk.formatted}; supported key ` +
        `types are integer, text/varchar and uuid.`,
      { plugin: 'pgvector' },
    );
  }
  if (vectors.length === 0) {
    throw new InvalidInputError('SCHEMA_MISMATCH', `Table ${schemaName}.${table} has no vector(n) column; it is not a vector collection.`, {
      plugin: 'pgvector',
    });
  }
  return {
    oid,
    pk,
    vectors,
    payload,
    comment: comment.rows[0]?.c == null ? null : s(comment.rows[0]?.c),
    schema: {
      name,
      idField: pk.name,
      idType,
      idNativeType: pk.formatted,
      vectors: vectorFields,
      payload: payload.map((p) => p.field),
      indexes,
    },
  };
}

/** One single-column index as the catalog defines it, to tell whether a recorded index already exists. */
export interface IndexDefinition {
  method: string;
  column: string;
  opclass: string;
  /** The column type's default operator class for this method. */
  defaultOpclass: boolean;
  unique: boolean;
  /** reloptions, `k=v`, sorted. */
  options: string[];
}

/** The table's plain single-column indexes (no expression, no predicate), primary key excluded. */
export async function indexDefinitions(q: PgQueryable, oid: string): Promise<IndexDefinition[]> {
  const r = await q.query(
    `SELECT am.amname AS method, a.attname AS col, opc.opcname AS opclass, opc.opcdefault::text AS opcdefault, i.indisunique::text AS is_unique,
            COALESCE(array_to_string(ARRAY(SELECT o FROM unnest(ic.reloptions) o ORDER BY o), ','), '') AS options
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid JOIN pg_catalog.pg_am am ON am.oid = ic.relam
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
       JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[0]
      WHERE i.indrelid = $1::oid AND NOT i.indisprimary AND i.indnatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL`,
    [oid],
  );
  return r.rows.map((row) => ({
    method: s(row.method),
    column: s(row.col),
    opclass: s(row.opclass),
    defaultOpclass: row.opcdefault === 'true',
    unique: row.is_unique === 'true',
    options: s(row.options).split(',').filter(Boolean),
  }));
}

/**
 * Columns of an existing table that a restore must fill but a snapshot with these `fields` would
 * leave empty: NOT NULL, no default, not an identity or generated column, not the primary key.
 */
export async function requiredColumnsOutside(q: PgQueryable, oid: string, fields: ReadonlySet<string>): Promise<string[]> {
  const r = await q.query(
    `SELECT a.attname AS name FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey))
      ORDER BY a.attnum`,
    [oid],
  );
  return r.rows.map((row) => s(row.name)).filter((n) => !fields.has(n));
}
