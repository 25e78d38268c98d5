/**
 * Repository config and snapshot manifest (format v1). Both are JSON; `formatVersion` is read and
 * checked before anything else so that a newer format is refused with a clear error, never misread.
 */
import { z } from 'zod';
import { createHash } from 'node:crypto';
import { FormatVersionError, IntegrityError } from '../errors.js';
import type { Payload } from '../model.js';
import { canonicalPayload } from './canonical-json.js';
import { CheckpointSchema, CollectionSchemaSchema, EngineNameSchema } from '../model.js';
import { EncryptionConfigSchema } from './encryption.js';

export const FORMAT_VERSION = 1;

export const RepositoryConfigSchema = z.object({
  formatVersion: z.literal(FORMAT_VERSION),
  /** Random id of this repository. */
  id: z.string().min(1),
  createdAt: z.string(),
  /** Digest parameters every snapshot in this repository uses. */
  digest: z.object({ algorithm: z.literal('sha256-bucket-sum'), buckets: z.number().int().positive().max(65_536) }),
  /** Client-side encryption (format: encryption section); null = plaintext. Holds the wrapped key and a key check, never the key. */
  encryption: EncryptionConfigSchema.nullable(),
});
export type RepositoryConfig = z.infer<typeof RepositoryConfigSchema>;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const SegmentRefSchema = z.object({
  /** Storage key, `data/<aa>/<sha256>`. */
  key: z.string(),
  sha256: hex64,
  bytes: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
});
export type SegmentRef = z.infer<typeof SegmentRefSchema>;

export const ManifestSchema = z.object({
  formatVersion: z.literal(FORMAT_VERSION),
  id: z.string().min(1),
  kind: z.enum(['full', 'incremental']),
  /** Snapshot this one builds on (incrementals), null for a full snapshot. */
  parent: z.string().nullable(),
  collection: z.string().min(1),
  createdAt: z.string(),
  completedAt: z.string(),
  source: z.object({
    engine: EngineNameSchema,
    engineVersion: z.string(),
    extensionVersion: z.string().optional(),
    /** host:port/database or similar; never credentials. */
    endpoint: z.string(),
  }),
  schema: CollectionSchemaSchema,
  segments: z.array(SegmentRefSchema),
  rows: z.object({ upserts: z.number().int().nonnegative(), deletes: z.number().int().nonnegative() }),
  digest: z
    .object({
      algorithm: z.literal('sha256-bucket-sum'),
      buckets: z.number().int().positive().max(65_536),
      collection: hex64,
      counts: z.array(z.number().int().nonnegative()),
      sums: z.array(hex64),
    })
    .refine((d) => d.counts.length === d.buckets && d.sums.length === d.buckets, { message: 'counts and sums must have one entry per bucket' }),
  checkpoint: CheckpointSchema.nullable(),
  /** Where the time went: waiting for the engine's rows, digesting and encoding, storing segments. */
  timings: z.object({ scanMs: z.number(), encodeMs: z.number(), storeMs: z.number(), totalMs: z.number() }),
  tags: z.record(z.string(), z.string()).default({}),
  /**
   * `sha256:<hex>` of the RFC 8785 canonical JSON of every other field. Written since 0.2.0, checked
   * when present: any changed bit of a plaintext manifest is detected (encrypted ones have GCM).
   */
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

function manifestChecksum(withoutChecksum: Payload): string {
  return `sha256:${createHash('sha256').update(canonicalPayload(withoutChecksum)).digest('hex')}`;
}

/** Parses JSON bytes whose first concern is `formatVersion`. */
function parseVersioned<T>(bytes: Uint8Array, what: string, schema: z.ZodType<T>, check?: (raw: unknown) => void): T {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new IntegrityError('MANIFEST_INVALID', `${what} is not valid JSON; it is damaged. Restore it from another copy of the repository.`, { cause: err });
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (version !== FORMAT_VERSION) {
    throw new FormatVersionError(
      `${what} has formatVersion ${JSON.stringify(version)}; this vectordr reads formatVersion ${FORMAT_VERSION}. ${
        typeof version === 'number' && version > FORMAT_VERSION ? 'Upgrade vectordr to read it.' : 'It was not written by vectordr or is damaged.'
      }`,
      { details: { found: version, supported: FORMAT_VERSION } },
    );
  }
  check?.(raw);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new IntegrityError('MANIFEST_INVALID', `${what} does not match format v${FORMAT_VERSION}: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

export function parseManifest(bytes: Uint8Array, key: string): Manifest {
  return parseVersioned(bytes, `Manifest ${key}`, ManifestSchema, (raw) => {
    if (typeof raw !== 'object' || raw === null || !('checksum' in raw)) return; // written before 0.2.0
    const { checksum, ...rest } = raw as { checksum: unknown } & Payload;
    if (checksum !== manifestChecksum(rest)) {
      throw new IntegrityError('MANIFEST_INVALID', `Manifest ${key} fails its checksum; it was altered after it was written. Restore it from another copy of the repository, or use an older snapshot.`);
    }
  });
}

/** Manifest bytes with their checksum. */
export function serializeManifest(manifest: Manifest): Uint8Array {
  const { checksum: _old, ...rest } = manifest;
  const plain = JSON.parse(JSON.stringify(rest)) as Payload; // drops undefined, as the reader will see it
  return serialize({ ...plain, checksum: manifestChecksum(plain) });
}

export function parseRepositoryConfig(bytes: Uint8Array): RepositoryConfig {
  return parseVersioned(bytes, 'Repository config vectordr.json', RepositoryConfigSchema);
}

export function serialize(value: unknown): Uint8Array {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}
