/**
 * Change capture by modification time (docs/adapters/weaviate.md, "Change capture"). Weaviate has
 * no change feed, but every object carries `_lastUpdateTimeUnix` (the writing node's clock, ms),
 * filterable when the class has `invertedIndexConfig.indexTimestamps`. A link reads the objects
 * updated at or after its parent's start minus `captureSkewMs`, then every id the class holds
 * (deletes leave no timestamp: the core diffs the ids against the chain). Links are fuzzy: objects
 * are read as they are when their page is read, like a scan.
 *
 * Paging: Weaviate refuses a cursor (`after`) with a filter, and offsets stop at
 * `QUERY_MAXIMUM_RESULTS`; a batch import gives thousands of objects one timestamp. So pages are
 * sorted by (update time, uuid) and each page continues after the last one read:
 * `time > t OR (time = t AND _id > uuid)`.
 */
import type { CapturePlan, Change, ChangeSession } from '../../src/adapter.js';
import { EngineError, InvalidInputError, throwIfAborted } from '../../src/errors.js';
import type { Checkpoint, Id } from '../../src/model.js';
import { recordAt } from '../../src/model.js';
import type { WeaviateCollectionLike, WeaviateFilterLike, WeaviateObjectLike } from './weaviate-client.js';
import type { WeaviateConnection } from './weaviate-connection.js';
import { type Resolved, resolveClass } from './weaviate-describe.js';
import { grpcCall } from './weaviate-errors.js';
import { grpcProps, idOf, mergeRestObject, toRecordBatch } from './weaviate-scan.js';
import { ORIGINAL_ID_PROPERTY, PLUGIN, classNameOf } from './weaviate-types.js';

/** The checkpoint kind of scans and timestamp links: `{ since: ms of the node clock, skewMs, clock: 'server' | 'client' }`. */
export const TIME_CHECKPOINT = 'weaviate-time';

const NO_TIMESTAMPS =
  'the class does not index timestamps; create it with invertedIndexConfig.indexTimestamps, or vectordr reads every object per link';

/** Whether an `invertedIndexConfig` (raw class or recorded `native`) makes `_lastUpdateTimeUnix` filterable. */
function indexesTimestamps(invertedIndexConfig: unknown): boolean {
  return (invertedIndexConfig as { indexTimestamps?: unknown } | null | undefined)?.indexTimestamps === true;
}

export async function planCapture(conn: WeaviateConnection, collection: string): Promise<CapturePlan> {
  const cls = await conn.rest.mustGetClass(classNameOf(collection), collection);
  return indexesTimestamps(cls.invertedIndexConfig) ? { mode: 'timestamp' } : { mode: 'digest', reason: NO_TIMESTAMPS };
}

/** Where a scan or link starts: the node's clock now (before anything is read). */
export async function timeCheckpoint(conn: WeaviateConnection, signal?: AbortSignal): Promise<Checkpoint> {
  const clock = await conn.rest.clock(signal);
  return {
    engine: 'weaviate',
    kind: TIME_CHECKPOINT,
    value: { since: clock.ms, skewMs: conn.options.captureSkewMs, clock: clock.source },
    takenAt: new Date(clock.ms).toISOString(),
  };
}

/** CHAIN_BROKEN with reason `no-feed`: the core takes a fingerprint-diff link instead. */
function noFeed(collection: string, why: string): InvalidInputError {
  return new InvalidInputError('CHAIN_BROKEN', `Weaviate collection ${JSON.stringify(collection)}: ${why}.`, {
    plugin: PLUGIN,
    details: { reason: 'no-feed', collection },
  });
}

/** The start time (ms) of a checkpoint this adapter wrote, or undefined for any other. */
function sinceOf(from: Checkpoint): number | undefined {
  if (from.engine !== 'weaviate' || from.kind !== TIME_CHECKPOINT) return undefined;
  const since = Number(from.value.since);
  return Number.isFinite(since) ? since : undefined;
}

export async function captureChanges(
  conn: WeaviateConnection,
  collection: string,
  from: Checkpoint,
  signal: AbortSignal | undefined,
): Promise<ChangeSession> {
  const since = sinceOf(from);
  if (since === undefined) throw noFeed(collection, `checkpoint of kind ${JSON.stringify(from.kind)} is not a modification time`);
  const r = await resolveClass(conn, collection);
  if (!indexesTimestamps(r.schema.native?.invertedIndexConfig)) throw noFeed(collection, NO_TIMESTAMPS);
  const opened = await timeCheckpoint(conn, signal);
  const skewMs = conn.options.captureSkewMs;
  const col = await conn.collection(r.className);
  const pageSize = conn.options.capturePageRows;
  return {
    schema: r.schema,
    capture: { mode: 'timestamp', exact: false },
    changes: () => changedObjects(conn, r, col, since - skewMs, pageSize, signal),
    ids: () => allIds(r, col, pageSize, signal),
    end: () => ({ checkpoint: opened, watermark: new Date((opened.value.since as number) - skewMs).toISOString() }),
    // Nothing is kept on the engine for a timestamp feed.
    commit: async () => undefined,
    close: async () => undefined,
  };
}

/** Every object updated at or after `fromMs`, in (update time, uuid) order, as upserts rendered like the scan's records. */
async function* changedObjects(
  conn: WeaviateConnection,
  r: Resolved,
  col: WeaviateCollectionLike,
  fromMs: number,
  pageSize: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<Change[]> {
  let last: { ms: number; uuid: string } | undefined;
  for (;;) {
    throwIfAborted(signal);
    const time = col.filter.byUpdateTime();
    const filters: WeaviateFilterLike = last
      ? or(
          time.greaterThan(new Date(last.ms)),
          and(time.equal(new Date(last.ms)), { ...col.filter.byId().equal(last.uuid), operator: 'GreaterThan' }),
        )
      : time.greaterOrEqual(new Date(fromMs));
    const res = await grpcCall('fetchObjects', () =>
      col.query.fetchObjects({
        filters,
        sort: col.sort.byUpdateTime(true).byId(true),
        limit: pageSize,
        includeVector: r.legacy ? true : r.vectors.map((v) => v.w),
        returnProperties: grpcProps(r),
        returnMetadata: ['updateTime'],
      }),
    );
    const objs = res.objects;
    if (objs.length === 0) return;
    for (const o of objs) {
      const key = { ms: updateTimeOf(r, o), uuid: o.uuid };
      if (last && (key.ms < last.ms || (key.ms === last.ms && key.uuid <= last.uuid))) {
        throw new EngineError(
          `Weaviate returned changed objects of ${JSON.stringify(r.schema.name)} out of (update time, uuid) order; ` +
            `paging could skip objects, so the incremental snapshot was stopped.`,
          'permanent',
          { plugin: PLUGIN },
        );
      }
      last = key;
    }
    if (r.props.some((p) => p.rest)) for (const o of objs) await mergeRestObject(conn, r, o);
    const batch = toRecordBatch(r, objs);
    yield Array.from({ length: batch.length }, (_, i): Change => ({ op: 'upsert', record: recordAt(batch, i) }));
    if (objs.length < pageSize) return;
  }
}

/** Every id the class holds: an id-only cursor pass (no vectors; the original-id property where ids are not UUIDs). */
async function* allIds(r: Resolved, col: WeaviateCollectionLike, pageSize: number, signal: AbortSignal | undefined): AsyncGenerator<Id[]> {
  let after: string | undefined;
  for (;;) {
    throwIfAborted(signal);
    const res = await grpcCall('fetchObjects', () =>
      col.query.fetchObjects({
        ...(after ? { after } : {}),
        limit: pageSize,
        includeVector: false,
        returnProperties: r.originalIds ? [ORIGINAL_ID_PROPERTY] : [],
      }),
    );
    const objs = res.objects;
    if (objs.length === 0) return;
    yield objs.map((o) => idOf(r, o));
    after = (objs[objs.length - 1] as WeaviateObjectLike).uuid;
    if (objs.length < pageSize) return;
  }
}

function updateTimeOf(r: Resolved, o: WeaviateObjectLike): number {
  const ms = o.metadata?.updateTime?.getTime();
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new EngineError(`Weaviate returned object ${o.uuid} of ${JSON.stringify(r.schema.name)} without its update time.`, 'permanent', {
      plugin: PLUGIN,
    });
  }
  return ms;
}

function and(...filters: WeaviateFilterLike[]): WeaviateFilterLike {
  return { operator: 'And', filters, value: null } as WeaviateFilterLike;
}

function or(...filters: WeaviateFilterLike[]): WeaviateFilterLike {
  return { operator: 'Or', filters, value: null } as WeaviateFilterLike;
}
