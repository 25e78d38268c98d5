/**
 * Change capture for incremental snapshots. Milvus has no change feed outside a full deployment
 * with milvus-cdc (zilliztech/milvus-backup#267, #748), time travel was removed in 2.3 and the row
 * timestamp cannot be filtered, so without help every link is a fingerprint diff: the core reads
 * every entity with its vectors and diffs digests against the chain. With the adapter option
 * `changeField` (an integer field the application sets on every write, e.g. updated-at in epoch
 * milliseconds) a link queries only `field >= ` the parent's largest value minus `changeFieldLagMs`,
 * plus a primary-key-only pass for deletes (src/change-field.ts; docs/adapters/milvus.md, "Change capture").
 */
import type { CapturePlan, ChangeSession } from '../../src/adapter.js';
import {
  type ChangeFieldState,
  digestReason,
  fieldCheckpoint,
  fieldSession,
  fieldValue,
  lowerBound,
  maxFieldValue,
  noFeed,
  sinceOf,
} from '../../src/change-field.js';
import { throwIfAborted } from '../../src/errors.js';
import { type Checkpoint, type CollectionSchema, type Id, recordAt, type VectorRecord } from '../../src/model.js';
import type { MilvusContext } from './milvus-client.js';
import { describeRaw, describeSchema, ensureLoaded } from './milvus-describe.js';
import { type PageQuery, type Row, keysetPage, rowsToBatch } from './milvus-scan.js';
import { PLUGIN } from './milvus-types.js';

/** Rows per page of the key-only and key-and-field passes (Milvus caps a query window at 16384). */
const NARROW_PAGE = 16_384;
const INTEGER_TYPES = new Set(['Int8', 'Int16', 'Int32', 'Int64']);

/** Why a collection gets fingerprint diffs (manifest `capture.reason`). */
export function milvusDigestReason(notUsable?: string): string {
  return digestReason(
    'Milvus',
    'zilliztech/milvus-backup#267 and #748; time travel was removed in 2.3',
    'entities',
    'set the adapter option changeField to an Int64 field (not nullable) your application sets on every insert and upsert, ' +
      'e.g. updated-at in epoch milliseconds, and links read only what changed.',
    notUsable,
  );
}

type Lookup = { ok: true; state: ChangeFieldState } | { ok: false; reason: string };

/** What `planCapture` says for `collection`: timestamp when `changeField` is usable there, else digest and why. */
export async function planMilvusCapture(ctx: MilvusContext, collection: string): Promise<CapturePlan> {
  if (ctx.options.changeField === undefined) return { mode: 'digest', reason: milvusDigestReason() };
  const found = await lookupChangeField(ctx, collection, ctx.options.changeField);
  return found.ok ? { mode: 'timestamp' } : { mode: 'digest', reason: milvusDigestReason(found.reason) };
}

/**
 * The checkpoint a scan starts a change-field feed from (a chain's full snapshot, or a
 * fingerprint-diff link): the field's largest value before the scan reads anything (a write during
 * the scan has a value at least that large, so the next link reads it). Undefined without
 * `changeField`, or where it is not usable (the next link is a fingerprint diff).
 */
export async function startCheckpoint(ctx: MilvusContext, schema: CollectionSchema): Promise<Checkpoint | undefined> {
  if (ctx.options.changeField === undefined) return undefined;
  const found = await lookupChangeField(ctx, schema.name, ctx.options.changeField);
  if (!found.ok) {
    ctx.logger.warn(
      { collection: schema.name, reason: found.reason },
      'changeField is not usable; the chain continues as fingerprint diffs',
    );
    return undefined;
  }
  return fieldCheckpoint(PLUGIN, found.state, await largestValue(ctx, schema, found.state, null, undefined));
}

/** The entities changed since `from` (upserts) and every id (for deletes). CHAIN_BROKEN `no-feed` when the field cannot be followed. */
export async function openFieldCapture(
  ctx: MilvusContext,
  collection: string,
  from: Checkpoint,
  signal: AbortSignal | undefined,
): Promise<ChangeSession> {
  const field = ctx.options.changeField;
  if (field === undefined) throw noFeed(PLUGIN, 'the adapter has no changeField option');
  const found = await lookupChangeField(ctx, collection, field);
  if (!found.ok) throw noFeed(PLUGIN, found.reason, { collection, field });
  const { state } = found;
  const parentSince = sinceOf(PLUGIN, from, state);
  const schema = await describeSchema(ctx, collection);
  await ensureLoaded(ctx, schema);
  const watermark = new Date().toISOString();
  const lower = lowerBound(state.type, parentSince, ctx.options.changeFieldLagMs);
  // The next link starts at the largest value before this one reads: a value seen only during the
  // read could belong to a write that landed behind the key position, whose older neighbours this
  // read missed.
  const since = maxFieldValue(state.type, parentSince, await largestValue(ctx, schema, state, lower, signal));
  const filter = lower === null ? '' : `${field} >= ${lower}`;
  return fieldSession({
    engine: PLUGIN,
    schema,
    state,
    since,
    watermark,
    changed: () => changedEntities(ctx, schema, filter, signal),
    ids: () => allIds(ctx, schema, signal),
  });
}

/** Whether `field` can be followed in `collection`: a declared integer scalar field that always has a value. */
async function lookupChangeField(ctx: MilvusContext, collection: string, field: string): Promise<Lookup> {
  const { fields } = await describeRaw(ctx.client, collection);
  const f = fields.find((x) => x.name === field && !x.is_dynamic);
  const name = JSON.stringify(field);
  if (!f)
    return { ok: false, reason: `the collection has no field ${name} (a key of the dynamic field is not followed: declare the field)` };
  if (f.is_primary_key) return { ok: false, reason: `${name} is the primary key, which an update does not change` };
  if (!INTEGER_TYPES.has(f.data_type)) return { ok: false, reason: `field ${name} is ${f.data_type}, not an integer` };
  if (f.nullable) return { ok: false, reason: `field ${name} is nullable, and a link would never see an entity written without it` };
  return { ok: true, state: { field, type: 'integer', indexed: false } };
}

/** The largest value of the field among entities at or above `lower`: a pass over the key and that one field. */
async function largestValue(
  ctx: MilvusContext,
  schema: CollectionSchema,
  state: ChangeFieldState,
  lower: string | null,
  signal: AbortSignal | undefined,
): Promise<string | null> {
  const query = { filter: lower === null ? '' : `${state.field} >= ${lower}`, outputFields: [schema.idField, state.field] };
  let max: string | null = null;
  for await (const rows of pages(ctx, schema, NARROW_PAGE, query, signal))
    for (const r of rows) max = maxFieldValue(state.type, max, fieldValue(state.type, r[state.field]));
  return max;
}

async function* changedEntities(
  ctx: MilvusContext,
  schema: CollectionSchema,
  filter: string,
  signal: AbortSignal | undefined,
): AsyncIterable<VectorRecord[]> {
  for await (const rows of pages(ctx, schema, ctx.options.scanPageRows, { filter }, signal)) {
    const batch = rowsToBatch(schema, rows);
    yield Array.from({ length: batch.length }, (_, i) => recordAt(batch, i));
  }
}

async function* allIds(ctx: MilvusContext, schema: CollectionSchema, signal: AbortSignal | undefined): AsyncIterable<Id[]> {
  const pk = schema.idField;
  for await (const rows of pages(ctx, schema, NARROW_PAGE, { outputFields: [pk] }, signal))
    yield rows.map((r) => (schema.idType === 'int64' ? BigInt(String(r[pk])) : String(r[pk])));
}

/** Keyset pages in primary-key order until an empty one (a short page is not the last: milvus-scan.ts). */
async function* pages(
  ctx: MilvusContext,
  schema: CollectionSchema,
  limit: number,
  query: PageQuery,
  signal: AbortSignal | undefined,
): AsyncIterable<Row[]> {
  let last: string | undefined;
  for (;;) {
    throwIfAborted(signal);
    const rows = await keysetPage(ctx.client, schema, last, limit, query);
    if (rows.length === 0) return;
    yield rows;
    last = String((rows[rows.length - 1] as Row)[schema.idField]);
  }
}
