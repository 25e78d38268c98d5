import canonicalizeImport from 'canonicalize';
import type { Payload } from '../model.js';

// The package is CommonJS; under some bundler interop the function arrives as `.default`.
const canonicalizeFn: (v: unknown) => string | undefined =
  typeof canonicalizeImport === 'function'
    ? canonicalizeImport
    : (canonicalizeImport as unknown as { default: (v: unknown) => string | undefined }).default;

/**
 * RFC 8785 (JCS) canonical JSON: sorted keys, shortest round-trip numbers, no whitespace.
 * The record digest hashes this, so two engines that hold the same payload produce the same bytes.
 */
export function canonicalPayload(payload: Payload): string {
  return canonicalizeFn(payload) ?? '{}';
}
