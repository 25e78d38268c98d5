/** Vector search on a Milvus collection, with search parameters read from the field's index. */
import type { SearchHit, SearchOptions } from '../../src/adapter.js';
import { probesForEffort } from '../../src/adapter.js';
import type { IndexSpec, VectorField } from '../../src/model.js';
import type { MilvusContext } from './milvus-client.js';
import { describeSchema } from './milvus-describe.js';
import { milvusCall } from './milvus-errors.js';

/** The `k` nearest rows to `vector` in a vector field (the first by default), best first. */
export async function searchCollection(
  ctx: MilvusContext,
  collection: string,
  vector: Float32Array,
  k: number,
  options: SearchOptions,
): Promise<SearchHit[]> {
  const schema = await describeSchema(ctx, collection);
  const field = options.vector ?? (schema.vectors[0] as VectorField).name;
  const res = await milvusCall('search', collection, () =>
    ctx.client.search({
      collection_name: collection,
      anns_field: field,
      data: [Array.from(vector)],
      limit: k,
      output_fields: [schema.idField],
      params: searchParams(
        schema.indexes.find((i) => i.field === field),
        k,
        options.exact === true,
        options.effort,
      ),
      consistency_level: 'Strong',
    } as never),
  );
  const results = (res as unknown as { results: Record<string, unknown>[] }).results;
  return results.map((r) => ({ id: schema.idType === 'int64' ? BigInt(String(r.id)) : String(r.id), score: Number(r.score) }));
}

/**
 * Search parameters for the field's index. Exact: HNSW with ef far above k, IVF probing every list;
 * FLAT is exact anyway. Milvus has no brute-force switch for an indexed field. `effort` (the
 * neutral search effort, `SearchOptions.effort`) is HNSW's `ef` (k..32768) and IVF's probes.
 */
function searchParams(index: IndexSpec | undefined, k: number, exact: boolean, effort: number | undefined): Record<string, number> {
  if (index?.kind === 'ivfflat') {
    const lists = Number(index.params.lists ?? 128);
    return { nprobe: exact ? lists : effort !== undefined ? probesForEffort(effort, lists) : Math.min(lists, 16) };
  }
  return { ef: exact ? Math.max(4 * k, 2048) : Math.min(32_768, Math.max(k, Math.trunc(effort ?? 64))) };
}
