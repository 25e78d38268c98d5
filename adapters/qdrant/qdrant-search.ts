/**
 * Nearest-neighbour search with `query`: exact or HNSW (with `hnsw_ef` from the effort), ids mapped
 * back from the point ids (and `vdr_id` where the id is not a Qdrant id).
 */
import type { SearchHit, SearchOptions } from '../../src/adapter.js';
import { engineCall } from '../../src/engine-errors.js';
import { InvalidInputError } from '../../src/errors.js';
import type { QdrantContext } from './qdrant-client.js';
import type { ResolvedCollection } from './qdrant-describe.js';
import { qdrantErrors } from './qdrant-errors.js';
import { ORIGINAL_ID_KEY, PLUGIN, idFromPoint } from './qdrant-types.js';

export async function searchPoints(
  ctx: QdrantContext,
  r: ResolvedCollection,
  vector: Float32Array,
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
  const ef = options.effort !== undefined && !options.exact ? { hnsw_ef: Math.max(k, Math.trunc(options.effort)) } : {};
  const res = await engineCall(qdrantErrors, 'query', collection, () =>
    ctx.client.query(collection, {
      query: Array.from(vector),
      ...(r.unnamed ? {} : { using: v.q }),
      limit: k,
      params: { exact: options.exact === true, ...ef },
      with_payload: [ORIGINAL_ID_KEY],
      with_vector: false,
    }),
  );
  return res.points.map((p) => ({ id: idFromPoint(p.id, p.payload, r.schema.idType, collection), score: Number(p.score) }));
}
