/**
 * Change capture for incremental snapshots. Qdrant has no change feed and its WAL is internal
 * (qdrant/qdrant#7278), so without help every link is a fingerprint diff: the core scrolls every
 * point with its vectors and diffs digests against the chain. With the adapter option `changeField`
 * (a payload key the application sets on every write: an integer or an RFC 3339 datetime) a link
 * scrolls only the points whose key is at least the parent's largest value minus
 * `changeFieldLagMs`, plus an ids-only scroll for deletes (src/change-field.ts; docs/adapters/qdrant.md,
 * "Change capture").
 */
import type { CapturePlan, ChangeSession } from '../../src/adapter.js';
import {
  type ChangeFieldState,
  type ChangeFieldType,
  digestReason,
  fieldCheckpoint,
  fieldSession,
  fieldValue,
  lowerBound,
  maxFieldValue,
  noFeed,
  sinceOf,
} from '../../src/change-field.js';
import { engineRead } from '../../src/engine-errors.js';
import { throwIfAborted } from '../../src/errors.js';
import { type Checkpoint, type Id, recordAt, type VectorRecord } from '../../src/model.js';
import type { PointId, PointLike, QdrantContext } from './qdrant-client.js';
import { type ResolvedCollection, resolveCollection } from './qdrant-describe.js';
import { qdrantErrors } from './qdrant-errors.js';
import { type ScrollBody, scrollPage, toRecordBatch, withVector } from './qdrant-scan.js';
import { ORIGINAL_ID_KEY, PLUGIN, idFromPoint } from './qdrant-types.js';

/** Ids per page of the ids-only scroll (no payload, no vectors: a page is small). */
const ID_PAGE = 10_000;

/** Why a collection gets fingerprint diffs (manifest `capture.reason`). */
export function qdrantDigestReason(notUsable?: string): string {
  return digestReason(
    'Qdrant',
    'qdrant/qdrant#7278',
    'points',
    'set the adapter option changeField to a payload key (an integer or an RFC 3339 datetime, with a payload index) ' +
      'that your application sets on every write, and links read only what changed.',
    notUsable,
  );
}

type Lookup = { ok: true; state: ChangeFieldState } | { ok: false; reason: string };

/** What `planCapture` says for `r`: timestamp when `changeField` is usable there, else digest and why. */
export async function planQdrantCapture(ctx: QdrantContext, collection: string): Promise<CapturePlan> {
  if (ctx.options.changeField === undefined) return { mode: 'digest', reason: qdrantDigestReason() };
  const found = await lookupChangeField(ctx, await resolveCollection(ctx, collection), ctx.options.changeField);
  return found.ok ? { mode: 'timestamp' } : { mode: 'digest', reason: qdrantDigestReason(found.reason) };
}

/**
 * The checkpoint a scan starts a change-field feed from (a chain's full snapshot, or a
 * fingerprint-diff link): the field's largest value before the scan reads anything (a write during
 * the scan has a value at least that large, so the next link reads it). Undefined without
 * `changeField`, or where it is not usable (the next link is a fingerprint diff).
 */
export async function startCheckpoint(ctx: QdrantContext, r: ResolvedCollection): Promise<Checkpoint | undefined> {
  if (ctx.options.changeField === undefined) return undefined;
  const found = await lookupChangeField(ctx, r, ctx.options.changeField);
  if (!found.ok) {
    ctx.logger.warn({ collection: r.name, reason: found.reason }, 'changeField is not usable; the chain continues as fingerprint diffs');
    return undefined;
  }
  return fieldCheckpoint(PLUGIN, found.state, await largestValue(ctx, r, found.state, null));
}

/** The points changed since `from` (upserts) and every id (for deletes). CHAIN_BROKEN `no-feed` when the field cannot be followed. */
export async function openFieldCapture(
  ctx: QdrantContext,
  r: ResolvedCollection,
  from: Checkpoint,
  signal: AbortSignal | undefined,
): Promise<ChangeSession> {
  const field = ctx.options.changeField;
  if (field === undefined) throw noFeed(PLUGIN, 'the adapter has no changeField option');
  const found = await lookupChangeField(ctx, r, field);
  if (!found.ok) throw noFeed(PLUGIN, found.reason, { collection: r.name, field });
  const { state } = found;
  const parentSince = sinceOf(PLUGIN, from, state);
  const watermark = new Date().toISOString();
  const lower = lowerBound(state.type, parentSince, ctx.options.changeFieldLagMs);
  // The next link starts at the largest value before this one reads: a value seen only during the
  // read could belong to a write that landed behind the scroll position, whose older neighbours
  // this read missed.
  const since = maxFieldValue(state.type, parentSince, await largestValue(ctx, r, state, lower));
  const filter = rangeFilter(state, lower);
  return fieldSession({
    engine: PLUGIN,
    schema: r.schema,
    state,
    since,
    watermark,
    changed: () => changedPoints(ctx, r, filter, signal),
    ids: () => allIds(ctx, r, signal),
  });
}

/** Whether `field` can be followed in `r`, and as which type. */
async function lookupChangeField(ctx: QdrantContext, r: ResolvedCollection, field: string): Promise<Lookup> {
  let type: ChangeFieldType | undefined;
  let indexed = false;
  const index = r.schema.indexes.find((i) => i.field === field && i.kind.startsWith('payload:'));
  const declared = r.meta?.payload.find((p) => p.name === field);
  if (index) {
    const t = index.kind.slice('payload:'.length);
    if (t !== 'integer' && t !== 'datetime')
      return {
        ok: false,
        reason: `payload key ${JSON.stringify(field)} has a ${t} payload index; a change field needs an integer or datetime one`,
      };
    type = t;
    indexed = true;
  } else if (declared) {
    type = declared.array
      ? undefined
      : ['int32', 'int64'].includes(declared.type)
        ? 'integer'
        : declared.type === 'datetime'
          ? 'datetime'
          : undefined;
    if (!type)
      return {
        ok: false,
        reason: `payload field ${JSON.stringify(field)} is ${declared.type}${declared.array ? '[]' : ''}, not an integer or a datetime`,
      };
  } else {
    const page = await scrollPage(ctx, r, undefined, 1, {
      filter: { must_not: [{ is_empty: { key: field } }] },
      with_payload: { include: [field] },
      with_vector: false,
    });
    const raw = valueAt(page.points[0], field);
    if (raw === undefined)
      return { ok: false, reason: `no point has payload key ${JSON.stringify(field)}, and no payload index declares its type` };
    type = fieldValue('integer', raw) !== undefined ? 'integer' : fieldValue('datetime', raw) !== undefined ? 'datetime' : undefined;
    if (!type)
      return {
        ok: false,
        reason: `payload key ${JSON.stringify(field)} holds ${JSON.stringify(raw)}, neither an integer nor an RFC 3339 datetime`,
      };
  }
  const filter = { must: [{ is_empty: { key: field } }] };
  const { count } = await engineRead(qdrantErrors, 'count', r.name, () => ctx.client.count(r.name, { exact: true, filter }));
  if (count > 0) {
    return {
      ok: false,
      reason: `${count} point(s) have no value in payload key ${JSON.stringify(field)}, and a link would never see their changes`,
    };
  }
  return { ok: true, state: { field, type, indexed } };
}

/** Points whose field is at least `lower` (null: every point with a value). */
function rangeFilter(state: ChangeFieldState, lower: string | null): Record<string, unknown> {
  if (lower === null) return { must_not: [{ is_empty: { key: state.field } }] };
  return { must: [{ key: state.field, range: { gte: state.type === 'integer' ? Number(lower) : lower } }] };
}

/**
 * The largest value of the field among points at or above `lower`: one ordered read with a
 * payload index, else a scroll of that one key over the matching points.
 */
async function largestValue(
  ctx: QdrantContext,
  r: ResolvedCollection,
  state: ChangeFieldState,
  lower: string | null,
): Promise<string | null> {
  const filter = rangeFilter(state, lower);
  const body: ScrollBody = { filter, with_payload: { include: [state.field] }, with_vector: false };
  if (state.indexed) {
    const res = await engineRead(qdrantErrors, 'scroll', r.name, () =>
      ctx.client.scroll(r.name, { ...body, limit: 1, order_by: { key: state.field, direction: 'desc' } }),
    );
    return fieldValue(state.type, valueAt(res.points[0], state.field)) ?? null;
  }
  let max: string | null = null;
  for await (const points of pages(ctx, r, ctx.options.scanPageRows, body, undefined))
    for (const p of points) max = maxFieldValue(state.type, max, fieldValue(state.type, valueAt(p, state.field)));
  return max;
}

async function* changedPoints(
  ctx: QdrantContext,
  r: ResolvedCollection,
  filter: Record<string, unknown>,
  signal: AbortSignal | undefined,
): AsyncIterable<VectorRecord[]> {
  for await (const points of pages(ctx, r, ctx.options.scanPageRows, { filter, with_payload: true, with_vector: withVector(r) }, signal)) {
    const batch = toRecordBatch(r, points);
    yield Array.from({ length: batch.length }, (_, i) => recordAt(batch, i));
  }
}

async function* allIds(ctx: QdrantContext, r: ResolvedCollection, signal: AbortSignal | undefined): AsyncIterable<Id[]> {
  // Points whose id is not a Qdrant id keep the original in the payload (qdrant-types.ts, pointId).
  const body: ScrollBody = { with_payload: r.meta ? { include: [ORIGINAL_ID_KEY] } : false, with_vector: false };
  for await (const points of pages(ctx, r, ID_PAGE, body, signal))
    yield points.map((p) => idFromPoint(p.id, r.meta ? p.payload : undefined, r.schema.idType, r.name));
}

/** Scroll pages in id order until the last one. */
async function* pages(
  ctx: QdrantContext,
  r: ResolvedCollection,
  limit: number,
  body: ScrollBody,
  signal: AbortSignal | undefined,
): AsyncIterable<PointLike[]> {
  let offset: PointId | undefined;
  for (;;) {
    throwIfAborted(signal);
    const { points, next } = await scrollPage(ctx, r, offset, limit, body);
    if (points.length > 0) yield points;
    if (next === undefined || points.length === 0) return;
    offset = next;
  }
}

/** The value of a (possibly nested, `a.b`) payload key of a point. */
function valueAt(p: PointLike | undefined, field: string): unknown {
  const payload = p?.payload;
  if (!payload) return undefined;
  if (Object.hasOwn(payload, field)) return payload[field];
  let v: unknown = payload;
  for (const k of field.split('.'))
    v = typeof v === 'object' && v !== null && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  return v ?? undefined;
}
