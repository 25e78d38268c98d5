/**
 * Qdrant <-> neutral model: point ids, distances, vector params, payload indexes, and the vectordr
 * metadata kept in the collection's `metadata`. See docs/adapters/qdrant.md.
 */
import { z } from 'zod';
import { EngineError, InvalidInputError, UnsupportedOperationError } from '../../src/errors.js';
import { idToUuid } from '../../src/id-mapping.js';
import type { Id, IdType, IndexSpec, Metric, PayloadField, PayloadType, VectorField } from '../../src/model.js';
import { IdTypeSchema, PayloadFieldSchema } from '../../src/model.js';

export const PLUGIN = 'qdrant';

/** Payload key holding the original id of a point whose id is not a Qdrant id (see `pointId`). */
export const ORIGINAL_ID_KEY = 'vdr_id';
/** Name of the neutral field that holds a whole payload of a collection vectordr did not create. */
export const WHOLE_PAYLOAD_FIELD = 'payload';
export const WHOLE_PAYLOAD_NATIVE = 'qdrant:payload';
/** Name of the unnamed vector of a collection created with a single VectorParams. */
export const UNNAMED_VECTOR = 'vector';
/** Most dimensions of a Qdrant vector. */
export const MAX_DIMS = 65_536;
/** Largest integer sent as a Qdrant integer id: ids must survive JSON.parse in every client. */
const MAX_INT_ID = 2n ** 53n - 1n;

/** vectordr's metadata under `metadata.vectordr` (written at create) and the marker beside it. */
export const META_KEY = 'vectordr';
export const MARKER_KEY = 'vectordr_marker';
export const CollectionMetaSchema = z.object({
  v: z.literal(1),
  idField: z.string().min(1),
  idType: IdTypeSchema,
  idNativeType: z.string().optional(),
  /** Qdrant vector name ('' for the unnamed vector) -> original name. */
  vectors: z.record(z.string(), z.string().min(1)),
  /** Declared dims of sparse vectors (Qdrant keeps none), by Qdrant vector name. */
  sparseDims: z.record(z.string(), z.number().int().positive()).optional(),
  payload: z.array(PayloadFieldSchema),
});
export type CollectionMeta = z.infer<typeof CollectionMetaSchema>;

/**
 * The Qdrant point id of a record. Qdrant takes unsigned integers and UUIDs. int64 ids in
 * [0, 2^53) stay integers; every other id (negative, ≥ 2^53, strings) becomes a UUIDv5 and keeps
 * its original in the payload (`vdr_id`): @qdrant/js-client-rest parses responses with JSON.parse,
 * which rounds integers above 2^53 on Node 20 (it has no JSON.rawJSON), so no such id is ever put
 * on the wire, whatever Node runs the adapter. The mapping is the same on every Node version.
 */
export function pointId(id: Id, idType: IdType): { id: number | string; original?: string } {
  if (idType === 'int64') {
    const b = typeof id === 'bigint' ? id : BigInt(id);
    if (b >= 0n && b <= MAX_INT_ID) return { id: Number(b) };
    return { id: idToUuid(b, 'int64'), original: b.toString() };
  }
  if (idType === 'uuid') return { id: String(id).toLowerCase() };
  return { id: idToUuid(id, 'string'), original: String(id) };
}

/** The neutral id of a point read back. */
export function idFromPoint(raw: unknown, payload: Record<string, unknown> | null | undefined, idType: IdType, collection: string): Id {
  const original = payload?.[ORIGINAL_ID_KEY];
  if (typeof original === 'string') return idType === 'int64' ? BigInt(original) : original;
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw)) {
      throw new EngineError(
        `Point ${raw} of ${JSON.stringify(collection)} has an integer id above 2^53, which ` +
          `@qdrant/js-client-rest has already rounded (Node ${process.versions.node} has no ` +
          `JSON.rawJSON). Run the snapshot on Node 22 or later, where the client keeps such ids ` +
          `exact.`,
        'permanent',
        {
          plugin: PLUGIN,
          details: { collection },
        },
      );
    }
    return idType === 'int64' ? BigInt(raw) : String(raw);
  }
  if (typeof raw === 'bigint') {
    if (raw > 2n ** 63n - 1n) {
      throw new UnsupportedOperationError(
        `Point ${raw} of ${JSON.stringify(collection)} has an id above 2^63 - 1; vectordr keeps ` +
          `integer ids as int64. Nothing was read past it.`,
        { plugin: PLUGIN, details: { collection } },
      );
    }
    return idType === 'int64' ? raw : raw.toString();
  }
  if (typeof raw === 'string') return raw.toLowerCase();
  throw new EngineError(`Qdrant returned a point of ${JSON.stringify(collection)} without an id.`, 'permanent', { plugin: PLUGIN });
}

/** Qdrant's scroll order: integer ids ascending, then UUIDs ascending. */
export function pointIdLess(a: unknown, b: unknown): boolean {
  const ia = typeof a === 'number' || typeof a === 'bigint';
  const ib = typeof b === 'number' || typeof b === 'bigint';
  if (ia && ib) return BigInt(a) < BigInt(b);
  if (ia !== ib) return ia;
  return String(a).replace(/-/g, '') < String(b).replace(/-/g, '');
}

const TO_QDRANT: Partial<Record<Metric, string>> = { cosine: 'Cosine', l2: 'Euclid', dot: 'Dot', l1: 'Manhattan' };
const FROM_QDRANT: Record<string, Metric> = { Cosine: 'cosine', Euclid: 'l2', Dot: 'dot', Manhattan: 'l1' };

export function distanceToQdrant(metric: Metric, field: string): string {
  const d = TO_QDRANT[metric];
  if (!d) {
    throw new UnsupportedOperationError(
      `Vector ${JSON.stringify(field)} is searched by ${metric}, which Qdrant does not offer (it ` +
        `has Cosine, Euclid, Dot, Manhattan: metrics cosine, l2, dot, l1); vectordr never changes ` +
        `a metric silently. Restore into an engine that supports ${metric}.`,
      {
        plugin: PLUGIN,
        details: { field, metric, supported: Object.values(FROM_QDRANT) },
      },
    );
  }
  return d;
}

export function metricFromQdrant(distance: unknown): Metric {
  return FROM_QDRANT[String(distance)] ?? 'unspecified';
}

export interface VectorParamsLike {
  size: number;
  distance: string;
  datatype?: string | null;
  hnsw_config?: Record<string, unknown> | null;
  quantization_config?: unknown;
  on_disk?: boolean | null;
  multivector_config?: unknown;
}

/** A sparse vector's params (`sparse_vectors.<name>`): its inverted index and the `idf` modifier. */
export interface SparseParamsLike {
  index?: Record<string, unknown> | null;
  modifier?: string | null;
}

/** The neutral HNSW index of a Qdrant vector; its full params (datatype, quantization, ...) as `native`. */
export function indexFromQdrant(field: string, params: VectorParamsLike, collectionHnsw: Record<string, unknown>): IndexSpec {
  const hnsw = { ...collectionHnsw, ...(params.hnsw_config ?? {}) };
  const out: Record<string, number> = {};
  if (typeof hnsw.m === 'number') out.m = hnsw.m;
  if (typeof hnsw.ef_construct === 'number') out.ef_construction = hnsw.ef_construct;
  return { kind: 'hnsw', field, metric: metricFromQdrant(params.distance), params: out, native: JSON.stringify({ qdrant: params }) };
}

/**
 * The Qdrant VectorParams to create for a neutral dense or multi vector; `skipped` says what could
 * not be kept. The datatype follows the field's element (a multivector's from its recorded params on
 * a same-engine restore: its values were read from that datatype, so they fit it exactly).
 */
export function vectorParamsFor(
  field: Pick<VectorField, 'kind' | 'element' | 'nativeType'>,
  dims: number,
  distance: string,
  index: IndexSpec | undefined,
  sameEngine: boolean,
): { params: VectorParamsLike; skipped?: string } {
  const multi = field.kind === 'multi';
  const typed = (p: VectorParamsLike): VectorParamsLike => {
    const { datatype: _d, multivector_config: _m, ...rest } = p;
    const recorded = /^qdrant:(float16|uint8):multi/.exec(field.nativeType ?? '')?.[1];
    const datatype = multi ? recorded : field.element;
    return {
      ...rest,
      ...(datatype && datatype !== 'float32' ? { datatype } : {}),
      ...(multi ? { multivector_config: { comparator: 'max_sim' } } : {}),
    };
  };
  if (sameEngine && index?.native?.startsWith('{"qdrant"')) {
    const n = (JSON.parse(index.native) as { qdrant: VectorParamsLike }).qdrant;
    return { params: typed({ ...n, size: dims, distance }) };
  }
  const params: VectorParamsLike = { size: dims, distance };
  if (!index || index.kind === 'hnsw') {
    const hnsw: Record<string, unknown> = {};
    if (index?.params.m !== undefined) hnsw.m = Number(index.params.m);
    if (index?.params.ef_construction !== undefined) hnsw.ef_construct = Number(index.params.ef_construction);
    if (Object.keys(hnsw).length > 0) params.hnsw_config = hnsw;
    return { params: typed(params) };
  }
  return {
    params: typed(params),
    skipped: `Qdrant indexes every vector with HNSW; the recorded ${index.kind} index became HNSW with Qdrant's defaults`,
  };
}

/** Payload index schema for a neutral payload type (Qdrant's payload index types). */
export function payloadIndexType(type: PayloadType): string | undefined {
  const m: Partial<Record<PayloadType, string>> = {
    string: 'keyword',
    int32: 'integer',
    int64: 'integer',
    float32: 'float',
    float64: 'float',
    bool: 'bool',
    datetime: 'datetime',
    uuid: 'uuid',
  };
  return m[type];
}

/** Refuses what Qdrant cannot hold: a payload field named like vectordr's id key. */
export function checkPayloadNames(fields: PayloadField[], originalIds: boolean, collection: string): void {
  if (originalIds && fields.some((f) => f.name === ORIGINAL_ID_KEY)) {
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Payload field ${JSON.stringify(ORIGINAL_ID_KEY)} of ${JSON.stringify(collection)} has the ` +
        `name of the key where vectordr keeps original ids in Qdrant; rename it in the source ` +
        `before restoring. Nothing was created.`,
      {
        plugin: PLUGIN,
      },
    );
  }
}
