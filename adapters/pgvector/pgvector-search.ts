/**
 * Nearest-neighbour search: pgvector's distance operator for the field's metric, the index's
 * effort (hnsw.ef_search, ivfflat.probes) set for the one transaction, or an exact scan with index
 * scans turned off.
 */
import type { SearchHit, SearchOptions } from '../../src/adapter.js';
import { probesForEffort } from '../../src/adapter.js';
import { InvalidInputError } from '../../src/errors.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { PgvectorContext } from './pgvector-context.js';
import { describeTable } from './pgvector-describe.js';
import { quoteIdent } from './pgvector-sql.js';
import { vectorLiteral } from './pgvector-types.js';

const PLUGIN = 'pgvector';
const DISTANCE_OP: Record<string, string> = { l2: '<->', cosine: '<=>', dot: '<#>', l1: '<+>', unspecified: '<->' };

export async function search(
  ctx: PgvectorContext,
  collection: string,
  vector: Float32Array,
  k: number,
  options: SearchOptions = {},
): Promise<SearchHit[]> {
  if (!Number.isInteger(k) || k < 1)
    throw new InvalidInputError('INVALID_OPTIONS', `k must be a positive integer, got ${k}.`, { plugin: PLUGIN });
  return ctx.transaction(`search ${collection}`, async (s) => {
    const info = await describeTable(s, ...ctx.ref(collection), collection);
    const field = options.vector === undefined ? info.schema.vectors[0] : info.schema.vectors.find((v) => v.name === options.vector);
    if (!field)
      throw new InvalidInputError('SCHEMA_MISMATCH', `Table ${collection} has no vector column ${String(options.vector)}.`, {
        plugin: PLUGIN,
      });
    validateBatchVectors(
      { length: 1, ids: ['q'], vectors: { [field.name]: { dims: vector.length, data: vector } }, payloads: [{}] },
      [field],
      PLUGIN,
    );
    if (options.exact) {
      await s.query('SET LOCAL enable_indexscan = off');
      await s.query('SET LOCAL enable_bitmapscan = off');
    } else if (options.effort !== undefined) {
      // Integers only (validated), so they can be part of the statement: SET takes no parameters.
      const effort = Math.max(1, Math.trunc(options.effort));
      await s.query(`SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(effort, k))}`);
      const ivf = info.schema.indexes.find((i) => i.field === field.name && i.kind === 'ivfflat');
      if (ivf) await s.query(`SET LOCAL ivfflat.probes = ${probesForEffort(effort, Number(ivf.params.lists ?? 100))}`);
    }
    const op = DISTANCE_OP[field.metric] ?? '<->';
    const r = await s.query(
      `SELECT ${quoteIdent(info.pk.name)}::text AS id, (${quoteIdent(field.name)} ${op} $1::vector)::float8 AS d FROM ${ctx.table(collection)}
        WHERE ${quoteIdent(field.name)} IS NOT NULL ORDER BY ${quoteIdent(field.name)} ${op} $1::vector LIMIT ${k}`,
      [vectorLiteral(vector)],
    );
    return r.rows.map((row) => ({ id: info.schema.idType === 'int64' ? BigInt(String(row.id)) : String(row.id), score: Number(row.d) }));
  });
}
