/**
 * Vector kinds for the cross-engine kinds matrix (test/cross/kinds-matrix.test.ts): one field per
 * kind that is not dense float32, deterministic values every engine that stores the kind holds
 * exactly, and the outcome a restore must have, computed from the target's capabilities alone by
 * the rules of docs/format.md ("Vector kinds": stored as is, widened exactly, or refused).
 */
import type { VectorKindCapability } from '../../src/adapter.js';
import { EXACT_WIDENINGS, narrowFromFloat32 } from '../../src/format/vector-elements.js';
import { type AnyVector, type VectorField, describeKind, kindOf } from '../../src/model.js';

/** The kinds the matrix moves between engines, as a field named `name`: every kind but dense float32. */
export function matrixKindFields(name: string): VectorField[] {
  const dense = (element: VectorField['element']): VectorField => ({ name, dims: 8, metric: 'l2', element, nullable: false });
  return [
    dense('float16'),
    dense('uint8'),
    dense('int8'),
    dense('bfloat16'),
    // 16 bits: a whole number of bytes (Milvus' binary vectors need a multiple of 8).
    { name, dims: 16, metric: 'hamming', element: 'binary', nullable: false },
    { name, kind: 'sparse', dims: 1000, metric: 'dot', element: 'float32', nullable: false },
    { name, kind: 'multi', dims: 4, metric: 'dot', element: 'float32', nullable: false },
  ];
}

/** What a restore of a field into a target does. */
export type KindOutcome = 'restored' | 'converted' | 'refused';

/** The target stores the field's kind and element exactly. */
export function storesKind(caps: VectorKindCapability, field: Pick<VectorField, 'kind' | 'element'>): boolean {
  const kind = kindOf(field);
  if (kind === 'sparse') return caps.sparse;
  return (kind === 'multi' ? caps.multi : caps.dense).includes(field.element);
}

/**
 * The outcome docs/format.md gives a field restored without options into a target that stores
 * `caps`: as is when the target stores the kind; widened exactly (float16, bfloat16, uint8, int8
 * → float32) and reported when it stores dense float32; otherwise refused before anything is written.
 */
export function kindOutcome(caps: VectorKindCapability, field: Pick<VectorField, 'kind' | 'element'>): KindOutcome {
  if (storesKind(caps, field)) return 'restored';
  if (kindOf(field) === 'dense' && EXACT_WIDENINGS.has(field.element) && caps.dense.includes('float32')) return 'converted';
  return 'refused';
}

/** A short label of a field's kind for titles: `float16`, `binary`, `sparse`, `multi`. */
export const kindLabel = (field: Pick<VectorField, 'kind' | 'element'>): string => describeKind(field).replace(/ /g, '_');

/**
 * Row `i`'s value of `field`: exact in every engine that stores the kind (small multiples of 1/4 for
 * the 16-bit floats, no zero in a sparse vector, whole bytes of bits), different from row to row.
 */
export function kindValue(field: VectorField, i: number): AnyVector {
  const kind = kindOf(field);
  const dims = field.dims ?? 1000;
  if (kind === 'sparse') {
    const count = 1 + (i % 5);
    const indices = Uint32Array.from({ length: count }, (_, k) => k * 150 + ((i * 7) % 150));
    return { kind: 'sparse', indices, values: Float32Array.from(indices, (_, k) => (k + 1 + i) / 8) };
  }
  if (kind === 'multi') {
    const rows = 1 + (i % 3);
    return { kind: 'multi', dims, data: Float32Array.from({ length: rows * dims }, (_, d) => (((i + d) % 17) - 8) / 2) };
  }
  switch (field.element) {
    case 'float32':
      return Float32Array.from({ length: dims }, (_, d) => Math.sin(i * dims + d + 1));
    case 'binary':
      return {
        kind: 'dense',
        element: 'binary',
        data: Uint8Array.from({ length: Math.ceil(dims / 8) }, (_, b) => (i * 37 + b * 91 + 1) & 255),
      };
    case 'uint8':
      return { kind: 'dense', element: 'uint8', data: Uint8Array.from({ length: dims }, (_, d) => (i * 8 + d * 37) % 256) };
    case 'int8':
      return { kind: 'dense', element: 'int8', data: Int8Array.from({ length: dims }, (_, d) => ((i * 8 + d * 37) % 256) - 128) };
    default: {
      const { data, exact } = narrowFromFloat32(
        field.element,
        Float32Array.from({ length: dims }, (_, d) => (((i * dims + d) % 33) - 16) / 4),
      );
      if (!exact) throw new Error(`test value of ${field.element} is not exact`);
      return { kind: 'dense', element: field.element, data };
    }
  }
}
