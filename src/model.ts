/**
 * The engine-neutral data model. Adapters translate their engine's collections into these types and
 * back; the snapshot format stores them. Everything that crosses a process boundary has a zod schema.
 */
import { z } from 'zod';
import { TableDefinitionSchema } from './format/table-definition.js';

/**
 * An engine's name, as its adapter declares it (`VectorAdapter.engine`) and every manifest records
 * it (`source.engine`, `checkpoint.engine`): a lowercase identifier, the name of the adapter's folder
 * and subpath (`vectordr/adapters/<name>`). The set is open, so a new adapter edits no list here.
 * The engines with an adapter in this package: `pgvector`, `milvus`, `qdrant`, `weaviate`.
 */
export const EngineNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'an engine name is a lowercase identifier: [a-z][a-z0-9_-]*, at most 64 characters');
/** The known names, for editors; any other lowercase identifier is an engine too. */
export type EngineName = 'pgvector' | 'milvus' | 'qdrant' | 'weaviate' | (string & {});

/**
 * Id types. `int64` ids travel as `bigint` (never rounded), `string` and `uuid` as strings
 * (uuids lower-case, hyphenated).
 */
export const IdTypeSchema = z.enum(['int64', 'string', 'uuid']);
export type IdType = z.infer<typeof IdTypeSchema>;
export type Id = bigint | string;

/** Distance metrics. `unspecified` means the engine stores vectors without a metric (e.g. pgvector without an index). */
export const MetricSchema = z.enum(['cosine', 'l2', 'dot', 'l1', 'hamming', 'jaccard', 'unspecified']);
export type Metric = z.infer<typeof MetricSchema>;

/** Neutral payload value types; `nativeType` on the field keeps the engine's exact type for same-engine restores. */
export const PayloadTypeSchema = z.enum([
  'bool',
  'int32',
  'int64',
  'float32',
  'float64',
  'string',
  'uuid',
  'datetime', // ISO-8601 UTC string with microseconds: 2024-01-02T03:04:05.123456Z
  'date', // YYYY-MM-DD
  'json', // any JSON value
  'bytes', // base64 string
]);
export type PayloadType = z.infer<typeof PayloadTypeSchema>;

export const PayloadFieldSchema = z.strictObject({
  name: z.string().min(1),
  type: PayloadTypeSchema,
  /** One-dimensional array of `type`. */
  array: z.boolean().default(false),
  nullable: z.boolean().default(true),
  /** The engine's own type declaration (e.g. `character varying(64)`), for same-engine fidelity. */
  nativeType: z.string().optional(),
});
export type PayloadField = z.infer<typeof PayloadFieldSchema>;

export const VectorFieldSchema = z.strictObject({
  /** Name of the vector; for pgvector the column name. */
  name: z.string().min(1),
  dims: z.number().int().positive().max(65_535),
  metric: MetricSchema,
  element: z.literal('float32').default('float32'),
  nullable: z.boolean().default(false),
  nativeType: z.string().optional(),
});
export type VectorField = z.infer<typeof VectorFieldSchema>;

export const IndexSpecSchema = z.strictObject({
  /** Index name in the source engine, if it has one. */
  name: z.string().optional(),
  /** hnsw | ivfflat | btree | ... (engine-neutral where possible). */
  kind: z.string().min(1),
  /** Vector or payload field the index covers. */
  field: z.string().min(1),
  metric: MetricSchema.optional(),
  /** Enforces uniqueness (payload indexes). */
  unique: z.boolean().optional(),
  /** Build/search parameters, e.g. { m: 16, ef_construction: 64 } or { lists: 100 }. */
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
  /** The engine's own definition (e.g. `CREATE INDEX ...`), informational. */
  native: z.string().optional(),
});
export type IndexSpec = z.infer<typeof IndexSpecSchema>;

export const CollectionSchemaSchema = z.strictObject({
  name: z.string().min(1),
  /** Name of the primary key field in the source engine. */
  idField: z.string().min(1),
  idType: IdTypeSchema,
  idNativeType: z.string().optional(),
  vectors: z.array(VectorFieldSchema).min(1),
  payload: z.array(PayloadFieldSchema).default([]),
  indexes: z.array(IndexSpecSchema).default([]),
  /**
   * Collection-level settings in the source engine's own terms (e.g. Weaviate's inverted index,
   * replication and sharding config), recorded for same-engine restores and for the record; the
   * restore core drops them across engines, as it drops `nativeType`.
   */
  native: z.record(z.string(), z.json()).optional(),
  /**
   * The table's definition (PostgreSQL: defaults, identity, generated columns, sequences,
   * constraints, partitioning, collations) as structured data; feature `table-definition`. Only
   * the same engine reads it; its SQL text passes the restore's trust gate.
   */
  definition: TableDefinitionSchema.optional(),
});
export type CollectionSchema = z.infer<typeof CollectionSchemaSchema>;

/**
 * A JSON number kept as its exact text, where a float64 would change it: `9007199254740993`, `1.50`,
 * `-0`, `1e400`. Only numbers whose text is not the ECMAScript shortest round-trip form of their
 * float64 value take this form; every other number stays a plain `number` (see docs/format.md,
 * "Payload values"). Canonical JSON writes `text` verbatim. `toJSON()` gives the nearest float64 (the
 * text when that is not finite), which is what an engine without exact numbers stores; parity then
 * reports the difference.
 */
export class JsonNumber {
  constructor(readonly text: string) {}

  toJSON(): number | string {
    const n = Number(this.text);
    return Number.isFinite(n) ? n : this.text;
  }

  toString(): string {
    return this.text;
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A payload value: JSON, where a number may be held as its exact text ({@link JsonNumber}). */
export type PayloadValue = null | boolean | number | string | JsonNumber | PayloadValue[] | { [key: string]: PayloadValue };
export type Payload = Record<string, PayloadValue>;

/** One row as the public API returns it. */
export interface VectorRecord {
  id: Id;
  /** One entry per vector field; `null` where the row has no value for a nullable vector. */
  vectors: Record<string, Float32Array | null>;
  payload: Payload;
}

/** Row operation; full snapshots contain only upserts, incrementals also deletes. */
export type RecordOp = 'upsert' | 'delete';

/**
 * A columnar batch: the unit that flows from scan to segment and from segment to write.
 * Vectors are one contiguous Float32Array per vector field (`rows * dims`), never number[].
 */
export interface RecordBatch {
  readonly length: number;
  /** `BigInt64Array` for int64 ids, string[] otherwise. */
  readonly ids: BigInt64Array | string[];
  readonly vectors: Record<string, VectorColumn>;
  /** Payload per row. */
  readonly payloads: Payload[];
  /** Defaults to all upserts. */
  readonly ops?: RecordOp[];
  /**
   * The batch's typed arrays belong to it alone (the adapter allocated them for this batch and keeps
   * no reference): the core may move them to a worker thread, which leaves them empty here. Leave
   * unset when a buffer is shared (a view into a larger or reused buffer, or the caller's own data).
   */
  readonly exclusive?: boolean;
}

export interface VectorColumn {
  readonly dims: number;
  readonly data: Float32Array;
  /** `valid[i] === 0` marks a null vector at row i (its slot in `data` is zeros). Absent: all valid. */
  readonly valid?: Uint8Array;
}

/** Opaque position in an engine's change history, stored in a manifest for the next incremental. */
export const CheckpointSchema = z.strictObject({
  engine: EngineNameSchema,
  kind: z.string(),
  value: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
  takenAt: z.string(),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;

export function idAt(batch: RecordBatch, i: number): Id {
  const ids = batch.ids;
  return ids instanceof BigInt64Array ? (ids[i] as bigint) : (ids[i] as string);
}

export function recordAt(batch: RecordBatch, i: number): VectorRecord {
  const vectors: Record<string, Float32Array | null> = {};
  for (const [name, col] of Object.entries(batch.vectors)) {
    vectors[name] = col.valid && col.valid[i] === 0 ? null : col.data.slice(i * col.dims, (i + 1) * col.dims);
  }
  return { id: idAt(batch, i), vectors, payload: batch.payloads[i] ?? {} };
}

/** Builds a columnar batch from row records (tests and small writes; hot paths build columns directly). */
export function batchFromRecords(schema: Pick<CollectionSchema, 'idType' | 'vectors'>, records: VectorRecord[]): RecordBatch {
  const n = records.length;
  const ids: BigInt64Array | string[] = schema.idType === 'int64' ? new BigInt64Array(n) : new Array<string>(n);
  const vectors: Record<string, VectorColumn> = {};
  for (const v of schema.vectors) {
    const data = new Float32Array(n * v.dims);
    const valid = new Uint8Array(n);
    let anyNull = false;
    records.forEach((r, i) => {
      const vec = r.vectors[v.name];
      if (vec == null) {
        anyNull = true;
        return;
      }
      data.set(vec, i * v.dims);
      valid[i] = 1;
    });
    vectors[v.name] = anyNull ? { dims: v.dims, data, valid } : { dims: v.dims, data };
  }
  records.forEach((r, i) => {
    if (ids instanceof BigInt64Array) ids[i] = BigInt(r.id);
    else ids[i] = String(r.id);
  });
  return { length: n, ids, vectors, payloads: records.map((r) => r.payload) };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The neutral form of an int64 payload value: a JSON number when exactly representable, else its decimal string (never rounded). */
export function int64ToJson(value: string | bigint): JsonValue {
  const b = typeof value === 'bigint' ? value : BigInt(value);
  return b <= MAX_SAFE && b >= -MAX_SAFE ? Number(b) : b.toString();
}

/**
 * Vector kinds (docs/format.md, "Format v2 — decided once", 3; feature `vector-kinds`).
 * `dense`: one vector of `dims` elements. `sparse`: index/value pairs, indices 0-based and strictly
 * ascending (the canonical order digests rely on), `dims` the dimension count when the engine
 * declares one. `multi`: a per-record list of float32 vectors of `dims` each (ColBERT-style).
 */
export const VectorKindSchema = z.enum(['dense', 'sparse', 'multi']);
export type VectorKind = z.infer<typeof VectorKindSchema>;

/**
 * Element types of dense vectors. `binary`: bits, `ceil(dims / 8)` bytes per vector, most significant
 * bit first (bit 0 of the vector is the high bit of byte 0), unused low bits of the last byte zero.
 */
export const VectorElementSchema = z.enum(['float32', 'float16', 'bfloat16', 'uint8', 'int8', 'binary']);
export type VectorElement = z.infer<typeof VectorElementSchema>;

/** Bytes per stored element, for the element types stored a whole number of bytes each. */
export const ELEMENT_BYTES: Readonly<Record<Exclude<VectorElement, 'binary'>, number>> = Object.freeze({
  float32: 4,
  float16: 2,
  bfloat16: 2,
  uint8: 1,
  int8: 1,
});

/**
 * A dense vector of another element type than float32, as its raw elements: `float16`/`bfloat16` as
 * `Uint16Array` bit patterns, `uint8` and `binary` (packed bits) as `Uint8Array`, `int8` as `Int8Array`.
 */
export interface ElementVector {
  readonly kind: 'dense';
  readonly element: Exclude<VectorElement, 'float32'>;
  readonly data: Uint16Array | Uint8Array | Int8Array;
}

/** A sparse vector: `indices` strictly ascending, 0-based; `values[i]` belongs to `indices[i]`. */
export interface SparseVector {
  readonly kind: 'sparse';
  readonly indices: Uint32Array;
  readonly values: Float32Array;
}

/** A multi-vector: `data.length / dims` float32 vectors of `dims` each, in order. */
export interface MultiVector {
  readonly kind: 'multi';
  readonly dims: number;
  readonly data: Float32Array;
}

/** One vector value of any kind. A dense float32 vector stays a plain `Float32Array`. */
export type AnyVector = Float32Array | ElementVector | SparseVector | MultiVector;

/** A column of dense vectors of another element type (see {@link ElementVector}); `dims` elements (bits for binary) per row. */
export interface ElementColumn {
  readonly kind: 'dense';
  readonly element: Exclude<VectorElement, 'float32'>;
  readonly dims: number;
  /** `rows * dims` elements; binary: `rows * ceil(dims / 8)` bytes. */
  readonly data: Uint16Array | Uint8Array | Int8Array;
  readonly valid?: Uint8Array;
}

/** A column of sparse vectors: row i holds `indices`/`values` from `offsets[i]` to `offsets[i + 1]`. */
export interface SparseColumn {
  readonly kind: 'sparse';
  /** The dimension count, when the field declares one. */
  readonly dims?: number;
  /** `rows + 1` entries, `offsets[0] === 0`. */
  readonly offsets: Uint32Array;
  readonly indices: Uint32Array;
  readonly values: Float32Array;
  readonly valid?: Uint8Array;
}

/** A column of multi-vectors: row i holds vectors `offsets[i]` to `offsets[i + 1]` (in vectors, not floats) of `data`. */
export interface MultiColumn {
  readonly kind: 'multi';
  readonly dims: number;
  /** `rows + 1` entries, `offsets[0] === 0`. */
  readonly offsets: Uint32Array;
  /** `offsets[rows] * dims` floats. */
  readonly data: Float32Array;
  readonly valid?: Uint8Array;
}

/** A column of any kind; {@link VectorColumn} (dense float32) is v1's and stays the common case. */
export type AnyVectorColumn = VectorColumn | ElementColumn | SparseColumn | MultiColumn;

/** A search query of any kind (decision 3): recall checks and `search()` take this. */
export type VectorQuery =
  { readonly dense: Float32Array | ElementVector } | { readonly sparse: SparseVector } | { readonly multi: MultiVector };
