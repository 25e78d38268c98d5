/** Vector search on a Milvus collection, of any kind it stores, with search parameters read from the field's index. */
import type { SearchHit, SearchOptions } from '../../src/adapter.js';
import { probesForEffort } from '../../src/adapter.js';
import { InvalidInputError, UnsupportedOperationError } from '../../src/errors.js';
import type { IndexSpec, VectorField, VectorQuery } from '../../src/model.js';
import type { MilvusContext } from './milvus-client.js';
import { describeSchema } from './milvus-describe.js';
import { milvusCall } from './milvus-errors.js';
import { PLUGIN } from './milvus-types.js';
import { queryToMilvus } from './milvus-vectors.js';

/** The `k` nearest rows to `query` in a vector field (the first by default), best first; the query is of the field's kind. */
export async function searchCollection(
  ctx: MilvusContext,
  collection: string,
  query: Float32Array | VectorQuery,
  k: number,
  options: SearchOptions,
): Promise<SearchHit[]> {
  const schema = await describeSchema(ctx, collection);
  const field = options.vector ?? (schema.vectors[0] as VectorField).name;
  const f = schema.vectors.find((v) => v.name === field);
  if (!f) {
    const message = `Milvus collection ${JSON.stringify(collection)} has no vector field ${JSON.stringify(field)}.`;
    throw new InvalidInputError('INVALID_ARGUMENT', message, { plugin: PLUGIN, details: { field } });
  }
  const server = await ctx.server();
  if (f.element === 'float16' && !server.float16Search) {
    throw new UnsupportedOperationError(
      `Vector ${JSON.stringify(field)} of ${JSON.stringify(collection)} is float16, and Milvus ${server.version} returns ` +
        `wrong float16 search distances (docs/adapters/milvus.md); vectordr refuses the search instead of answering ` +
        `wrongly. The vectors themselves are stored exactly (verifyParity checks them); search on Milvus 2.4 or later.`,
      { plugin: PLUGIN, details: { collection, field, version: server.version } },
    );
  }
  const index = schema.indexes.find((i) => i.field === field);
  const res = await milvusCall('search', collection, () =>
    ctx.client.search({
      collection_name: collection,
      anns_field: field,
      data: [queryToMilvus(query, f)],
      limit: k,
      output_fields: [schema.idField],
      // Sparse fields need the metric named (milvus-lite refuses the search without it): IP, their only one.
      ...(f.kind === 'sparse' ? { metric_type: 'IP' } : {}),
      params: searchParams(index, k, options.exact === true, options.effort),
      consistency_level: 'Strong',
    } as never),
  );
  const results = (res as unknown as { results: Record<string, unknown>[] }).results;
  return results.map((r) => ({ id: schema.idType === 'int64' ? BigInt(String(r.id)) : String(r.id), score: Number(r.score) }));
}

/**
 * Search parameters for the field's index. Exact: HNSW with ef far above k, IVF probing every list;
 * FLAT is exact anyway. Milvus has no brute-force switch for an indexed field. `effort` (the
 * neutral search effort, `SearchOptions.effort`) is HNSW's `ef` (k..32768) and IVF's probes. Sparse
 * indexes keep every weight of the query (`drop_ratio_search` 0).
 */
function searchParams(index: IndexSpec | undefined, k: number, exact: boolean, effort: number | undefined): Record<string, number> {
  if (index?.kind === 'sparse_inverted_index' || index?.kind === 'sparse_wand') return { drop_ratio_search: 0 };
  if (index?.kind === 'ivfflat' || index?.kind === 'bin_ivf_flat') {
    const lists = Number(index.params.lists ?? index.params.nlist ?? 128);
    return { nprobe: exact ? lists : effort !== undefined ? probesForEffort(effort, lists) : Math.min(lists, 16) };
  }
  return { ef: exact ? Math.max(4 * k, 2048) : Math.min(32_768, Math.max(k, Math.trunc(effort ?? 64))) };
}
