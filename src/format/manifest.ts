/**
 * Repository config and snapshot manifest (format v2; v1 read too). Both are JSON; `formatVersion` is read and
 * checked before anything else so that a newer format is refused with a clear error, never misread.
 */
import { z } from 'zod';
import { createHash } from 'node:crypto';
import { FormatVersionError, IntegrityError } from '../errors.js';
import type { Payload } from '../model.js';
import { JsonTooDeepError, MAX_DOCUMENT_DEPTH, parseBoundedJson } from './bounded-json.js';
import { canonicalPayload } from './canonical-json.js';
import { CheckpointSchema, type CollectionSchema, CollectionSchemaSchema, EngineNameSchema, isDenseFloat32 } from '../model.js';
import { EncryptionConfigSchema } from './encryption.js';

/** The version new configs and manifests are written in. */
export const FORMAT_VERSION = 2;
/** Versions this vectordr reads. v1 stays readable (docs/format.md, "Format v2 — decided once"). */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2];
/**
 * Features of v2 documents this vectordr implements. A document naming any other feature is refused
 * (`FORMAT_FEATURE`) before anything else of it is interpreted: later additions add a feature, not a
 * version.
 */
export const KNOWN_FEATURES: ReadonlySet<string> = new Set<string>([
  'authenticated-head',
  'incremental',
  'table-definition',
  'vector-kinds',
]);

/** True when a schema has a vector field other than dense float32: its manifests carry feature `vector-kinds`. */
export function needsVectorKinds(schema: Pick<CollectionSchema, 'vectors'>): boolean {
  return schema.vectors.some((v) => !isDenseFloat32(v));
}

/**
 * The features of a snapshot of `schema`, given those of its kind (`incremental`), sorted and unique:
 * `vector-kinds` for a vector of another kind than dense float32, `table-definition` for a recorded definition.
 */
export function snapshotFeatures(schema: Pick<CollectionSchema, 'vectors' | 'definition'>, base: readonly string[] = []): string[] {
  const own = [...(needsVectorKinds(schema) ? ['vector-kinds'] : []), ...(schema.definition !== undefined ? ['table-definition'] : [])];
  return [...new Set([...base, ...own])].sort();
}

const checksumString = z.string().regex(/^sha256:[0-9a-f]{64}$/);
const featuresList = z
  .array(z.string().min(1))
  .refine((f) => f.every((x, i) => i === 0 || (f[i - 1] as string) < x), { message: 'features must be sorted and unique' });

const configShape = {
  /** Random id of this repository. */
  id: z.string().min(1),
  createdAt: z.string(),
  /** Digest parameters every snapshot in this repository uses. */
  digest: z.strictObject({ algorithm: z.literal('sha256-bucket-sum'), buckets: z.number().int().positive().max(65_536) }),
  /** Client-side encryption (format: encryption section); null = plaintext. Holds the wrapped key and a key check, never the key. */
  encryption: EncryptionConfigSchema.nullable(),
};

const RepositoryConfigV1Schema = z.strictObject({ formatVersion: z.literal(1), ...configShape });

export const RepositoryConfigSchema = z.strictObject({
  formatVersion: z.literal(2),
  ...configShape,
  features: featuresList,
  /** `sha256:<hex>` of the RFC 8785 canonical JSON of every other field: a damaged config is told apart from a wrong key. */
  checksum: checksumString,
});
/** A repository config as read (v1 configs have no features and no checksum). */
export type RepositoryConfig = z.infer<typeof RepositoryConfigV1Schema> | z.infer<typeof RepositoryConfigSchema>;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const SegmentRefSchema = z.strictObject({
  /** Storage key, `data/<aa>/<sha256>`. */
  key: z.string(),
  sha256: hex64,
  bytes: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
});
export type SegmentRef = z.infer<typeof SegmentRefSchema>;

const manifestShape = {
  id: z.string().min(1),
  kind: z.enum(['full', 'incremental']),
  /** Snapshot this one builds on (incrementals), null for a full snapshot. */
  parent: z.string().nullable(),
  collection: z.string().min(1),
  createdAt: z.string(),
  completedAt: z.string(),
  source: z.strictObject({
    engine: EngineNameSchema,
    engineVersion: z.string(),
    extensionVersion: z.string().optional(),
    /** host:port/database or similar; never credentials. */
    endpoint: z.string(),
    /**
     * The source engine stored cosine vectors normalised (capability `normalizesCosine`), so the
     * snapshot holds the normalised vectors. Absent from manifests written before it was recorded,
     * for which the reader derives it (`withSourceFacts`).
     */
    normalizesCosine: z.boolean().optional(),
  }),
  schema: CollectionSchemaSchema,
  segments: z.array(SegmentRefSchema),
  rows: z.strictObject({ upserts: z.number().int().nonnegative(), deletes: z.number().int().nonnegative() }),
  digest: z
    .strictObject({
      algorithm: z.literal('sha256-bucket-sum'),
      buckets: z.number().int().positive().max(65_536),
      collection: hex64,
      counts: z.array(z.number().int().nonnegative()),
      sums: z.array(hex64),
    })
    .refine((d) => d.counts.length === d.buckets && d.sums.length === d.buckets, {
      message: 'counts and sums must have one entry per bucket',
    }),
  checkpoint: CheckpointSchema.nullable(),
  /** Where the time went: waiting for the engine's rows, digesting and encoding, storing segments. */
  timings: z.strictObject({ scanMs: z.number(), encodeMs: z.number(), storeMs: z.number(), totalMs: z.number() }),
  tags: z.record(z.string(), z.string()).default({}),
};

const ManifestV1Schema = z
  .strictObject({
    formatVersion: z.literal(1),
    ...manifestShape,
    /** Written since 0.2.0; only 0.1.0 manifests lack it. A renamed key is an unknown key (strict), never "no checksum". */
    checksum: checksumString.optional(),
  })
  .refine((m) => m.schema.definition === undefined, {
    message: '"schema.definition" is only allowed in v2, with feature "table-definition"',
  });

/**
 * The exact shape 0.1.0 wrote, the only manifests without a checksum. A checksum-less v1 manifest must
 * fit it, so deleting the checksum of a later manifest (with fields 0.1.0 never wrote) is damage, not age.
 */
const v010Payload = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['bool', 'int32', 'int64', 'float32', 'float64', 'string', 'uuid', 'datetime', 'date', 'json', 'bytes']),
  array: z.boolean().optional(),
  nullable: z.boolean().optional(),
  nativeType: z.string().optional(),
});
const v010Vector = z.strictObject({
  name: z.string().min(1),
  dims: z.number(),
  metric: z.string(),
  element: z.literal('float32').optional(),
  nullable: z.boolean().optional(),
  nativeType: z.string().optional(),
});
const v010Index = z.strictObject({
  name: z.string().optional(),
  kind: z.string(),
  field: z.string(),
  metric: z.string().optional(),
  unique: z.boolean().optional(),
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).optional(),
  native: z.string().optional(),
});
const Manifest010Schema = z
  .object({
    formatVersion: z.literal(1),
    kind: z.literal('full'),
    parent: z.null(),
    source: z.strictObject({
      engine: z.enum(['pgvector', 'milvus', 'qdrant', 'weaviate']),
      engineVersion: z.string(),
      extensionVersion: z.string().optional(),
      endpoint: z.string(),
    }),
    schema: z.strictObject({
      name: z.string(),
      idField: z.string(),
      idType: z.string(),
      idNativeType: z.string().optional(),
      vectors: z.array(v010Vector),
      payload: z.array(v010Payload).optional(),
      indexes: z.array(v010Index).optional(),
    }),
    rows: z.strictObject({ upserts: z.number(), deletes: z.literal(0) }),
    checkpoint: z
      .strictObject({
        engine: z.string(),
        kind: z.string(),
        value: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
        takenAt: z.string(),
      })
      .nullable(),
  })
  .loose();

/** How a snapshot was captured (docs/format.md, "Chains"). */
export const CaptureInfoSchema = z.strictObject({
  mode: z.enum(['scan', 'pgoutput', 'timestamp', 'fingerprint-diff']),
  exact: z.boolean(),
  reason: z.string().optional(),
});

/** The fields of feature `incremental`: present on every snapshot that names it, absent otherwise. */
const chainShape = {
  /** Id of the chain's full snapshot (a full snapshot's own id). */
  chain: z.string().min(1).optional(),
  /** Links from the chain's full snapshot: 0 for the full snapshot itself. */
  depth: z.number().int().nonnegative().optional(),
  capture: CaptureInfoSchema.optional(),
  /** ISO-8601 engine time the snapshot is complete up to: every change before it is in this snapshot or an ancestor. */
  watermark: z.string().optional(),
  /** Chunks of the delta index, in id order. */
  deltaIndex: z.array(SegmentRefSchema).optional(),
  /** Why this full snapshot was taken although an incremental was asked for (no usable parent, the chain broke). */
  autoFull: z.string().optional(),
};
const CHAIN_FIELDS = ['chain', 'depth', 'capture', 'watermark', 'deltaIndex'] as const;

export const ManifestSchema = z
  .strictObject({
    formatVersion: z.literal(2),
    ...manifestShape,
    ...chainShape,
    /**
     * Feature `authenticated-head` (encrypted repositories): the counter of the collection's head this
     * snapshot was committed under (docs/format.md, "Heads"); a head behind it was rolled back.
     */
    headCounter: z.number().int().positive().optional(),
    /** Features a reader must implement to read this snapshot; `[]` for a plain full snapshot. */
    features: featuresList,
    /** `sha256:<hex>` of the RFC 8785 canonical JSON of every other field (as parsed). Required. */
    checksum: checksumString,
  })
  .superRefine((m, ctx) => {
    const incremental = m.features.includes('incremental');
    const issue = (message: string): void => ctx.addIssue({ code: 'custom', message });
    for (const f of CHAIN_FIELDS) {
      if (incremental && m[f] === undefined) issue(`a snapshot with feature "incremental" must have "${f}"`);
      if (!incremental && m[f] !== undefined) issue(`"${f}" is only allowed with feature "incremental"`);
    }
    if (m.kind === 'incremental' && (!incremental || m.parent === null))
      issue('an incremental snapshot needs feature "incremental" and a parent');
    if (m.kind === 'full' && m.parent !== null) issue('a full snapshot has no parent');
    if (incremental && m.kind === 'full' && (m.chain !== m.id || m.depth !== 0)) issue('a full snapshot is its own chain, at depth 0');
    if (incremental && m.kind === 'incremental' && (m.chain === m.id || m.depth === 0))
      issue('a link is at depth 1 or more of another chain');
    if (m.kind === 'full' && m.rows.deletes !== 0) issue('a full snapshot has no delete rows');
    if (m.features.includes('authenticated-head') !== (m.headCounter !== undefined))
      issue('"headCounter" is present exactly when the snapshot has feature "authenticated-head"');
    const kinds = m.features.includes('vector-kinds');
    if (kinds !== needsVectorKinds(m.schema)) {
      issue(
        kinds
          ? 'feature "vector-kinds" on a snapshot of dense float32 vectors only'
          : 'a vector field of another kind than dense float32 needs feature "vector-kinds"',
      );
    }
    if (m.features.includes('table-definition') !== (m.schema.definition !== undefined))
      issue('"schema.definition" is present exactly when the snapshot has feature "table-definition"');
  });

/** The source of a manifest in memory: every fact known, whether the manifest recorded it or the reader derived it. */
export type ManifestSource = z.infer<typeof ManifestSchema>['source'] & { normalizesCosine: boolean };

/**
 * A manifest in memory: v2's shape. A v1 manifest is read into it with `features: []`; the checksum is
 * added when the manifest is serialised (and is absent from v1 manifests of 0.1.0).
 */
export type Manifest = Omit<z.infer<typeof ManifestSchema>, 'formatVersion' | 'checksum' | 'source'> & {
  formatVersion: 1 | 2;
  checksum?: string;
  source: ManifestSource;
};

/**
 * The source facts a manifest written before they were recorded lacks, derived the one way they
 * can be: before `normalizesCosine` was recorded, only Qdrant normalised cosine vectors. This is
 * the only place the core decides anything by an engine's name.
 */
function withSourceFacts<T extends { source: z.infer<typeof ManifestSchema>['source'] }>(m: T): T & { source: ManifestSource } {
  return { ...m, source: { ...m.source, normalizesCosine: m.source.normalizesCosine ?? m.source.engine === 'qdrant' } };
}

function documentChecksum(withoutChecksum: Payload): string {
  return `sha256:${createHash('sha256').update(canonicalPayload(withoutChecksum)).digest('hex')}`;
}

type Versioned<T> = { [version: number]: z.ZodType<T> };

/**
 * Parses JSON bytes in the order the format requires: `formatVersion`, then `features`, then the
 * checksum, then the schema (strict: unknown keys are damage, not an older writer).
 */
function parseVersioned<T>(
  bytes: Uint8Array,
  what: string,
  code: 'MANIFEST_INVALID' | 'CONFIG_INVALID',
  schemas: Versioned<T>,
  checksumRequired: (version: number) => boolean,
  checksumless?: z.ZodType,
): T {
  let raw: unknown;
  try {
    // Nesting is bounded before parsing: the checksum's canonical writer and zod recurse once per level.
    raw = parseBoundedJson(Buffer.from(bytes).toString('utf8'), MAX_DOCUMENT_DEPTH);
  } catch (err) {
    if (err instanceof JsonTooDeepError) {
      throw new IntegrityError(
        code,
        `${what} is nested deeper than ${MAX_DOCUMENT_DEPTH} levels, which no vectordr document is; it was not written by vectordr.`,
        { cause: err, details: { maxDepth: MAX_DOCUMENT_DEPTH } },
      );
    }
    throw new IntegrityError(code, `${what} is not valid JSON; it is damaged. Restore it from another copy of the repository.`, {
      cause: err,
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new IntegrityError(code, `${what} is not a JSON object; it is damaged. Restore it from another copy of the repository.`);
  }
  const doc = raw as Record<string, unknown>;
  const version = doc.formatVersion;
  if (typeof version !== 'number' || !READABLE_FORMAT_VERSIONS.includes(version)) {
    const newer = typeof version === 'number' && Number.isInteger(version) && version > FORMAT_VERSION;
    throw new FormatVersionError(
      `${what} has formatVersion ${JSON.stringify(version)}; this vectordr reads formatVersion ${READABLE_FORMAT_VERSIONS.join(' and ')}. ${
        newer ? 'Upgrade vectordr to read it.' : 'It was not written by vectordr or is damaged.'
      }`,
      { details: { found: typeof version === 'number' ? version : String(version), supported: FORMAT_VERSION } },
    );
  }
  if (Array.isArray(doc.features)) {
    const unknown = doc.features.filter((f) => typeof f !== 'string' || !KNOWN_FEATURES.has(f));
    if (unknown.length > 0) {
      throw new FormatVersionError(
        `${what} uses format features this vectordr does not implement ` +
          `(${unknown.map((f) => JSON.stringify(f)).join(', ')}). Upgrade vectordr to read it.`,
        {
          code: 'FORMAT_FEATURE',
          details: { features: unknown.map(String).join(',') },
        },
      );
    }
  }
  if ('checksum' in doc) {
    const { checksum, ...rest } = doc;
    if (checksum !== documentChecksum(rest as Payload)) {
      throw new IntegrityError(
        code,
        `${what} fails its checksum; it was altered after it was written. Restore it from another ` +
          `copy of the repository${code === 'MANIFEST_INVALID' ? ', or use an older snapshot' : ''}.`,
      );
    }
  } else if (checksumRequired(version)) {
    throw new IntegrityError(
      code,
      `${what} has no checksum, which every formatVersion ${version} document carries; it was ` +
        `damaged or edited. Restore it from another copy of the repository.`,
    );
  } else if (checksumless && !checksumless.safeParse(raw).success) {
    throw new IntegrityError(
      code,
      `${what} has no checksum, but fields or values the only writer without one (0.1.0) never wrote: its checksum was ` +
        `removed. Restore it from another copy of the repository.`,
    );
  }
  const schema = schemas[version] as z.ZodType<T>;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new IntegrityError(code, `${what} does not match format v${version}: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

export function parseManifest(bytes: Uint8Array, key: string): Manifest {
  return parseVersioned<Manifest>(
    bytes,
    `Manifest ${key}`,
    'MANIFEST_INVALID',
    { 1: ManifestV1Schema.transform((m) => withSourceFacts({ ...m, features: [] })), 2: ManifestSchema.transform(withSourceFacts) },
    (v) => v >= 2,
    Manifest010Schema,
  );
}

/** Manifest bytes with their checksum. */
export function serializeManifest(manifest: Manifest): Uint8Array {
  // A v1 manifest read into memory carries `features` (v1's strict schema refuses it): only v2 is written.
  if (manifest.formatVersion !== FORMAT_VERSION) {
    throw new FormatVersionError(
      `Manifest ${manifest.id} is formatVersion ${manifest.formatVersion}; vectordr writes only ` +
        `formatVersion ${FORMAT_VERSION} manifests.`,
    );
  }
  return withChecksum(manifest);
}

export function parseRepositoryConfig(bytes: Uint8Array): RepositoryConfig {
  return parseVersioned<RepositoryConfig>(
    bytes,
    'Repository config vectordr.json',
    'CONFIG_INVALID',
    { 1: RepositoryConfigV1Schema, 2: RepositoryConfigSchema },
    (v) => v >= 2,
  );
}

/** Config or manifest bytes with a fresh `checksum` over every other field. */
export function withChecksum(document: { readonly [field: string]: unknown }): Uint8Array {
  const { checksum: _old, ...rest } = document;
  const plain = JSON.parse(JSON.stringify(rest)) as Payload; // drops undefined, as the reader will see it
  return serialize({ ...plain, checksum: documentChecksum(plain) });
}

export function serialize(value: unknown): Uint8Array {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}
