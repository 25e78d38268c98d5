import canonicalizeImport from 'canonicalize';
import type { JsonValue, Payload } from '../model.js';

// The package is CommonJS; under some bundler interop the function arrives as `.default`.
const canonicalizeFn: (v: unknown) => string | undefined =
  typeof canonicalizeImport === 'function'
    ? canonicalizeImport
    : (canonicalizeImport as unknown as { default: (v: unknown) => string | undefined }).default;

// Keys that JavaScript engines enumerate first, in numeric order, whatever the insertion order.
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/**
 * A copy with object keys inserted in UTF-16 code-unit order, or undefined when an object has an
 * array-index-like key (JS would enumerate it out of that order).
 */
function sortedCopy(v: JsonValue): JsonValue | undefined {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out: JsonValue[] = new Array<JsonValue>(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = sortedCopy(v[i] as JsonValue);
      if (x === undefined) return undefined;
      out[i] = x;
    }
    return out;
  }
  const keys = Object.keys(v).sort();
  const out: { [key: string]: JsonValue } = {};
  for (const k of keys) {
    if (ARRAY_INDEX.test(k)) return undefined;
    const x = sortedCopy(v[k] as JsonValue);
    if (x === undefined) return undefined;
    out[k] = x;
  }
  return out;
}

/**
 * RFC 8785 (JCS) canonical JSON: keys sorted by UTF-16 code units, ECMAScript number serialisation,
 * no whitespace. The record digest hashes this, so two engines holding the same payload produce the
 * same bytes.
 *
 * Fast path: JSON.stringify of a key-sorted copy, which is byte-identical to JCS for JSON values
 * (JCS's number and string rules are JSON.stringify's) and ~5x faster than the `canonicalize`
 * package (bench/segment-encode-micro.ts). Objects with array-index keys such as "10" take the
 * package, because JavaScript enumerates those keys numerically first.
 */
export function canonicalPayload(payload: Payload): string {
  const sorted = sortedCopy(payload);
  if (sorted !== undefined) return JSON.stringify(sorted);
  return canonicalizeFn(payload) ?? '{}';
}
