/**
 * `schema.definition` (feature `table-definition`, docs/format.md "Table definitions"): a
 * PostgreSQL table's definition as structured data, never a DDL string. Only the fields named
 * `expression` and `bound` (and `partitioning.expression`) are SQL text; they pass the restore's
 * trust gate before anything executes them. Names are plain strings the restoring adapter quotes;
 * numbers of sequences are decimal strings (bigint range).
 */
import { z } from 'zod';

const int8Text = z.string().regex(/^-?\d{1,19}$/, 'a decimal bigint');

/** A sequence's options and its state when the snapshot was taken (read outside the transaction: sequences are not). */
export const SequenceDefinitionSchema = z.strictObject({
  /** The sequence's name in the source (its schema is the table's). */
  name: z.string().min(1),
  /** `smallint`, `integer` or `bigint`. */
  type: z.enum(['smallint', 'integer', 'bigint']),
  start: int8Text,
  increment: int8Text,
  min: int8Text,
  max: int8Text,
  cache: int8Text,
  cycle: z.boolean(),
  /** `last_value` and `is_called`; absent when the snapshot's role could not read the sequence. */
  lastValue: int8Text.optional(),
  isCalled: z.boolean().optional(),
});
export type SequenceDefinition = z.infer<typeof SequenceDefinitionSchema>;

export const ColumnDefinitionSchema = z.strictObject({
  name: z.string().min(1),
  /** `format_type()` of the column, e.g. `numeric(10,2)`; validated on the target before use. */
  type: z.string().min(1),
  notNull: z.boolean(),
  /** A collation other than the type's default, by name (in `pg_catalog` of the target). */
  collation: z.string().min(1).optional(),
  /** The default expression (`pg_get_expr`), SQL text; absent when the default is `sequence`'s nextval. */
  default: z.strictObject({ expression: z.string().min(1) }).optional(),
  /** `nextval()` of this sequence (one of `sequences`, owned by the column: serial, bigserial) is the default. */
  sequence: z.string().min(1).optional(),
  identity: z.strictObject({ generation: z.enum(['always', 'by-default']), sequence: SequenceDefinitionSchema }).optional(),
  /** A generated column: its expression (SQL text); PostgreSQL computes it, nothing writes it. */
  generated: z.strictObject({ expression: z.string().min(1), stored: z.boolean() }).optional(),
});
export type ColumnDefinition = z.infer<typeof ColumnDefinitionSchema>;

export const ConstraintDefinitionSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('check'),
    name: z.string().min(1),
    /** The condition (`pg_get_expr`), SQL text. */
    expression: z.string().min(1),
    noInherit: z.boolean(),
  }),
  z.strictObject({
    kind: z.literal('unique'),
    name: z.string().min(1),
    columns: z.array(z.string().min(1)).min(1),
    nullsNotDistinct: z.boolean(),
  }),
]);
export type ConstraintDefinition = z.infer<typeof ConstraintDefinitionSchema>;

export const PartitioningDefinitionSchema = z.strictObject({
  strategy: z.enum(['hash', 'list', 'range']),
  /** The key's columns, when it is made of columns only. */
  columns: z.array(z.string().min(1)),
  /** The key as `pg_get_partkeydef` prints it, when it holds an expression: SQL text. */
  expression: z.string().min(1).optional(),
  partitions: z.array(
    z.strictObject({
      name: z.string().min(1),
      /** `FOR VALUES ...` or `DEFAULT` (`pg_get_expr(relpartbound)`), SQL text. */
      bound: z.string().min(1),
    }),
  ),
});

/** What the source table has and no restore recreates, by name (docs/adapters/pgvector.md). */
export const OmittedDefinitionSchema = z.strictObject({
  what: z.enum(['foreign-key', 'exclusion', 'trigger', 'policy', 'row-security', 'publication', 'grant', 'sub-partitioning']),
  name: z.string().min(1),
});

export const TableDefinitionSchema = z.strictObject({
  /** The source table's name: names of its objects that start with it are renamed after the restored table. */
  table: z.string().min(1),
  /** Every column, generated ones included, in the table's order. */
  columns: z.array(ColumnDefinitionSchema).min(1),
  /** Sequences owned by a column whose default is their nextval (serial, bigserial). */
  sequences: z.array(SequenceDefinitionSchema),
  constraints: z.array(ConstraintDefinitionSchema),
  partitioning: PartitioningDefinitionSchema.optional(),
  omitted: z.array(OmittedDefinitionSchema),
});
export type TableDefinition = z.infer<typeof TableDefinitionSchema>;

/**
 * The parts of a definition, one line each, with whether the part is SQL text: what a restore into
 * another engine lists as not carried over.
 */
export function definitionParts(d: TableDefinition): { name: string; sql: boolean }[] {
  const out: { name: string; sql: boolean }[] = [];
  for (const c of d.columns) {
    const col = JSON.stringify(c.name);
    if (c.default) out.push({ name: `default of column ${col}`, sql: true });
    if (c.sequence) out.push({ name: `sequence ${JSON.stringify(c.sequence)} (default of column ${col})`, sql: false });
    if (c.identity) out.push({ name: `identity of column ${col}`, sql: false });
    if (c.generated) out.push({ name: `generated column ${col}`, sql: true });
    if (c.collation) out.push({ name: `collation ${JSON.stringify(c.collation)} of column ${col}`, sql: false });
  }
  for (const k of d.constraints) out.push({ name: `${k.kind} constraint ${JSON.stringify(k.name)}`, sql: k.kind === 'check' });
  if (d.partitioning)
    out.push({ name: `${d.partitioning.strategy} partitioning (${d.partitioning.partitions.length} partitions)`, sql: true });
  for (const o of d.omitted) out.push({ name: `${o.what} ${JSON.stringify(o.name)}`, sql: false });
  return out;
}
