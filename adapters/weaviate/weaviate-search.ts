/** Nearest-neighbour search over one vector of a collection (nearVector over gRPC). */
import type { SearchHit, SearchOptions } from '../../src/adapter.js';
import { InvalidInputError } from '../../src/errors.js';
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
  vector: Float32Array,
  k: number,
  options: SearchOptions,
): Promise<SearchHit[]> {
  const v = options.vector ? r.vectors.find((x) => x.field.name === options.vector) : r.vectors[0];
  if (!v) {
    const what = `Weaviate collection ${JSON.stringify(r.schema.name)} has no vector ${JSON.stringify(options.vector)}.`;
    throw new InvalidInputError('SCHEMA_MISMATCH', what, { plugin: PLUGIN });
  }
  const col = await conn.collection(r.className);
  const res = await grpcCall('nearVector', () =>
    col.query.nearVector(Array.from(vector), {
      limit: k,
      ...(r.legacy ? {} : { targetVector: v.w }),
      returnMetadata: ['distance'],
      returnProperties: r.originalIds ? [ORIGINAL_ID_PROPERTY] : [],
      ...(options.exact ? { filters: col.filter.byId().notEqual(NIL_UUID) } : {}),
    }),
  );
  return res.objects.map((o) => ({ id: idOf(r, o), score: Number(o.metadata?.distance ?? Number.NaN) }));
}
