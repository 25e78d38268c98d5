/**
 * The attacker of issue 22: writes any object into a repository's storage but does not know the
 * passphrase. In a plaintext repository it can forge manifests (their checksum is unkeyed) and
 * segments; in an encrypted one only replace, truncate or enlarge objects.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { manifestKey, segmentKey } from '../../src/format/keys.js';
import { withChecksum } from '../../src/format/manifest.js';
import { encodeSegment, type SegmentLayout } from '../../src/format/segment-codec.js';
import type { Storage } from '../../src/storage/storage.js';

export type ManifestJson = Record<string, unknown> & {
  id: string;
  collection: string;
  segments: { key: string; sha256: string; bytes: number; rows: number }[];
  schema: Record<string, unknown> & { idType: string; vectors: { name: string; dims: number }[] };
};

export async function readManifestJson(storage: Storage, collection: string, id: string): Promise<ManifestJson> {
  return JSON.parse(Buffer.from(await storage.get(manifestKey(collection, id))).toString('utf8')) as ManifestJson;
}

/** Writes `m` over its manifest with a recomputed (unkeyed) checksum, as the attacker can. */
export async function writeForgedManifest(storage: Storage, m: ManifestJson): Promise<void> {
  await storage.put(manifestKey(m.collection, m.id), withChecksum(m));
}

/** Stores `bytes` as a segment under its content address; the ref a forged manifest names. */
export async function putForgedSegment(storage: Storage, bytes: Uint8Array, rows: number): Promise<ManifestJson['segments'][number]> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const key = segmentKey(sha256);
  await storage.put(key, bytes);
  return { key, sha256, bytes: bytes.length, rows };
}

/** The first segment of `m` replaced by `seg` (rows and manifest row count adjusted). */
export function withOnlySegment(m: ManifestJson, seg: ManifestJson['segments'][number]): ManifestJson {
  return { ...m, segments: [seg], rows: { upserts: seg.rows, deletes: 0 } };
}

/** A segment of `rows` rows in `layout` with the given payload texts (stored as is), zero digests unless given. */
export function segmentWith(
  layout: SegmentLayout,
  payloadJson: string[],
  options: { stringIds?: boolean; digests?: Uint8Array } = {},
): Uint8Array {
  const n = payloadJson.length;
  // Dense float32 layouts only (what the hostile cases forge).
  const vectors = Object.fromEntries(
    layout.vectors.map((v) => {
      const dims = v.dims ?? 0;
      return [v.name, { dims, data: new Float32Array(n * dims).fill(0.5) }];
    }),
  );
  const stringIds = options.stringIds === true;
  const ids = stringIds ? Array.from({ length: n }, (_, i) => `id-${i}`) : BigInt64Array.from({ length: n }, (_, i) => BigInt(i + 1));
  return encodeSegment(
    { ...layout, idType: stringIds ? 'string' : layout.idType },
    {
      batch: { length: n, ids, vectors, payloads: [] },
      payloadJson,
      digests: options.digests ?? new Uint8Array(n * 32),
      ops: new Array(n).fill('upsert'),
    },
  );
}

/** The bomb of issue 22 (300 payloads of 2 MiB in a ~100 KB zstd segment), made once by make-bomb.ts. */
export function bombBytes(file: string): Uint8Array {
  return readFileSync(file);
}
