/**
 * Each vector kind's own similarity, as exact distances for recall (smaller is nearer): the field's
 * metric for dense elements (computed in float32 after exact widening), Hamming (or Jaccard) for
 * binary, the inner product for sparse, MaxSim for multi-vectors (the sum over the query's vectors of
 * the best dot product, or cosine, against the record's vectors).
 */
import { InvalidInputError } from '../errors.js';
import { widenToFloat32 } from '../format/vector-elements.js';
import type { AnyVector, Metric, MultiVector, SparseVector, VectorField, VectorQuery } from '../model.js';

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let x = b; x !== 0; x >>= 1) n += x & 1;
  return n;
});

/** The query form of a vector for `search()`: a dense float32 vector stays a plain Float32Array (every adapter takes it). */
export function queryOf(v: AnyVector): Float32Array | VectorQuery {
  if (v instanceof Float32Array) return v;
  switch (v.kind) {
    case 'dense':
      return { dense: v };
    case 'sparse':
      return { sparse: v };
    case 'multi':
      return { multi: v };
  }
}

function denseDistance(metric: Metric, a: Float32Array, b: Float32Array): number {
  let s = 0;
  let an = 0;
  let bn = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    switch (metric) {
      case 'l2':
        s += (x - y) * (x - y);
        break;
      case 'l1':
        s += Math.abs(x - y);
        break;
      default:
        s += x * y;
        an += x * x;
        bn += y * y;
    }
  }
  if (metric === 'l2' || metric === 'l1') return s;
  if (metric === 'dot') return -s;
  return an === 0 || bn === 0 ? 1 : 1 - s / Math.sqrt(an * bn);
}

function sparseDot(a: SparseVector, b: SparseVector): number {
  let s = 0;
  let i = 0;
  let j = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const x = a.indices[i] as number;
    const y = b.indices[j] as number;
    if (x === y) s += (a.values[i++] as number) * (b.values[j++] as number);
    else if (x < y) i++;
    else j++;
  }
  return s;
}

function maxSim(q: MultiVector, d: MultiVector, cosine: boolean): number {
  const dims = q.dims;
  const norm = (v: Float32Array, o: number): number => {
    let n = 0;
    for (let k = 0; k < dims; k++) n += (v[o + k] as number) ** 2;
    return Math.sqrt(n);
  };
  let total = 0;
  for (let qo = 0; qo < q.data.length; qo += dims) {
    let best = Number.NEGATIVE_INFINITY;
    const qn = cosine ? norm(q.data, qo) : 1;
    for (let doff = 0; doff < d.data.length; doff += dims) {
      let s = 0;
      for (let k = 0; k < dims; k++) s += (q.data[qo + k] as number) * (d.data[doff + k] as number);
      if (cosine) {
        const dn = norm(d.data, doff);
        s = qn === 0 || dn === 0 ? 0 : s / (qn * dn);
      }
      if (s > best) best = s;
    }
    if (best > Number.NEGATIVE_INFINITY) total += best;
  }
  return total;
}

function bits(a: Uint8Array, b: Uint8Array, jaccard: boolean): number {
  let diff = 0;
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    diff += POPCOUNT[x ^ y] as number;
    both += POPCOUNT[x & y] as number;
    either += POPCOUNT[x | y] as number;
  }
  return jaccard ? (either === 0 ? 0 : 1 - both / either) : diff;
}

/** The exact distance of two vectors of `field`'s kind (smaller is nearer). */
export function kindDistance(
  field: Pick<VectorField, 'name' | 'kind' | 'element' | 'metric' | 'dims'>,
): (q: AnyVector, v: AnyVector) => number {
  const kind = field.kind ?? 'dense';
  if (kind === 'sparse') return (q, v) => -sparseDot(q as SparseVector, v as SparseVector);
  if (kind === 'multi') return (q, v) => -maxSim(q as MultiVector, v as MultiVector, field.metric === 'cosine');
  const dims = field.dims ?? 0;
  if (field.element === 'binary') {
    const jaccard = field.metric === 'jaccard';
    return (q, v) => bits((q as { data: Uint8Array }).data, (v as { data: Uint8Array }).data, jaccard);
  }
  if (!['l2', 'l1', 'dot', 'cosine'].includes(field.metric)) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      `Recall needs a metric to compute exact neighbours; vector ${JSON.stringify(field.name)} has ${field.metric}. Restore with a metric (metricForUnindexed) first.`,
    );
  }
  const floats = (v: AnyVector): Float32Array =>
    v instanceof Float32Array
      ? v
      : v.kind === 'dense'
        ? widenToFloat32(v.element as Exclude<VectorField['element'], 'float32'>, v.data, dims)
        : new Float32Array(0);
  return (q, v) => denseDistance(field.metric, floats(q), floats(v));
}
