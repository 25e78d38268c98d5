/**
 * Reads a Weaviate class over REST and works out the collection as the adapter works with it: the
 * neutral schema (from the vectordr metadata in the class description when vectordr created it,
 * else from the class itself) and how each vector and property maps to Weaviate.
 */
import { UnsupportedOperationError } from '../../src/errors.js';
import type { CollectionSchema, IndexSpec, JsonValue, PayloadField, VectorField } from '../../src/model.js';
import type { WeaviateObjectLike } from './weaviate-client.js';
import type { WeaviateConnection } from './weaviate-connection.js';
import { grpcCall } from './weaviate-errors.js';
import { type BatchProperty, batchPropertyOf } from './weaviate-grpc-batch.js';
import {
  LEGACY_VECTOR,
  ORIGINAL_ID_PROPERTY,
  PLUGIN,
  type VectorConfigEntry,
  classNameOf,
  indexFromWeaviate,
  metricFromWeaviate,
  parseDescription,
  payloadFieldFromWeaviate,
} from './weaviate-types.js';

/** Property types read over REST rather than gRPC (see `Resolved.props`). */
const REST_TYPES = new Set(['date', 'date[]', 'object', 'object[]', 'geoCoordinates', 'phoneNumber', 'blob']);

/** A collection as the adapter works with it: the neutral schema and how each part maps to Weaviate. */
export interface Resolved {
  className: string;
  schema: CollectionSchema;
  /** Neutral vector -> Weaviate vector name (LEGACY_VECTOR for an unnamed vector). */
  vectors: { field: VectorField; w: string }[];
  legacy: boolean;
  /** `rest`: read over REST (dates: the client rounds them to ms; objects, geo, phone, blobs: gRPC needs nested selections). */
  props: { field: PayloadField; w: string; rest: boolean }[];
  /** Every property by Weaviate name for the own batch encoder; undefined when one is an object, geo or phone property. */
  batchProps: Map<string, BatchProperty> | undefined;
  /** Original ids live in `vdr_id` (int64 and string ids). */
  originalIds: boolean;
}

/** Reads the class and works out the neutral schema and the mapping of every part. */
export async function resolveClass(conn: WeaviateConnection, collection: string): Promise<Resolved> {
  const className = classNameOf(collection);
  const cls = await conn.rest.mustGetClass(className, collection);
  if (cls.multiTenancyConfig?.enabled) {
    throw new UnsupportedOperationError(
      `Weaviate collection ${JSON.stringify(collection)} is multi-tenant; vectordr does not ` +
        `snapshot multi-tenant collections yet (each tenant is its own shard). Nothing was read.`,
      { plugin: PLUGIN, details: { collection } },
    );
  }
  const { text, meta } = parseDescription(cls.description);
  const vectors: Resolved['vectors'] = [];
  const indexes: IndexSpec[] = [];
  const named = Object.entries(cls.vectorConfig ?? {});
  const legacy = named.length === 0;
  const vectorizer = cls.vectorizer ?? 'none';
  // A class without named vectors has one unnamed vector, configured on the class itself.
  const unnamed: VectorConfigEntry = {
    vectorizer: { [vectorizer]: cls.moduleConfig?.[vectorizer] ?? {} },
    vectorIndexType: cls.vectorIndexType,
    vectorIndexConfig: cls.vectorIndexConfig,
  };
  const entries: [string, VectorConfigEntry, boolean][] = legacy ? [[LEGACY_VECTOR, unnamed, true]] : named.map(([w, e]) => [w, e, false]);
  for (const [w, entry, isLegacy] of entries) {
    const multi = isMultiVector(entry);
    if (multi && isLegacy) {
      throw new UnsupportedOperationError(
        `The unnamed vector of Weaviate collection ${JSON.stringify(collection)} is a multi-vector; Weaviate ` +
          `keeps multi-vectors in named vectors only, so vectordr does not read this class. Nothing was read.`,
        { plugin: PLUGIN, details: { collection, vector: w } },
      );
    }
    const m = meta?.vectors[w];
    const name = m?.name ?? w;
    const dims = m?.dims ?? (await sampleDims(conn, className, w, isLegacy, collection));
    const index = indexFromWeaviate(name, entry);
    indexes.push(index);
    const nativeType = JSON.stringify({ vectorizer: entry.vectorizer ?? { none: {} }, ...(isLegacy ? { legacy: true } : {}) });
    const metric = metricFromWeaviate(entry.vectorIndexConfig?.distance);
    const nullable = m ? (m.nullable ?? false) : true;
    // A multi-vector (ColBERT-style, `multivector.enabled`): n float32 vectors of `dims` per object, searched by MaxSim.
    vectors.push({
      w,
      field: { name, ...(multi ? { kind: 'multi' as const } : {}), dims, metric, element: 'float32', nullable, nativeType },
    });
  }
  const originalIds = meta?.idType !== undefined && meta.idType !== 'uuid';
  const props: Resolved['props'] = [];
  let batchProps: Map<string, BatchProperty> | undefined = new Map();
  for (const p of cls.properties ?? []) {
    const bp = batchPropertyOf(p.name, p.dataType[0] as string);
    if (bp && batchProps) batchProps.set(p.name, bp);
    else if (!bp && p.dataType.length === 1) batchProps = undefined;
    if (originalIds && p.name === ORIGINAL_ID_PROPERTY) continue;
    const mp = meta?.props[p.name];
    const field: PayloadField = mp
      ? { name: mp.name, type: mp.type, array: mp.array, nullable: mp.nullable ?? true }
      : payloadFieldFromWeaviate(p, collection);
    props.push({ field, w: p.name, rest: REST_TYPES.has(p.dataType[0] as string) });
  }
  const native: Record<string, JsonValue> = {};
  for (const k of ['invertedIndexConfig', 'moduleConfig', 'replicationConfig', 'shardingConfig'] as const) {
    if (cls[k] !== undefined) native[k] = cls[k] as JsonValue;
  }
  if (text) native.description = text;
  const schema: CollectionSchema = {
    name: collection,
    idField: meta?.idField ?? 'id',
    idType: meta?.idType ?? 'uuid',
    ...(meta?.idNativeType ? { idNativeType: meta.idNativeType } : {}),
    vectors: vectors.map((v) => v.field),
    payload: props.map((p) => p.field),
    indexes,
    native,
  };
  return { className, schema, vectors, legacy, props, originalIds, batchProps };
}

/** Weaviate records no dimensions in a class: read them off one stored vector. */
async function sampleDims(conn: WeaviateConnection, className: string, w: string, legacy: boolean, collection: string): Promise<number> {
  const col = await conn.collection(className);
  const res = await grpcCall('fetchObjects', () =>
    col.query.fetchObjects({ limit: 1, includeVector: legacy ? true : [w], returnProperties: [] }),
  );
  const vec = vectorOf(res.objects[0], w, legacy);
  const first = Array.isArray(vec?.[0]) ? (vec[0] as number[]) : vec;
  if (!first?.length) {
    throw new UnsupportedOperationError(
      `Weaviate collection ${JSON.stringify(collection)} holds no ${w} vector yet, and Weaviate ` +
        `records a vector's dimensions only with its first object; there is nothing to snapshot. ` +
        `Snapshot it once it holds data.`,
      { plugin: PLUGIN, details: { collection, vector: w } },
    );
  }
  // A multi-vector's dims are those of each of its vectors.
  return first.length;
}

/**
 * The stored vector `w` of an object (the unnamed one of a legacy class), or undefined when it has
 * none: a dense vector as `number[]`, a multi-vector as `number[][]` (how weaviate-client returns it).
 */
export function vectorOf(o: WeaviateObjectLike | undefined, w: string, legacy: boolean): Float32Array | number[] | number[][] | undefined {
  if (!o) return undefined;
  const v = legacy ? (o.vectors[LEGACY_VECTOR] ?? o.vectors[w]) : o.vectors[w];
  if (v instanceof Float32Array) return v.length > 0 ? v : undefined;
  return Array.isArray(v) && v.length > 0 ? (v as number[] | number[][]) : undefined;
}

/** True for a named vector configured as a multi-vector (`vectorIndexConfig.multivector.enabled`). */
export function isMultiVector(entry: VectorConfigEntry): boolean {
  return (entry.vectorIndexConfig?.multivector as { enabled?: boolean } | undefined)?.enabled === true;
}
