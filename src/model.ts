/**
 * The engine-neutral data model. Adapters translate their engine's collections into these types and
 * back; the snapshot format stores them. Everything that crosses a process boundary has a zod schema.
 */
import { z } from 'zod';
import { InvalidInputError, UnsupportedOperationError } from './errors.js';
import type { PackedText } from './format/packed-text.js';
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

/** Most dimensions of a dense float/int or multi vector field. */
export const MAX_DIMS = 65_535;
/** Most bits of a dense `binary` vector field (2^24). */
export const MAX_BINARY_DIMS = 16_777_216;
/** Most dimensions a sparse field may declare: its indices are u32, so at most 2^32. */
export const MAX_SPARSE_DIMS = 4_294_967_296;

export const VectorFieldSchema = z
  .strictObject({
    /** Name of the vector; for pgvector the column name. */
    name: z.string().min(1),
    /** Absent: `dense` (writers omit it for dense, so a float32 manifest stays as 0.4.0 wrote it). */
    kind: VectorKindSchema.optional(),
    /** Elements per vector (bits for binary); required for dense and multi, optional for sparse (absent: the u32 index space). */
    dims: z.number().int().positive().max(MAX_SPARSE_DIMS).optional(),
    metric: MetricSchema,
    /** Element type of dense vectors; sparse values and multi-vectors are float32. */
    element: VectorElementSchema.default('float32'),
    /** Sparse only: the engine weighs the sparse vector by inverse document frequency (Qdrant's `modifier: idf`). */
    modifier: z.literal('idf').optional(),
    nullable: z.boolean().default(false),
    nativeType: z.string().optional(),
  })
  .superRefine((f, ctx) => {
    const problem = vectorFieldProblem(f);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: ['dims'] });
  });
export type VectorField = z.infer<typeof VectorFieldSchema>;

/**
 * What code that moves a field's values needs of it: name, kind, element and dims. A field not parsed
 * by the schema may lack the defaulted `element` (read as float32).
 */
export interface VectorShape {
  readonly name: string;
  readonly kind?: VectorKind | undefined;
  readonly element?: VectorElement | undefined;
  readonly dims?: number | undefined;
}

/** Why a vector field's kind, element, dims and modifier do not fit together, or undefined. */
function vectorFieldProblem(f: {
  kind?: VectorKind | undefined;
  dims?: number | undefined;
  element: VectorElement;
  modifier?: 'idf' | undefined;
}): string | undefined {
  const kind = f.kind ?? 'dense';
  if (kind !== 'sparse' && f.modifier !== undefined) return `modifier is for sparse vectors only, not ${kind}`;
  if (kind !== 'dense' && f.element !== 'float32') return `a ${kind} vector holds float32 values, not ${f.element}`;
  if (kind === 'sparse') return undefined;
  if (f.dims === undefined) return `a ${kind} vector needs dims`;
  const max = f.element === 'binary' ? MAX_BINARY_DIMS : MAX_DIMS;
  return f.dims > max ? `${f.dims} dims is more than the ${max} a ${kind} ${f.element} vector may have` : undefined;
}

/** The kind of a vector field (`dense` when absent). */
export function kindOf(field: Pick<VectorShape, 'kind'>): VectorKind {
  return field.kind ?? 'dense';
}

/** True for a dense float32 field: v1's only kind, the one every engine stores. */
export function isDenseFloat32(field: Pick<VectorShape, 'kind' | 'element'>): boolean {
  // A field not parsed by the schema (a test's literal, an adapter's own) may lack the defaulted element.
  return kindOf(field) === 'dense' && (field.element ?? 'float32') === 'float32';
}

/** A field's kind and element as one word: `float32`, `float16`, …, `binary`, `sparse`, `multi`. */
export function describeKind(field: Pick<VectorShape, 'kind' | 'element'>): string {
  const kind = kindOf(field);
  return kind === 'dense'
    ? (field.element ?? 'float32')
    : kind === 'multi' && field.element !== 'float32'
      ? `multi ${field.element}`
      : kind;
}

/**
 * The dims of a field whose kind needs them (dense, multi): what code that handles only those kinds
 * reads. A sparse field without declared dims is `UNSUPPORTED_OPERATION` naming what asked.
 */
export function requireDims(field: Pick<VectorShape, 'name' | 'kind' | 'dims'>, plugin = 'core'): number {
  if (field.dims !== undefined) return field.dims;
  throw new UnsupportedOperationError(
    `vector field "${field.name}" is a ${kindOf(field)} vector without dims, which this path does not handle yet.`,
    {
      plugin,
      details: { field: field.name, kind: kindOf(field) },
    },
  );
}

/**
 * Throws `UNSUPPORTED_OPERATION` for a field that is not dense float32, naming the field, its kind
 * and what does not handle it yet: the guard for code paths built for v1's kind only.
 */
export function requireDenseFloat32(field: VectorShape, what: string, plugin = 'core'): number {
  if (!isDenseFloat32(field)) {
    throw new UnsupportedOperationError(
      `vector field "${field.name}" is ${describeKind(field)}; ${what} handles dense float32 vectors only.`,
      {
        plugin,
        details: { field: field.name, kind: kindOf(field), element: field.element },
      },
    );
  }
  return requireDims(field, plugin);
}

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
  vectors: Record<string, AnyVector | null>;
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
  readonly vectors: Record<string, AnyVectorColumn>;
  /** Payload per row. */
  readonly payloads: Payload[];
  /** Defaults to all upserts. */
  readonly ops?: RecordOp[];
  /**
   * Each row's canonical payload JSON, UTF-8 (src/format/packed-text.ts), from a scan asked for it
   * (`ScanOptions.payloadJson`); then `payloads` may be empty. Must equal `canonicalPayload` of the
   * payload row for row: the record digests hash it.
   */
  readonly payloadJson?: PackedText;
  /**
   * The batch's typed arrays belong to it alone (the adapter allocated them for this batch and keeps
   * no reference): the core may move them to a worker thread, which leaves them empty here. Leave
   * unset when a buffer is shared (a view into a larger or reused buffer, or the caller's own data).
   */
  readonly exclusive?: boolean;
}

export interface VectorColumn {
  /** Never set: the other kinds' columns carry a `kind`, this one (v1's) none. */
  readonly kind?: undefined;
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
  const vectors = Object.create(null) as Record<string, AnyVector | null>;
  for (const [name, col] of Object.entries(batch.vectors)) vectors[name] = vectorAt(col, i);
  return { id: idAt(batch, i), vectors, payload: batch.payloads[i] ?? {} };
}

/** True for a dense float32 column (v1's {@link VectorColumn}): the only kind without a `kind` tag. */
export function isFloat32Column(col: AnyVectorColumn): col is VectorColumn {
  return !('kind' in col);
}

/**
 * The column as dense float32, for code paths built for v1's kind only; any other kind is
 * `UNSUPPORTED_OPERATION` naming the field and what does not handle it yet.
 */
export function float32Column(col: AnyVectorColumn, field: string, what: string, plugin = 'core'): VectorColumn {
  if (isFloat32Column(col)) return col;
  throw new UnsupportedOperationError(
    `vector field "${field}" holds ${col.kind === 'dense' ? col.element : col.kind} vectors; ${what} handles dense float32 vectors only.`,
    {
      plugin,
      details: { field, kind: col.kind },
    },
  );
}

/** The vector as dense float32 (see {@link float32Column}). */
export function float32Vector(vec: AnyVector, field: string, what: string, plugin = 'core'): Float32Array {
  if (isFloat32Vector(vec)) return vec;
  throw new UnsupportedOperationError(
    `vector field "${field}" holds a ${vec.kind === 'dense' ? vec.element : vec.kind} vector; ${what} handles dense float32 vectors only.`,
    {
      plugin,
      details: { field, kind: vec.kind },
    },
  );
}

/** True for a dense float32 vector (a plain `Float32Array`). */
export function isFloat32Vector(vec: AnyVector): vec is Float32Array {
  return vec instanceof Float32Array;
}

/** Typed-array elements per row of a dense column of `element` (bytes for binary: `ceil(dims / 8)`). */
export function elementRowWidth(element: VectorElement, dims: number): number {
  return element === 'binary' ? Math.ceil(dims / 8) : dims;
}

/** A zeroed typed array of `length` raw elements of `element`, as {@link ElementVector} holds them. */
export function newElementArray(element: VectorElement, length: number): Float32Array | Uint16Array | Uint8Array | Int8Array {
  switch (element) {
    case 'float32':
      return new Float32Array(length);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'uint8':
    case 'binary':
      return new Uint8Array(length);
  }
}

/** The vector of row `i` of a column (a copy), or null where the row has none. */
export function vectorAt(col: AnyVectorColumn, i: number): AnyVector | null {
  if (col.valid && col.valid[i] === 0) return null;
  if (isFloat32Column(col)) return col.data.slice(i * col.dims, (i + 1) * col.dims);
  switch (col.kind) {
    case 'dense': {
      const w = elementRowWidth(col.element, col.dims);
      return { kind: 'dense', element: col.element, data: col.data.slice(i * w, (i + 1) * w) };
    }
    case 'sparse': {
      const from = col.offsets[i] as number;
      const to = col.offsets[i + 1] as number;
      return { kind: 'sparse', indices: col.indices.slice(from, to), values: col.values.slice(from, to) };
    }
    case 'multi':
      return {
        kind: 'multi',
        dims: col.dims,
        data: col.data.slice((col.offsets[i] as number) * col.dims, (col.offsets[i + 1] as number) * col.dims),
      };
  }
}

function wrongVector(field: VectorShape, row: number): InvalidInputError {
  return new InvalidInputError(
    'INVALID_VECTOR',
    `record ${row}: vector "${field.name}" is not a ${describeKind(field)} vector, as the schema declares.`,
    {
      details: { field: field.name, row },
    },
  );
}

/** One column of `field` from the records' values (see {@link batchFromRecords}). */
function columnFromRecords(field: VectorField, records: readonly VectorRecord[]): AnyVectorColumn {
  const n = records.length;
  const valid = new Uint8Array(n);
  const values = records.map((r, i) => {
    const vec = r.vectors[field.name];
    if (vec != null) valid[i] = 1;
    return vec ?? null;
  });
  const validity = valid.includes(0) ? { valid } : {};
  const kind = kindOf(field);
  if (kind === 'sparse') {
    const offsets = new Uint32Array(n + 1);
    values.forEach((v, i) => {
      if (v !== null && (isFloat32Vector(v) || v.kind !== 'sparse')) throw wrongVector(field, i);
      offsets[i + 1] = (offsets[i] as number) + (v === null ? 0 : v.indices.length);
    });
    const indices = new Uint32Array(offsets[n] as number);
    const vals = new Float32Array(offsets[n] as number);
    values.forEach((v, i) => {
      if (v === null || isFloat32Vector(v) || v.kind !== 'sparse') return;
      indices.set(v.indices, offsets[i]);
      vals.set(v.values, offsets[i]);
    });
    return { kind: 'sparse', ...(field.dims === undefined ? {} : { dims: field.dims }), offsets, indices, values: vals, ...validity };
  }
  const dims = requireDims(field);
  if (kind === 'multi') {
    const offsets = new Uint32Array(n + 1);
    values.forEach((v, i) => {
      if (v !== null && (isFloat32Vector(v) || v.kind !== 'multi')) throw wrongVector(field, i);
      offsets[i + 1] = (offsets[i] as number) + (v === null ? 0 : Math.floor(v.data.length / dims));
    });
    const data = new Float32Array((offsets[n] as number) * dims);
    values.forEach((v, i) => {
      if (v !== null && !isFloat32Vector(v) && v.kind === 'multi')
        data.set(v.data.subarray(0, (offsets[i + 1]! - offsets[i]!) * dims), offsets[i]! * dims);
    });
    return { kind: 'multi', dims, offsets, data, ...validity };
  }
  const width = elementRowWidth(field.element, dims);
  const data = newElementArray(field.element, n * width);
  values.forEach((v, i) => {
    if (v === null) return;
    const raw = isFloat32Vector(v)
      ? field.element === 'float32'
        ? v
        : undefined
      : v.kind === 'dense' && v.element === field.element
        ? v.data
        : undefined;
    if (raw === undefined) throw wrongVector(field, i);
    (data as Uint8Array).set(raw as Uint8Array, i * width);
  });
  if (data instanceof Float32Array) return { dims, data, ...validity };
  return { kind: 'dense', element: field.element as Exclude<VectorElement, 'float32'>, dims, data: data, ...validity };
}

/** Builds a columnar batch from row records (tests and small writes; hot paths build columns directly). */
export function batchFromRecords(schema: Pick<CollectionSchema, 'idType' | 'vectors'>, records: VectorRecord[]): RecordBatch {
  const n = records.length;
  const ids: BigInt64Array | string[] = schema.idType === 'int64' ? new BigInt64Array(n) : new Array<string>(n);
  const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
  for (const v of schema.vectors) vectors[v.name] = columnFromRecords(v, records);
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
