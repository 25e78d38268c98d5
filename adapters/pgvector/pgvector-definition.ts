/**
 * The table definition (feature `table-definition`, docs/format.md "Table definitions"): read from
 * the catalog inside the scan's transaction, and recreated by a restore — columns with defaults,
 * identity, generated expressions and collations, owned sequences set past every restored id,
 * CHECK and UNIQUE constraints, partitions. SQL text from the manifest runs only through the
 * restore's trust gate (`CreateOptions.definitions`); everything else is built from names and
 * numbers, quoted here.
 */
import type { DefinitionGate } from '../../src/adapter.js';
import { InvalidInputError } from '../../src/errors.js';
import type { CollectionSchema } from '../../src/model.js';
import type { ColumnDefinition, ConstraintDefinition, SequenceDefinition, TableDefinition } from '../../src/format/table-definition.js';
import type { PgQueryable } from './pgvector-driver.js';
import { checkNativeType, qualified, quoteIdent, quoteLiteral } from './pgvector-sql.js';

const PLUGIN = 'pgvector';
const NAMEDATALEN = 63;

/** One query's rows as JSON (`json_agg`): the same values on `pg` and PGlite, whatever their type parsers. */
async function jsonRows<T>(q: PgQueryable, sql: string, values: unknown[]): Promise<T[]> {
  const r = await q.query(`SELECT COALESCE(json_agg(x), '[]')::text AS j FROM (${sql}) x`, values);
  return JSON.parse(String(r.rows[0]?.j ?? '[]')) as T[];
}

interface ColumnRow {
  attnum: number;
  name: string;
  type: string;
  notnull: boolean;
  identity: string;
  generated: string;
  def: string | null;
  collation: string | null;
}
interface SequenceRow {
  attnum: number;
  oid: string;
  qualified: string;
  name: string;
  deptype: string;
  type: SequenceDefinition['type'];
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  readable: boolean;
  nextval_default: string;
}

/**
 * The definition of the table `oid` (in `schemaName`), read in the caller's transaction: a scan's
 * REPEATABLE READ snapshot, so it belongs to the same point in time as the rows. Sequence state is
 * the exception (sequences are not transactional): it is read at the same moment, and a restore sets
 * it past every restored id anyway. Undefined for a table whose definition adds nothing to the schema.
 */
export async function readDefinition(q: PgQueryable, oid: string, schemaName: string, table: string): Promise<TableDefinition | undefined> {
  const cols = await jsonRows<ColumnRow>(
    q,
    `SELECT a.attnum, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
            a.attidentity::text AS identity, a.attgenerated::text AS generated,
            CASE WHEN a.atthasdef THEN pg_get_expr(d.adbin, d.adrelid) END AS def,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname::text END AS collation
       FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
      WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  const seqs = await jsonRows<SequenceRow>(
    q,
    `SELECT dep.refobjsubid::int AS attnum, s.oid::int8::text AS oid, s.oid::regclass::text AS qualified, s.relname AS name,
            dep.deptype::text AS deptype, format_type(sq.seqtypid, NULL) AS type, sq.seqstart::text AS start,
            sq.seqincrement::text AS increment, sq.seqmin::text AS min, sq.seqmax::text AS max, sq.seqcache::text AS cache,
            sq.seqcycle AS cycle, has_sequence_privilege(s.oid, 'SELECT') AS readable,
            'nextval(' || quote_literal(s.oid::regclass::text) || '::regclass)' AS nextval_default
       FROM pg_catalog.pg_depend dep JOIN pg_catalog.pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
       JOIN pg_catalog.pg_sequence sq ON sq.seqrelid = s.oid
      WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.refclassid = 'pg_catalog.pg_class'::regclass
        AND dep.refobjid = $1::oid AND dep.deptype IN ('a', 'i')`,
    [oid],
  );
  const sequenceOf = async (row: SequenceRow): Promise<SequenceDefinition> => {
    const out: SequenceDefinition = {
      name: row.name,
      type: row.type,
      start: row.start,
      increment: row.increment,
      min: row.min,
      max: row.max,
      cache: row.cache,
      cycle: row.cycle,
    };
    if (row.readable) {
      // A sequence is not transactional: this is its state now, inside the scan's window.
      const st = await q.query(`SELECT last_value::text AS v, is_called::text AS c FROM ${row.qualified}`);
      out.lastValue = String(st.rows[0]?.v);
      out.isCalled = st.rows[0]?.c === 'true';
    }
    return out;
  };

  const columns: ColumnDefinition[] = [];
  const sequences: SequenceDefinition[] = [];
  for (const c of cols) {
    const col: ColumnDefinition = { name: c.name, type: c.type, notNull: c.notnull };
    if (c.collation !== null) col.collation = c.collation;
    const owned = seqs.find((s) => s.attnum === c.attnum && s.deptype === (c.identity === '' ? 'a' : 'i'));
    if (c.identity !== '' && owned) {
      col.identity = { generation: c.identity === 'a' ? 'always' : 'by-default', sequence: await sequenceOf(owned) };
    } else if (c.generated !== '' && c.def !== null) {
      col.generated = { expression: c.def, stored: c.generated === 's' };
    } else if (c.def !== null && owned && c.def === owned.nextval_default) {
      col.sequence = owned.name;
      sequences.push(await sequenceOf(owned));
    } else if (c.def !== null) {
      col.default = { expression: c.def };
    }
    columns.push(col);
  }

  const cons = await jsonRows<{ name: string; type: string; expr: string | null; noinherit: boolean; cols: string[]; nnd: boolean }>(
    q,
    `SELECT con.conname AS name, con.contype::text AS type, pg_get_expr(con.conbin, con.conrelid) AS expr, con.connoinherit AS noinherit,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o) AS cols,
            COALESCE((SELECT i.indnullsnotdistinct FROM pg_catalog.pg_index i WHERE i.indexrelid = con.conindid), false) AS nnd
       FROM pg_catalog.pg_constraint con WHERE con.conrelid = $1::oid AND con.contype IN ('c', 'u', 'f', 'x') ORDER BY con.conname`,
    [oid],
  );
  const constraints: ConstraintDefinition[] = [];
  const omitted: TableDefinition['omitted'] = [];
  for (const k of cons) {
    if (k.type === 'c' && k.expr !== null) constraints.push({ kind: 'check', name: k.name, expression: k.expr, noInherit: k.noinherit });
    else if (k.type === 'u') constraints.push({ kind: 'unique', name: k.name, columns: k.cols, nullsNotDistinct: k.nnd });
    else if (k.type === 'f') omitted.push({ what: 'foreign-key', name: k.name });
    else if (k.type === 'x') omitted.push({ what: 'exclusion', name: k.name });
  }

  // Publications by catalog joins: pg_publication_tables looks each publication up by name in the
  // current catalog, and fails the scan on one dropped after the scan's snapshot was taken.
  const others = await jsonRows<{ what: TableDefinition['omitted'][number]['what']; name: string }>(
    q,
    `SELECT 'trigger' AS what, tgname::text AS name FROM pg_catalog.pg_trigger WHERE tgrelid = $1::oid AND NOT tgisinternal
     UNION ALL SELECT 'policy', polname::text FROM pg_catalog.pg_policy WHERE polrelid = $1::oid
     UNION ALL SELECT 'row-security', CASE WHEN relforcerowsecurity THEN 'enabled, forced' ELSE 'enabled' END
                FROM pg_catalog.pg_class WHERE oid = $1::oid AND relrowsecurity
     UNION ALL SELECT 'publication', p.pubname::text FROM pg_catalog.pg_publication p
                WHERE p.pubname NOT LIKE 'vectordr\\_%' AND (p.puballtables
                  OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = $1::oid)
                  OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_class c ON c.relnamespace = pn.pnnspid
                              WHERE pn.pnpubid = p.oid AND c.oid = $1::oid))
     UNION ALL SELECT 'grant', (CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END) || ': ' ||
                string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
                FROM pg_catalog.pg_class c, aclexplode(c.relacl) a WHERE c.oid = $1::oid AND a.grantee <> c.relowner GROUP BY a.grantee
     ORDER BY 1, 2`,
    [oid],
  );
  omitted.push(...others);

  const definition: TableDefinition = { table, columns, sequences, constraints, omitted };
  const part = await jsonRows<{ strategy: string; keydef: string; cols: string[]; hasexpr: boolean }>(
    q,
    `SELECT p.partstrat::text AS strategy, pg_get_partkeydef(p.partrelid) AS keydef,
            ARRAY(SELECT a.attname::text FROM unnest(p.partattrs::int2[]) WITH ORDINALITY k(n, o)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.n ORDER BY k.o) AS cols,
            (p.partexprs IS NOT NULL) AS hasexpr
       FROM pg_catalog.pg_partitioned_table p WHERE p.partrelid = $1::oid`,
    [oid],
  );
  const p = part[0];
  if (p) {
    const partitions = await jsonRows<{ name: string; bound: string; kind: string }>(
      q,
      `SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, c.relkind::text AS kind
         FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::oid ORDER BY c.relname`,
      [oid],
    );
    const strategy = p.strategy === 'h' ? 'hash' : p.strategy === 'l' ? 'list' : 'range';
    definition.partitioning = {
      strategy,
      columns: p.hasexpr ? [] : p.cols,
      ...(p.hasexpr ? { expression: p.keydef } : {}),
      partitions: partitions.map((x) => ({ name: x.name, bound: x.bound })),
    };
    for (const x of partitions) if (x.kind === 'p') omitted.push({ what: 'sub-partitioning', name: x.name });
  }
  return plain(definition) ? undefined : definition;
}

/** `schema` with `definition`, when there is one. */
export function withDefinition(schema: CollectionSchema, definition: TableDefinition | undefined): CollectionSchema {
  return definition === undefined ? schema : { ...schema, definition };
}

/**
 * A definition that holds nothing the schema does not (no default, sequence, identity, generated
 * column, collation, constraint, partitioning or omitted object): not recorded, so the snapshot
 * needs no feature and every v2 reader reads it.
 */
function plain(d: TableDefinition): boolean {
  const bare = d.columns.every((c) => !c.default && !c.sequence && !c.identity && !c.generated && c.collation === undefined);
  return bare && d.constraints.length === 0 && d.partitioning === undefined && d.omitted.length === 0;
}

/** Why each kind of object a definition names is never recreated (docs/adapters/pgvector.md). */
const OMITTED_REASON: Record<TableDefinition['omitted'][number]['what'], string> = {
  'foreign-key': 'a foreign key refers to another table, which a restore of this one does not bring back; add it after the restore',
  exclusion: 'exclusion constraints are not recreated; add it after the restore',
  trigger: 'triggers call functions outside the table, which the snapshot does not hold; recreate it after the restore',
  policy: 'row-level security policies name roles and functions outside the table; recreate it after the restore',
  'row-security': 'row-level security is not switched on by a restore; enable it after recreating the policies',
  publication: 'publications belong to the database, not the table; add the table to it again after the restore',
  grant: 'grants and ownership are not restored (the table belongs to the restoring role); grant them again',
  'sub-partitioning': 'the partition is restored as a plain partition; its own partitions are not recreated',
};

/** A collation name of the allow-list shape: the target must also have it, in pg_catalog. */
const COLLATION_NAME = /^[A-Za-z0-9_.@-]{1,63}$/;

/**
 * The SQL that recreates a definition on the staging table `table` (in `schemaName`), and what it
 * leaves out. SQL text of the manifest is used only when `gate.allows` it. `collations`: the
 * recorded collations the target has.
 */
export interface DefinitionPlan {
  createTable: string;
  /** Statements after CREATE TABLE, in order (partitions, sequences and their defaults). */
  after: string[];
}

export function planDefinition(
  schema: CollectionSchema,
  definition: TableDefinition,
  where: { schemaName: string; table: string },
  gate: DefinitionGate,
  collations: ReadonlySet<string>,
): DefinitionPlan {
  checkAgainstSchema(schema, definition);
  const { schemaName, table } = where;
  const tableSql = qualified(schemaName, table);
  const staged = (recorded: string, fallback: string): string => {
    const rest = recorded.startsWith(definition.table) ? recorded.slice(definition.table.length) : `_${recorded}`;
    const name = table + rest;
    return Buffer.byteLength(name, 'utf8') <= NAMEDATALEN ? name : table + fallback;
  };
  const defs: string[] = [];
  const after: string[] = [];
  for (const c of definition.columns) {
    const col = JSON.stringify(c.name);
    const parts = [quoteIdent(c.name), checkNativeType(c.type)];
    if (c.collation !== undefined) {
      if (COLLATION_NAME.test(c.collation) && collations.has(c.collation)) parts.push(`COLLATE pg_catalog.${quoteIdent(c.collation)}`);
      else
        gate.report({
          what: 'definition',
          name: `collation ${JSON.stringify(c.collation)} of column ${col}`,
          reason: 'the target has no such collation in pg_catalog; the column has its type default collation',
          action: 'not-recreated',
        });
    }
    if (c.generated) {
      if (!gate.allows('definition', `generated column ${col}`)) continue; // a plain column would hold no value
      parts.push(`GENERATED ALWAYS AS (${c.generated.expression}) ${c.generated.stored ? 'STORED' : 'VIRTUAL'}`);
    }
    if (c.identity) {
      const seq = c.identity.sequence;
      parts.push(
        `GENERATED ${c.identity.generation === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY ` +
          `(SEQUENCE NAME ${qualified(schemaName, staged(seq.name, `_${c.name}_seq`))} ${sequenceOptions(seq)})`,
      );
    }
    if (c.default && gate.allows('definition', `default of column ${col}`)) parts.push(`DEFAULT (${c.default.expression})`);
    if (c.notNull) parts.push('NOT NULL');
    defs.push(parts.join(' '));
    if (c.sequence !== undefined) {
      const seq = definition.sequences.find((s) => s.name === c.sequence);
      if (!seq) throw invalid(`column ${col} names sequence ${JSON.stringify(c.sequence)}, which the definition does not hold`);
      const seqSql = qualified(schemaName, staged(seq.name, `_${c.name}_seq`));
      after.push(
        `CREATE SEQUENCE ${seqSql} AS ${seq.type} ${sequenceOptions(seq)} OWNED BY ${tableSql}.${quoteIdent(c.name)}`,
        `ALTER TABLE ${tableSql} ALTER COLUMN ${quoteIdent(c.name)} SET DEFAULT nextval(${quoteLiteral(seqSql)}::regclass)`,
      );
    }
  }
  defs.push(`PRIMARY KEY (${quoteIdent(schema.idField)})`);
  for (const k of definition.constraints) {
    if (k.kind === 'check') {
      if (gate.allows('definition', `check constraint ${JSON.stringify(k.name)}`))
        defs.push(`CONSTRAINT ${quoteIdent(k.name)} CHECK (${k.expression})${k.noInherit ? ' NO INHERIT' : ''}`);
    } else {
      const name = staged(k.name, `_${k.columns.join('_')}_key`);
      defs.push(
        `CONSTRAINT ${quoteIdent(name)} UNIQUE${k.nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''} (${k.columns.map(quoteIdent).join(', ')})`,
      );
    }
  }
  let partitionBy = '';
  const p = definition.partitioning;
  if (p && gate.allows('definition', `${p.strategy} partitioning (${p.partitions.length} partitions; bounds are SQL)`)) {
    partitionBy = ` PARTITION BY ${p.expression ?? `${p.strategy.toUpperCase()} (${p.columns.map(quoteIdent).join(', ')})`}`;
    p.partitions.forEach((x, k) => {
      after.unshift(`CREATE TABLE ${qualified(schemaName, staged(x.name, `_p${k}`))} PARTITION OF ${tableSql} ${x.bound}`);
    });
  }
  for (const o of definition.omitted) {
    gate.report({
      what: 'definition',
      name: `${o.what} ${JSON.stringify(o.name)}`,
      reason: OMITTED_REASON[o.what],
      action: 'not-recreated',
    });
  }
  return { createTable: `CREATE TABLE ${tableSql} (${defs.join(', ')})${partitionBy}`, after };
}

function sequenceOptions(s: SequenceDefinition): string {
  return (
    `START WITH ${s.start} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} CACHE ${s.cache}` +
    `${s.cycle ? ' CYCLE' : ' NO CYCLE'}`
  );
}

function invalid(why: string): InvalidInputError {
  return new InvalidInputError(
    'SCHEMA_MISMATCH',
    `The snapshot's table definition does not match its schema: ${why}. Nothing was created.`,
    {
      plugin: PLUGIN,
    },
  );
}

/** The definition must describe the schema's own columns, with the same types: a forged one cannot add or retype a field. */
function checkAgainstSchema(schema: CollectionSchema, d: TableDefinition): void {
  const byName = new Map(d.columns.map((c) => [c.name, c]));
  if (byName.size !== d.columns.length) throw invalid('a column is listed twice');
  const expect = (name: string, type: string | undefined): void => {
    const c = byName.get(name);
    if (!c) throw invalid(`it has no column ${JSON.stringify(name)}`);
    if (type !== undefined && c.type !== type) throw invalid(`column ${JSON.stringify(name)} is ${c.type} there and ${type} in the schema`);
    if (c.generated) throw invalid(`column ${JSON.stringify(name)} holds values but is generated there`);
  };
  expect(schema.idField, schema.idNativeType);
  for (const v of schema.vectors) expect(v.name, v.nativeType);
  for (const p of schema.payload) expect(p.name, p.nativeType);
  const fields = new Set([schema.idField, ...schema.vectors.map((v) => v.name), ...schema.payload.map((p) => p.name)]);
  for (const c of d.columns)
    if (!fields.has(c.name) && !c.generated) throw invalid(`column ${JSON.stringify(c.name)} is not in the schema`);
}

/** The recorded collations the target has in pg_catalog, for its encoding. */
export async function availableCollations(q: PgQueryable, d: TableDefinition): Promise<Set<string>> {
  const names = [
    ...new Set(d.columns.flatMap((c) => (c.collation !== undefined && COLLATION_NAME.test(c.collation) ? [c.collation] : []))),
  ];
  if (names.length === 0) return new Set();
  const rows = await jsonRows<{ name: string }>(
    q,
    `SELECT collname::text AS name FROM pg_catalog.pg_collation
      WHERE collnamespace = 'pg_catalog'::regnamespace AND collname = ANY($1::text[])
        AND collencoding IN (-1, pg_catalog.pg_char_to_encoding(pg_catalog.getdatabaseencoding()))`,
    [names],
  );
  return new Set(rows.map((r) => r.name));
}

/**
 * After the load: every owned sequence and identity of the restored table continues past every
 * restored id. The snapshot's state is kept when it already is past them; when it is not (rows
 * inserted while the snapshot read, or a sequence the snapshot could not read), it is set to the
 * largest restored id and the result says so.
 */
export async function finishSequences(q: PgQueryable, tableSql: string, definition: TableDefinition, gate: DefinitionGate): Promise<void> {
  for (const c of definition.columns) {
    const seq = c.identity?.sequence ?? definition.sequences.find((s) => s.name === c.sequence);
    if (!seq || (c.sequence === undefined && !c.identity)) continue;
    const col = quoteIdent(c.name);
    const r = await q.query(
      `SELECT pg_get_serial_sequence(${quoteLiteral(tableSql)}, ${quoteLiteral(c.name)}) AS seq,
              max(${col})::text AS hi, min(${col})::text AS lo FROM ${tableSql}`,
    );
    const row = r.rows[0] ?? {};
    if (row.seq == null) continue;
    const up = BigInt(seq.increment) > 0n;
    const edge = (up ? row.hi : row.lo) as string | null;
    let value: bigint | undefined;
    let called = true;
    let why: string | undefined;
    if (seq.lastValue !== undefined) {
      value = BigInt(seq.lastValue);
      called = seq.isCalled === true;
      const next = called ? value + BigInt(seq.increment) : value;
      if (edge !== null && (up ? next <= BigInt(edge) : next >= BigInt(edge))) {
        why = `the snapshot's sequence state (last_value ${seq.lastValue}) is not past every restored id (rows were written while it read); set past ${edge}`;
        value = BigInt(edge);
        called = true;
      }
    } else if (edge !== null) {
      why = `the snapshot could not read the sequence (no SELECT privilege); set past the restored ${up ? 'largest' : 'smallest'} id ${edge}`;
      value = BigInt(edge);
    }
    if (value === undefined) continue;
    await q.query(`SELECT setval($1::regclass, $2::int8, $3::boolean)`, [String(row.seq), value.toString(), called]);
    if (why) gate.report({ what: 'definition', name: `sequence of column ${JSON.stringify(c.name)}`, reason: why, action: 'converted' });
  }
}

/**
 * Names of the staging table's objects, renamed after the target in the swap: the table's and its
 * partitions' indexes (and the constraints they back), partitions, owned sequences and NOT NULL
 * constraints (PostgreSQL 18 names them) whose names start with the staging table's name. A name
 * already taken (or longer than 63 bytes) is left as it is.
 */
export async function renameStagedObjects(q: PgQueryable, schemaName: string, staging: string, target: string, oid: string): Promise<void> {
  const renamed = (name: string): string | undefined => {
    if (!name.startsWith(staging)) return undefined;
    const out = target + name.slice(staging.length);
    return Buffer.byteLength(out, 'utf8') <= NAMEDATALEN ? out : undefined;
  };
  const free = async (name: string): Promise<boolean> =>
    (
      await q.query(
        `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [schemaName, name],
      )
    ).rows.length === 0;
  // Relations: partitions, indexes of every table in the tree, owned sequences (same schema).
  const rels = await jsonRows<{ name: string; kind: string }>(
    q,
    `WITH tree AS (SELECT relid FROM pg_partition_tree($1::oid::regclass) UNION SELECT $1::oid)
     SELECT c.relname::text AS name, c.relkind::text AS kind FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.relid WHERE c.oid <> $1::oid
     UNION ALL SELECT ic.relname::text, 'i' FROM tree JOIN pg_catalog.pg_index i ON i.indrelid = tree.relid JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
     UNION ALL SELECT s.relname::text, 'S' FROM tree JOIN pg_catalog.pg_depend d ON d.refobjid = tree.relid AND d.classid = 'pg_catalog.pg_class'::regclass
               AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
               JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     ORDER BY 1`,
    [oid],
  );
  for (const rel of rels) {
    const to = renamed(rel.name);
    if (to === undefined || !(await free(to))) continue;
    const kind = rel.kind === 'i' || rel.kind === 'I' ? 'INDEX' : rel.kind === 'S' ? 'SEQUENCE' : 'TABLE';
    await q.query(`ALTER ${kind} ${qualified(schemaName, rel.name)} RENAME TO ${quoteIdent(to)}`);
  }
  // NOT NULL constraints (PostgreSQL 18) of every table in the tree, named after the staging table.
  const nn = await jsonRows<{ rel: string; name: string }>(
    q,
    `SELECT c.relname::text AS rel, con.conname::text AS name FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
      WHERE con.conrelid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass) UNION SELECT $1::oid)
        AND con.contype NOT IN ('p', 'u', 'x') AND con.coninhcount = 0`,
    [oid],
  );
  for (const k of nn) {
    const to = renamed(k.name);
    if (to === undefined) continue;
    await q.query(`ALTER TABLE ${qualified(schemaName, k.rel)} RENAME CONSTRAINT ${quoteIdent(k.name)} TO ${quoteIdent(to)}`);
  }
}

/**
 * Column types from a manifest, checked on the target before any DDL holds them: the strict
 * `format_type()` grammar (`checkNativeType`), then `to_regtype($1)`, parameterised, in a savepoint
 * of the caller's transaction (a name the server cannot parse raises an error, which must not end
 * the transaction). A type the target does not have is refused before anything is created.
 */
export async function checkTypesOnTarget(q: PgQueryable, types: readonly string[]): Promise<void> {
  const distinct = [...new Set(types.map(checkNativeType))];
  if (distinct.length === 0) return;
  await q.query('SAVEPOINT vectordr_types');
  let missing: string[];
  try {
    const rows = await jsonRows<{ t: string; ok: boolean }>(q, `SELECT t, to_regtype(t) IS NOT NULL AS ok FROM unnest($1::text[]) t`, [
      distinct,
    ]);
    missing = rows.filter((r) => !r.ok).map((r) => r.t);
  } catch {
    missing = distinct;
  }
  await q.query('ROLLBACK TO SAVEPOINT vectordr_types');
  if (missing.length === 0) return;
  throw new InvalidInputError(
    'INVALID_IDENTIFIER',
    `Refusing column type(s) ${missing.map((t) => JSON.stringify(t)).join(', ')} from the snapshot: this server has no such type ` +
      `(create the type or extension first). Nothing was created.`,
    { plugin: PLUGIN, details: { types: missing.join(', ') } },
  );
}
