/**
 * Deterministic id mapping for engines that store only some id types (Weaviate: UUIDs only; Qdrant:
 * unsigned integers and UUIDs). A foreign id maps to a UUIDv5 (RFC 9562) of its type and canonical
 * text under vectordr's namespace, so the same id always lands on the same object (restores are
 * idempotent upserts, and a resumed restore rewrites the same objects); the adapter keeps the
 * original id beside it so a round trip returns it unchanged.
 */
import { createHash } from 'node:crypto';
import type { Id, IdType } from './model.js';

/** vectordr's UUIDv5 namespace: uuidv5(NAMESPACE_URL, 'https://vectordr.dev/ids'). Never change it. */
export const VECTORDR_ID_NAMESPACE = '4cfe4f4c-fd32-5d0f-b793-8faa98c0c07c';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** UUIDv5 (SHA-1, RFC 9562 §5.5) of `name` in `namespace`. */
export function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest().subarray(0, 16);
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  return formatUuid(hash);
}

/**
 * The UUID under which a record with this id is stored in a UUID-only engine. UUID ids map to
 * themselves (lower-cased); int64 and string ids to a UUIDv5 of `int64:<decimal>` / `string:<text>`.
 */
export function idToUuid(id: Id, idType: IdType): string {
  if (idType === 'uuid') return String(id).toLowerCase();
  return uuidV5(`${idType}:${typeof id === 'bigint' ? id.toString() : id}`, VECTORDR_ID_NAMESPACE);
}
