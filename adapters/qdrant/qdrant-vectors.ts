/**
 * Qdrant's vector kinds <-> the neutral ones (docs/adapters/qdrant.md, "Vector kinds"): dense
 * `float32` / `float16` / `uint8` (Qdrant's `datatype`), sparse vectors (`sparse_vectors`, indices
 * sorted and checked here: Qdrant may return them in any order) and multivectors
 * (`multivector_config`, float32 in the model whatever datatype Qdrant keeps them in). Both
 * transports read points into the rows of {@link KindRows} and write them from a batch's columns
 * through {@link rowValue}.
 */
import { EngineError, InvalidInputError, UnsupportedOperationError } from '../../src/errors.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/format/vector-elements.js';
import {
  type AnyVectorColumn,
  type ElementColumn,
  type MultiColumn,
  type SparseColumn,
  type VectorElement,
  type VectorField,
  isFloat32Column,
  kindOf,
} from '../../src/model.js';
import { PLUGIN } from './qdrant-types.js';

/** The dense element types Qdrant stores (`datatype`); int8, bfloat16 and bits it has none of. */
export const QDRANT_ELEMENTS: readonly VectorElement[] = ['float32', 'float16', 'uint8'];

/** Where a value came from, for error messages: the point and the vector. */
export interface ValueSource {
  collection: string;
  point: () => string;
  vector: string;
}

function badValue(src: ValueSource, what: string): EngineError {
  return new EngineError(
    `Point ${src.point()} of ${JSON.stringify(src.collection)}: vector ${src.vector} ${what}. Nothing was read past it.`,
    'permanent',
    { plugin: PLUGIN, details: { collection: src.collection, vector: src.vector } },
  );
}

/**
 * A sparse vector as Qdrant returned it, in the model's canonical order: indices ascending with their
 * values. A repeated index (which Qdrant refuses on write) is refused rather than summed or dropped.
 */
export function canonicalSparse(
  indices: ArrayLike<number>,
  values: ArrayLike<number>,
  src: ValueSource,
): { indices: Uint32Array; values: Float32Array } {
  if (indices.length !== values.length) throw badValue(src, `has ${indices.length} sparse indices but ${values.length} values`);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i > 0xff_ff_ff_ff) throw badValue(src, `has sparse index ${i}, not a u32`);
  }
  const idx = Uint32Array.from(indices);
  const val = Float32Array.from(values);
  let sorted = true;
  for (let k = 1; k < idx.length; k++) if ((idx[k] as number) <= (idx[k - 1] as number)) sorted = false;
  if (sorted) return { indices: idx, values: val };
  const order = Array.from(idx.keys()).sort((a, b) => (idx[a] as number) - (idx[b] as number));
  const outIdx = new Uint32Array(idx.length);
  const outVal = new Float32Array(idx.length);
  order.forEach((from, to) => {
    outIdx[to] = idx[from] as number;
    outVal[to] = val[from] as number;
  });
  for (let k = 1; k < outIdx.length; k++) {
    if (outIdx[k] === outIdx[k - 1]) throw badValue(src, `repeats sparse index ${outIdx[k]}; a sparse vector holds each index once`);
  }
  return { indices: outIdx, values: outVal };
}

/** A sparse or multi vector of one point as read (dense rows go straight into their column). */
export type KindRow = { indices: Uint32Array; values: Float32Array } | Float32Array;

/**
 * The rows of one sparse or multi field of a page, `undefined` where a point has none, made into the
 * field's column by {@link kindColumn}.
 */
export type KindRows = (KindRow | undefined)[];

/** The column of a sparse or multi field from its rows (null where a row is undefined). */
export function kindColumn(field: VectorField, rows: KindRows): SparseColumn | MultiColumn {
  const n = rows.length;
  const offsets = new Uint32Array(n + 1);
  const valid = new Uint8Array(n).fill(1);
  const sparse = kindOf(field) === 'sparse';
  const dims = field.dims ?? 1;
  rows.forEach((row, i) => {
    if (row === undefined) valid[i] = 0;
    const count = row === undefined ? 0 : row instanceof Float32Array ? row.length / dims : row.indices.length;
    offsets[i + 1] = (offsets[i] as number) + count;
  });
  const total = offsets[n] as number;
  const validity = valid.includes(0) ? { valid } : {};
  if (sparse) {
    const indices = new Uint32Array(total);
    const values = new Float32Array(total);
    rows.forEach((row, i) => {
      if (row === undefined || row instanceof Float32Array) return;
      indices.set(row.indices, offsets[i]);
      values.set(row.values, offsets[i]);
    });
    return { kind: 'sparse', ...(field.dims === undefined ? {} : { dims: field.dims }), offsets, indices, values, ...validity };
  }
  const data = new Float32Array(total * dims);
  rows.forEach((row, i) => {
    if (row instanceof Float32Array) data.set(row, (offsets[i] as number) * dims);
  });
  return { kind: 'multi', dims, offsets, data, ...validity };
}

/**
 * A dense column of `element` from the float32 values Qdrant returned (it sends every datatype as
 * floats): float16 and uint8 values are checked to be of their type, so a value is never rounded.
 */
export function denseColumn(
  element: VectorElement,
  dims: number,
  data: Float32Array,
  valid: Uint8Array | undefined,
  src: Omit<ValueSource, 'point'> & { point: (row: number) => string },
): AnyVectorColumn {
  const validity = valid ? { valid } : {};
  if (element === 'float32') return { dims, data, ...validity };
  const out = element === 'float16' ? new Uint16Array(data.length) : new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const x = data[i] as number;
    const v = element === 'float16' ? float32ToFloat16(x) : x;
    const exact = element === 'float16' ? float16ToFloat32(v) === x || (x === 0 && v === 0) : Number.isInteger(x) && x >= 0 && x <= 255;
    if (!exact) throw badValue({ ...src, point: () => src.point(Math.floor(i / dims)) }, `holds ${x}, which is not a ${element} value`);
    out[i] = v;
  }
  return { kind: 'dense', element: element as ElementColumn['element'], dims, data: out, ...validity } as ElementColumn;
}

/** One row's value of a column as Qdrant takes it, or undefined for a null. */
export type RowValue =
  | { kind: 'dense'; data: Float32Array }
  | { kind: 'sparse'; indices: Uint32Array; values: Float32Array }
  | { kind: 'multi'; dims: number; data: Float32Array };

/** Row `i` of `col` (of `field`) as Qdrant takes it: dense elements as floats (exact), multi and sparse as they are. */
export function rowValue(field: VectorField, col: AnyVectorColumn, i: number, id: () => string): RowValue | undefined {
  if (col.valid && col.valid[i] === 0) return undefined;
  if (isFloat32Column(col)) return { kind: 'dense', data: col.data.subarray(i * col.dims, (i + 1) * col.dims) };
  switch (col.kind) {
    case 'dense': {
      const raw = col.data.subarray(i * col.dims, (i + 1) * col.dims);
      const data = new Float32Array(col.dims);
      if (col.element === 'float16') for (let k = 0; k < raw.length; k++) data[k] = float16ToFloat32(raw[k] as number);
      else if (col.element === 'uint8') data.set(raw);
      else throw unstorable(field);
      return { kind: 'dense', data };
    }
    case 'sparse': {
      const from = col.offsets[i] as number;
      const to = col.offsets[i + 1] as number;
      return { kind: 'sparse', indices: col.indices.subarray(from, to), values: col.values.subarray(from, to) };
    }
    case 'multi': {
      const from = col.offsets[i] as number;
      const to = col.offsets[i + 1] as number;
      if (to === from) {
        throw new InvalidInputError(
          'INVALID_VECTOR',
          `Record ${id()}: multi-vector ${JSON.stringify(field.name)} holds no vectors, and Qdrant stores no empty ` +
            `multivector (a null one it does). Nothing of this batch was written.`,
          { plugin: PLUGIN, details: { field: field.name } },
        );
      }
      return { kind: 'multi', dims: col.dims, data: col.data.subarray(from * col.dims, to * col.dims) };
    }
  }
}

/** What Qdrant cannot store, refused before anything is created (the restore plan refuses it first by capability). */
export function unstorable(field: Pick<VectorField, 'name' | 'kind' | 'element'>): UnsupportedOperationError {
  return new UnsupportedOperationError(
    `Vector ${JSON.stringify(field.name)} is ${kindOf(field)} ${field.element}; Qdrant stores dense float32, float16 ` +
      `and uint8 vectors, sparse vectors and float32 multivectors. Restore with convertVectors or omitVectors. ` +
      `Nothing was created.`,
    { plugin: PLUGIN, details: { field: field.name, kind: kindOf(field), element: field.element } },
  );
}

/**
 * Copies a REST list of numbers into `target` at `offset`. On Node 22+ @qdrant/js-client-rest parses
 * an integer-valued number above 2^53 (JSON.stringify writes 2^60 as digits) to a bigint; its
 * Number() is the double JSON.parse would have given, so the value stays exact. Anything else that is
 * not a number is a bad value, never a silent NaN.
 */
export function setJsonFloats(target: Float32Array, raw: readonly unknown[], offset: number, src: ValueSource): void {
  for (let k = 0; k < raw.length; k++) {
    const x = raw[k];
    if (typeof x === 'number') target[offset + k] = x;
    else if (typeof x === 'bigint') target[offset + k] = Number(x);
    else throw badValue(src, `holds ${typeof x} at position ${k}, not a number`);
  }
}

/**
 * A REST value: Qdrant's JSON parser reads `[[a, b], [c, d]]` as a sparse vector (indices, values)
 * when the first list holds only integers, and then refuses it for a multivector. JSON.stringify
 * writes an integer-valued float without a decimal point, so such a two-vector multivector cannot
 * be sent over REST; gRPC sends it as it is.
 */
export function restValue(v: RowValue, field: VectorField, id: () => string): unknown {
  switch (v.kind) {
    case 'dense':
      return Array.from(v.data);
    case 'sparse':
      return { indices: Array.from(v.indices), values: Array.from(v.values) };
    case 'multi': {
      const out: number[][] = [];
      for (let k = 0; k < v.data.length; k += v.dims) out.push(Array.from(v.data.subarray(k, k + v.dims)));
      if (out.length === 2 && (out[0] as number[]).every((x) => Number.isInteger(x) && x >= 0 && x <= 0xff_ff_ff_ff)) {
        throw new UnsupportedOperationError(
          `Record ${id()}: multi-vector ${JSON.stringify(field.name)} has two vectors, the first of whole numbers, which ` +
            `Qdrant's REST API reads as a sparse vector. Write over gRPC (transport 'grpc' or 'auto' with the gRPC port ` +
            `reachable). Nothing of this batch was written.`,
          { plugin: PLUGIN, details: { field: field.name } },
        );
      }
      return out;
    }
  }
}

/** A REST value read back as a row of `field` (sparse sorted, multi checked), or undefined when absent. */
export function restRow(field: VectorField, raw: unknown, src: ValueSource): KindRow | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (kindOf(field) === 'sparse') {
    const s = raw as { indices?: unknown; values?: unknown };
    if (typeof s !== 'object' || !Array.isArray(s.indices) || !Array.isArray(s.values)) throw badValue(src, 'is not a sparse vector');
    const values = new Float32Array(s.values.length);
    setJsonFloats(values, s.values as unknown[], 0, src);
    return canonicalSparse(s.indices as number[], values, src);
  }
  const dims = field.dims ?? 0;
  if (!Array.isArray(raw) || !raw.every((r) => Array.isArray(r) && r.length === dims)) {
    throw badValue(src, `is not a multivector of ${dims}-dimensional vectors`);
  }
  const data = new Float32Array(raw.length * dims);
  (raw as unknown[][]).forEach((r, k) => setJsonFloats(data, r, k * dims, src));
  return data;
}
