/**
 * pgvector's vector column types and what the neutral model makes of them: `vector(n)` (dense
 * float32), `halfvec(n)` (dense float16), `bit(n)` (dense binary) and `sparsevec(n)` (sparse). One
 * table per concern: the type a field becomes, the pgvector version that has it, the operator class
 * of a metric, the distance operator, and each type's text literal (the INSERT path and queries; the
 * binary forms are in pgvector-copy.ts and pgvector-batch.ts).
 *
 * Binary I/O, checked on PostgreSQL 16.14/18.4 with pgvector 0.8.5 and PGlite (pgvector 0.8.7):
 * - vector:    int16 dims, int16 0, dims × float4 big-endian
 * - halfvec:   int16 dims, int16 0, dims × float16 big-endian
 * - sparsevec: int32 dims, int32 nnz, int32 0, nnz × int32 index (0-based, ascending), nnz × float4
 *   (the text form `{1:1.5,3:2}/5` is 1-based; the binary form and the neutral model are 0-based)
 * - bit:       int32 bit count, ceil(bits / 8) bytes, most significant bit first (as the neutral model)
 */
import { InvalidInputError } from '../../src/errors.js';
import type { Metric, VectorElement } from '../../src/model.js';

/** The pgvector column types vectordr reads and writes. */
export type PgVectorType = 'vector' | 'halfvec' | 'sparsevec' | 'bit';

/** A field's kind and element, as the neutral model records them (kind absent = dense). */
export interface KindElement {
  kind?: 'dense' | 'sparse' | 'multi' | undefined;
  element: VectorElement;
}

interface TypeFacts {
  kind: 'dense' | 'sparse';
  element: VectorElement;
  /** The pgvector version that added the type (`bit` is PostgreSQL's; its operators came with 0.7.0). */
  since: string;
  /** Most dimensions pgvector accepts in a column of the type. */
  maxDims: number;
  /** Metric -> operator class. */
  opclass: Partial<Record<Metric, string>>;
}

const FLOAT_OPS = (t: string): Partial<Record<Metric, string>> => ({
  l2: `${t}_l2_ops`,
  dot: `${t}_ip_ops`,
  cosine: `${t}_cosine_ops`,
  l1: `${t}_l1_ops`,
});

export const PG_VECTOR_TYPES: Readonly<Record<PgVectorType, TypeFacts>> = {
  vector: { kind: 'dense', element: 'float32', since: '0.1.0', maxDims: 16_000, opclass: FLOAT_OPS('vector') },
  halfvec: { kind: 'dense', element: 'float16', since: '0.7.0', maxDims: 16_000, opclass: FLOAT_OPS('halfvec') },
  // pgvector's limit on a sparsevec's declared dimensions (SPARSEVEC_MAX_DIM, 1e9 in 0.7 to 0.8.5: "dimensions for type
  // sparsevec cannot exceed 1000000000"); a field without a count gets it, and a restore checks every index against it first.
  sparsevec: { kind: 'sparse', element: 'float32', since: '0.7.0', maxDims: 1_000_000_000, opclass: FLOAT_OPS('sparsevec') },
  // The neutral model's limit on binary vectors (2^24 bits); PostgreSQL's bit(n) holds up to 83,886,080 ("length for
  // type bit cannot exceed 83886080"), far above vector(n)'s 16,000 (capabilities.maxDimsOf.binary).
  bit: {
    kind: 'dense',
    element: 'binary',
    since: '0.7.0',
    maxDims: 16_777_216,
    opclass: { hamming: 'bit_hamming_ops', jaccard: 'bit_jaccard_ops' },
  },
};

/** The operator class's type and metric (`halfvec_ip_ops` -> halfvec, dot), or undefined for other classes. */
export function opclassMetric(opclass: string): { type: PgVectorType; metric: Metric } | undefined {
  for (const [type, facts] of Object.entries(PG_VECTOR_TYPES) as [PgVectorType, TypeFacts][]) {
    for (const [metric, name] of Object.entries(facts.opclass) as [Metric, string][]) {
      if (name === opclass) return { type, metric };
    }
  }
  return undefined;
}

/** A table column's pgvector type, or undefined for any other column. */
export function pgVectorType(typname: string): PgVectorType | undefined {
  return Object.hasOwn(PG_VECTOR_TYPES, typname) ? (typname as PgVectorType) : undefined;
}

/** The pgvector type that stores a field exactly, or undefined (multi-vectors, and elements pgvector has no type for). */
export function typeForField(field: KindElement): PgVectorType | undefined {
  const kind = field.kind ?? 'dense';
  if (kind === 'sparse') return 'sparsevec';
  if (kind !== 'dense') return undefined;
  if (field.element === 'float32') return 'vector';
  if (field.element === 'float16') return 'halfvec';
  if (field.element === 'binary') return 'bit';
  return undefined;
}

/**
 * The declared dimension of a sparse field without one (a Qdrant or Milvus sparse vector): pgvector
 * needs one, and its largest lets every index below it through (a restore reads every row first and refuses an index
 * beyond it before anything is created: src/restore/sparse-rows.ts).
 */
export const SPARSE_UNDECLARED_DIMS = PG_VECTOR_TYPES.sparsevec.maxDims;

/** The column type of a field (`halfvec(768)`), from validated integers only, never from manifest text. */
export function columnType(type: PgVectorType, dims: number | undefined): string {
  const d = dims ?? (type === 'sparsevec' ? SPARSE_UNDECLARED_DIMS : undefined);
  if (d === undefined || !Number.isInteger(d) || d < 1 || d > PG_VECTOR_TYPES[type].maxDims) {
    throw new InvalidInputError(
      'DIMENSION_MISMATCH',
      `A ${type} column holds 1 to ${PG_VECTOR_TYPES[type].maxDims} dimensions, not ${String(dims)}.`,
      { plugin: 'pgvector', details: { type, dims: dims ?? null } },
    );
  }
  return `${type}(${d})`;
}

/** The operator class of `metric` for a column or expression of `type`, or undefined when pgvector has none. */
export function opclassFor(type: PgVectorType, metric: Metric): string | undefined {
  return PG_VECTOR_TYPES[type].opclass[metric];
}

/**
 * The distance operator of a metric; `unspecified` (no index recorded one) is l2 for float vectors,
 * inner product for sparse vectors and Hamming distance for bits, the similarity recall checks use.
 */
export function distanceOperator(type: PgVectorType, metric: Metric): string | undefined {
  const m = metric !== 'unspecified' ? metric : type === 'sparsevec' ? 'dot' : type === 'bit' ? 'hamming' : 'l2';
  const ops: Partial<Record<Metric, string>> =
    type === 'bit' ? { hamming: '<~>', jaccard: '<%>' } : { l2: '<->', dot: '<#>', cosine: '<=>', l1: '<+>' };
  return ops[m];
}

/** Numeric compare of dotted versions (`0.10.0` > `0.7.4`). */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const b = min.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** The vector kinds a pgvector version stores (the `vectorKinds` capability). */
export function vectorKindsOf(version: string | undefined): { dense: VectorElement[]; sparse: boolean; multi: VectorElement[] } {
  const has = (t: PgVectorType): boolean => version === undefined || versionAtLeast(version, PG_VECTOR_TYPES[t].since);
  const dense = (['vector', 'halfvec', 'bit'] as const).filter(has).map((t) => PG_VECTOR_TYPES[t].element);
  return { dense, sparse: has('sparsevec'), multi: [] };
}

// --- float16 <-> number, exactly (every float16 is a float32 and a float64) ---

/** The value of IEEE 754 half-precision bits. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

// --- text literals (the INSERT path and search queries) ---

function num(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/** `[1,2,-0.5]` of float16 bits (a halfvec literal). */
export function halfvecLiteral(bits: Uint16Array): string {
  let out = '[';
  for (let i = 0; i < bits.length; i++) out += (i > 0 ? ',' : '') + num(halfToNumber(bits[i] as number));
  return `${out}]`;
}

/** `{1:1.5,3:2}/5` of 0-based indices (the text form is 1-based). */
export function sparsevecLiteral(indices: Uint32Array, values: Float32Array, dims: number): string {
  let out = '{';
  for (let i = 0; i < indices.length; i++) out += `${i > 0 ? ',' : ''}${(indices[i] as number) + 1}:${num(values[i] as number)}`;
  return `${out}}/${dims}`;
}

/** `10110…` of `bits` bits packed most significant bit first (a bit literal). */
export function bitLiteral(bytes: Uint8Array, bits: number): string {
  let out = '';
  for (let i = 0; i < bits; i++) out += ((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1 ? '1' : '0';
  return out;
}
