/**
 * Payload floats an engine cannot hold exactly (capability `payloadFloatExact: false`): parity
 * digests payloads with such numbers masked, then compares them record by record within a number
 * of ulps, and reports every record whose floats moved. A number counts as such a float unless
 * every JSON parser reads it back exactly: an integer in the i64/u64 range.
 */
import { canonicalPayload } from '../format/canonical-json.js';
import type { JsonValue, Payload } from '../model.js';

const MASK = '\u0000vectordr:float';

/** Exact through any JSON number parser: an integer written without an exponent that fits i64 or u64. */
const exactNumber = (x: number): boolean => Number.isInteger(x) && x >= -(2 ** 63) && x < 2 ** 64;

function mask(v: JsonValue): JsonValue {
  if (typeof v === 'number') return exactNumber(v) ? v : MASK;
  if (Array.isArray(v)) return v.map(mask);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, JsonValue> = Object.create(null) as Record<string, JsonValue>;
    for (const [k, x] of Object.entries(v)) out[k] = mask(x);
    return out;
  }
  return v;
}

/** Canonical JSON of a payload with its inexact numbers replaced by one marker. */
export function maskedPayloadJson(payload: Payload): string {
  return canonicalPayload(mask(payload as JsonValue) as Payload);
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
/** The double's position on the number line in ulps (both zeros at 0). */
function ordinal(x: number): bigint {
  f64[0] = x;
  const b = i64[0] as bigint;
  return b < 0n ? -(b & 0x7fffffffffffffffn) : b;
}

/** Distance of two doubles in ulps (Infinity when either is not finite and they differ). */
export function ulpDistance(a: number, b: number): number {
  if (Object.is(a, b) || a === b) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Number.POSITIVE_INFINITY;
  const d = ordinal(a) - ordinal(b);
  return Number(d < 0n ? -d : d);
}

/**
 * The largest ulp distance between the numbers at the same places of two payloads; `Infinity` when
 * a number meets a non-number, or an exact (integer) number differs. Structure beyond numbers is
 * left to the masked digests.
 */
export function floatDistance(want: JsonValue | undefined, have: JsonValue | undefined): number {
  if (typeof want === 'number' || typeof have === 'number') {
    if (typeof want !== 'number' || typeof have !== 'number') return Number.POSITIVE_INFINITY;
    if (want === have) return 0;
    return exactNumber(want) && exactNumber(have) ? Number.POSITIVE_INFINITY : ulpDistance(want, have);
  }
  let max = 0;
  if (Array.isArray(want) && Array.isArray(have)) {
    for (let i = 0; i < Math.min(want.length, have.length); i++) max = Math.max(max, floatDistance(want[i], have[i]));
  } else if (want !== null && have !== null && typeof want === 'object' && typeof have === 'object' && !Array.isArray(want) && !Array.isArray(have)) {
    for (const k of Object.keys(want)) if (Object.hasOwn(have, k)) max = Math.max(max, floatDistance(want[k], have[k]));
  }
  return max;
}
