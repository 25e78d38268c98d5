/**
 * Payload floats an engine cannot hold exactly (capability `payloadFloatExact: false`): parity
 * digests payloads with such numbers masked, then compares them record by record within a number
 * of ulps, and reports every record whose floats moved. A number counts as such a float unless
 * every JSON parser reads it back exactly: an integer in the i64/u64 range.
 */
import { canonicalPayload } from '../format/canonical-json.js';
import { JsonNumber, type Payload, type PayloadValue } from '../model.js';

const MASK = '\u0000vectordr:float';

/** Exact through any JSON number parser: an integer written without an exponent that fits i64 or u64. */
const exactInteger = (x: number): boolean => Number.isInteger(x) && x >= -(2 ** 63) && x < 2 ** 64;

const integerText = (v: PayloadValue | undefined): boolean => v instanceof JsonNumber && /^-?\d+$/.test(v.text);

/** A number as a double: a JsonNumber (a number kept as its exact text) is read as the nearest one. */
const asNumber = (v: PayloadValue | undefined): number | undefined =>
  typeof v === 'number' ? v : v instanceof JsonNumber ? Number(v.text) : undefined;

function mask(v: PayloadValue): PayloadValue {
  if (typeof v === 'number') return exactInteger(v) ? v : MASK;
  if (v instanceof JsonNumber) return MASK; // its text is not a double's shortest form: never exact through a float parser
  if (Array.isArray(v)) return v.map(mask);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, PayloadValue> = Object.create(null) as Record<string, PayloadValue>;
    for (const [k, x] of Object.entries(v)) out[k] = mask(x);
    return out;
  }
  return v;
}

/** Canonical JSON of a payload with its inexact numbers replaced by one marker. */
export function maskedPayloadJson(payload: Payload): string {
  return canonicalPayload(mask(payload) as Payload);
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
export function floatDistance(want: PayloadValue | undefined, have: PayloadValue | undefined): number {
  // An integer kept as its text (beyond 2^53) is exact in every engine that keeps integers: never a float drift.
  if (integerText(want) || integerText(have))
    return want instanceof JsonNumber && have instanceof JsonNumber && want.text === have.text ? 0 : Number.POSITIVE_INFINITY;
  const [w, h] = [asNumber(want), asNumber(have)];
  if (w !== undefined || h !== undefined) {
    if (w === undefined || h === undefined) return Number.POSITIVE_INFINITY;
    if (w === h && !(want instanceof JsonNumber) && !(have instanceof JsonNumber)) return 0;
    return exactInteger(w) && exactInteger(h) && !(want instanceof JsonNumber) ? Number.POSITIVE_INFINITY : Math.max(1, ulpDistance(w, h));
  }
  let max = 0;
  if (Array.isArray(want) && Array.isArray(have)) {
    for (let i = 0; i < Math.min(want.length, have.length); i++) max = Math.max(max, floatDistance(want[i], have[i]));
  } else if (
    want !== null &&
    have !== null &&
    typeof want === 'object' &&
    typeof have === 'object' &&
    !Array.isArray(want) &&
    !Array.isArray(have) &&
    !(want instanceof JsonNumber) &&
    !(have instanceof JsonNumber)
  ) {
    for (const k of Object.keys(want)) if (Object.hasOwn(have, k)) max = Math.max(max, floatDistance(want[k], have[k]));
  }
  return max;
}
