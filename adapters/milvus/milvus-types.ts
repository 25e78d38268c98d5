/**
 * Milvus <-> neutral model: field types, metrics, indexes, values.
 *
 * Milvus has no uuid, datetime, date or bytes type; those are stored as VarChar and their neutral
 * type is kept in the collection property `vectordr.types`, so a round trip through Milvus gives the
 * snapshot's schema back exactly. Dynamic fields are the payload field `$meta` (type json).
 */
import { DataType, type FieldType } from '@zilliz/milvus2-sdk-node';
import { UnsupportedOperationError } from '../../src/errors.js';
import {
  type IndexSpec,
  type JsonValue,
  type Metric,
  type PayloadField,
  type PayloadType,
  type PayloadValue,
  int64ToJson,
} from '../../src/model.js';

export const PLUGIN = 'milvus';
/** Property holding neutral types Milvus cannot express: `{ "id": "uuid", "payload": { "created": "datetime" } }`. */
export const TYPES_PROPERTY = 'vectordr.types';
export const MARKER_PROPERTY = 'vectordr.restore.marker';
/** The payload field that stands for Milvus's dynamic field. */
export const DYNAMIC_FIELD = '$meta';
export const MAX_DIMS = 32_768;

export interface TypeHints {
  id?: 'uuid';
  /** Declared dims of sparse fields (Milvus declares none): `{ "s": 1000 }`. */
  sparseDims?: Record<string, number>;
  payload?: Record<string, PayloadType>;
  /**
   * Nullable payload fields kept as keys of the dynamic field, on a server without nullable fields
   * (Milvus < 2.5): a row without the key has null there.
   */
  dynamic?: Record<string, { type: PayloadType; array: boolean }>;
  /** `false` when the dynamic field holds only `dynamic` keys (the schema had no `$meta`). */
  meta?: boolean;
}

/** nativeType of a payload field kept as a dynamic key. */
export const DYNAMIC_KEY = 'dynamic key';

const METRIC_FROM_MILVUS: Record<string, Metric> = { COSINE: 'cosine', L2: 'l2', IP: 'dot', HAMMING: 'hamming', JACCARD: 'jaccard' };

export function metricFromMilvus(metric: string | undefined): Metric {
  return (metric && METRIC_FROM_MILVUS[metric.toUpperCase()]) || 'unspecified';
}

/** Milvus scalar type of a neutral payload type (arrays use it as element type). */
const SCALAR: Record<PayloadType, DataType> = {
  bool: DataType.Bool,
  int32: DataType.Int32,
  int64: DataType.Int64,
  float32: DataType.Float,
  float64: DataType.Double,
  string: DataType.VarChar,
  uuid: DataType.VarChar,
  datetime: DataType.VarChar,
  date: DataType.VarChar,
  bytes: DataType.VarChar,
  json: DataType.JSON,
};

const VARCHAR_BOUND: Partial<Record<PayloadType, number>> = { uuid: 36, datetime: 32, date: 10 };

/** Neutral type of a Milvus scalar type name, or undefined when unsupported. */
function scalarFromMilvus(type: string): PayloadType | undefined {
  switch (type) {
    case 'Bool':
      return 'bool';
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return 'int32';
    case 'Int64':
      return 'int64';
    case 'Float':
      return 'float32';
    case 'Double':
      return 'float64';
    case 'VarChar':
    case 'String':
      return 'string';
    case 'JSON':
      return 'json';
    default:
      return undefined;
  }
}

export interface MilvusFieldInfo {
  name: string;
  data_type: string;
  is_primary_key?: boolean;
  autoID?: boolean;
  is_dynamic?: boolean;
  dim?: string | number;
  max_length?: string | number;
  element_type?: string;
  max_capacity?: string | number;
  nullable?: boolean;
  /** A server-side default (Milvus 2.4+); the SDK's shape varies, so only its presence is read. */
  default_value?: unknown;
}

/** A Milvus scalar field as a neutral payload field, or an UNSUPPORTED_OPERATION naming it. */
export function payloadFieldFromMilvus(f: MilvusFieldInfo, hints: TypeHints, collection: string): PayloadField {
  const unsupported = (): never => {
    throw new UnsupportedOperationError(
      `Field ${JSON.stringify(f.name)} of Milvus collection ${JSON.stringify(collection)} has ` +
        `type ${f.data_type}${f.element_type && f.element_type !== 'None' ? `<${f.element_type}>` : ''}, ` +
        `which vectordr does not capture yet; nothing was read. Drop the field or export the ` +
        `collection without it.`,
      {
        plugin: PLUGIN,
        details: { collection, field: f.name, type: f.data_type },
      },
    );
  };
  const array = f.data_type === 'Array';
  const base = scalarFromMilvus(array ? String(f.element_type) : f.data_type) ?? unsupported();
  const hinted = hints.payload?.[f.name];
  const type = hinted ?? base;
  const nativeType = array
    ? `Array<${String(f.element_type)}>(${String(f.max_capacity ?? '')}${f.max_length ? `, ${String(f.max_length)}` : ''})`
    : f.max_length
      ? `${f.data_type}(${String(f.max_length)})`
      : f.data_type;
  return { name: f.name, type, array, nullable: f.nullable ?? false, nativeType };
}

/**
 * Milvus field definition for a neutral payload field. A same-engine restore still has the field's
 * `nativeType` (`Int8`, `VarChar(64)`, `Array<VarChar>(16, 32)`) and gets exactly that field back;
 * across engines the core drops native types and the neutral type decides.
 */
export function payloadFieldToMilvus(p: PayloadField, options: { varcharMaxLength: number; arrayMaxCapacity: number }): FieldType {
  if (p.name === DYNAMIC_FIELD) throw new Error('dynamic field is not a column');
  const native = p.nativeType ?? '';
  const nullable = p.nullable;
  if (p.array) {
    if (p.type === 'json') return { name: p.name, data_type: DataType.JSON, nullable };
    const a = /^Array<\w+>\((\d+)(?:, (\d+))?\)$/.exec(native);
    const element = SCALAR[p.type];
    return {
      name: p.name,
      data_type: DataType.Array,
      element_type: element,
      max_capacity: a?.[1] ? Number(a[1]) : options.arrayMaxCapacity,
      ...(element === DataType.VarChar ? { max_length: a?.[2] ? Number(a[2]) : options.varcharMaxLength } : {}),
      nullable,
    };
  }
  if (native === 'Int8' || native === 'Int16')
    return { name: p.name, data_type: native === 'Int8' ? DataType.Int8 : DataType.Int16, nullable };
  const nativeLength = /^VarChar\((\d+)\)$/.exec(native)?.[1];
  const data_type = SCALAR[p.type];
  const maxLength = VARCHAR_BOUND[p.type] ?? (nativeLength ? Number(nativeLength) : options.varcharMaxLength);
  return { name: p.name, data_type, ...(data_type === DataType.VarChar ? { max_length: maxLength } : {}), nullable };
}

/**
 * Types Milvus stores as something else, to keep in `vectordr.types`; `asDynamic` are the payload
 * fields kept as dynamic keys (their neutral type and arrayness go there whole).
 */
export function typeHints(idType: string, payload: PayloadField[], asDynamic: ReadonlySet<string> = new Set()): TypeHints {
  const hints: TypeHints = {};
  if (idType === 'uuid') hints.id = 'uuid';
  for (const p of payload) {
    if (p.name === DYNAMIC_FIELD) continue;
    if (asDynamic.has(p.name)) (hints.dynamic ??= {})[p.name] = { type: p.type, array: p.array };
    else if (['uuid', 'datetime', 'date', 'bytes'].includes(p.type) || (p.array && p.type === 'json'))
      (hints.payload ??= {})[p.name] = p.type;
  }
  if (hints.dynamic && !payload.some((p) => p.name === DYNAMIC_FIELD)) hints.meta = false;
  return hints;
}

/**
 * A value of a payload field kept as a dynamic key, in a form JSON holds exactly: JSON has no
 * negative zero (`JSON.stringify(-0)` is `0`), so a float -0 travels as the string "-0".
 */
export function toDynamicValue(v: PayloadValue, type: PayloadType): PayloadValue {
  if (type !== 'float32' && type !== 'float64') return v;
  if (Array.isArray(v)) return v.map((x) => (Object.is(x, -0) ? '-0' : x));
  return Object.is(v, -0) ? '-0' : v;
}

/** The inverse of `toDynamicValue`, then `valueFromMilvus`. */
export function fromDynamicValue(v: unknown, field: PayloadField): JsonValue {
  if (field.type !== 'float32' && field.type !== 'float64') return valueFromMilvus(v, field);
  const unzero = (x: unknown): unknown => (x === '-0' ? -0 : x);
  return valueFromMilvus(Array.isArray(v) ? v.map(unzero) : unzero(v), field);
}

/** Milvus index params (index_type, metric_type, params JSON) as a neutral IndexSpec. */
export function indexFromMilvus(field: string, params: Record<string, string>): IndexSpec {
  const indexType = (params.index_type ?? 'UNKNOWN').toUpperCase();
  const inner = parseObject(params.params);
  const scalar = (v: unknown): number | string | boolean => (typeof v === 'number' || typeof v === 'boolean' ? v : String(v));
  const metric = metricFromMilvus(params.metric_type);
  const native = JSON.stringify({ index_type: indexType, metric_type: params.metric_type, params: inner });
  if (indexType === 'HNSW') {
    return {
      kind: 'hnsw',
      field,
      metric,
      params: { m: Number(inner.M ?? 16), ef_construction: Number(inner.efConstruction ?? 200) },
      native,
    };
  }
  if (indexType === 'IVF_FLAT') return { kind: 'ivfflat', field, metric, params: { lists: Number(inner.nlist ?? 128) }, native };
  const raw: Record<string, number | string | boolean> = {};
  for (const [k, v] of Object.entries(inner)) raw[k] = scalar(v);
  return { kind: indexType.toLowerCase(), field, metric, params: raw, native };
}

/** A JSON object from a property string; {} when absent or malformed. */
export function parseObject(json: string | undefined): Record<string, unknown> {
  try {
    return json ? (JSON.parse(json) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A neutral index as Milvus createIndex arguments, or undefined when Milvus has no equivalent. */
export function indexToMilvus(
  index: IndexSpec,
  sameEngine: boolean,
): { index_type: string; params: Record<string, number | string> } | undefined {
  if (index.kind === 'hnsw')
    return { index_type: 'HNSW', params: { M: Number(index.params.m ?? 16), efConstruction: Number(index.params.ef_construction ?? 64) } };
  if (index.kind === 'ivfflat') return { index_type: 'IVF_FLAT', params: { nlist: Number(index.params.lists ?? 100) } }; // pgvector's default lists
  if (index.kind === 'flat') return { index_type: 'FLAT', params: {} };
  if (sameEngine) {
    const params: Record<string, number | string> = {};
    for (const [k, v] of Object.entries(index.params)) params[k] = typeof v === 'boolean' ? String(v) : v;
    return { index_type: index.kind.toUpperCase(), params };
  }
  return undefined;
}

/** Milvus returns int64 values as decimal strings and floats as numbers; JSON and arrays as parsed values. */
export function valueFromMilvus(v: unknown, field: PayloadField): JsonValue {
  if (v === null || v === undefined) return null;
  if (field.type === 'int64' && !field.array) return typeof v === 'string' || typeof v === 'bigint' ? int64ToJson(v) : (v as number);
  if (field.type === 'int64' && Array.isArray(v))
    return v.map((x) => (x === null ? null : typeof x === 'number' ? x : int64ToJson(x as string)));
  // The neutral float -0 is the string "-0" (docs/format.md, negative zero), as every adapter gives it.
  const float = (x: number): JsonValue => (Object.is(x, -0) ? '-0' : x);
  if (field.type === 'float32' && !field.array && typeof v === 'number') return float(Math.fround(v));
  if (field.type === 'float32' && Array.isArray(v)) return v.map((x) => (typeof x === 'number' ? float(Math.fround(x)) : null));
  if (field.type === 'float64' && !field.array && typeof v === 'number') return float(v);
  if (field.type === 'float64' && Array.isArray(v)) return v.map((x) => (typeof x === 'number' ? float(x) : x) as JsonValue);
  return v as JsonValue;
}

/** Quotes a string for a Milvus boolean expression (the SDK's own `get` does not escape). */
export function exprString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
