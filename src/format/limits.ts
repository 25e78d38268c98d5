/**
 * Caps on the objects of a repository, which is untrusted input (docs/security.md; docs/format.md,
 * decision 8): every object is read with one, so a replaced object costs at most its cap of memory.
 * Each is far above anything vectordr writes: a manifest of 65,536 buckets and 100,000 segments is
 * about 14 MiB; a lock body is a few hundred bytes; a config under 2 KiB.
 */
import { SEAL_OVERHEAD } from './encryption.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A manifest (plaintext bytes; a sealed one may be `SEAL_OVERHEAD` longer). */
export const MAX_MANIFEST_BYTES = 16 * MiB;
/** `vectordr.json`. */
export const MAX_CONFIG_BYTES = 64 * KiB;
/** A lock object under `locks/`. */
export const MAX_LOCK_BYTES = 64 * KiB;
/** An authenticated head under `heads/`. */
export const MAX_HEAD_BYTES = 64 * KiB;
/** A distributed snapshot's plan or part object under `plans/`. */
export const MAX_PLAN_BYTES = 16 * MiB;
/** Nesting depth of any JSON document read from a repository (a manifest's deepest field is about 10 levels). */
export const MAX_JSON_DEPTH = 64;

/** The stored size cap of an object whose plaintext cap is `plain`: sealed objects carry the envelope too. */
export function storedCap(plain: number, encrypted: boolean): number {
  return plain + (encrypted ? SEAL_OVERHEAD : 0);
}
