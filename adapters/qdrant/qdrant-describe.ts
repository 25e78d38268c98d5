/**
 * Reading a Qdrant collection's shape: its neutral schema, which Qdrant vector holds which neutral
 * one, and whether vectordr created it (`metadata.vectordr`) or its payload is kept whole. Also the
 * collection-name rule and the point id to look a record up by.
 */
import { engineCall, engineRead } from '../../src/engine-errors.js';
import { UnsupportedOperationError } from '../../src/errors.js';
import type { CollectionSchema, Id, IndexSpec, JsonValue, PayloadField, VectorElement, VectorField } from '../../src/model.js';
import { invalidCollectionName } from '../../src/validate.js';
import type { PointId, QdrantContext } from './qdrant-client.js';
import { qdrantErrors } from './qdrant-errors.js';
import { QDRANT_ELEMENTS } from './qdrant-vectors.js';
import {
  type CollectionMeta,
  CollectionMetaSchema,
  META_KEY,
  ORIGINAL_ID_KEY,
  PLUGIN,
  UNNAMED_VECTOR,
  type SparseParamsLike,
  type VectorParamsLike,
  WHOLE_PAYLOAD_FIELD,
  WHOLE_PAYLOAD_NATIVE,
  indexFromQdrant,
  metricFromQdrant,
  pointId,
} from './qdrant-types.js';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** A Qdrant collection as the adapter reads and writes it. */
export interface ResolvedCollection {
  name: string;
  schema: CollectionSchema;
  meta: CollectionMeta | undefined;
  /** Neutral vector -> Qdrant vector name ('' = the unnamed vector). */
  vectors: { field: VectorField; q: string }[];
  unnamed: boolean;
  /** Payload of a collection vectordr did not create (and its restores): one neutral json field holds it whole. */
  wholePayload: boolean;
}

/** Qdrant's own rule (collection names become directory names): 1 to 255 characters, none of < > : " / \ | ? * or a control character. */
export function checkCollectionName(name: string, use: 'read' | 'create'): void {
  // eslint-disable-next-line no-control-regex
  const bad = /[<>:"/\\|?*\u0000-\u001f]/g;
  if (name.length >= 1 && name.length <= 255 && !bad.test(name) && name !== '.' && name !== '..') return;
  const suggestion =
    name
      .replace(bad, '_')
      .replace(/^\.{1,2}$/, '_')
      .slice(0, 255) || '_';
  throw invalidCollectionName(
    PLUGIN,
    name,
    'Qdrant names are 1 to 255 characters without < > : " / \\ | ? * or control characters',
    suggestion,
    use,
  );
}

export async function collectionExists(ctx: QdrantContext, collection: string): Promise<boolean> {
  return (await engineRead(qdrantErrors, 'collectionExists', undefined, () => ctx.client.collectionExists(collection))).exists;
}

/** `GET /collections/{name}`: config, status and payload schema. */
export async function collectionInfo(ctx: QdrantContext, collection: string): Promise<Record<string, unknown>> {
  return engineRead(qdrantErrors, 'getCollection', collection, () => ctx.client.getCollection(collection));
}

export async function resolveCollection(ctx: QdrantContext, collection: string): Promise<ResolvedCollection> {
  const info = await collectionInfo(ctx, collection);
  const config = (info.config ?? {}) as {
    params?: Record<string, unknown>;
    hnsw_config?: Record<string, unknown>;
    metadata?: Record<string, unknown> | null;
  };
  const params = config.params ?? {};
  const metaParsed = CollectionMetaSchema.safeParse(config.metadata?.[META_KEY]);
  const meta = metaParsed.success ? metaParsed.data : undefined;
  const raw = (params.vectors ?? {}) as VectorParamsLike | Record<string, VectorParamsLike>;
  const unnamed = typeof (raw as VectorParamsLike).size === 'number';
  const entries: [string, VectorParamsLike][] = unnamed
    ? [['', raw as VectorParamsLike]]
    : Object.entries(raw as Record<string, VectorParamsLike>);
  const sparse = Object.entries((params.sparse_vectors ?? {}) as Record<string, SparseParamsLike>);
  if (entries.length === 0 && sparse.length === 0) {
    throw new UnsupportedOperationError(`Qdrant collection ${JSON.stringify(collection)} has no vectors; nothing to snapshot.`, {
      plugin: PLUGIN,
      details: { collection },
    });
  }
  const vectors: ResolvedCollection['vectors'] = [];
  const indexes: IndexSpec[] = [];
  for (const [q, p] of entries) {
    const datatype = p.datatype ?? 'float32';
    if (!QDRANT_ELEMENTS.includes(datatype as VectorElement)) {
      throw new UnsupportedOperationError(
        `Vector ${JSON.stringify(q || UNNAMED_VECTOR)} of Qdrant collection ` +
          `${JSON.stringify(collection)} has datatype ${datatype}; vectordr reads float32, float16 ` +
          `and uint8.`,
        { plugin: PLUGIN, details: { collection, datatype } },
      );
    }
    const name = meta?.vectors[q] ?? (q || UNNAMED_VECTOR);
    const multi = p.multivector_config !== undefined && p.multivector_config !== null;
    indexes.push(indexFromQdrant(name, p, config.hnsw_config ?? {}));
    vectors.push({
      q,
      field: {
        name,
        ...(multi ? { kind: 'multi' as const } : {}),
        dims: p.size,
        metric: metricFromQdrant(p.distance),
        // A multivector is float32 in the model: float16 and uint8 ones widen exactly, and the
        // datatype (in nativeType and the index's native params) comes back on a Qdrant restore.
        element: multi ? 'float32' : (datatype as VectorElement),
        nullable: !unnamed,
        nativeType: `qdrant:${datatype}${multi ? ':multi' : ''}${q === '' ? ':unnamed' : ''}`,
      },
    });
  }
  for (const [q, p] of sparse) {
    const name = meta?.vectors[q] ?? q;
    indexes.push({ kind: 'inverted', field: name, metric: 'dot', params: {}, native: JSON.stringify({ qdrant: p }) });
    vectors.push({
      q,
      field: {
        name,
        kind: 'sparse',
        ...(meta?.sparseDims?.[q] !== undefined ? { dims: meta.sparseDims[q] } : {}),
        metric: 'dot',
        element: 'float32',
        nullable: true,
        ...(p.modifier === 'idf' ? { modifier: 'idf' as const } : {}),
        nativeType: 'qdrant:sparse',
      },
    });
  }
  let idType = meta?.idType;
  if (!idType) idType = await nativeIdType(ctx, collection);
  const payload: PayloadField[] = meta
    ? meta.payload
    : [{ name: WHOLE_PAYLOAD_FIELD, type: 'json', array: false, nullable: true, nativeType: WHOLE_PAYLOAD_NATIVE }];
  const payloadSchema = (info.payload_schema ?? {}) as Record<string, { data_type?: string; params?: unknown }>;
  for (const [field, s] of Object.entries(payloadSchema)) {
    if (field === ORIGINAL_ID_KEY) continue;
    indexes.push({ kind: `payload:${String(s.data_type ?? 'keyword')}`, field, params: {}, native: JSON.stringify({ qdrant: s }) });
  }
  const native: Record<string, JsonValue> = {};
  for (const k of ['shard_number', 'replication_factor', 'write_consistency_factor', 'on_disk_payload'] as const)
    if (params[k] !== undefined) native[k] = params[k] as JsonValue;
  if (config.hnsw_config) native.hnsw_config = config.hnsw_config as JsonValue;
  const schema: CollectionSchema = {
    name: collection,
    idField: meta?.idField ?? 'id',
    idType,
    ...(meta?.idNativeType ? { idNativeType: meta.idNativeType } : {}),
    vectors: vectors.map((v) => v.field),
    payload,
    indexes,
    native,
  };
  const wholePayload = payload.length === 1 && payload[0]?.nativeType === WHOLE_PAYLOAD_NATIVE;
  return { name: collection, schema, meta, vectors, unnamed, wholePayload };
}

/**
 * Id type of a collection vectordr did not create: integer ids sort before UUIDs in a scroll, so
 * the first point, and the first point from the nil UUID on, tell which kinds exist. Both: `string`.
 */
async function nativeIdType(ctx: QdrantContext, collection: string): Promise<'int64' | 'uuid' | 'string'> {
  const { client } = ctx;
  const firstFrom = (from: { offset?: string }) =>
    engineCall(qdrantErrors, 'scroll', collection, () =>
      client.scroll(collection, { limit: 1, ...from, with_payload: false, with_vector: false }),
    );
  const p0 = (await firstFrom({})).points[0];
  if (!p0 || typeof p0.id === 'string') return 'uuid';
  const uuids = await firstFrom({ offset: NIL_UUID });
  return uuids.points.length > 0 ? 'string' : 'int64';
}

/** The point id to look a record up by (collections of others: their own ids, as text for mixed ones). */
export function lookupId(r: ResolvedCollection, id: Id): PointId {
  if (r.meta) return pointId(id, r.schema.idType).id;
  if (r.schema.idType === 'int64') return Number(id);
  const s = String(id);
  return /^\d+$/.test(s) ? Number(s) : s;
}
