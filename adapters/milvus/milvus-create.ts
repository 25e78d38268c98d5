/**
 * Creating a Milvus collection from a neutral schema, and building (then loading) its vector indexes.
 * The create preflight refuses what Milvus cannot store before anything is created or dropped.
 */
import { DataType, type FieldType } from '@zilliz/milvus2-sdk-node';
import type { CreateOptions, IndexBuildReport } from '../../src/adapter.js';
import { InvalidInputError, UnsupportedOperationError, throwIfAborted } from '../../src/errors.js';
import { type CollectionSchema, type IndexSpec, type VectorField, describeKind, kindOf } from '../../src/model.js';
import type { MilvusContext } from './milvus-client.js';
import { collectionExists, loadCollection, vectorIndex } from './milvus-describe.js';
import { milvusCall } from './milvus-errors.js';
import type { ParsedMilvusOptions } from './milvus-options.js';
import {
  DYNAMIC_FIELD,
  MAX_DIMS,
  PLUGIN,
  TYPES_PROPERTY,
  indexToMilvus,
  parseObject,
  payloadFieldToMilvus,
  typeHints,
} from './milvus-types.js';
import {
  defaultMetric,
  fallbackIndex,
  familyOf,
  isMilvusVectorNativeType,
  kindIndexToMilvus,
  metricToMilvus,
  milvusVectorType,
} from './milvus-vectors.js';
import type { MilvusServerInfo } from './milvus-version.js';

/**
 * Refuses, before anything is created or dropped, what Milvus cannot store: a server older than
 * 2.3, dims over 32768, metrics it lacks, vector kinds this server lacks (naming the field and the
 * server's version; milvus-vectors.ts), bits not a multiple of 8, a sparse modifier (Qdrant's idf).
 */
export async function preflightCreate(ctx: MilvusContext, schema: CollectionSchema): Promise<void> {
  const server = await ctx.server();
  for (const v of schema.vectors) {
    checkKind(v, server);
    if (v.modifier !== undefined) {
      throw new UnsupportedOperationError(
        `Sparse vector ${JSON.stringify(v.name)} is weighed by ${v.modifier.toUpperCase()} (Qdrant's modifier); Milvus has no such ` +
          `modifier, and vectordr never drops one silently. Nothing was created. Pass omitVectors: [${JSON.stringify(v.name)}] ` +
          `to restore without it.`,
        { plugin: PLUGIN, details: { field: v.name, modifier: v.modifier } },
      );
    }
    const dims = v.dims ?? 0;
    if (v.kind !== 'sparse' && dims > MAX_DIMS) {
      const message = `Vector ${JSON.stringify(v.name)} has ${dims} dimensions; Milvus accepts at most ${MAX_DIMS}. Nothing was created.`;
      throw new InvalidInputError('DIMENSION_MISMATCH', message, {
        plugin: PLUGIN,
        details: { field: v.name, dims, max: MAX_DIMS },
      });
    }
    if (v.element === 'binary' && dims % 8 !== 0) {
      const message =
        `Vector ${JSON.stringify(v.name)} has ${dims} bits; a Milvus BinaryVector holds a multiple of 8 bits. ` +
        `Nothing was created; restore into an engine that keeps ${dims} bits (pgvector bit(${dims})).`;
      throw new InvalidInputError('DIMENSION_MISMATCH', message, { plugin: PLUGIN, details: { field: v.name, dims } });
    }
    metricOf(ctx.options, schema, v);
  }
}

/** Refuses a field whose kind this server does not store (UNSUPPORTED_OPERATION naming the field and the server). */
function checkKind(v: VectorField, server: MilvusServerInfo): void {
  const caps = server.vectorKinds;
  const kind = kindOf(v);
  if (kind === 'sparse' ? caps.sparse : kind === 'dense' && caps.dense.includes(v.element)) return;
  const stored = [...caps.dense.map((e) => `dense ${e}`), ...(caps.sparse ? ['sparse'] : [])].join(', ');
  const hint =
    kind === 'dense' && caps.dense.includes('float32') && v.element !== 'binary'
      ? ` Pass convertVectors: { ${JSON.stringify(v.name)}: 'float32' } to widen it, or omitVectors: [${JSON.stringify(v.name)}].`
      : ` Pass omitVectors: [${JSON.stringify(v.name)}] to restore without it, or restore into a server that stores it.`;
  throw new UnsupportedOperationError(
    `Vector field ${JSON.stringify(v.name)} is ${describeKind(v)}; Milvus ${server.version} stores ${stored}. ` +
      `Nothing was created.${hint}`,
    { plugin: PLUGIN, details: { field: v.name, kind, element: v.element, version: server.version } },
  );
}

/** Creates the collection of `schema` (TARGET_EXISTS if there is one), with its indexes when `options.indexes` is 'now'. */
export async function createCollection(ctx: MilvusContext, schema: CollectionSchema, options: CreateOptions): Promise<void> {
  throwIfAborted(options.signal);
  await preflightCreate(ctx, schema);
  if (await collectionExists(ctx.client, schema.name)) {
    throw new InvalidInputError('TARGET_EXISTS', `Milvus collection ${JSON.stringify(schema.name)} already exists.`, { plugin: PLUGIN });
  }
  const server = await ctx.server();
  // Without nullable fields (Milvus < 2.5) a nullable payload field is kept as a dynamic key:
  // absent where null, its neutral type in vectordr.types.
  const asDynamic = new Set(
    server.nullableFields ? [] : schema.payload.filter((p) => p.nullable && p.name !== DYNAMIC_FIELD).map((p) => p.name),
  );
  const fields: FieldType[] = [];
  if (schema.idType === 'int64') fields.push({ name: schema.idField, data_type: DataType.Int64, is_primary_key: true, autoID: false });
  else {
    const bound = /\((\d+)\)$/.exec(schema.idNativeType ?? '')?.[1];
    const max_length = schema.idType === 'uuid' ? 36 : bound ? Number(bound) : ctx.options.varcharMaxLength;
    fields.push({ name: schema.idField, data_type: DataType.VarChar, is_primary_key: true, autoID: false, max_length });
  }
  for (const v of schema.vectors)
    fields.push({ name: v.name, data_type: milvusVectorType(v), ...(v.kind === 'sparse' ? {} : { dim: v.dims }) });
  for (const p of schema.payload) if (p.name !== DYNAMIC_FIELD && !asDynamic.has(p.name)) fields.push(payloadFieldToMilvus(p, ctx.options));
  const dynamic = asDynamic.size > 0 || schema.payload.some((p) => p.name === DYNAMIC_FIELD);
  const hints = typeHints(schema.idType, schema.payload, asDynamic);
  for (const v of schema.vectors) if (v.kind === 'sparse' && v.dims !== undefined) (hints.sparseDims ??= {})[v.name] = v.dims;
  const properties: Record<string, string> = Object.keys(hints).length > 0 ? { [TYPES_PROPERTY]: JSON.stringify(hints) } : {};
  await milvusCall('createCollection', undefined, () =>
    ctx.client.createCollection({
      collection_name: schema.name,
      fields,
      enable_dynamic_field: dynamic,
      ...(Object.keys(properties).length ? { properties } : {}),
    } as never),
  );
  if (options.indexes === 'now') await buildIndexes(ctx, schema.name, schema, { signal: options.signal });
}

/** Builds the vector indexes of `schema` (FLAT where Milvus has no such index), then loads the collection. */
export async function buildIndexes(
  ctx: MilvusContext,
  collection: string,
  schema: CollectionSchema,
  options: { signal?: AbortSignal } = {},
): Promise<IndexBuildReport> {
  const { client, logger } = ctx;
  const report: IndexBuildReport = { built: [], skipped: [] };
  // Native types survive only same-engine restores (the core drops them across engines).
  const sameEngine = schema.vectors.every((v) => isMilvusVectorNativeType(v.nativeType));
  for (const v of schema.vectors) {
    throwIfAborted(options.signal);
    const metric_type = metricOf(ctx.options, schema, v);
    const recorded = schema.indexes.find((i) => i.field === v.name);
    const float = familyOf(v) === 'float';
    let spec = recorded ? (float ? indexToMilvus(recorded, sameEngine) : kindIndexToMilvus(recorded, v)) : undefined;
    if (recorded && !spec) {
      const reason = `Milvus has no ${recorded.kind} index for ${describeKind(v)} vectors; built ${fallbackIndex(v).index_type} (exact search) instead`;
      report.skipped.push({ kind: recorded.kind, field: v.name, reason, action: 'converted' });
    }
    spec ??= fallbackIndex(v);
    // A resumed restore (interrupted between the build and the marker that records it) finds the
    // index in place: Milvus refuses a second one on the field, so keep the one of this definition.
    if (sameIndex(await vectorIndex(client, collection, v.name), spec, metric_type)) {
      logger.info({ collection, field: v.name, kind: spec.index_type }, 'index already present (a resumed restore): not built again');
      continue;
    }
    const t0 = performance.now();
    const { index_type, params } = spec;
    await milvusCall('createIndex', collection, () =>
      client.createIndex({ collection_name: collection, field_name: v.name, index_type, metric_type, params } as never),
    );
    report.built.push({ kind: index_type.toLowerCase(), field: v.name, ms: Math.round(performance.now() - t0) });
  }
  for (const i of schema.indexes) {
    if (schema.vectors.some((v) => v.name === i.field)) continue;
    report.skipped.push({ kind: i.kind, field: i.field, reason: 'scalar indexes are not translated to Milvus yet' });
  }
  await loadCollection(ctx, { ...schema, name: collection });
  return report;
}

/**
 * The Milvus metric of a vector field: its own, or its kind's natural one (sparse: inner product,
 * bits: Hamming), or `metricForUnindexed`, or a clear refusal.
 */
function metricOf(options: ParsedMilvusOptions, schema: CollectionSchema, v: VectorField): string {
  const metric = v.metric !== 'unspecified' ? v.metric : (defaultMetric(v) ?? options.metricForUnindexed);
  if (!metric) {
    throw new UnsupportedOperationError(
      `Vector ${JSON.stringify(v.name)} of ${JSON.stringify(schema.name)} has no metric in the ` +
        `snapshot (the source had no index on it), and Milvus needs one to index and load a ` +
        `collection. Restore with metricForUnindexed ('cosine', 'l2' or 'dot'), e.g. ` +
        `repo.restore(adapter, { collection, metricForUnindexed: 'cosine' }); vectordr never picks ` +
        `a metric silently.`,
      { plugin: PLUGIN, details: { field: v.name, supported: ['cosine', 'l2', 'dot'] } },
    );
  }
  return metricToMilvus(metric, v);
}

/** Whether the index Milvus reports for a field is the one `spec` with `metric` would create. */
function sameIndex(
  existing: IndexSpec | undefined,
  spec: { index_type: string; params: Record<string, number | string> },
  metric: string,
): boolean {
  if (!existing?.native) return false;
  const d = parseObject(existing.native) as { index_type?: unknown; metric_type?: unknown; params?: unknown };
  const params = (d.params ?? {}) as Record<string, unknown>;
  return (
    d.index_type === spec.index_type &&
    d.metric_type === metric &&
    Object.entries(spec.params).every(([k, v]) => String(params[k]) === String(v))
  );
}
