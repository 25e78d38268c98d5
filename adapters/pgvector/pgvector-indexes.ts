/**
 * Indexes: the vector index methods and parameters pgvector has (HNSW, IVFFlat), their operator
 * class per column type and metric, the expression indexes pgvector documents (from a fixed
 * template), payload indexes (btree, hash, gin, brin), and a resumed restore that finds an index
 * already built builds it not again.
 */
import type { IndexBuildReport } from '../../src/adapter.js';
import { NotFoundError, throwIfAborted } from '../../src/errors.js';
import type { CollectionSchema, IndexSpec } from '../../src/model.js';
import type { PgvectorContext } from './pgvector-context.js';
import { type IndexDefinition, findTableOid, indexDefinitions } from './pgvector-describe.js';
import { indexExpression, renderIndexExpression } from './pgvector-expression-index.js';
import { quoteIdent } from './pgvector-sql.js';
import { type PgVectorType, opclassFor, typeForField } from './pgvector-vectors.js';

const PLUGIN = 'pgvector';
/** Parameters each vector index method takes, with their valid ranges. */
const INDEX_PARAMS: Record<string, Record<string, [number, number]>> = {
  hnsw: { m: [2, 100], ef_construction: [4, 1000] },
  ivfflat: { lists: [1, 32768] },
};

export async function buildIndexes(
  ctx: PgvectorContext,
  collection: string,
  schema: CollectionSchema,
  options: { signal?: AbortSignal } = {},
): Promise<IndexBuildReport> {
  const report: IndexBuildReport = { built: [], skipped: [] };
  // What the table already has: a resumed restore (interrupted between the build and the marker
  // that records it) must not build an index twice, and "the same index" means the same definition.
  const oid = await ctx.run(`indexes of ${collection}`, () => findTableOid(ctx.driver, ...ctx.ref(collection)));
  if (oid === undefined)
    throw new NotFoundError('COLLECTION_NOT_FOUND', `Table ${ctx.display(collection)} does not exist.`, { plugin: PLUGIN });
  const present = await ctx.run(`indexes of ${collection}`, () => indexDefinitions(ctx.driver, oid));
  for (const ix of schema.indexes) {
    throwIfAborted(options.signal);
    const skip = (reason: string): void => {
      report.skipped.push({ kind: ix.kind, field: ix.field, reason });
      ctx.logger.warn({ collection, kind: ix.kind, field: ix.field, reason }, 'index not recreated');
    };
    if (ix.params.unsupported !== undefined) {
      skip(String(ix.params.unsupported));
      continue;
    }
    const vector = schema.vectors.find((v) => v.name === ix.field);
    const type = vector && typeForField(vector);
    let sql: string;
    let same: (d: IndexDefinition) => boolean;
    if (vector && type) {
      // An index kind is text from a manifest: `constructor` must not find Object.prototype's.
      const allowed = Object.hasOwn(INDEX_PARAMS, ix.kind) ? INDEX_PARAMS[ix.kind] : undefined;
      if (!allowed) {
        skip(`pgvector has no ${ix.kind} index`);
        continue;
      }
      const metric = ix.metric ?? vector.metric;
      const expression = indexExpression(ix);
      let target: { sql: string; opclass: string } | { reason: string };
      if (expression) {
        const columns = new Map(schema.vectors.flatMap((v) => vectorColumn(v)));
        target = renderIndexExpression(expression, metric, columns);
      } else {
        const opclass = opclassFor(type, metric);
        target = opclass
          ? { sql: `${quoteIdent(ix.field)} ${opclass}`, opclass }
          : { reason: `pgvector has no operator class for metric ${metric} on ${type}` };
      }
      if ('reason' in target) {
        skip(target.reason);
        continue;
      }
      const withParams = storageParams(ix, allowed, report);
      sql = `CREATE INDEX ON ${ctx.table(collection)} USING ${ix.kind} (${target.sql})${withParams.length ? ` WITH (${withParams.join(', ')})` : ''}`;
      const options = withParams.map((w) => w.replace(' = ', '=')).sort();
      const { opclass } = target;
      same = (d) =>
        d.method === ix.kind &&
        d.column === ix.field &&
        d.opclass === opclass &&
        !d.unique &&
        d.options.join(',') === options.join(',') &&
        sameExpression(d.expression, expression);
    } else if (schema.payload.some((p) => p.name === ix.field) && ['btree', 'hash', 'gin', 'brin'].includes(ix.kind)) {
      sql = `CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX ON ${ctx.table(collection)} USING ${ix.kind} (${quoteIdent(ix.field)})`;
      same = (d) =>
        d.method === ix.kind &&
        d.column === ix.field &&
        d.defaultOpclass &&
        d.unique === (ix.unique === true) &&
        d.options.length === 0 &&
        d.expression === undefined;
    } else {
      skip(`no field ${ix.field} or index kind ${ix.kind} unsupported`);
      continue;
    }
    const match = present.findIndex(same);
    if (match >= 0) {
      present.splice(match, 1); // one existing index stands for one recorded index
      ctx.logger.info({ collection, kind: ix.kind, field: ix.field }, 'index already present (a resumed restore): not built again');
      continue;
    }
    const t0 = performance.now();
    await ctx.run(`build index on ${collection}.${ix.field}`, () => ctx.driver.query(sql));
    const ms = Math.round(performance.now() - t0);
    ctx.logger.info({ collection, kind: ix.kind, field: ix.field, ms }, 'index built');
    report.built.push({ kind: ix.kind, field: ix.field, ms });
  }
  return report;
}

/** The `WITH (…)` parameters of a recorded vector index that are valid here; the others are reported and left at their default. */
function storageParams(ix: IndexSpec, allowed: Record<string, [number, number]>, report: IndexBuildReport): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(ix.params)) {
    if (k === 'expression' || (indexExpression(ix) && (k === 'dims' || k === 'start'))) continue;
    const range = allowed[k];
    if (!range || typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) {
      report.skipped.push({
        kind: ix.kind,
        field: ix.field,
        reason: `parameter ${k}=${String(v)} not applicable; default used`,
        action: 'converted',
      });
      continue;
    }
    out.push(`${k} = ${v}`);
  }
  return out;
}

/** A field's column type and dims, for checking an expression against it. */
function vectorColumn(v: CollectionSchema['vectors'][number]): [string, { type: PgVectorType; dims: number }][] {
  const type = typeForField(v);
  return type && v.dims !== undefined ? [[v.name, { type, dims: v.dims }]] : [];
}

function sameExpression(a: IndexDefinition['expression'], b: ReturnType<typeof indexExpression>): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.expression === b.expression && a.column === b.column && a.dims === b.dims && a.start === b.start;
}
