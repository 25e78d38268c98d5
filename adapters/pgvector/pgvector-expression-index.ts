/**
 * The expression indexes pgvector documents, as structured index specs: read from the catalog by
 * exact patterns of PostgreSQL's own rendering, recorded as `params.expression` plus validated
 * integers, and rebuilt from a fixed SQL template. No SQL text from a manifest is ever executed:
 * anything else stays "recorded as unsupported".
 *
 * - `binary_quantize(e)::bit(n)`     -> `{ expression: 'binary_quantize', dims: n }`
 * - `e::halfvec(n)`                  -> `{ expression: 'halfvec', dims: n }`
 * - `subvector(e, s, k)::vector(k)`  -> `{ expression: 'subvector', start: s, dims: k }` (halfvec(k) on a halfvec column)
 */
import type { IndexSpec, Metric } from '../../src/model.js';
import { quoteIdent } from './pgvector-sql.js';
import { PG_VECTOR_TYPES, type PgVectorType, opclassFor, opclassMetric } from './pgvector-vectors.js';

export type ExpressionKind = 'binary_quantize' | 'halfvec' | 'subvector';

/** An expression index's parameters, validated. */
export interface IndexExpression {
  expression: ExpressionKind;
  /** The column inside the expression. */
  column: string;
  /** Dimensions (bits for binary_quantize) of the expression's result. */
  dims: number;
  /** subvector's first element, 1-based. */
  start?: number;
}

// An identifier as PostgreSQL renders it: plain lower-case, or double-quoted with "" for a quote.
const IDENT = String.raw`([a-z_][a-z0-9_$]*|"(?:[^"]|"")+")`;
const PATTERNS: [ExpressionKind, RegExp][] = [
  ['binary_quantize', new RegExp(String.raw`^\(\(binary_quantize\(${IDENT}\)\)::bit\((\d{1,8})\)\)$`)],
  ['halfvec', new RegExp(String.raw`^\(\(${IDENT}\)::halfvec\((\d{1,5})\)\)$`)],
  ['subvector', new RegExp(String.raw`^\(\(subvector\(${IDENT}, (\d{1,5}), (\d{1,5})\)\)::(vector|halfvec)\((\d{1,5})\)\)$`)],
];

function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident;
}

/** The type an expression yields on a column of `columnType`. */
function resultType(e: Pick<IndexExpression, 'expression'>, columnType: PgVectorType): PgVectorType {
  return e.expression === 'binary_quantize' ? 'bit' : e.expression === 'halfvec' ? 'halfvec' : columnType;
}

/**
 * Checks an expression against the column it reads (`columns`: vector column name -> type and
 * dims). Undefined when it is one pgvector documents with integers in range; else the reason.
 */
function problem(e: IndexExpression, columns: ReadonlyMap<string, { type: PgVectorType; dims: number }>): string | undefined {
  const col = columns.get(e.column);
  if (!col) return `no vector column ${JSON.stringify(e.column)}`;
  const okInt = (n: unknown, max: number): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= max;
  switch (e.expression) {
    case 'binary_quantize':
      return (col.type === 'vector' || col.type === 'halfvec') && e.dims === col.dims
        ? undefined
        : 'binary_quantize of another column type or size';
    case 'halfvec':
      return col.type === 'vector' && e.dims === col.dims ? undefined : 'a halfvec cast of another column type or size';
    case 'subvector':
      return (col.type === 'vector' || col.type === 'halfvec') &&
        okInt(e.start, col.dims) &&
        okInt(e.dims, PG_VECTOR_TYPES[col.type].maxDims) &&
        (e.start as number) + e.dims - 1 <= col.dims
        ? undefined
        : 'a subvector outside the column';
  }
}

/**
 * The expression of PostgreSQL's rendering `expr` of an index column when it has the shape of one of
 * the three (not yet checked against the table), and the type its cast names.
 */
export function matchIndexExpression(expr: string): (IndexExpression & { castType: string }) | undefined {
  for (const [kind, re] of PATTERNS) {
    const m = re.exec(expr);
    if (!m) continue;
    const column = unquote(m[1] as string);
    if (kind !== 'subvector') return { expression: kind, column, dims: Number(m[2]), castType: kind === 'halfvec' ? 'halfvec' : 'bit' };
    // subvector's cast must say the same k.
    if (Number(m[5]) !== Number(m[3])) return undefined;
    return { expression: kind, column, start: Number(m[2]), dims: Number(m[3]), castType: m[4] as string };
  }
  return undefined;
}

/**
 * The structured form of an index on one expression (PostgreSQL's rendering `expr`, with operator
 * class `opclass`), or undefined when it is not one of the three pgvector documents on a column of
 * the table, with integers in range and an operator class of the expression's type.
 */
export function parseIndexExpression(
  expr: string,
  opclass: string,
  columns: ReadonlyMap<string, { type: PgVectorType; dims: number }>,
): { expression: IndexExpression; metric: Metric } | undefined {
  const matched = matchIndexExpression(expr);
  if (!matched) return undefined;
  const { castType, ...e } = matched;
  const col = columns.get(e.column);
  if (!col || problem(e, columns) !== undefined) return undefined;
  const type = resultType(e, col.type);
  const om = opclassMetric(opclass);
  if (castType !== type || !om || om.type !== type) return undefined;
  return { expression: e, metric: om.metric };
}

/** The recorded expression of an index spec (`params.expression` and its integers), or undefined for a plain index. */
export function indexExpression(ix: IndexSpec): IndexExpression | undefined {
  const kind = ix.params.expression;
  if (kind !== 'binary_quantize' && kind !== 'halfvec' && kind !== 'subvector') return undefined;
  const e: IndexExpression = { expression: kind, column: ix.field, dims: ix.params.dims as number };
  if (kind === 'subvector') e.start = ix.params.start as number;
  return e;
}

/**
 * The index column of an expression (`(binary_quantize("e")::bit(8)) bit_hamming_ops`) from the
 * fixed template, and the operator class; a reason when the recorded spec does not validate.
 */
export function renderIndexExpression(
  e: IndexExpression,
  metric: Metric,
  columns: ReadonlyMap<string, { type: PgVectorType; dims: number }>,
): { sql: string; opclass: string } | { reason: string } {
  const why = problem(e, columns);
  if (why !== undefined) return { reason: `expression index not recreated: ${why}` };
  const col = columns.get(e.column) as { type: PgVectorType };
  const type = resultType(e, col.type);
  const opclass = opclassFor(type, metric);
  if (!opclass) return { reason: `pgvector has no operator class for ${metric} on ${type}` };
  const c = quoteIdent(e.column);
  const expr =
    e.expression === 'binary_quantize'
      ? `binary_quantize(${c})::bit(${e.dims})`
      : e.expression === 'halfvec'
        ? `${c}::halfvec(${e.dims})`
        : `subvector(${c}, ${e.start as number}, ${e.dims})::${col.type}(${e.dims})`;
  return { sql: `(${expr}) ${opclass}`, opclass };
}
