/** Reads a table's shape from the catalog: primary key, vector columns, payload columns, indexes. */
import { InvalidInputError, NotFoundError, UnsupportedOperationError } from '../../src/errors.js';
import type { CollectionSchema, IdType, IndexSpec, Metric, PayloadField, VectorField } from '../../src/model.js';
import type { PgQueryable } from './pgvector-driver.js';
import { type IndexExpression, matchIndexExpression, parseIndexExpression } from './pgvector-expression-index.js';
import { quoteIdent } from './pgvector-sql.js';
import { type ColumnInfo, neutralType } from './pgvector-types.js';
import { PG_VECTOR_TYPES, type PgVectorType, opclassMetric, pgVectorType } from './pgvector-vectors.js';

export interface TableInfo {
  oid: string;
  schema: CollectionSchema;
  pk: ColumnInfo;
  vectors: VectorColumnInfo[];
  payload: { col: ColumnInfo; field: PayloadField }[];
  comment: string | null;
}

/** A vector column: its pgvector type and dimensions (bits for bit, the declared dimension for sparsevec). */
export interface VectorColumnInfo extends ColumnInfo {
  type: PgVectorType;
  dims: number;
}

const ID_TYPES: Record<string, IdType> = {
  int2: 'int64',
  int4: 'int64',
  int8: 'int64',
  text: 'string',
  varchar: 'string',
  bpchar: 'string',
  uuid: 'uuid',
};

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
            i.indnatts::text AS natts, (i.indpred IS NOT NULL)::text AS partial, (i.indexprs IS NOT NULL)::text AS expr,
            pg_get_indexdef(i.indexrelid, 1, false) AS first,
            -- An expression index names the first column its expression reads (a manifest's index field is never empty).
            COALESCE((SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0]),
                     (SELECT a.attname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                       WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = i.indexrelid AND d.refobjid = i.indrelid AND d.refobjsubid > 0
                       ORDER BY d.refobjsubid LIMIT 1), ic.relname) AS col,
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

  let pk: ColumnInfo | undefined;
  const vectors: VectorColumnInfo[] = [];
  const payload: TableInfo['payload'] = [];
  for (const c of columns) {
    if (c.name === pkName) {
      pk = c;
      continue;
    }
    if (c.generated) continue; // derived by the database; recreated only with the table's DDL
    const type = pgVectorType(c.typname);
    if (type === undefined) {
      const nt = neutralType(c.typname);
      const field: PayloadField = { name: c.name, type: nt.type, array: nt.array, nullable: !c.notNull, nativeType: c.formatted };
      payload.push({ col: c, field });
      continue;
    }
    if (c.typmod <= 0 || c.typmod > PG_VECTOR_TYPES[type].maxDims) {
      throw new UnsupportedOperationError(
        `Column ${c.name} of ${schemaName}.${table} is ${c.formatted}: vectordr needs a ${type} column with declared ` +
          `dimensions (1 to ${PG_VECTOR_TYPES[type].maxDims}); declare it as ${type}(n) (ALTER TABLE ... ALTER COLUMN ... ` +
          `TYPE ${type}(n)). Nothing was exported.`,
        { plugin: 'pgvector', details: { column: c.name, type: c.formatted } },
      );
    }
    vectors.push({ ...c, type, dims: c.typmod });
  }

  const { indexes, metricOf } = readIndexes(idx.rows, new Map(vectors.map((v) => [v.name, v])));
  const vectorFields: VectorField[] = vectors.map((v) => vectorField(v, metricOf.get(v.name) ?? 'unspecified'));
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
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Table ${schemaName}.${table} has no vector(n), halfvec(n), sparsevec(n) or bit(n) column; it is not a vector collection.`,
      {
        plugin: 'pgvector',
      },
    );
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

/** The neutral field of a vector column; `kind` only for sparse (absent = dense, as 0.4.0 wrote it). */
function vectorField(v: VectorColumnInfo, metric: Metric): VectorField {
  const facts = PG_VECTOR_TYPES[v.type];
  const base = { name: v.name, dims: v.dims, metric, element: facts.element, nullable: !v.notNull, nativeType: v.formatted };
  return (facts.kind === 'sparse' ? { ...base, kind: 'sparse' } : base) as VectorField;
}

/**
 * The index specs of a table's index rows (primary key excluded) and the metric of each vector
 * column, from the operator class of its first plain index. The expression indexes pgvector
 * documents are recorded structured (pgvector-expression-index.ts); any other expression, partial or
 * multi-column index is recorded with `params.unsupported`. Plain indexes come first, then the
 * expressions, then the unsupported: an engine that looks up "the index of field e" finds the plain one.
 */
function readIndexes(
  rows: Record<string, unknown>[],
  vectors: ReadonlyMap<string, VectorColumnInfo>,
): { indexes: IndexSpec[]; metricOf: Map<string, Metric> } {
  const plain: IndexSpec[] = [];
  const expressions: IndexSpec[] = [];
  const unsupported: IndexSpec[] = [];
  const metricOf = new Map<string, Metric>();
  for (const r of rows) {
    if (r.is_primary === 'true') continue;
    const spec: IndexSpec = { name: s(r.name), kind: s(r.am), field: s(r.col ?? ''), params: {}, native: s(r.def) };
    if (r.is_unique === 'true') spec.unique = true;
    for (const kv of s(r.options).split(',').filter(Boolean)) {
      const [k, v] = kv.split('=');
      if (k && v !== undefined) spec.params[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    }
    const opclass = r.opclass == null ? '' : s(r.opclass);
    const simple = r.natts === '1' && r.partial !== 'true';
    const parsed = simple && r.expr === 'true' && r.is_unique !== 'true' ? parseIndexExpression(s(r.first), opclass, vectors) : undefined;
    if (parsed) {
      const e: IndexExpression = parsed.expression;
      spec.field = e.column;
      spec.metric = parsed.metric;
      Object.assign(spec.params, { expression: e.expression, dims: e.dims }, e.start === undefined ? {} : { start: e.start });
      expressions.push(spec);
      continue;
    }
    const om = opclassMetric(opclass);
    if (om && vectors.get(spec.field)?.type === om.type) {
      spec.metric = om.metric;
      if (!metricOf.has(spec.field)) metricOf.set(spec.field, om.metric);
    }
    if (!simple || r.expr === 'true') {
      spec.params.unsupported = 'expression, partial or multi-column index';
      unsupported.push(spec);
    } else plain.push(spec);
  }
  return { indexes: [...plain, ...expressions, ...unsupported], metricOf };
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
  /** An index on one of the expressions pgvector documents (`column` is the column inside it). */
  expression?: IndexExpression;
}

/**
 * The table's single-column indexes without predicate, primary key excluded: on a column, or on one
 * of the expressions pgvector documents (other expressions are left out).
 */
export async function indexDefinitions(q: PgQueryable, oid: string): Promise<IndexDefinition[]> {
  const r = await q.query(
    `SELECT am.amname AS method, a.attname AS col, opc.opcname AS opclass, opc.opcdefault::text AS opcdefault, i.indisunique::text AS is_unique,
            COALESCE(array_to_string(ARRAY(SELECT o FROM unnest(ic.reloptions) o ORDER BY o), ','), '') AS options,
            CASE WHEN i.indexprs IS NOT NULL THEN pg_get_indexdef(i.indexrelid, 1, false) END AS expr
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid JOIN pg_catalog.pg_am am ON am.oid = ic.relam
       LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
       JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[0]
      WHERE i.indrelid = $1::oid AND NOT i.indisprimary AND i.indnatts = 1 AND i.indpred IS NULL`,
    [oid],
  );
  const out: IndexDefinition[] = [];
  for (const row of r.rows) {
    const matched = row.expr == null ? undefined : matchIndexExpression(s(row.expr));
    if (row.expr != null && !matched) continue;
    const d: IndexDefinition = {
      method: s(row.method),
      column: matched ? matched.column : s(row.col),
      opclass: s(row.opclass),
      defaultOpclass: row.opcdefault === 'true',
      unique: row.is_unique === 'true',
      options: s(row.options).split(',').filter(Boolean),
    };
    if (matched) {
      const { castType: _cast, ...expression } = matched;
      d.expression = expression;
    }
    out.push(d);
  }
  return out;
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
