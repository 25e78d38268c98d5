/**
 * Element conversions of dense vectors (docs/format.md, "Vector kinds"): float16 and bfloat16 bit
 * patterns to and from float32, and whole vectors between element types. Written by hand because
 * Node 20 has no `Math.f16round`; test/unit/vector-elements.test.ts checks them over all 65536
 * patterns. Widening (float16, bfloat16, uint8, int8 → float32) is always exact; a narrowing is exact
 * only when every value survives it, which `narrowExact` checks.
 */
import type { VectorElement } from '../model.js';

/** Element types whose every value is a float32 value: widened to float32 exactly, without being asked. */
export const EXACT_WIDENINGS: ReadonlySet<VectorElement> = new Set<VectorElement>(['float16', 'bfloat16', 'uint8', 'int8']);

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float32 value of every float16 bit pattern (NaN patterns give NaN). */
const HALF_TABLE: Float32Array = (() => {
  const t = new Float32Array(65_536);
  for (let h = 0; h < 65_536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

/** The float32 value of a float16 bit pattern (IEEE 754 binary16); exact. */
export function float16ToFloat32(bits: number): number {
  return HALF_TABLE[bits & 0xffff] as number;
}

/** The float16 bit pattern nearest to `x` (round to nearest, ties to even; overflow to ±Infinity, NaN to a quiet NaN). */
export function float32ToFloat16(x: number): number {
  F32[0] = x;
  const b = U32[0] as number;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7f_ffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant === 0 ? 0 : 0x200);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // A float16 subnormal: units of 2^-24. The float32 significand, shifted to that unit.
    const shift = 14 - e;
    if (shift > 24) return sign;
    const full = mant | 0x80_0000;
    const half = 1 << (shift - 1);
    const rem = full & ((1 << shift) - 1);
    let h = full >>> shift;
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa raises the exponent, and past the largest finite value gives Infinity: both right.
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

/** The float32 value of a bfloat16 bit pattern (the high half of a float32); exact. */
export function bfloat16ToFloat32(bits: number): number {
  U32[0] = (bits & 0xffff) << 16;
  return F32[0] as number;
}

/** The bfloat16 bit pattern nearest to `x` (round to nearest, ties to even; NaN stays a quiet NaN). */
export function float32ToBfloat16(x: number): number {
  F32[0] = x;
  const b = U32[0] as number;
  if ((b & 0x7f80_0000) === 0x7f80_0000 && (b & 0x7f_ffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A dense vector's raw elements, as `ElementVector.data` holds them. */
export type ElementData = Uint16Array | Uint8Array | Int8Array;

/** Widens raw elements of `element` to float32: exact for float16, bfloat16, uint8 and int8; binary bits become 0 and 1. */
export function widenToFloat32(element: Exclude<VectorElement, 'float32'>, data: ElementData, dims: number): Float32Array {
  const out = new Float32Array(dims);
  switch (element) {
    case 'float16':
      for (let i = 0; i < dims; i++) out[i] = HALF_TABLE[data[i] as number] as number;
      break;
    case 'bfloat16':
      for (let i = 0; i < dims; i++) out[i] = bfloat16ToFloat32(data[i] as number);
      break;
    case 'uint8':
    case 'int8':
      for (let i = 0; i < dims; i++) out[i] = data[i] as number;
      break;
    case 'binary':
      for (let i = 0; i < dims; i++) out[i] = ((data[i >> 3] as number) >> (7 - (i & 7))) & 1;
      break;
  }
  return out;
}

/**
 * Narrows float32 values to `element`, and says whether that was exact (every value came back the
 * same when widened again). The lossy result is what a restore with `convertVectors` stores: float16
 * and bfloat16 round to nearest (ties to even), uint8 and int8 round to the nearest integer and
 * saturate at the type's range, binary keeps one bit per value (`x > 0`, as pgvector's
 * `binary_quantize`).
 */
export function narrowFromFloat32(element: Exclude<VectorElement, 'float32'>, values: Float32Array): { data: ElementData; exact: boolean } {
  const n = values.length;
  let exact = true;
  switch (element) {
    case 'float16':
    case 'bfloat16': {
      const data = new Uint16Array(n);
      const narrow = element === 'float16' ? float32ToFloat16 : float32ToBfloat16;
      const widen = element === 'float16' ? float16ToFloat32 : bfloat16ToFloat32;
      for (let i = 0; i < n; i++) {
        const x = values[i] as number;
        const h = narrow(x);
        data[i] = h;
        if (!Object.is(widen(h), x)) exact = false;
      }
      return { data, exact };
    }
    case 'uint8':
    case 'int8': {
      const [lo, hi] = element === 'uint8' ? [0, 255] : [-128, 127];
      const data = element === 'uint8' ? new Uint8Array(n) : new Int8Array(n);
      for (let i = 0; i < n; i++) {
        const x = values[i] as number;
        const r = Math.min(hi, Math.max(lo, roundHalfEven(x)));
        data[i] = r;
        if (!Object.is(data[i], x)) exact = false;
      }
      return { data, exact };
    }
    case 'binary': {
      const data = new Uint8Array(Math.ceil(n / 8));
      for (let i = 0; i < n; i++) {
        const x = values[i] as number;
        if (x > 0) data[i >> 3] = (data[i >> 3] as number) | (0x80 >> (i & 7));
        if (x !== 0 && x !== 1) exact = false;
        if (Object.is(x, -0)) exact = false;
      }
      return { data, exact };
    }
  }
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds halves up; a half with an odd result goes down to the even neighbour.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The index of the first value of `values` that is NaN or ±Infinity, or -1. Eight values per step:
 * `x * 0` is ±0 for every finite x and NaN otherwise, so a block's sum is 0 exactly when all eight
 * are finite (−0 === 0), and only a block that is not is searched value by value. Every snapshot
 * segment's vectors pass here (bench/finite-check-micro.ts: ~2× the one-comparison-per-value loop).
 */
export function firstNonFinite(values: Float32Array): number {
  const n = values.length;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const s =
      (values[i] as number) * 0 +
      (values[i + 1] as number) * 0 +
      (values[i + 2] as number) * 0 +
      (values[i + 3] as number) * 0 +
      (values[i + 4] as number) * 0 +
      (values[i + 5] as number) * 0 +
      (values[i + 6] as number) * 0 +
      (values[i + 7] as number) * 0;
    if (s !== 0) break;
  }
  for (; i < n; i++) {
    const x = values[i] as number;
    if (x - x !== 0) return i;
  }
  return -1;
}
