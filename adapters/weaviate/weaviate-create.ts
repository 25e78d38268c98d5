/**
 * Creating a collection: the Weaviate class definition for a neutral schema (what could not be kept
 * as recorded becomes a note of the index report), and waiting until Weaviate has indexed what was
 * written.
 */
import type { DefinitionGate, IndexBuildReport } from '../../src/adapter.js';
import { sleep } from '../../src/async.js';
import { EngineError, InvalidInputError, UnsupportedOperationError, throwIfAborted } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import {
  type CollectionSchema,
  type IndexSpec,
  type JsonValue,
  type Metric,
  type VectorField,
  kindOf,
  requireDenseFloat32,
  requireDims,
} from '../../src/model.js';
import type { WeaviateConnection } from './weaviate-connection.js';
import type { Resolved } from './weaviate-describe.js';
import {
  type ClassMeta,
  LEGACY_VECTOR,
  ORIGINAL_ID_PROPERTY,
  PLUGIN,
  type VectorConfigEntry,
  type WeaviateClass,
  type WeaviateProperty,
  classNameOf,
  distanceToWeaviate,
  formatDescription,
  indexToWeaviate,
  mapNames,
  propertyForField,
} from './weaviate-types.js';

/** The most dimensions vectordr stores in one Weaviate vector. */
export const MAX_DIMS = 65_535;

type Notes = IndexBuildReport['skipped'];

const PAYLOAD_INDEX_REASON = 'Weaviate has no separate payload indexes: every property is filterable by default';

/** The adapter options class creation reads (`WeaviateAdapterOptions`). */
export interface CreateSettings {
  metricForUnindexed?: Metric | undefined;
  indexTimestamps: boolean;
}

/**
 * The class definition for a neutral schema, with what could not be kept as recorded. `modules`:
 * the vectorizer modules the target has enabled; `dryRun` checks the schema without them. `gate`:
 * a restore's trust gate, which a recorded module configuration passes before it is applied.
 */
export function planClass(
  schema: CollectionSchema,
  modules: Set<string>,
  settings: CreateSettings,
  logger: Logger,
  dryRun = false,
  gate?: DefinitionGate,
): { cls: WeaviateClass; notes: Notes } {
  const { metricForUnindexed } = settings;
  const className = classNameOf(schema.name);
  const notes: Notes = [];
  for (const v of schema.vectors) {
    const dims = storedDims(v);
    if (dims > MAX_DIMS) {
      throw new InvalidInputError(
        'DIMENSION_MISMATCH',
        `Vector ${JSON.stringify(v.name)} has ${v.dims} dimensions; vectordr stores at most ${MAX_DIMS}. Nothing was created.`,
        { plugin: PLUGIN },
      );
    }
  }
  const vectorNames = mapNames(
    schema.vectors.map((v) => v.name),
    'vector',
  );
  const propNames = mapNames(
    schema.payload.map((p) => p.name),
    'property',
  );
  const meta: ClassMeta = {
    idField: schema.idField,
    idType: schema.idType,
    ...(schema.idNativeType ? { idNativeType: schema.idNativeType } : {}),
    vectors: {},
    props: {},
  };
  const vectorConfig: Record<string, VectorConfigEntry> = {};
  let legacy:
    | { vectorizer: string; vectorIndexType: string; vectorIndexConfig: Record<string, unknown>; moduleConfig?: Record<string, unknown> }
    | undefined;
  for (const v of schema.vectors) {
    const w = vectorNames.get(v.name) as string;
    const metric = v.metric !== 'unspecified' ? v.metric : metricForUnindexed;
    if (!metric) {
      throw new UnsupportedOperationError(
        `Vector ${JSON.stringify(v.name)} of ${JSON.stringify(schema.name)} has no metric in the ` +
          `snapshot (the source had no index on it), and Weaviate's vector index needs a distance. ` +
          `Restore with metricForUnindexed ('cosine', 'l2', 'dot', 'l1' or 'hamming'), e.g. ` +
          `repo.restore(adapter, { collection, metricForUnindexed: 'cosine' }); vectordr never picks ` +
          `a metric silently.`,
        { plugin: PLUGIN, details: { field: v.name, supported: ['cosine', 'l2', 'dot', 'l1', 'hamming'] } },
      );
    }
    const distance = distanceToWeaviate(metric, v.name);
    const recorded = schema.indexes.find((i) => i.field === v.name && i.kind !== 'btree');
    const multi = kindOf(v) === 'multi';
    const index = multi ? multiVectorIndex(recorded, distance) : indexToWeaviate(recorded, distance);
    if (index.skipped && recorded) notes.push({ kind: recorded.kind, field: v.name, reason: index.skipped, action: 'converted' });
    const native = parseVectorNative(v.nativeType);
    let vectorizer: Record<string, unknown> = { none: {} };
    if (native?.vectorizer) {
      const [module] = Object.keys(native.vectorizer);
      if (module && module !== 'none' && !modules.has(module) && !dryRun) {
        notes.push({
          kind: `vectorizer ${module}`,
          field: v.name,
          reason:
            `module ${module} is not enabled on this Weaviate; the stored vectors were restored as ` +
            `they are, and new objects will not be vectorized until the collection is reconfigured`,
          what: 'setting',
          action: 'dropped',
        });
        logger.warn(
          { collection: schema.name, vector: v.name, module },
          'vectorizer module not available: restoring stored vectors with vectorizer none',
        );
      } else if (module && (module === 'none' || gate?.allows('setting', `vectorizer ${module} of ${JSON.stringify(v.name)}`) !== false))
        vectorizer = native.vectorizer;
    }
    meta.vectors[w] = {
      name: v.name,
      dims: storedDims(v),
      ...(v.nullable ? { nullable: true } : {}),
    };
    if (native?.legacy && !multi && schema.vectors.length === 1 && v.name === LEGACY_VECTOR) {
      const [module = 'none'] = Object.keys(vectorizer);
      legacy = {
        vectorizer: module,
        vectorIndexType: index.vectorIndexType,
        vectorIndexConfig: index.vectorIndexConfig,
        ...(module !== 'none' ? { moduleConfig: { [module]: vectorizer[module] } } : {}),
      };
    } else {
      vectorConfig[w] = { vectorizer, vectorIndexType: index.vectorIndexType, vectorIndexConfig: index.vectorIndexConfig };
    }
  }
  const properties: WeaviateProperty[] = [];
  if (schema.idType !== 'uuid') {
    properties.push({
      name: ORIGINAL_ID_PROPERTY,
      dataType: ['text'],
      tokenization: 'field',
      indexFilterable: true,
      indexSearchable: false,
      description: `original ${schema.idType} id (vectordr)`,
    });
  }
  for (const p of schema.payload) {
    const w = propNames.get(p.name) as string;
    const prop = propertyForField(p, w);
    // A property's module configuration, like a vector's, passes the restore's trust gate.
    if (prop.moduleConfig !== undefined && gate?.allows('setting', `module configuration of property ${JSON.stringify(p.name)}`) === false)
      delete prop.moduleConfig;
    properties.push(prop);
    if (!p.nativeType?.startsWith('{'))
      meta.props[w] = { name: p.name, type: p.type, array: p.array, ...(p.nullable ? {} : { nullable: false }) };
    else if (w !== p.name) meta.props[w] = { name: p.name, type: p.type, array: p.array };
  }
  const native = schema.native ?? {};
  const invertedIndexConfig = invertedIndexFor(native.invertedIndexConfig, settings.indexTimestamps);
  const cls: WeaviateClass = {
    class: className,
    description: formatDescription(typeof native.description === 'string' ? native.description : '', meta),
    properties,
    ...(legacy
      ? { vectorizer: legacy.vectorizer, vectorIndexType: legacy.vectorIndexType, vectorIndexConfig: legacy.vectorIndexConfig }
      : { vectorConfig }),
    ...(invertedIndexConfig ? { invertedIndexConfig } : {}),
    ...(legacy?.moduleConfig ? { moduleConfig: legacy.moduleConfig } : {}),
  };
  // Sharding and replication are recorded, not applied: the target's own topology decides them.
  return { cls, notes };
}

/**
 * The dims of a vector Weaviate stores: dense float32, or a float32 multi-vector (dims of each of its
 * vectors); any other kind is UNSUPPORTED_OPERATION (the restore refuses it earlier, by capabilities).
 */
function storedDims(v: VectorField): number {
  if (kindOf(v) === 'multi' && v.element === 'float32') return requireDims(v, PLUGIN);
  return requireDenseFloat32(v, 'the Weaviate adapter', PLUGIN);
}

/**
 * The vector index of a multi-vector: HNSW with `multivector: { enabled: true }` (Weaviate searches
 * multi-vectors only there, by MaxSim), with the recorded config when the snapshot came from
 * Weaviate; a recorded flat or other index is built as hnsw and reported.
 */
function multiVectorIndex(
  recorded: IndexSpec | undefined,
  distance: string,
): { vectorIndexType: string; vectorIndexConfig: Record<string, unknown>; skipped?: string } {
  const index = indexToWeaviate(recorded, distance);
  const multivector = { enabled: true, ...(index.vectorIndexConfig.multivector as Record<string, unknown> | undefined) };
  if (index.vectorIndexType === 'hnsw') return { ...index, vectorIndexConfig: { ...index.vectorIndexConfig, multivector } };
  return {
    vectorIndexType: 'hnsw',
    vectorIndexConfig: { distance, multivector },
    skipped: `Weaviate keeps multi-vectors in an hnsw index only; built hnsw with Weaviate's defaults instead of ${index.vectorIndexType}`,
  };
}

/**
 * The recorded inverted-index settings, with timestamps indexed when `indexTimestamps` is on and the
 * snapshot did not record a choice (Weaviate leaves `indexTimestamps` out when it is false, so only
 * a snapshot edited or written by hand says false): a restored class can then start a chain with
 * change capture by modification time (weaviate-capture.ts).
 */
function invertedIndexFor(recorded: JsonValue | undefined, indexTimestamps: boolean): Record<string, JsonValue> | undefined {
  const config = recorded !== null && typeof recorded === 'object' && !Array.isArray(recorded) ? recorded : undefined;
  if (!indexTimestamps || config?.indexTimestamps !== undefined) return config;
  return { ...config, indexTimestamps: true };
}

function parseVectorNative(nativeType: string | undefined): { vectorizer?: Record<string, unknown>; legacy?: boolean } | undefined {
  if (!nativeType?.startsWith('{')) return undefined;
  try {
    return JSON.parse(nativeType) as { vectorizer?: Record<string, unknown>; legacy?: boolean };
  } catch {
    return undefined;
  }
}

/**
 * Weaviate builds its vector index as objects arrive (or in the background with ASYNC_INDEXING);
 * there is nothing to build afterwards. This waits until every shard's vector queue is empty, so
 * the restore reports the index time and returns a searchable collection. Returns the milliseconds waited.
 */
export async function waitForIndexing(conn: WeaviateConnection, collection: string, signal?: AbortSignal): Promise<number> {
  const className = classNameOf(collection);
  const timeoutMs = conn.options.timeoutMs;
  const t0 = performance.now();
  for (;;) {
    throwIfAborted(signal);
    const nodes = (await conn.rest.ok('GET', `/v1/nodes?output=verbose&collection=${encodeURIComponent(className)}`)) as {
      nodes?: { shards?: { class?: string; vectorQueueLength?: number; vectorIndexingStatus?: string }[] | null }[];
    };
    const shards = (nodes.nodes ?? []).flatMap((n) => n.shards ?? []).filter((s) => s.class === className);
    if (shards.every((s) => (s.vectorQueueLength ?? 0) === 0 && (s.vectorIndexingStatus ?? 'READY') === 'READY')) break;
    if (performance.now() - t0 > timeoutMs) {
      throw new EngineError(`Weaviate is still indexing ${JSON.stringify(collection)} after ${timeoutMs} ms.`, 'transient', {
        plugin: PLUGIN,
      });
    }
    await sleep(200, signal);
  }
  return Math.round(performance.now() - t0);
}

/** The index report of a restored collection: its vector indexes, what create() noted, and the payload indexes Weaviate does not need. */
export function indexReport(r: Resolved, schema: CollectionSchema, ms: number, notes: Notes): IndexBuildReport {
  const payloadIndexes = schema.indexes.filter((i) => !schema.vectors.some((v) => v.name === i.field));
  return {
    built: r.vectors.map((v) => ({
      kind: r.schema.indexes.find((i) => i.field === v.field.name)?.kind ?? 'hnsw',
      field: v.field.name,
      ms,
    })),
    skipped: [...notes, ...payloadIndexes.map((i) => ({ kind: i.kind, field: i.field, reason: PAYLOAD_INDEX_REASON }))],
  };
}
