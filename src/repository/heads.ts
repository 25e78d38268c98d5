/**
 * The authenticated, monotonic head of each collection of an encrypted repository (docs/format.md,
 * "Heads"; decision 8): `heads/<collection-key>.json`, sealed like a manifest. It records what a
 * holder of the key last committed, so that what an attacker without the key can do to the other
 * objects shows:
 *
 * - **rollback** — the newest snapshot, or any snapshot the head lists as live, deleted (or replaced
 *   by junk): `latest` refuses with ROLLBACK_DETECTED instead of silently restoring an older one,
 *   verify reports it, prune refuses to delete the data such a snapshot needs;
 * - **replay** — a forgotten snapshot re-uploaded from a saved copy (it still authenticates):
 *   REPLAY_DETECTED; `latest` never picks it, prune removes it;
 * - **head rollback** — an older copy of the head put back: every manifest written with the head
 *   carries the head counter it was committed under (`headCounter`, feature `authenticated-head`), and
 *   a manifest ahead of the head shows it.
 *
 * Writers: every manifest commit (snapshot, incremental, distributed, compact) adds its id and raises
 * `latest`; forget moves ids to `forgotten` before it deletes their manifests; prune reconciles. Both
 * of the latter hold the exclusive lock, so `forgotten` is exact; concurrent snapshots of one
 * collection (shared locks) can lose each other's `live` entry (storage has no compare-and-swap),
 * which only weakens detection for that id (it is "unrecorded", never a false alarm).
 * Plaintext repositories have no head: anyone who can write a manifest can write a head too.
 */
import { z } from 'zod';
import { IntegrityError, isVectordrError } from '../errors.js';
import { collectionKey } from '../format/keys.js';
import { MAX_HEAD_BYTES, storedCap } from '../format/limits.js';
import type { Logger } from '../logger.js';
import { type Storage, getBounded } from '../storage/storage.js';

export const HEADS_PREFIX = 'heads/';
export const HEAD_FEATURE = 'authenticated-head';
/** Forgotten ids kept per collection (the oldest drop out): about 30 bytes each, so the head stays under its cap. */
export const MAX_FORGOTTEN = 16_000;

const snapshotId = z.string().regex(/^[0-9A-Z]{26}$/);

export const HeadSchema = z.strictObject({
  formatVersion: z.literal(1),
  collection: z.string().min(1),
  /** Raised by one with every write; a manifest's `headCounter` is the value it was committed under. */
  counter: z.number().int().nonnegative(),
  updatedAt: z.string(),
  /** The newest snapshot committed and not forgotten; null when there is none. */
  latest: snapshotId.nullable(),
  /** Snapshots committed and not forgotten, sorted. */
  live: z.array(snapshotId),
  /** Snapshots forgotten (their manifests deleted), sorted; the newest MAX_FORGOTTEN. */
  forgotten: z.array(snapshotId),
});
export type Head = z.infer<typeof HeadSchema>;

/** What the head needs from the repository: its storage and the seal. */
export interface HeadStore {
  readonly storage: Storage;
  readonly logger: Logger;
  readonly encrypted: boolean;
  encodeObject(key: string, plain: Uint8Array): Uint8Array;
  decodeObject(key: string, stored: Uint8Array): Uint8Array | undefined;
}

export function headKey(collection: string): string {
  return `${HEADS_PREFIX}${collectionKey(collection)}.json`;
}

/** The head of `collection`; undefined when there is none. MANIFEST_INVALID when one is there but is no head this key sealed. */
export async function readHead(store: HeadStore, collection: string): Promise<Head | undefined> {
  const key = headKey(collection);
  let stored: Uint8Array;
  try {
    stored = await getBounded(store.storage, key, storedCap(MAX_HEAD_BYTES, store.encrypted));
  } catch (err) {
    if (isVectordrError(err, 'KEY_NOT_FOUND')) return undefined;
    if (isVectordrError(err, 'OBJECT_TOO_LARGE')) throw headInvalid(key, 'it is larger than any head', err);
    throw err;
  }
  const plain = store.decodeObject(key, stored);
  if (plain === undefined) throw headInvalid(key, "it fails authentication (not sealed under this repository's key for this key)");
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(plain).toString('utf8'));
  } catch (err) {
    throw headInvalid(key, 'it is not JSON', err);
  }
  const parsed = HeadSchema.safeParse(raw);
  if (!parsed.success || parsed.data.collection !== collection) throw headInvalid(key, 'it is not the head of this collection');
  return parsed.data;
}

function headInvalid(key: string, why: string, cause?: unknown): IntegrityError {
  return new IntegrityError(
    'ROLLBACK_DETECTED',
    `The authenticated head ${key} cannot be trusted: ${why}. It was replaced or damaged, so rollback and replay of ` +
      `this collection's snapshots cannot be ruled out. Check who can write to the repository (docs/security.md); ` +
      `restore a snapshot by its id to proceed.`,
    { details: { key }, ...(cause === undefined ? {} : { cause }) },
  );
}

export async function writeHead(store: HeadStore, head: Head): Promise<void> {
  const key = headKey(head.collection);
  const body = Buffer.from(`${JSON.stringify(head)}\n`, 'utf8');
  await store.storage.put(key, store.encodeObject(key, body));
}

function sortedUnique(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort();
}

/** The head after committing snapshot `id` under counter `counter`. */
export function headAfterCommit(prev: Head | undefined, collection: string, id: string, counter: number): Head {
  const live = sortedUnique([...(prev?.live ?? []), id]);
  const forgotten = (prev?.forgotten ?? []).filter((f) => f !== id);
  return {
    formatVersion: 1,
    collection,
    counter: Math.max(counter, (prev?.counter ?? 0) + 1),
    updatedAt: new Date().toISOString(),
    latest: live.at(-1) ?? null,
    live,
    forgotten,
  };
}

/** The head after an exclusive writer saw `present` (valid manifests) and forgets `forget`. */
export function headAfterReconcile(
  prev: Head | undefined,
  collection: string,
  present: readonly string[],
  forget: readonly string[],
): Head {
  const gone = new Set(forget);
  const forgotten = sortedUnique([...(prev?.forgotten ?? []), ...forget]).slice(-MAX_FORGOTTEN);
  const forgottenSet = new Set(forgotten);
  const live = sortedUnique(present.filter((id) => !gone.has(id) && !forgottenSet.has(id)));
  return {
    formatVersion: 1,
    collection,
    counter: (prev?.counter ?? 0) + 1,
    updatedAt: new Date().toISOString(),
    latest: live.at(-1) ?? null,
    live,
    forgotten,
  };
}

/** One thing the head shows about the stored manifests. */
export interface HeadFinding {
  code: 'ROLLBACK_DETECTED' | 'REPLAY_DETECTED';
  collection: string;
  /** The snapshot concerned, when one is (absent: the head itself). */
  snapshotId?: string;
  key: string;
  message: string;
}

/**
 * Compares a collection's head with the manifests that are there and valid (`present`: id →
 * headCounter, undefined for manifests written without a head). `headRequired`: some valid manifest
 * was written with a head (feature `authenticated-head`), so a missing head is itself a rollback.
 */
export function compareHead(head: Head | undefined, collection: string, present: ReadonlyMap<string, number | undefined>): HeadFinding[] {
  const key = headKey(collection);
  const out: HeadFinding[] = [];
  const newestCounter = Math.max(-1, ...[...present.values()].map((c) => c ?? -1));
  if (head === undefined) {
    if (newestCounter >= 0) {
      out.push({
        code: 'ROLLBACK_DETECTED',
        collection,
        key,
        message: `The authenticated head ${key} is missing although snapshots of ${JSON.stringify(collection)} were written with it: it was deleted.`,
      });
    }
    return out;
  }
  if (newestCounter > head.counter) {
    out.push({
      code: 'ROLLBACK_DETECTED',
      collection,
      key,
      message: `The authenticated head ${key} is at counter ${head.counter}, but a snapshot was committed under counter ${newestCounter}: an older copy of the head was put back.`,
    });
  }
  for (const id of head.live) {
    if (present.has(id)) continue;
    out.push({
      code: 'ROLLBACK_DETECTED',
      collection,
      snapshotId: id,
      key,
      message:
        `Snapshot ${id} of ${JSON.stringify(collection)} is recorded live by the authenticated head${id === head.latest ? ' (its newest)' : ''}, but its ` +
        `manifest is missing or invalid: it was deleted or replaced.`,
    });
  }
  const forgotten = new Set(head.forgotten);
  for (const id of present.keys()) {
    if (!forgotten.has(id)) continue;
    out.push({
      code: 'REPLAY_DETECTED',
      collection,
      snapshotId: id,
      key,
      message:
        `Snapshot ${id} of ${JSON.stringify(collection)} was forgotten (the authenticated head says so), but its manifest is there again: ` +
        `it was re-uploaded from a saved copy, or a forget was interrupted (prune removes it).`,
    });
  }
  return out;
}
