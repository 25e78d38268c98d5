/**
 * Deterministic id mapping for engines that store only some id types (Weaviate: UUIDs only; Qdrant:
 * unsigned integers and UUIDs). A foreign id maps to a UUIDv5 (RFC 9562) of its type and canonical
 * text under vectordr's namespace, so the same id always lands on the same object (restores are
 * idempotent upserts, and a resumed restore rewrites the same objects); the adapter keeps the
 * original id beside it so a round trip returns it unchanged.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.js';
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

/**
 * For one batch: remembers which id took each engine key (point id, object UUID) and throws
 * `ID_COLLISION` when a second, different id lands on the same key (`6F1E...` and `6f1e...` in a
 * uuid collection), before anything of the batch is written. `target` names the key in messages
 * ("Qdrant point", "Weaviate UUID").
 */
export function idCollisionGuard(target: string, plugin: string): (key: string, id: Id) => void {
  const seen = new Map<string, Id>();
  return (key, id) => {
    const other = seen.get(key);
    if (other !== undefined && String(other) !== String(id)) {
      throw new InvalidInputError(
        'ID_COLLISION',
        `Ids ${JSON.stringify(String(other))} and ${JSON.stringify(String(id))} map to the same ` +
          `${target} ${key}; one would overwrite the other. Nothing of this batch was written.`,
        { plugin },
      );
    }
    seen.set(key, id);
  };
}
