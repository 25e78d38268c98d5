/**
 * Repository layout. All key computation lives here; storage backends never build paths.
 *
 *   vectordr.json
 *   snapshots/<collection-key>/<snapshot-id>.json
 *   data/<aa>/<sha256>
 *   plans/<plan-id>/plan.json, part-<i>.json, failed-<i>.json   (a distributed snapshot until its commit)
 *   plans/<plan-id>/restore.json, restored-<i>.json, restore-failed-<i>.json   (a distributed restore until its swap)
 */
import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors.js';

export const CONFIG_KEY = 'vectordr.json';
export const SNAPSHOTS_PREFIX = 'snapshots/';
export const DATA_PREFIX = 'data/';
export const PLANS_PREFIX = 'plans/';

const PLAN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** A distributed snapshot's plan id: a ULID, or a name the caller gives (a Kubernetes Job's uid). */
export function assertPlanId(id: string): void {
  if (!PLAN_ID.test(id)) {
    throw new InvalidInputError(
      'INVALID_IDENTIFIER',
      `Plan id ${JSON.stringify(id.slice(0, 80))} is not usable: 1..64 characters of [A-Za-z0-9_-], starting with a letter or digit.`,
    );
  }
}

/** A plan's objects: a distributed snapshot's plan, parts and failures; a distributed restore's plan, part progress and failures. */
export type PlanObject = 'plan' | { part: number } | { failed: number } | 'restore' | { restored: number } | { restoreFailed: number };

/** The key of one object of a plan (`plans/<plan-id>/<name>.json`). */
export function planKey(planId: string, object: PlanObject): string {
  assertPlanId(planId);
  let name: string;
  if (object === 'plan' || object === 'restore') name = object;
  else if ('part' in object) name = `part-${object.part}`;
  else if ('failed' in object) name = `failed-${object.failed}`;
  else if ('restored' in object) name = `restored-${object.restored}`;
  else name = `restore-failed-${object.restoreFailed}`;
  return `${PLANS_PREFIX}${planId}/${name}.json`;
}

/**
 * Collection names become one key segment: [A-Za-z0-9_-] kept, everything else (including '.', '/')
 * percent-encoded as UTF-8, so `../x` can never leave its folder and distinct names never collide.
 */
export function collectionKey(collection: string): string {
  if (collection.length === 0 || collection.length > 255) {
    throw new InvalidInputError('INVALID_IDENTIFIER', `Collection name must be 1..255 characters, got ${collection.length}.`);
  }
  let out = '';
  for (const byte of Buffer.from(collection, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // One path segment: filesystems allow 255 bytes per name.
  if (out.length > 255) {
    throw new InvalidInputError(
      'INVALID_IDENTIFIER',
      `Collection name ${JSON.stringify(collection.slice(0, 40))}... is too long to store (its ` +
        `key would be ${out.length} bytes, limit 255).`,
    );
  }
  return out;
}

/** Inverse of collectionKey; undefined for a folder name vectordr did not write. */
export function collectionFromKey(key: string): string | undefined {
  try {
    const name = decodeURIComponent(key);
    return collectionKey(name) === key ? name : undefined;
  } catch {
    return undefined;
  }
}

export function manifestKey(collection: string, snapshotId: string): string {
  assertSnapshotId(snapshotId);
  return `${SNAPSHOTS_PREFIX}${collectionKey(collection)}/${snapshotId}.json`;
}

export function segmentKey(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new InvalidInputError('INVALID_IDENTIFIER', `Not a SHA-256 hex digest: ${sha256}`);
  return `${DATA_PREFIX}${sha256.slice(0, 2)}/${sha256}`;
}

// Crockford base32, as ULID: 10 chars of milliseconds, 16 of randomness; lexicographic = chronological.
const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SNAPSHOT_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function newSnapshotId(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = (B32[t % 32] as string) + time;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += B32[(rnd[i] as number) % 32];
  return time + rand;
}

export function assertSnapshotId(id: string): void {
  if (!SNAPSHOT_ID.test(id)) {
    throw new InvalidInputError(
      'INVALID_IDENTIFIER',
      `Snapshot id ${JSON.stringify(id)} is not a vectordr snapshot id (26 characters of ` +
        `Crockford base32); use repo.list() to find ids.`,
    );
  }
}
