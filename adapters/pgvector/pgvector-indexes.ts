/**
 * Indexes: the vector index methods and parameters pgvector has (HNSW, IVFFlat), their operator
 * class per metric, payload indexes (btree, hash, gin, brin), and a resumed restore that finds an
 * index already built builds it not again.
 */
import type { IndexBuildReport } from '../../src/adapter.js';
import { NotFoundError, UnsupportedOperationError, throwIfAborted } from '../../src/errors.js';
import type { CollectionSchema } from '../../src/model.js';
import type { PgvectorContext } from './pgvector-context.js';
import { type IndexDefinition, METRIC_OPCLASS, findTableOid, indexDefinitions } from './pgvector-describe.js';
import { quoteIdent, quoteLiteral } from './pgvector-sql.js';

const PLUGIN = 'pgvector';
/** Parameters each vector index method takes, with their valid ranges. */
const INDEX_PARAMS: Record<string, Record<string, [number, number]>> = {
  hnsw: { m: [2, 100], ef_construction: [4, 1000] },
  ivfflat: { lists: [1, 32768] },
};

/**
 * Refuses, before anything is created or dropped, a vector index whose operator class this
 * pgvector lacks (vector_l1_ops for HNSW came with pgvector 0.7): without the index the metric
 * would be lost, and vectordr never drops a metric silently.
 */
export async function preflightCreate(ctx: PgvectorContext, schema: CollectionSchema): Promise<void> {
  for (const ix of schema.indexes) {
    const vector = schema.vectors.find((v) => v.name === ix.field);
    const opclass = vector ? METRIC_OPCLASS[ix.metric ?? vector.metric] : undefined;
    if (!vector || !Object.hasOwn(INDEX_PARAMS, ix.kind) || !opclass || ix.params.unsupported !== undefined) continue;
    const r = await ctx.run('check operator class', () =>
      ctx.driver.query(`SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'vector') AS ev,
          EXISTS (SELECT 1 FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod WHERE c.opcname = ${quoteLiteral(opclass)} AND a.amname = ${quoteLiteral(ix.kind)}) AS ok`),
    );
    const row = r.rows[0] ?? {};
    // No extension yet (create() installs it): nothing to check against.
    if (row.ev == null || row.ok === true || row.ok === 't') continue;
    throw new UnsupportedOperationError(
      `pgvector ${String(row.ev)} has no ${opclass} for ${ix.kind} indexes, so ` +
        `${JSON.stringify(ix.field)} could not be searched by ${ix.metric ?? vector.metric} ` +
        `(pgvector added vector_l1_ops in 0.7.0). Upgrade pgvector, or restore into an engine that ` +
        `has this metric. Nothing was created.`,
      {
        plugin: PLUGIN,
        details: { field: ix.field, opclass, method: ix.kind, pgvector: String(row.ev) },
      },
    );
  }
}

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
    let sql: string;
    let same: (d: IndexDefinition) => boolean;
    if (vector) {
      // An index kind is text from a manifest: `constructor` must not find Object.prototype's.
      const allowed = Object.hasOwn(INDEX_PARAMS, ix.kind) ? INDEX_PARAMS[ix.kind] : undefined;
      if (!allowed) {
        skip(`pgvector has no ${ix.kind} index`);
        continue;
      }
      const opclass = METRIC_OPCLASS[ix.metric ?? vector.metric];
      if (!opclass) {
        skip(`pgvector has no operator class for metric ${ix.metric ?? vector.metric}`);
        continue;
      }
      const withParams: string[] = [];
      for (const [k, v] of Object.entries(ix.params)) {
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
        withParams.push(`${k} = ${v}`);
      }
      sql =
        `CREATE INDEX ON ${ctx.table(collection)} USING ${ix.kind} (${quoteIdent(ix.field)} ` +
        `${opclass})${withParams.length ? ` WITH (${withParams.join(', ')})` : ''}`;
      const options = withParams.map((w) => w.replace(' = ', '=')).sort();
      same = (d) =>
        d.method === ix.kind && d.column === ix.field && d.opclass === opclass && !d.unique && d.options.join(',') === options.join(',');
    } else if (schema.payload.some((p) => p.name === ix.field) && ['btree', 'hash', 'gin', 'brin'].includes(ix.kind)) {
      sql = `CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX ON ${ctx.table(collection)} USING ${ix.kind} (${quoteIdent(ix.field)})`;
      same = (d) =>
        d.method === ix.kind && d.column === ix.field && d.defaultOpclass && d.unique === (ix.unique === true) && d.options.length === 0;
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
