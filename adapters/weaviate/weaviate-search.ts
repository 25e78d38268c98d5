/** Nearest-neighbour search over one vector of a collection (nearVector over gRPC): dense, or multi-vector by MaxSim. */
import { type SearchHit, type SearchOptions, denseQuery } from '../../src/adapter.js';
import { InvalidInputError, UnsupportedOperationError } from '../../src/errors.js';
import { type VectorQuery, kindOf } from '../../src/model.js';
import type { WeaviateConnection } from './weaviate-connection.js';
import type { Resolved } from './weaviate-describe.js';
import { grpcCall } from './weaviate-errors.js';
import { idOf } from './weaviate-scan.js';
import { ORIGINAL_ID_PROPERTY, PLUGIN } from './weaviate-types.js';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * Nearest neighbours by the vector's distance. `exact` adds a filter that matches every object:
 * Weaviate then searches flat (brute force) while the filter matches fewer than the index's
 * `flatSearchCutoff` objects (40000 by default); above that the search stays approximate.
 */
export async function searchNearest(
  conn: WeaviateConnection,
  r: Resolved,
  query: Float32Array | VectorQuery,
  k: number,
  options: SearchOptions,
): Promise<SearchHit[]> {
  const v = options.vector ? r.vectors.find((x) => x.field.name === options.vector) : r.vectors[0];
  if (!v) {
    const what = `Weaviate collection ${JSON.stringify(r.schema.name)} has no vector ${JSON.stringify(options.vector)}.`;
    throw new InvalidInputError('SCHEMA_MISMATCH', what, { plugin: PLUGIN });
  }
  const vector = queryFor(v.field, query);
  const col = await conn.collection(r.className);
  const res = await grpcCall('nearVector', () =>
    col.query.nearVector(vector, {
      limit: k,
      ...(r.legacy ? {} : { targetVector: v.w }),
      returnMetadata: ['distance'],
      returnProperties: r.originalIds ? [ORIGINAL_ID_PROPERTY] : [],
      ...(options.exact ? { filters: col.filter.byId().notEqual(NIL_UUID) } : {}),
    }),
  );
  return res.objects.map((o) => ({ id: idOf(r, o), score: Number(o.metadata?.distance ?? Number.NaN) }));
}

/**
 * The nearVector argument for a query of `field`: a dense vector as `number[]`; a multi-vector
 * as `number[][]` (sent as MULTI_FP32), which Weaviate ranks by MaxSim over the field's distance.
 */
function queryFor(field: Resolved['vectors'][number]['field'], query: Float32Array | VectorQuery): number[] | number[][] {
  const multi = kindOf(field) === 'multi';
  if (!(query instanceof Float32Array) && 'multi' in query) {
    if (!multi || query.multi.dims !== field.dims || query.multi.data.length === 0) {
      throw new InvalidInputError(
        'INVALID_VECTOR',
        `Vector ${JSON.stringify(field.name)} is ${multi ? `a multi-vector of ${field.dims} dims` : 'dense'}; ` +
          `the query is a multi-vector of ${query.multi.data.length / (query.multi.dims || 1)} × ${query.multi.dims}.`,
        { plugin: PLUGIN, details: { field: field.name } },
      );
    }
    const out: number[][] = [];
    const { dims, data } = query.multi;
    for (let at = 0; at < data.length; at += dims) out.push(Array.from(data.subarray(at, at + dims)));
    return out;
  }
  if (multi) {
    throw new UnsupportedOperationError(
      `Vector ${JSON.stringify(field.name)} is a multi-vector; search it with a multi-vector query ({ multi }), not a dense vector.`,
      { plugin: PLUGIN, details: { field: field.name } },
    );
  }
  return Array.from(denseQuery(query, PLUGIN));
}
