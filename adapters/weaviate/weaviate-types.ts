/**
 * Weaviate <-> neutral model: collection and property names, data types, values, distances, vector
 * index configs, and the vectordr metadata kept in a class description. See docs/adapters/weaviate.md.
 */
import { z } from 'zod';
import { InvalidInputError, UnsupportedOperationError } from '../../src/errors.js';
import type { IndexSpec, JsonValue, Metric, PayloadField, PayloadType, PayloadValue } from '../../src/model.js';
import { IdTypeSchema, PayloadTypeSchema, int64ToJson } from '../../src/model.js';
import { parseExactJson, stringifyPayloadValue } from '../../src/format/canonical-json.js';

export const PLUGIN = 'weaviate';

/** Property holding the original id of records whose id is not a UUID (text: int64 ids stay exact). */
export const ORIGINAL_ID_PROPERTY = 'vdr_id';

/** Weaviate's name of the unnamed vector of a class without named vectors. */
export const LEGACY_VECTOR = 'default';

/** Weaviate's own reserved property names, and vectordr's. */
const RESERVED_PROPERTIES = new Set(['id', '_id', '_additional', 'vector', 'vectors', ORIGINAL_ID_PROPERTY]);
const CLASS_RE = /^[A-Z][_0-9A-Za-z]{0,254}$/;

/**
 * The Weaviate class of a collection name: Weaviate capitalises the first letter of class names
 * (it does so itself on create), so `documents` is class `Documents`. Other characters must already
 * be valid: a class is addressed by name in every call, so it is never renamed silently.
 */
export function classNameOf(collection: string): string {
  const name = collection.charAt(0).toUpperCase() + collection.slice(1);
  if (!CLASS_RE.test(name)) {
    throw new InvalidInputError(
      'INVALID_IDENTIFIER',
      `${JSON.stringify(collection)} cannot be a Weaviate collection name: Weaviate names match ` +
        `/^[A-Z][_0-9A-Za-z]*$/ (the first letter is capitalised for you). Restore with target: ` +
        `set to a valid name, e.g. ${JSON.stringify(suggestClassName(collection))}.`,
      { plugin: PLUGIN, details: { collection } },
    );
  }
  return name;
}

function suggestClassName(collection: string): string {
  const s = collection.replace(/[^_0-9A-Za-z]/g, '_').replace(/^[^A-Za-z]+/, '');
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : 'Collection';
}

/**
 * The documented rename rule for property and vector names Weaviate cannot hold:
 * 1. every character outside [_0-9A-Za-z] becomes `_`; 2. a name that starts with a digit (or is
 * empty) gets a leading `_`; 3. (properties) the first letter is lower-cased, as Weaviate itself
 * does; 4. (properties) a reserved name (`id`, `_id`, `_additional`, `vector`, `vectors`, `vdr_id`)
 * gets a trailing `_`; 5. names are cut at 231 characters. The original name is kept in
 * the class's vectordr metadata, so a snapshot of the collection returns it unchanged.
 */
export function weaviateName(name: string, kind: 'property' | 'vector'): string {
  let s = name.replace(/[^_0-9A-Za-z]/g, '_');
  if (!/^[_A-Za-z]/.test(s)) s = `_${s}`;
  if (kind === 'property') {
    s = s.charAt(0).toLowerCase() + s.slice(1);
    if (RESERVED_PROPERTIES.has(s.toLowerCase())) s = `${s}_`;
  }
  return s.slice(0, 231);
}

/** Maps names with the rename rule and refuses two names that land on the same Weaviate name. */
export function mapNames(names: string[], kind: 'property' | 'vector'): Map<string, string> {
  const what = kind === 'property' ? 'Payload field' : 'Vector';
  const out = new Map<string, string>();
  const seen = new Map<string, string>();
  for (const n of names) {
    const w = weaviateName(n, kind);
    const key = w.toLowerCase(); // Weaviate compares property names case-insensitively
    const other = seen.get(key);
    if (other !== undefined) {
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `${what} names ${JSON.stringify(other)} and ${JSON.stringify(n)} both become ` +
          `${JSON.stringify(w)} in Weaviate (names are case-insensitive there and limited to ` +
          `[_0-9A-Za-z]); rename one in the source before restoring. Nothing was created.`,
        {
          plugin: PLUGIN,
          details: { names: [other, n], weaviate: w },
        },
      );
    }
    seen.set(key, n);
    out.set(n, w);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Raw REST class definitions (GET /v1/schema/{class}); validated leniently: unknown keys kept.

export const WeaviatePropertySchema: z.ZodType<WeaviateProperty> = z.lazy(() =>
  z.looseObject({
    name: z.string(),
    dataType: z.array(z.string()).min(1),
    description: z.string().optional(),
    nestedProperties: z.array(WeaviatePropertySchema).optional(),
  }),
);
export interface WeaviateProperty {
  name: string;
  dataType: string[];
  description?: string;
  nestedProperties?: WeaviateProperty[];
  [key: string]: unknown;
}

export const VectorConfigEntrySchema = z.looseObject({
  vectorizer: z.record(z.string(), z.unknown()).optional(),
  vectorIndexType: z.string().optional(),
  vectorIndexConfig: z.record(z.string(), z.unknown()).optional(),
});
export type VectorConfigEntry = z.infer<typeof VectorConfigEntrySchema>;

export const WeaviateClassSchema = z.looseObject({
  class: z.string(),
  description: z.string().optional(),
  properties: z.array(WeaviatePropertySchema).nullish(),
  vectorizer: z.string().optional(),
  vectorIndexType: z.string().optional(),
  vectorIndexConfig: z.record(z.string(), z.unknown()).optional(),
  vectorConfig: z.record(z.string(), VectorConfigEntrySchema).nullish(),
  moduleConfig: z.record(z.string(), z.unknown()).optional(),
  multiTenancyConfig: z.looseObject({ enabled: z.boolean().optional() }).optional(),
});
export type WeaviateClass = z.infer<typeof WeaviateClassSchema>;

// ---------------------------------------------------------------------------------------------
// vectordr metadata, kept after a marker line in the class description.

const META_TAG = '[vectordr:v1]';

/** Written once, when vectordr creates a class; classes created by others have none. */
export const ClassMetaSchema = z.object({
  idField: z.string().min(1).optional(),
  idType: IdTypeSchema.optional(),
  idNativeType: z.string().optional(),
  /** Weaviate vector name -> original name and dims (Weaviate records no dims until the first object). */
  vectors: z
    .record(z.string(), z.object({ name: z.string().min(1), dims: z.number().int().positive(), nullable: z.boolean().optional() }))
    .default({}),
  /** Weaviate property -> neutral field. */
  props: z
    .record(
      z.string(),
      z.object({ name: z.string().min(1), type: PayloadTypeSchema, array: z.boolean(), nullable: z.boolean().optional() }),
    )
    .default({}),
});
export type ClassMeta = z.infer<typeof ClassMetaSchema>;

/** Splits a class description into the user's text and vectordr's metadata (if any). */
export function parseDescription(description: string | undefined): { text: string; meta: ClassMeta | undefined } {
  const d = description ?? '';
  const at = d.lastIndexOf(META_TAG);
  if (at < 0) return { text: d, meta: undefined };
  let raw: unknown;
  try {
    raw = JSON.parse(d.slice(at + META_TAG.length));
  } catch {
    return { text: d, meta: undefined };
  }
  const parsed = ClassMetaSchema.safeParse(raw);
  return { text: d.slice(0, at).replace(/\n$/, ''), meta: parsed.success ? parsed.data : undefined };
}

export function formatDescription(text: string, meta: ClassMeta): string {
  return `${text ? `${text}\n` : ''}${META_TAG}${JSON.stringify(meta)}`;
}

// ---------------------------------------------------------------------------------------------
// Data types.

/** Neutral field of a Weaviate property of a class vectordr did not create (no metadata). */
export function payloadFieldFromWeaviate(p: WeaviateProperty, collection: string): PayloadField {
  const dt = p.dataType[0] as string;
  const array = dt.endsWith('[]');
  const base = array ? dt.slice(0, -2) : dt;
  const types: Record<string, PayloadType> = {
    text: 'string',
    string: 'string',
    int: 'int64',
    number: 'float64',
    boolean: 'bool',
    date: 'datetime',
    uuid: 'uuid',
    blob: 'bytes',
  };
  const nativeType = JSON.stringify(p);
  const t = types[base];
  if (t) return { name: p.name, type: t, array, nullable: true, nativeType };
  if (base === 'object' || base === 'geoCoordinates' || base === 'phoneNumber')
    return { name: p.name, type: 'json', array: false, nullable: true, nativeType };
  throw new UnsupportedOperationError(
    `Property ${JSON.stringify(p.name)} of Weaviate collection ${JSON.stringify(collection)} ` +
      `is a cross-reference (${p.dataType.join(', ')}); vectordr does not capture references ` +
      `yet. Nothing was read (no property is ever dropped silently).`,
    {
      plugin: PLUGIN,
      details: { collection, property: p.name, dataType: p.dataType },
    },
  );
}

/** The Weaviate property for a neutral field (cross-engine, or a class vectordr created). */
export function propertyForField(field: PayloadField, name: string): WeaviateProperty {
  const native = parseNativeProperty(field.nativeType);
  if (native) return { ...native, name };
  const base: Record<PayloadType, string> = {
    bool: 'boolean',
    int32: 'int',
    int64: 'int',
    float32: 'number',
    float64: 'number',
    string: 'text',
    uuid: 'uuid',
    datetime: 'date',
    date: 'date',
    json: 'text',
    bytes: 'blob',
  };
  const t = base[field.type];
  const prop: WeaviateProperty = { name, dataType: [field.array && field.type !== 'json' && field.type !== 'bytes' ? `${t}[]` : t] };
  // JSON is kept as its canonical text: searchable word tokens of JSON help no one.
  if (field.type === 'json') Object.assign(prop, { indexSearchable: false, indexFilterable: false, tokenization: 'field' });
  if (field.type === 'bytes' && field.array) prop.dataType = ['text'];
  return prop;
}

/** A Weaviate property definition recorded as `nativeType` by this adapter. */
export function parseNativeProperty(nativeType: string | undefined): WeaviateProperty | undefined {
  if (!nativeType?.startsWith('{')) return undefined;
  try {
    const parsed = WeaviatePropertySchema.safeParse(JSON.parse(nativeType));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const INT_LIMIT = Number.MAX_SAFE_INTEGER;

/** Neutral payload value -> the value sent to Weaviate for this field; null means "leave unset". */
export function valueToWeaviate(
  value: PayloadValue,
  field: Pick<PayloadField, 'name' | 'type' | 'array' | 'nativeType'>,
  id: string,
): unknown {
  if (value === null) return null;
  const native = parseNativeProperty(field.nativeType);
  if (native) return value; // a Weaviate-native property going home: its own value shape
  const bad = (why: string): never => {
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Row ${id}: field ${JSON.stringify(field.name)} ${why}. Nothing of this batch was written.`,
      { plugin: PLUGIN, details: { field: field.name } },
    );
  };
  if (field.type === 'json') return stringifyPayloadValue(value); // Weaviate keeps it as text: numbers exactly as given
  if (field.type === 'bytes' && field.array) return JSON.stringify(value);
  const one = (v: PayloadValue): unknown => {
    if (v === null) return bad('has a null inside an array, which Weaviate arrays cannot hold');
    switch (field.type) {
      case 'int32':
      case 'int64': {
        const n = typeof v === 'string' ? Number(v) : v;
        if (typeof n !== 'number' || !Number.isInteger(n) || Math.abs(n) > INT_LIMIT) {
          return bad(
            `holds ${JSON.stringify(v)}; Weaviate stores int properties as 64-bit floats, exact only ` +
              `within ±2^53-1 (restore such a column from a source that keeps it as text)`,
          );
        }
        return n;
      }
      case 'float32':
      case 'float64':
        if (v === '-0') return -0; // the neutral float -0 (docs/format.md, negative zero)
        if (typeof v !== 'number')
          return bad(`holds ${JSON.stringify(v)}, which a Weaviate number cannot store (NaN and Infinity have ` + `no JSON form)`);
        return v;
      case 'datetime':
        if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT/.test(v))
          return bad(`holds ${JSON.stringify(v)}, which a Weaviate date cannot store`);
        return v;
      case 'date':
        if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\d$/.test(v))
          return bad(`holds ${JSON.stringify(v)}, which a Weaviate date cannot store`);
        return `${v}T00:00:00Z`;
      default:
        return v;
    }
  };
  if (field.array) {
    if (!Array.isArray(value)) return bad('is declared an array but holds a scalar');
    return value.map(one);
  }
  return one(value);
}

/** Weaviate's date text as the neutral datetime: UTC, six fractional digits. */
export function datetimeFromWeaviate(s: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return s;
  const frac = (m[3] ?? '').padEnd(6, '0').slice(0, 6);
  if (m[4] === 'Z' || m[4] === '+00:00') return `${m[1]}T${m[2]}.${frac}Z`;
  const utc = new Date(`${m[1]}T${m[2]}${m[4]}`).toISOString(); // whole seconds: no precision lost
  return `${utc.slice(0, 19)}.${frac}Z`;
}

/** A value read from Weaviate -> the neutral value of `field`. */
export function valueFromWeaviate(raw: unknown, field: Pick<PayloadField, 'type' | 'array' | 'nativeType'>): PayloadValue {
  if (raw === null || raw === undefined) return null;
  const native = parseNativeProperty(field.nativeType);
  if (field.type === 'json' && !native) return typeof raw === 'string' ? parseExactJson(raw) : (raw as JsonValue);
  if (field.type === 'bytes' && field.array && typeof raw === 'string') return JSON.parse(raw) as JsonValue;
  const one = (v: unknown): JsonValue => {
    switch (field.type) {
      case 'int64':
        return int64ToJson(BigInt(Math.round(Number(v))));
      case 'int32':
        return Number(v);
      case 'float32':
      case 'float64':
        return Object.is(v, -0) ? '-0' : (v as JsonValue); // the neutral float -0 (docs/format.md, negative zero)
      case 'datetime':
        return typeof v === 'string'
          ? datetimeFromWeaviate(v)
          : v instanceof Date
            ? `${v.toISOString().slice(0, 23)}000Z`
            : (v as JsonValue);
      case 'date':
        return typeof v === 'string'
          ? datetimeFromWeaviate(v).slice(0, 10)
          : v instanceof Date
            ? v.toISOString().slice(0, 10)
            : (v as JsonValue);
      default:
        return v as JsonValue;
    }
  };
  return field.array && Array.isArray(raw) ? raw.map(one) : one(raw);
}

// ---------------------------------------------------------------------------------------------
// Distances and vector indexes.

const TO_WEAVIATE: Partial<Record<Metric, string>> = {
  cosine: 'cosine',
  dot: 'dot',
  l2: 'l2-squared',
  l1: 'manhattan',
  hamming: 'hamming',
};
const FROM_WEAVIATE: Record<string, Metric> = { cosine: 'cosine', dot: 'dot', 'l2-squared': 'l2', manhattan: 'l1', hamming: 'hamming' };

/** Weaviate's distance for a metric. l2 is `l2-squared` there: the same order, squared scores. */
export function distanceToWeaviate(metric: Metric, field: string): string {
  const d = TO_WEAVIATE[metric];
  if (!d) {
    throw new UnsupportedOperationError(
      `Vector ${JSON.stringify(field)} is searched by ${metric}, which Weaviate does not offer ` +
        `(it has ${Object.keys(FROM_WEAVIATE).join(', ')}); vectordr never changes a metric ` +
        `silently. Restore into an engine that supports ${metric}.`,
      {
        plugin: PLUGIN,
        details: { field, metric, supported: Object.values(FROM_WEAVIATE) },
      },
    );
  }
  return d;
}

export function metricFromWeaviate(distance: unknown): Metric {
  return FROM_WEAVIATE[String(distance ?? 'cosine')] ?? 'unspecified';
}

/** The neutral index of one Weaviate vector (hnsw, flat or dynamic), with its full config as `native`. */
export function indexFromWeaviate(field: string, entry: VectorConfigEntry): IndexSpec {
  const kind = entry.vectorIndexType ?? 'hnsw';
  const cfg = entry.vectorIndexConfig ?? {};
  const hnsw = (kind === 'dynamic' ? (cfg.hnsw as Record<string, unknown> | undefined) : cfg) ?? {};
  const params: Record<string, number> = {};
  if (kind !== 'flat') {
    if (typeof hnsw.maxConnections === 'number') params.m = hnsw.maxConnections;
    if (typeof hnsw.efConstruction === 'number') params.ef_construction = hnsw.efConstruction;
    if (typeof hnsw.ef === 'number' && hnsw.ef > 0) params.ef_search = hnsw.ef;
  }
  return {
    kind,
    field,
    metric: metricFromWeaviate(cfg.distance),
    params,
    native: JSON.stringify({ vectorIndexType: kind, vectorIndexConfig: cfg }),
  };
}

/**
 * The vector index to create for a neutral vector: the recorded Weaviate config when the snapshot
 * came from Weaviate, else hnsw with the recorded m / ef_construction. `skipped` says why a
 * recorded index could not be recreated as it was.
 */
export function indexToWeaviate(
  index: IndexSpec | undefined,
  distance: string,
): { vectorIndexType: string; vectorIndexConfig: Record<string, unknown>; skipped?: string } {
  if (index?.native?.startsWith('{"vectorIndexType"')) {
    const n = JSON.parse(index.native) as { vectorIndexType: string; vectorIndexConfig: Record<string, unknown> };
    return { vectorIndexType: n.vectorIndexType, vectorIndexConfig: { ...n.vectorIndexConfig, distance } };
  }
  if (!index || index.kind === 'hnsw') {
    const cfg: Record<string, unknown> = { distance };
    if (index?.params.m !== undefined) cfg.maxConnections = Number(index.params.m);
    if (index?.params.ef_construction !== undefined) cfg.efConstruction = Number(index.params.ef_construction);
    if (index?.params.ef_search !== undefined) cfg.ef = Number(index.params.ef_search);
    return { vectorIndexType: 'hnsw', vectorIndexConfig: cfg };
  }
  if (index.kind === 'flat') return { vectorIndexType: 'flat', vectorIndexConfig: { distance } };
  return {
    vectorIndexType: 'hnsw',
    vectorIndexConfig: { distance },
    skipped: `Weaviate has no ${index.kind} index; built hnsw with Weaviate's defaults instead`,
  };
}
