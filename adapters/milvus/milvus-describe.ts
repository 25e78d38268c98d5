/**
 * What a Milvus collection is: its raw fields and properties (`describeRaw`), the neutral schema
 * read from them (`describeSchema`), its vector indexes and whether it is loaded.
 */
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { EngineError } from '../../src/errors.js';
import type { CollectionSchema, Id, IndexSpec, PayloadField, VectorField } from '../../src/model.js';
import { invalidCollectionName } from '../../src/validate.js';
import type { MilvusContext } from './milvus-client.js';
import { isNoQueryNode, isOk, milvusCall } from './milvus-errors.js';
import { retry } from '../../src/retry.js';
import { vectorShapeFromMilvus } from './milvus-vectors.js';
import {
  DYNAMIC_FIELD,
  DYNAMIC_KEY,
  type MilvusFieldInfo,
  PLUGIN,
  TYPES_PROPERTY,
  type TypeHints,
  exprString,
  indexFromMilvus,
  parseObject,
  payloadFieldFromMilvus,
} from './milvus-types.js';

/** A collection as Milvus describes it. */
export interface MilvusCollectionInfo {
  fields: MilvusFieldInfo[];
  /** The dynamic field is enabled. */
  dynamic: boolean;
  /** Collection properties (the vectordr.types hints, the restore marker). */
  properties: Record<string, string>;
}

/** Refuses a name Milvus would refuse, with the nearest name it accepts. */
export function checkCollectionName(name: string, use: 'read' | 'create'): void {
  if (/^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(name)) return;
  const suggestion = (/^[A-Za-z_]/.test(name) ? '' : '_') + name.replace(/[^A-Za-z0-9_]/g, '_');
  const rule = 'Milvus names are 1 to 255 letters, digits and underscores, the first a letter or underscore';
  throw invalidCollectionName(PLUGIN, name, rule, suggestion.slice(0, 255), use);
}

export async function collectionExists(client: MilvusClient, collection: string): Promise<boolean> {
  const res = await milvusCall('hasCollection', undefined, () => client.hasCollection({ collection_name: collection }));
  return Boolean(res.value);
}

/** Fields and properties of a collection; COLLECTION_NOT_FOUND when there is none. */
export async function describeRaw(client: MilvusClient, collection: string): Promise<MilvusCollectionInfo> {
  const d = await milvusCall('describeCollection', collection, () => client.describeCollection({ collection_name: collection }));
  const properties: Record<string, string> = {};
  for (const kv of (d.properties ?? []) as { key: string; value: string }[]) properties[kv.key] = kv.value;
  return { fields: d.schema.fields as unknown as MilvusFieldInfo[], dynamic: Boolean(d.schema.enable_dynamic_field), properties };
}

/** The neutral schema of a collection: its key, vector fields (milvus-vectors.ts) with their indexes, and payload fields. */
export async function describeSchema(ctx: MilvusContext, collection: string): Promise<CollectionSchema> {
  await ctx.server();
  const { fields, dynamic, properties } = await describeRaw(ctx.client, collection);
  const hints = parseObject(properties[TYPES_PROPERTY]) as TypeHints;
  const pk = fields.find((f) => f.is_primary_key);
  if (!pk)
    throw new EngineError(`Milvus collection ${JSON.stringify(collection)} has no primary key field.`, 'permanent', { plugin: PLUGIN });
  if (pk.autoID)
    ctx.logger.warn({ collection }, 'primary key is autoID: ids are kept on restore into Milvus by creating the key without autoID');
  const idType = pk.data_type === 'Int64' ? 'int64' : hints.id === 'uuid' ? 'uuid' : 'string';
  const vectors: VectorField[] = [];
  const payload: PayloadField[] = [];
  const indexes: IndexSpec[] = [];
  for (const f of fields) {
    if (f === pk || f.is_dynamic || f.name === DYNAMIC_FIELD) continue;
    const shape = vectorShapeFromMilvus(f, collection);
    if (shape) {
      const index = await vectorIndex(ctx.client, collection, f.name);
      if (index) indexes.push(index);
      const metric = index?.metric ?? 'unspecified';
      const sparseDims = shape.kind === 'sparse' ? hints.sparseDims?.[f.name] : undefined;
      vectors.push({ name: f.name, ...shape, ...(sparseDims === undefined ? {} : { dims: sparseDims }), metric, nullable: false });
      continue;
    }
    payload.push(payloadFieldFromMilvus(f, hints, collection));
  }
  // Nullable fields a server without nullable fields keeps as dynamic keys (milvus-version.ts).
  for (const [name, h] of Object.entries(hints.dynamic ?? {}))
    payload.push({ name, type: h.type, array: h.array, nullable: true, nativeType: DYNAMIC_KEY });
  if (dynamic && hints.meta !== false)
    payload.push({ name: DYNAMIC_FIELD, type: 'json', array: false, nullable: true, nativeType: 'dynamic' });
  const idNativeType = pk.max_length ? `VarChar(${String(pk.max_length)})` : pk.data_type;
  return { name: collection, idField: pk.name, idType, idNativeType, vectors, payload, indexes };
}

/** The index on a vector field, or undefined when it has none (or Milvus cannot say). */
export async function vectorIndex(client: MilvusClient, collection: string, field: string): Promise<IndexSpec | undefined> {
  let res;
  try {
    res = await client.describeIndex({ collection_name: collection, field_name: field });
  } catch {
    return undefined;
  }
  if (!isOk(res.status)) return undefined; // no index on this field
  const d = res.index_descriptions?.find((x) => x.field_name === field);
  if (!d) return undefined;
  const params: Record<string, string> = {};
  for (const kv of d.params as { key: string; value: string }[]) params[kv.key] = kv.value;
  return { ...indexFromMilvus(field, params), name: d.index_name };
}

/** The collection is loaded (queryable); false also when Milvus cannot say. */
export async function isLoaded(client: MilvusClient, collection: string): Promise<boolean> {
  try {
    const s = await client.getLoadState({ collection_name: collection });
    return String(s.state) === 'LoadStateLoaded';
  } catch {
    return false;
  }
}

/** Loads the collection of `schema` unless it is loaded (queries need it). */
export async function ensureLoaded(ctx: MilvusContext, schema: CollectionSchema): Promise<void> {
  if (!(await isLoaded(ctx.client, schema.name))) await loadCollection(ctx, schema);
}

/**
 * Loads the collection of `schema`. On a server whose query node cannot take float16 inserts
 * (Milvus 2.3: `float16WhileLoaded`), a collection with a float16 field is flushed first, so its
 * rows load as sealed segments instead of being replayed as inserts, which crashed Milvus 2.3.5.
 */
export async function loadCollection(ctx: MilvusContext, schema: CollectionSchema): Promise<void> {
  const collection = schema.name;
  if (schema.vectors.some((v) => v.element === 'float16') && !(await ctx.server()).float16WhileLoaded)
    await milvusCall('flush', collection, () => ctx.client.flushSync({ collection_names: [collection] }));
  await retry(() => milvusCall('loadCollection', collection, () => ctx.client.loadCollectionSync({ collection_name: collection })), {
    ...LOAD_RETRY,
    retryable: isNoQueryNode,
    onRetry: (err, attempt, delayMs) =>
      ctx.logger.warn(
        { collection, attempt, delayMs, err: (err as Error).message },
        'no query node could take the collection yet; loading again',
      ),
  });
}

/** A load waits this long for a query node (one restarting re-registers within seconds). */
export const LOAD_RETRY = { attempts: 10, baseDelayMs: 500, maxDelayMs: 8000, deadlineMs: 60_000, jitter: 'equal' } as const;

/** The filter expression that selects `ids` by primary key. */
export async function idFilter(client: MilvusClient, collection: string, ids: Id[]): Promise<string> {
  const { fields } = await describeRaw(client, collection);
  const pk = fields.find((f) => f.is_primary_key) as MilvusFieldInfo;
  const list = ids.map((id) => (pk.data_type === 'Int64' ? BigInt(id).toString() : exprString(String(id)))).join(', ');
  return `${pk.name} in [${list}]`;
}
