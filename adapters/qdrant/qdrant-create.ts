/**
 * Making a collection from a neutral schema: the create body (vector params per neutral vector, the
 * neutral schema under `metadata.vectordr`), payload indexes, and waiting for Qdrant's background
 * HNSW build. What could not be kept is reported, never dropped silently.
 */
import type { IndexBuildReport } from '../../src/adapter.js';
import { sleep } from '../../src/async.js';
import { engineCall } from '../../src/engine-errors.js';
import { EngineError, InvalidInputError, UnsupportedOperationError, throwIfAborted } from '../../src/errors.js';
import { type CollectionSchema, type VectorField, kindOf, requireDims } from '../../src/model.js';
import type { QdrantContext } from './qdrant-client.js';
import { collectionInfo } from './qdrant-describe.js';
import { qdrantErrors } from './qdrant-errors.js';
import type { QdrantAdapterConfig } from './qdrant-options.js';
import { QDRANT_ELEMENTS, unstorable } from './qdrant-vectors.js';
import {
  type CollectionMeta,
  MAX_DIMS,
  META_KEY,
  PLUGIN,
  type SparseParamsLike,
  type VectorParamsLike,
  checkPayloadNames,
  distanceToQdrant,
  payloadIndexType,
  vectorParamsFor,
} from './qdrant-types.js';

export interface CollectionPlan {
  /** The createCollection body, without `collection_name`. */
  body: Record<string, unknown>;
  /** Indexes that could not be kept as recorded. */
  notes: IndexBuildReport['skipped'];
  meta: CollectionMeta;
}

/** The collection to create for `schema`; throws what Qdrant cannot hold before anything is created. */
export function planCollection(schema: CollectionSchema, metricForUnindexed: QdrantAdapterConfig['metricForUnindexed']): CollectionPlan {
  const sameEngine = schema.vectors.some((v) => v.nativeType?.startsWith('qdrant:'));
  const notes: IndexBuildReport['skipped'] = [];
  checkPayloadNames(schema.payload, schema.idType !== 'uuid', schema.name);
  const dense = schema.vectors.filter((v) => kindOf(v) !== 'sparse');
  const unnamed = sameEngine && schema.vectors.length === 1 && dense[0]?.nativeType?.endsWith(':unnamed') === true;
  const vectors: Record<string, VectorParamsLike> = {};
  const sparse: Record<string, SparseParamsLike> = {};
  for (const v of schema.vectors) {
    const kind = kindOf(v);
    if (kind === 'sparse') {
      sparse[v.name] = sparseParamsFor(v, schema, sameEngine);
      continue;
    }
    if (!(kind === 'multi' ? v.element === 'float32' : QDRANT_ELEMENTS.includes(v.element))) throw unstorable(v);
    const dims = requireDims(v, PLUGIN);
    if (dims > MAX_DIMS) {
      throw new InvalidInputError(
        'DIMENSION_MISMATCH',
        `Vector ${JSON.stringify(v.name)} has ${v.dims} dimensions; Qdrant accepts at most ` + `${MAX_DIMS}. Nothing was created.`,
        { plugin: PLUGIN },
      );
    }
    const metric = v.metric !== 'unspecified' ? v.metric : metricForUnindexed;
    if (!metric) {
      throw new UnsupportedOperationError(
        `Vector ${JSON.stringify(v.name)} of ${JSON.stringify(schema.name)} has no metric in the ` +
          `snapshot (the source had no index on it), and a Qdrant collection needs a distance. ` +
          `Restore with metricForUnindexed ('cosine', 'l2', 'dot' or 'l1'), e.g. ` +
          `repo.restore(adapter, { collection, metricForUnindexed: 'cosine' }); vectordr never picks ` +
          `a metric silently.`,
        {
          plugin: PLUGIN,
          details: { field: v.name, supported: ['cosine', 'l2', 'dot', 'l1'] },
        },
      );
    }
    const index = schema.indexes.find((i) => i.field === v.name && !i.kind.startsWith('payload:') && i.kind !== 'btree');
    const planned = vectorParamsFor(v, dims, distanceToQdrant(metric, v.name), index, sameEngine);
    if (planned.skipped) notes.push({ kind: index?.kind ?? 'hnsw', field: v.name, reason: planned.skipped, action: 'converted' });
    vectors[v.name] = planned.params;
  }
  const sparseDims = schema.vectors.flatMap((v) => (kindOf(v) === 'sparse' && v.dims !== undefined ? [[v.name, v.dims] as const] : []));
  const meta: CollectionMeta = {
    v: 1,
    idField: schema.idField,
    idType: schema.idType,
    ...(schema.idNativeType ? { idNativeType: schema.idNativeType } : {}),
    vectors: unnamed ? { '': (schema.vectors[0] as VectorField).name } : Object.fromEntries(schema.vectors.map((v) => [v.name, v.name])),
    ...(sparseDims.length > 0 ? { sparseDims: Object.fromEntries(sparseDims) } : {}),
    payload: schema.payload,
  };
  const native = schema.native ?? {};
  const body: Record<string, unknown> = {
    vectors: unnamed ? Object.values(vectors)[0] : vectors,
    ...(Object.keys(sparse).length > 0 ? { sparse_vectors: sparse } : {}),
    ...(sameEngine && native.hnsw_config ? { hnsw_config: native.hnsw_config } : {}),
    ...(sameEngine && typeof native.on_disk_payload === 'boolean' ? { on_disk_payload: native.on_disk_payload } : {}),
    // Shards and replication are the target cluster's business (restores go into any topology).
    metadata: { [META_KEY]: meta },
  };
  return { body, notes, meta };
}

/**
 * A sparse vector's params: Qdrant scores sparse vectors by their inner product only, so another
 * metric is refused (vectordr never changes a metric silently); the `idf` modifier and, on a
 * same-engine restore, the recorded inverted-index params are kept.
 */
function sparseParamsFor(v: VectorField, schema: CollectionSchema, sameEngine: boolean): SparseParamsLike {
  if (v.metric !== 'dot' && v.metric !== 'unspecified') {
    throw new UnsupportedOperationError(
      `Sparse vector ${JSON.stringify(v.name)} of ${JSON.stringify(schema.name)} is searched by ${v.metric}; Qdrant ` +
        `scores sparse vectors by their inner product (dot) only, and vectordr never changes a metric silently. ` +
        `Restore with omitVectors: [${JSON.stringify(v.name)}], or into an engine with ${v.metric} for sparse vectors. Nothing was created.`,
      { plugin: PLUGIN, details: { field: v.name, metric: v.metric, supported: ['dot'] } },
    );
  }
  const recorded = schema.indexes.find((i) => i.field === v.name && i.kind === 'inverted' && i.native?.startsWith('{"qdrant"'));
  const index = sameEngine && recorded ? (JSON.parse(recorded.native as string) as { qdrant: SparseParamsLike }).qdrant.index : undefined;
  return { ...(index ? { index } : {}), ...(v.modifier === 'idf' ? { modifier: 'idf' } : {}) };
}

/** Creates the planned collection. */
export async function createCollection(ctx: QdrantContext, collection: string, plan: CollectionPlan): Promise<void> {
  // QdrantClient.createCollection (1.18) forwards a fixed list of fields and drops `metadata`.
  await engineCall(qdrantErrors, 'createCollection', undefined, () =>
    ctx.client.api().createCollection({ collection_name: collection, ...plan.body }),
  );
}

/** Payload indexes: recorded Qdrant ones (same engine), or one per indexed payload field of another engine. */
export async function createPayloadIndexes(
  ctx: QdrantContext,
  collection: string,
  schema: CollectionSchema,
  skipped: IndexBuildReport['skipped'],
): Promise<IndexBuildReport['built']> {
  const built: IndexBuildReport['built'] = [];
  const byName = new Map(schema.payload.map((p) => [p.name, p]));
  const done = new Set<string>();
  for (const i of schema.indexes) {
    if (schema.vectors.some((v) => v.name === i.field) || done.has(i.field)) continue;
    let fieldSchema: unknown;
    if (i.kind.startsWith('payload:') && i.native?.startsWith('{"qdrant"')) {
      const s = (JSON.parse(i.native) as { qdrant: { data_type?: string; params?: unknown } }).qdrant;
      fieldSchema = s.params ?? s.data_type;
    } else {
      const f = byName.get(i.field);
      fieldSchema = f && !f.array ? payloadIndexType(f.type) : undefined;
    }
    if (fieldSchema === undefined) {
      skipped.push({ kind: i.kind, field: i.field, reason: 'no Qdrant payload index type for this field' });
      continue;
    }
    const t0 = performance.now();
    const body = { field_name: i.field, field_schema: fieldSchema, wait: true };
    await engineCall(qdrantErrors, 'createPayloadIndex', collection, () => ctx.client.createPayloadIndex(collection, body));
    built.push({
      kind: `payload:${typeof fieldSchema === 'string' ? fieldSchema : 'params'}`,
      field: i.field,
      ms: Math.round(performance.now() - t0),
    });
    done.add(i.field);
  }
  return built;
}

/** Qdrant builds HNSW in the background (optimizers): waits until the collection is green, at most `timeoutMs`. */
export async function waitForHnsw(
  ctx: QdrantContext,
  collection: string,
  schema: CollectionSchema,
  signal: AbortSignal | undefined,
): Promise<IndexBuildReport['built']> {
  const { timeoutMs } = ctx.options;
  const t0 = performance.now();
  for (;;) {
    throwIfAborted(signal);
    const info = await collectionInfo(ctx, collection);
    if (info.status === 'green') break;
    if (performance.now() - t0 > timeoutMs) {
      const message = `Qdrant collection ${JSON.stringify(collection)} is still ${String(info.status)} after ${timeoutMs} ms.`;
      throw new EngineError(message, 'transient', { plugin: PLUGIN });
    }
    await sleep(200, signal);
  }
  const ms = Math.round(performance.now() - t0);
  return schema.vectors.map((v) => ({ kind: kindOf(v) === 'sparse' ? 'inverted' : 'hnsw', field: v.name, ms }));
}
