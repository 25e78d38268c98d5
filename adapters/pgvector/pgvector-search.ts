/**
 * Nearest-neighbour search: pgvector's distance operator for the field's type and metric (`<->`,
 * `<#>`, `<=>`, `<+>` for vector, halfvec and sparsevec; `<~>` Hamming and `<%>` Jaccard for bit),
 * the index's effort (hnsw.ef_search, ivfflat.probes) set for the one transaction, or an exact scan
 * with index scans turned off.
 */
import type { SearchHit, SearchOptions } from '../../src/adapter.js';
import { probesForEffort } from '../../src/adapter.js';
import { InvalidInputError } from '../../src/errors.js';
import type { ElementVector, VectorQuery } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { PgvectorContext } from './pgvector-context.js';
import { type VectorColumnInfo, describeTable } from './pgvector-describe.js';
import { quoteIdent } from './pgvector-sql.js';
import { vectorLiteral } from './pgvector-types.js';
import { bitLiteral, distanceOperator, halfvecLiteral, sparsevecLiteral } from './pgvector-vectors.js';

const PLUGIN = 'pgvector';

/** A query as the column's literal and the cast that reads it. */
function queryLiteral(col: VectorColumnInfo, query: Float32Array | VectorQuery): { literal: string; cast: string } {
  const mismatch = (what: string, details: Record<string, unknown> = {}): InvalidInputError =>
    new InvalidInputError('DIMENSION_MISMATCH', `Column ${JSON.stringify(col.name)} is ${col.formatted}; the query ${what}.`, {
      plugin: PLUGIN,
      details: { field: col.name, ...details },
    });
  const dense = query instanceof Float32Array ? query : 'dense' in query ? query.dense : undefined;
  if (col.type === 'sparsevec') {
    if (!('sparse' in query)) throw mismatch('is not a sparse vector');
    const { indices, values } = query.sparse;
    if (indices.length !== values.length || indices.some((ix, k) => ix >= col.dims || (k > 0 && ix <= (indices[k - 1] as number))))
      throw mismatch(`needs ascending indices below ${col.dims}`);
    if (values.some((v) => !Number.isFinite(v))) throw mismatch('holds a value that is not finite');
    return { literal: sparsevecLiteral(indices, values, col.dims), cast: 'sparsevec' };
  }
  if (dense === undefined) throw mismatch('is not a dense vector');
  if (col.type === 'bit') {
    const e = dense as ElementVector | Float32Array;
    if (e instanceof Float32Array || e.element !== 'binary') throw mismatch('is not a binary vector (packed bits)');
    if (e.data.length !== Math.ceil(col.dims / 8)) throw mismatch(`has ${e.data.length * 8} bits`, { expected: col.dims });
    return { literal: bitLiteral(e.data as Uint8Array, col.dims), cast: `bit(${col.dims})` };
  }
  let literal: string;
  if (dense instanceof Float32Array) {
    validateBatchVectors(
      { length: 1, ids: ['q'], vectors: { [col.name]: { dims: dense.length, data: dense } }, payloads: [{}] },
      [{ name: col.name, dims: col.dims, nullable: false }],
      PLUGIN,
    );
    literal = vectorLiteral(dense);
  } else if (dense.element === 'float16' && col.type === 'halfvec') {
    if (dense.data.length !== col.dims) throw mismatch(`has ${dense.data.length} dimensions`, { expected: col.dims });
    literal = halfvecLiteral(dense.data as Uint16Array);
  } else {
    throw mismatch(`is a ${dense.element} vector`);
  }
  return { literal, cast: col.type };
}

export async function search(
  ctx: PgvectorContext,
  collection: string,
  query: Float32Array | VectorQuery,
  k: number,
  options: SearchOptions = {},
): Promise<SearchHit[]> {
  if (!Number.isInteger(k) || k < 1)
    throw new InvalidInputError('INVALID_OPTIONS', `k must be a positive integer, got ${k}.`, { plugin: PLUGIN });
  return ctx.transaction(`search ${collection}`, async (s) => {
    const info = await describeTable(s, ...ctx.ref(collection), collection);
    const field = options.vector === undefined ? info.schema.vectors[0] : info.schema.vectors.find((v) => v.name === options.vector);
    const col = info.vectors.find((c) => c.name === field?.name);
    if (!field || !col)
      throw new InvalidInputError('SCHEMA_MISMATCH', `Table ${collection} has no vector column ${String(options.vector)}.`, {
        plugin: PLUGIN,
      });
    const { literal, cast } = queryLiteral(col, query);
    const op = distanceOperator(col.type, field.metric);
    if (op === undefined)
      throw new InvalidInputError('SCHEMA_MISMATCH', `pgvector has no ${field.metric} distance for ${col.type}.`, { plugin: PLUGIN });
    if (options.exact) {
      await s.query('SET LOCAL enable_indexscan = off');
      await s.query('SET LOCAL enable_bitmapscan = off');
    } else if (options.effort !== undefined) {
      // Integers only (validated), so they can be part of the statement: SET takes no parameters.
      const effort = Math.max(1, Math.trunc(options.effort));
      await s.query(`SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(effort, k))}`);
      const ivf = info.schema.indexes.find((i) => i.field === field.name && i.kind === 'ivfflat' && i.params.expression === undefined);
      if (ivf) await s.query(`SET LOCAL ivfflat.probes = ${probesForEffort(effort, Number(ivf.params.lists ?? 100))}`);
    }
    const c = quoteIdent(field.name);
    const r = await s.query(
      `SELECT ${quoteIdent(info.pk.name)}::text AS id, (${c} ${op} $1::${cast})::float8 AS d FROM ${ctx.table(collection)}
        WHERE ${c} IS NOT NULL ORDER BY ${c} ${op} $1::${cast} LIMIT ${k}`,
      [literal],
    );
    return r.rows.map((row) => ({ id: info.schema.idType === 'int64' ? BigInt(String(row.id)) : String(row.id), score: Number(row.d) }));
  });
}
