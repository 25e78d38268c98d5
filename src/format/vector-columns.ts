/**
 * Column operations for every vector kind (docs/format.md, "Vector kinds"): slicing, concatenation,
 * row selection and the checks of invariant 8 (dims, finite values, canonical sparse order, nulls).
 * A dense float32 column keeps v1's shape and fast paths; the other kinds follow {@link AnyVectorColumn}.
 */
import { InvalidInputError } from '../errors.js';
import { firstNonFinite } from './vector-elements.js';
import {
  type AnyVectorColumn,
  type ElementColumn,
  type MultiColumn,
  type SparseColumn,
  type VectorColumn,
  type VectorElement,
  type VectorShape,
  ELEMENT_BYTES,
  elementRowWidth,
  isFloat32Column,
  kindOf,
  newElementArray,
  requireDims,
} from '../model.js';

type ElementData = ElementColumn['data'];

/** A column of no rows for `field`. */
export function emptyColumn(field: VectorShape): AnyVectorColumn {
  const kind = kindOf(field);
  if (kind === 'sparse') {
    return {
      kind,
      ...(field.dims === undefined ? {} : { dims: field.dims }),
      offsets: new Uint32Array(1),
      indices: new Uint32Array(0),
      values: new Float32Array(0),
    };
  }
  const dims = requireDims(field);
  if (kind === 'multi') return { kind, dims, offsets: new Uint32Array(1), data: new Float32Array(0) };
  const element = field.element ?? 'float32';
  if (element === 'float32') return { dims, data: new Float32Array(0) };
  return { kind: 'dense', element, dims, data: newElementArray(element, 0) as ElementData };
}

function withValid<T extends object>(col: T, valid: Uint8Array | undefined): T & { valid?: Uint8Array } {
  return valid ? { ...col, valid } : col;
}

/** Offsets of rows [start, end] rebased to 0. */
function rebase(offsets: Uint32Array, start: number, end: number): Uint32Array {
  const base = offsets[start] as number;
  const out = offsets.slice(start, end + 1);
  if (base !== 0) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) - base;
  return out;
}

/** Rows [start, end) of a column: views where the layout allows (dense), copies of offsets otherwise. */
export function sliceColumn(col: AnyVectorColumn, start: number, end: number): AnyVectorColumn {
  const valid = col.valid?.subarray(start, end);
  if (isFloat32Column(col)) return withValid({ dims: col.dims, data: col.data.subarray(start * col.dims, end * col.dims) }, valid);
  switch (col.kind) {
    case 'dense': {
      const w = elementRowWidth(col.element, col.dims);
      return withValid({ kind: 'dense', element: col.element, dims: col.dims, data: col.data.subarray(start * w, end * w) }, valid);
    }
    case 'sparse': {
      const from = col.offsets[start] as number;
      const to = col.offsets[end] as number;
      const base: SparseColumn = {
        kind: 'sparse',
        ...(col.dims === undefined ? {} : { dims: col.dims }),
        offsets: rebase(col.offsets, start, end),
        indices: col.indices.subarray(from, to),
        values: col.values.subarray(from, to),
      };
      return withValid(base, valid);
    }
    case 'multi': {
      const from = (col.offsets[start] as number) * col.dims;
      const to = (col.offsets[end] as number) * col.dims;
      return withValid(
        { kind: 'multi', dims: col.dims, offsets: rebase(col.offsets, start, end), data: col.data.subarray(from, to) },
        valid,
      );
    }
  }
}

function concatValid(cols: readonly AnyVectorColumn[], lengths: readonly number[], n: number): Uint8Array | undefined {
  if (!cols.some((c) => c.valid)) return undefined;
  const valid = new Uint8Array(n).fill(1);
  let o = 0;
  cols.forEach((c, i) => {
    if (c.valid) valid.set(c.valid.subarray(0, lengths[i]), o);
    o += lengths[i] as number;
  });
  return valid;
}

function concatTyped<T extends Float32Array | Uint32Array | ElementData>(parts: readonly T[], make: (n: number) => T): T {
  const out = make(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    (out as Uint8Array).set(p as Uint8Array, o);
    o += p.length;
  }
  return out;
}

function concatOffsets(offsets: readonly Uint32Array[], lengths: readonly number[], n: number): Uint32Array {
  const out = new Uint32Array(n + 1);
  let row = 0;
  let base = 0;
  offsets.forEach((off, k) => {
    const len = lengths[k] as number;
    for (let i = 1; i <= len; i++) out[row + i] = base + (off[i] as number);
    row += len;
    base += off[len] as number;
  });
  return out;
}

/** The columns of consecutive batches (`lengths` rows each) as one column of `field`'s kind. */
export function concatColumns(field: VectorShape, cols: readonly AnyVectorColumn[], lengths: readonly number[]): AnyVectorColumn {
  const n = lengths.reduce((s, l) => s + l, 0);
  const valid = concatValid(cols, lengths, n);
  const first = cols[0] ?? emptyColumn(field);
  if (isFloat32Column(first)) {
    const dims = first.dims;
    const data = concatTyped(
      cols.map((c, i) => (c as VectorColumn).data.subarray(0, (lengths[i] as number) * dims)),
      (k) => new Float32Array(k),
    );
    return withValid({ dims, data }, valid);
  }
  switch (first.kind) {
    case 'dense': {
      const w = elementRowWidth(first.element, first.dims);
      const parts = cols.map((c, i) => (c as ElementColumn).data.subarray(0, (lengths[i] as number) * w) as ElementData);
      const data = concatTyped(parts, (k) => newElementArray(first.element, k) as ElementData);
      return withValid({ kind: 'dense', element: first.element, dims: first.dims, data }, valid);
    }
    case 'sparse': {
      const sc = cols as readonly SparseColumn[];
      const ends = sc.map((c, i) => c.offsets[lengths[i] as number] as number);
      const indices = concatTyped(
        sc.map((c, i) => c.indices.subarray(0, ends[i])),
        (k) => new Uint32Array(k),
      );
      const values = concatTyped(
        sc.map((c, i) => c.values.subarray(0, ends[i])),
        (k) => new Float32Array(k),
      );
      const offsets = concatOffsets(
        sc.map((c) => c.offsets),
        lengths,
        n,
      );
      return withValid({ kind: 'sparse', ...(first.dims === undefined ? {} : { dims: first.dims }), offsets, indices, values }, valid);
    }
    case 'multi': {
      const mc = cols as readonly MultiColumn[];
      const data = concatTyped(
        mc.map((c, i) => c.data.subarray(0, (c.offsets[lengths[i] as number] as number) * first.dims)),
        (k) => new Float32Array(k),
      );
      const offsets = concatOffsets(
        mc.map((c) => c.offsets),
        lengths,
        n,
      );
      return withValid({ kind: 'multi', dims: first.dims, offsets, data }, valid);
    }
  }
}

/** The given rows of a column, in order (copies). */
export function selectRows(col: AnyVectorColumn, rows: readonly number[]): AnyVectorColumn {
  const valid = col.valid ? Uint8Array.from(rows, (r) => col.valid?.[r] ?? 1) : undefined;
  const parts = rows.map((r) => sliceColumn({ ...col, valid: undefined } as AnyVectorColumn, r, r + 1));
  const field = isFloat32Column(col)
    ? { name: '', element: 'float32' as VectorElement, dims: col.dims }
    : { name: '', kind: col.kind, element: (col.kind === 'dense' ? col.element : 'float32') as VectorElement, dims: col.dims };
  const out = concatColumns(
    field,
    parts,
    rows.map(() => 1),
  );
  return withValid(out, valid);
}

/** What the rows-per-segment rule counts for a sparse vector: its size is data, not schema (about 128 entries). */
export const SPARSE_ROW_BYTES = 1024;
/** What the rows-per-segment rule counts for a multi-vector: 32 vectors of its dims. */
export const MULTI_ROW_VECTORS = 32;

/** A field's bytes per row in the rows-per-segment rule (docs/format.md, "Rows per segment"): fixed by the schema. */
export function fieldRowBytes(field: Omit<VectorShape, 'name'>): number {
  const kind = kindOf(field);
  const dims = field.dims ?? 0;
  if (kind === 'sparse') return SPARSE_ROW_BYTES;
  if (kind === 'multi') return MULTI_ROW_VECTORS * dims * 4;
  const element = field.element ?? 'float32';
  return element === 'binary' ? Math.ceil(dims / 8) : dims * ELEMENT_BYTES[element];
}

function invalid(field: string, plugin: string, message: string, details: Record<string, unknown> = {}): InvalidInputError {
  return new InvalidInputError(
    'INVALID_VECTOR',
    `Vector field ${JSON.stringify(field)} ${message}; nothing was written. Fix the source data.`,
    {
      plugin,
      details: { field, ...details },
    },
  );
}

function checkOffsets(name: string, plugin: string, offsets: Uint32Array, n: number, items: number): void {
  if (offsets.length < n + 1 || offsets[0] !== 0) throw invalid(name, plugin, `has ${offsets.length} offsets for ${n} rows`);
  for (let i = 0; i < n; i++) {
    if ((offsets[i + 1] as number) < (offsets[i] as number))
      throw invalid(name, plugin, `has offsets that go backwards at row ${i}`, { row: i });
  }
  if (offsets[n] !== items) throw invalid(name, plugin, `ends at offset ${offsets[n]} but holds ${items} items`);
}

function checkFinite(name: string, plugin: string, values: Float32Array, rowOf: (i: number) => number, ids: ArrayLike<unknown>): void {
  const i = firstNonFinite(values);
  if (i !== -1) {
    const row = rowOf(i);
    throw invalid(name, plugin, `of row ${row} (id ${String(ids[row])}) contains ${String(values[i])}; vectors must be finite`, { row });
  }
}

/** Row of item `i` by offsets (binary search). */
function rowOfItem(offsets: Uint32Array, n: number, i: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((offsets[mid] as number) <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Invariant 8 for a column of any kind other than dense float32 (validateBatchVectors checks that one):
 * the declared kind and shape, finite values (float16 and bfloat16 bit patterns included), sparse
 * indices strictly ascending and below the declared dims, binary padding bits zero.
 */
export function checkKindColumn(f: VectorShape, col: AnyVectorColumn, n: number, ids: ArrayLike<unknown>, plugin: string): void {
  const kind = kindOf(f);
  const element = f.element ?? 'float32';
  const got = isFloat32Column(col) ? 'float32' : col.kind === 'dense' ? col.element : col.kind;
  const want = kind === 'dense' ? element : kind;
  if (got !== want) {
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Vector field ${JSON.stringify(f.name)} is ${want} but the batch holds ${got} vectors.`,
      {
        plugin,
        details: { field: f.name, expected: want, actual: got },
      },
    );
  }
  if (isFloat32Column(col)) return;
  if (col.dims !== f.dims) {
    throw new InvalidInputError(
      'DIMENSION_MISMATCH',
      `Vector field ${JSON.stringify(f.name)} has ${f.dims} dimensions but the data has ${col.dims}.`,
      {
        plugin,
        details: { field: f.name, expected: f.dims, actual: col.dims },
      },
    );
  }
  if (col.valid && col.valid.length < n) throw invalid(f.name, plugin, `has validity for ${col.valid.length} of ${n} rows`);
  switch (col.kind) {
    case 'dense': {
      const w = elementRowWidth(col.element, col.dims);
      if (col.data.length !== n * w) throw invalid(f.name, plugin, `holds ${col.data.length} elements, ${n} rows need ${n * w}`);
      if (col.element === 'float16' || col.element === 'bfloat16') {
        const expMask = col.element === 'float16' ? 0x7c00 : 0x7f80;
        for (let i = 0; i < col.data.length; i++) {
          if (((col.data[i] as number) & expMask) === expMask) {
            const row = Math.floor(i / w);
            throw invalid(
              f.name,
              plugin,
              `of row ${row} (id ${String(ids[row])}) contains a NaN or infinite ${col.element}; vectors must be finite`,
              { row },
            );
          }
        }
      } else if (col.element === 'binary' && col.dims % 8 !== 0) {
        const pad = 0xff >> (col.dims % 8);
        for (let r = 0; r < n; r++) {
          if (((col.data[r * w + w - 1] as number) & pad) !== 0)
            throw invalid(f.name, plugin, `of row ${r} has bits set past its ${col.dims} dims`, { row: r });
        }
      }
      return;
    }
    case 'sparse': {
      if (col.values.length !== col.indices.length)
        throw invalid(f.name, plugin, `has ${col.indices.length} indices but ${col.values.length} values`);
      checkOffsets(f.name, plugin, col.offsets, n, col.indices.length);
      const limit = f.dims ?? 2 ** 32;
      for (let r = 0; r < n; r++) {
        const to = col.offsets[r + 1] as number;
        for (let k = col.offsets[r] as number; k < to; k++) {
          const idx = col.indices[k] as number;
          if (idx >= limit) throw invalid(f.name, plugin, `of row ${r} has index ${idx}, past its ${limit} dims`, { row: r });
          if (k > (col.offsets[r] as number) && idx <= (col.indices[k - 1] as number)) {
            throw invalid(
              f.name,
              plugin,
              `of row ${r} (id ${String(ids[r])}) has indices out of order or repeated (${col.indices[k - 1]}, ${idx}); sparse indices must be strictly ascending`,
              { row: r },
            );
          }
        }
      }
      checkFinite(f.name, plugin, col.values, (i) => rowOfItem(col.offsets, n, i), ids);
      return;
    }
    case 'multi': {
      if (col.data.length % col.dims !== 0)
        throw invalid(f.name, plugin, `holds ${col.data.length} floats, not a whole number of ${col.dims}-dim vectors`);
      checkOffsets(f.name, plugin, col.offsets, n, col.data.length / col.dims);
      checkFinite(f.name, plugin, col.data, (i) => rowOfItem(col.offsets, n, Math.floor(i / col.dims)), ids);
      return;
    }
  }
}
