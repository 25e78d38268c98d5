/**
 * Nearest-neighbour search with `query`: exact or HNSW (with `hnsw_ef` from the effort), ids mapped
 * back from the point ids (and `vdr_id` where the id is not a Qdrant id).
 */
import type { SearchHit, SearchOptions } from '../../src/adapter.js';
import { widenToFloat32 } from '../../src/format/vector-elements.js';
import { type VectorField, type VectorQuery, describeKind, kindOf } from '../../src/model.js';
import { engineCall } from '../../src/engine-errors.js';
import { InvalidInputError } from '../../src/errors.js';
import type { QdrantContext } from './qdrant-client.js';
import type { ResolvedCollection } from './qdrant-describe.js';
import { qdrantErrors } from './qdrant-errors.js';
import { ORIGINAL_ID_KEY, PLUGIN, idFromPoint } from './qdrant-types.js';
import { type RowValue, restValue } from './qdrant-vectors.js';

/** The query as a value of `field`'s kind (a float16 or uint8 one widened exactly: Qdrant takes floats), else SCHEMA_MISMATCH. */
function queryValue(field: VectorField, query: Float32Array | VectorQuery, collection: string): RowValue {
  const kind = kindOf(field);
  if (query instanceof Float32Array) query = { dense: query };
  if (kind === 'dense' && 'dense' in query) {
    const d = query.dense;
    if (d instanceof Float32Array) return { kind: 'dense', data: d };
    if (d.element === 'float16' || d.element === 'uint8')
      return { kind: 'dense', data: widenToFloat32(d.element, d.data, field.dims ?? 0) };
  }
  if (kind === 'sparse' && 'sparse' in query) return { kind: 'sparse', indices: query.sparse.indices, values: query.sparse.values };
  if (kind === 'multi' && 'multi' in query) return { kind: 'multi', dims: query.multi.dims, data: query.multi.data };
  const given =
    'dense' in query ? (query.dense instanceof Float32Array ? 'float32' : query.dense.element) : 'sparse' in query ? 'sparse' : 'multi';
  throw new InvalidInputError(
    'SCHEMA_MISMATCH',
    `Vector ${JSON.stringify(field.name)} of Qdrant collection ${JSON.stringify(collection)} is ${describeKind(field)}; ` +
      `a ${given} query cannot search it.`,
    { plugin: PLUGIN, details: { field: field.name } },
  );
}

export async function searchPoints(
  ctx: QdrantContext,
  r: ResolvedCollection,
  query: Float32Array | VectorQuery,
  k: number,
  options: SearchOptions,
): Promise<SearchHit[]> {
  const collection = r.name;
  const v = options.vector ? r.vectors.find((x) => x.field.name === options.vector) : r.vectors[0];
  if (!v) {
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Qdrant collection ${JSON.stringify(collection)} has no vector ${JSON.stringify(options.vector)}.`,
      { plugin: PLUGIN },
    );
  }
  const value = queryValue(v.field, query, collection);
  const ef = options.effort !== undefined && !options.exact ? { hnsw_ef: Math.max(k, Math.trunc(options.effort)) } : {};
  const res = await engineCall(qdrantErrors, 'query', collection, () =>
    ctx.client.query(collection, {
      query: restValue(value, v.field, () => 'query'),
      ...(r.unnamed ? {} : { using: v.q }),
      limit: k,
      params: { exact: options.exact === true, ...ef },
      with_payload: [ORIGINAL_ID_KEY],
      with_vector: false,
    }),
  );
  return res.points.map((p) => ({ id: idFromPoint(p.id, p.payload, r.schema.idType, collection), score: Number(p.score) }));
}
