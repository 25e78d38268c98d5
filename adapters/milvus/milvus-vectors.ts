/**
 * Milvus vector field types <-> the neutral vector kinds (docs/format.md, "Vector kinds"), one table
 * per concern: the type a field becomes, the metrics and indexes of each kind, the kinds a server
 * stores, and the value forms the SDK takes and gives.
 *
 * - `FloatVector(n)`: dense float32. `Float16Vector(n)`: dense float16, raw IEEE half bits (the SDK
 *   is given and gives back the little-endian bytes, never numbers). Milvus 2.3+; milvus-lite 3.2.2
 *   refuses the field.
 * - `BinaryVector(n)`: dense binary, n bits (a multiple of 8). Milvus documents dimension i as bit
 *   `i % 8` (least significant first) of byte `i / 8`; the neutral model puts it most significant
 *   first, so every byte is bit-reversed on the way in and out. Hamming and Jaccard do not change.
 * - `SparseFloatVector`: sparse, u32 indices with float32 weights. Milvus declares no dims; a field
 *   restored with declared dims (pgvector's `sparsevec(n)`) keeps them in `vectordr.types`
 *   (`sparseDims`), so describe gives them back. Milvus 2.4+ and milvus-lite 3; not Milvus 2.3. The SDK reads a row as an object keyed by index and leaves out
 *   zero weights, and milvus-lite refuses negative ones and empty vectors, so only positive finite
 *   weights are written (anything else is refused: it would not come back as written).
 * - `BFloat16Vector`, `Int8Vector`: no server here stores them (Milvus 2.3.5 fails the insert,
 *   milvus-lite 3.2.2 refuses the field), so they are refused both ways (UNSUPPORTED_OPERATION).
 */
import { DataType } from '@zilliz/milvus2-sdk-node';
import type { VectorKindCapability } from '../../src/adapter.js';
import { InvalidInputError, UnsupportedOperationError } from '../../src/errors.js';
import type { AnyVectorColumn, ElementVector, IndexSpec, Metric, SparseVector, VectorElement, VectorField } from '../../src/model.js';
import { PLUGIN } from './milvus-types.js';

/** A vector field's kind and element as the neutral model records them (kind absent = dense). */
export interface MilvusVectorShape {
  kind?: 'sparse';
  element: VectorElement;
  dims?: number;
  nativeType: string;
}

/** Every kind some supported Milvus server stores: what the adapter declares before it has asked its server. */
export const DECLARED_VECTOR_KINDS: VectorKindCapability = Object.freeze({
  dense: Object.freeze(['float32', 'float16', 'binary'] as const),
  sparse: true,
  multi: Object.freeze([] as const),
});

/** Milvus vector data types vectordr refuses: no server it is tested against stores them. */
const REFUSED_TYPES = new Set(['BFloat16Vector', 'Int8Vector']);

const DENSE_TYPES: Readonly<Record<string, VectorElement>> = {
  FloatVector: 'float32',
  Float16Vector: 'float16',
  BinaryVector: 'binary',
};

/** The Milvus data type of a field the neutral model describes, for `createCollection`. */
export function milvusVectorType(f: Pick<VectorField, 'kind' | 'element'>): DataType {
  if (f.kind === 'sparse') return DataType.SparseFloatVector;
  if (f.element === 'float16') return DataType.Float16Vector;
  if (f.element === 'binary') return DataType.BinaryVector;
  return DataType.FloatVector;
}

/**
 * The neutral kind of a Milvus field, undefined when it is not a vector; BFloat16Vector and
 * Int8Vector are UNSUPPORTED_OPERATION naming the field (nothing is ever dropped silently).
 */
export function vectorShapeFromMilvus(
  f: { name: string; data_type: string; dim?: string | number },
  collection: string,
): MilvusVectorShape | undefined {
  if (REFUSED_TYPES.has(f.data_type)) {
    throw new UnsupportedOperationError(
      `Vector field ${JSON.stringify(f.name)} of Milvus collection ${JSON.stringify(collection)} is a ` +
        `${f.data_type}; vectordr does not capture ${f.data_type} fields (no Milvus server it is tested ` +
        `against stores them). Nothing was read (no field is ever dropped silently).`,
      { plugin: PLUGIN, details: { collection, field: f.name, type: f.data_type } },
    );
  }
  if (f.data_type === 'SparseFloatVector') return { kind: 'sparse', element: 'float32', nativeType: 'SparseFloatVector' };
  const element = DENSE_TYPES[f.data_type];
  if (element === undefined) return undefined;
  return { element, dims: Number(f.dim), nativeType: `${f.data_type}(${String(f.dim)})` };
}

/** A recorded Milvus vector type (`Float16Vector(64)`, `SparseFloatVector`): the field came from Milvus. */
export function isMilvusVectorNativeType(nativeType: string | undefined): boolean {
  return /^(?:FloatVector|Float16Vector|BinaryVector)\(\d+\)$|^SparseFloatVector$/.test(nativeType ?? '');
}

// --- metrics ---

type MetricFamily = 'float' | 'binary' | 'sparse';

export function familyOf(f: Pick<VectorField, 'kind' | 'element'>): MetricFamily {
  return f.kind === 'sparse' ? 'sparse' : f.element === 'binary' ? 'binary' : 'float';
}

const METRICS: Readonly<Record<MetricFamily, Partial<Record<Metric, string>>>> = {
  float: { cosine: 'COSINE', l2: 'L2', dot: 'IP' },
  binary: { hamming: 'HAMMING', jaccard: 'JACCARD' },
  sparse: { dot: 'IP' },
};

/**
 * The metric of a field that records none, where the kind has one natural similarity: inner product
 * for sparse vectors (the only one Milvus has for them), Hamming distance for bits (what recall
 * checks use for bits). Float vectors have none: the caller names it (`metricForUnindexed`).
 */
export function defaultMetric(f: Pick<VectorField, 'kind' | 'element'>): Metric | undefined {
  const family = familyOf(f);
  return family === 'sparse' ? 'dot' : family === 'binary' ? 'hamming' : undefined;
}

/** The Milvus metric of `metric` on a field of this kind, or UNSUPPORTED_OPERATION naming the ones it has. */
export function metricToMilvus(metric: Metric, f: Pick<VectorField, 'name' | 'kind' | 'element'>): string {
  const family = familyOf(f);
  const m = METRICS[family][metric];
  if (!m) {
    const supported = Object.keys(METRICS[family]);
    const kind = family === 'float' ? `${f.element} vectors` : family === 'binary' ? 'binary vectors' : 'sparse vectors';
    throw new UnsupportedOperationError(
      `Vector ${JSON.stringify(f.name)} uses metric ${metric}; Milvus ${kind} support ` +
        `${supported.join(', ')} (${supported.map((s) => METRICS[family][s as Metric]).join(', ')}). vectordr ` +
        `never changes a metric silently: restore into an engine that has ${metric}.`,
      { plugin: PLUGIN, details: { field: f.name, metric, supported } },
    );
  }
  return m;
}

// --- indexes ---

/** Milvus index arguments. */
export interface MilvusIndexArgs {
  index_type: string;
  params: Record<string, number | string>;
}

/** The index a field gets when none is recorded or Milvus has no equivalent: exact search of its kind. */
export function fallbackIndex(f: Pick<VectorField, 'kind' | 'element'>): MilvusIndexArgs {
  const family = familyOf(f);
  // drop_ratio_build 0: every weight is indexed, so search stays exact.
  if (family === 'sparse') return { index_type: 'SPARSE_INVERTED_INDEX', params: { drop_ratio_build: 0 } };
  return { index_type: family === 'binary' ? 'BIN_FLAT' : 'FLAT', params: {} };
}

/** Index kinds Milvus builds on bits and on sparse vectors (neutral names: the Milvus name in lower case). */
const BINARY_INDEXES = new Set(['bin_flat', 'bin_ivf_flat']);
const SPARSE_INDEXES = new Set(['sparse_inverted_index', 'sparse_wand']);

/**
 * A neutral index on a binary or sparse field as Milvus arguments, or undefined where Milvus has no
 * equivalent (the field then gets `fallbackIndex`, reported). Float fields: undefined (the float
 * table in milvus-types.ts decides).
 */
export function kindIndexToMilvus(index: IndexSpec, f: Pick<VectorField, 'kind' | 'element'>): MilvusIndexArgs | undefined {
  const family = familyOf(f);
  if (family === 'float') return undefined;
  const own = family === 'binary' ? BINARY_INDEXES : SPARSE_INDEXES;
  if (own.has(index.kind)) {
    const params: Record<string, number | string> = {};
    for (const [k, v] of Object.entries(index.params)) params[k] = typeof v === 'boolean' ? String(v) : v;
    return { index_type: index.kind.toUpperCase(), params };
  }
  if (family === 'binary' && index.kind === 'ivfflat')
    return { index_type: 'BIN_IVF_FLAT', params: { nlist: Number(index.params.lists ?? 100) } };
  if (family === 'binary' && index.kind === 'flat') return fallbackIndex(f);
  return undefined;
}

// --- values ---

/** Bit-reversal of every byte value: Milvus's least-significant-first order <-> the neutral most-significant-first. */
const REVERSED = new Uint8Array(256).map((_, b) => {
  let r = 0;
  for (let i = 0; i < 8; i++) if (b & (1 << i)) r |= 0x80 >> i;
  return r;
});

/** Packed bits in the neutral order as the bytes Milvus takes (and back: the reversal is its own inverse). */
export function reverseBits(bytes: ArrayLike<number>): number[] {
  const out = new Array<number>(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = REVERSED[(bytes[i] as number) & 0xff] as number;
  return out;
}

/** Little-endian bytes of float16 bit patterns (what the SDK sends for a Float16Vector). */
export function float16Bytes(bits: Uint16Array): Buffer {
  const out = Buffer.allocUnsafe(bits.length * 2);
  for (let i = 0; i < bits.length; i++) out.writeUInt16LE(bits[i] as number, i * 2);
  return out;
}

/**
 * A sparse vector as the SDK takes it (`{ indices, values }`). Its indices are strictly ascending
 * already (the batch is validated first: a repeated index is INVALID_VECTOR there). Refuses
 * (INVALID_VECTOR, naming the field and row) what Milvus would refuse or not give back: a zero,
 * negative or non-finite weight, an empty vector, an index of 2^32-1 or past the field's declared `dims`.
 */
export function sparseToMilvus(
  indices: ArrayLike<number>,
  values: ArrayLike<number>,
  field: string,
  row: string,
  dims = 0xffff_ffff,
): { indices: number[]; values: number[] } {
  const refuse = (what: string): never => {
    throw new InvalidInputError(
      'INVALID_VECTOR',
      `Row ${row}: sparse vector ${JSON.stringify(field)} ${what}. Nothing of this batch was written.`,
      { plugin: PLUGIN, details: { field, row } },
    );
  };
  if (indices.length === 0) refuse('is empty; Milvus stores a sparse vector with at least one weight');
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] as number;
    const value = values[i] as number;
    if (index >= dims) refuse(`has index ${index}, past its ${dims} dims (Milvus takes indices below 2^32-1)`);
    if (!(value > 0 && Number.isFinite(value)))
      refuse(
        `has weight ${String(value)} at index ${index}; Milvus keeps positive finite weights only ` +
          `(milvus-lite refuses negative ones, and zero ones do not come back)`,
      );
  }
  return { indices: Array.from(indices), values: Array.from(values) };
}

/** A sparse row as the SDK gives it (`{ "3": 0.5, "17": 1 }`), in ascending index order. */
export function sparseFromMilvus(row: Record<string, number>): { indices: Uint32Array; values: Float32Array } {
  const keys = Object.keys(row)
    .map(Number)
    .sort((a, b) => a - b);
  const indices = Uint32Array.from(keys);
  const values = Float32Array.from(keys, (k) => row[String(k)] as number);
  return { indices, values };
}

/** The SDK's output transformers: a Float16Vector comes back as its raw little-endian bytes, never numbers. */
export const RAW_OUTPUT = { [DataType.Float16Vector]: (bytes: Uint8Array): Uint8Array => bytes };

/**
 * Checks row `i` of a column for a Milvus field and gives its rough wire size. Only a sparse row
 * comes back as a value (as the SDK takes it); dense rows go into the request column by column
 * (`denseColumnValues`). Refuses what Milvus would refuse or not give back (`sparseDims`: the
 * field's declared dims).
 */
export function checkColumnRow(col: AnyVectorColumn, i: number, field: string, row: string, sparseDims?: number): [unknown, number] {
  if (!('kind' in col) || col.kind === undefined) return [undefined, col.dims * 4];
  if (col.kind === 'dense') {
    if (col.element === 'float16') return [undefined, col.dims * 2];
    if (col.element === 'binary') return [undefined, Math.ceil(col.dims / 8)];
    throw unsupportedElement(col.element, field);
  }
  if (col.kind === 'sparse') {
    const from = col.offsets[i] as number;
    const to = col.offsets[i + 1] as number;
    const value = sparseToMilvus(col.indices.subarray(from, to), col.values.subarray(from, to), field, row, sparseDims);
    return [value, (to - from) * 8];
  }
  throw new UnsupportedOperationError(`Vector ${JSON.stringify(field)} is a multi-vector; Milvus stores no multi-vectors.`, {
    plugin: PLUGIN,
    details: { field, kind: 'multi' },
  });
}

/** Where a dense column's values go in a `VectorField` (schema.proto): its field number there. */
export const VECTOR_FIELD_NUMBER = { float_vector: 2, binary_vector: 3, float16_vector: 4 } as const;

/**
 * Rows `from ..< to` of a dense column as the values Milvus takes for them, those the SDK's insert
 * sends for the same rows: float32 values (written little-endian by the encoder), float16 bit
 * patterns as little-endian bytes, bits reversed into Milvus's order.
 */
export function denseColumnValues(
  col: AnyVectorColumn,
  from: number,
  to: number,
  field: string,
):
  | { dim: number; key: 'float_vector'; values: Float32Array }
  | { dim: number; key: 'binary_vector' | 'float16_vector'; values: Uint8Array } {
  if (!('kind' in col) || col.kind === undefined)
    return { dim: col.dims, key: 'float_vector', values: col.data.subarray(from * col.dims, to * col.dims) };
  if (col.kind === 'dense' && col.element === 'float16')
    return { dim: col.dims, key: 'float16_vector', values: float16Bytes(col.data.subarray(from * col.dims, to * col.dims) as Uint16Array) };
  if (col.kind === 'dense' && col.element === 'binary') {
    const w = Math.ceil(col.dims / 8);
    const bits = col.data.subarray(from * w, to * w);
    const bytes = new Uint8Array(bits.length);
    for (let i = 0; i < bits.length; i++) bytes[i] = REVERSED[bits[i] as number] as number;
    return { dim: col.dims, key: 'binary_vector', values: bytes };
  }
  throw new UnsupportedOperationError(`Vector ${JSON.stringify(field)} is not a dense vector Milvus stores.`, {
    plugin: PLUGIN,
    details: { field },
  });
}

function unsupportedElement(element: VectorElement, field: string): UnsupportedOperationError {
  return new UnsupportedOperationError(
    `Vector ${JSON.stringify(field)} holds ${element} vectors; vectordr writes float32, float16 and binary dense vectors ` +
      `and sparse vectors to Milvus (no server it is tested against stores ${element}). Nothing was written.`,
    { plugin: PLUGIN, details: { field, element } },
  );
}

/** A search query as the SDK takes it for a field of this kind; INVALID_ARGUMENT when the query is of another kind. */
export function queryToMilvus(
  query: Float32Array | { dense: Float32Array | ElementVector } | { sparse: SparseVector } | { multi: unknown },
  f: Pick<VectorField, 'name' | 'kind' | 'element'>,
): unknown {
  const wrong = (given: string): never => {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `Vector ${JSON.stringify(f.name)} holds ${f.kind === 'sparse' ? 'sparse' : f.element} vectors; the query is ${given}.`,
      { plugin: PLUGIN, details: { field: f.name, query: given } },
    );
  };
  const dense = query instanceof Float32Array ? query : 'dense' in query ? query.dense : undefined;
  if (f.kind === 'sparse') {
    if (!('sparse' in query)) return wrong(dense ? 'dense' : 'a multi-vector');
    return { indices: Array.from(query.sparse.indices), values: Array.from(query.sparse.values) };
  }
  if (dense === undefined) return wrong('sparse' in query ? 'sparse' : 'a multi-vector');
  const element = dense instanceof Float32Array ? 'float32' : dense.element;
  if (element !== f.element) return wrong(`${element}`);
  if (dense instanceof Float32Array) return Array.from(dense);
  if (dense.element === 'float16') return float16Bytes(dense.data as Uint16Array);
  return reverseBits(dense.data);
}
