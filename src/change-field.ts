/**
 * A change field: a modification value the application maintains on every write (an integer such
 * as updated-at in epoch milliseconds, or an RFC 3339 datetime), for engines without a change feed
 * (Qdrant, Milvus). An incremental link reads the records whose field is at least the parent's
 * `since` minus a lag, plus every id (for deletes); the core folds them like any change feed.
 *
 * What the engines share lives here: the checkpoint (`<engine>-field`), the lower bound of a link
 * (the fuzzy window), the running maximum, the session, and the errors. The adapters only read
 * their engine (docs/adapters/qdrant.md and milvus.md, "Change capture").
 */
import type { CaptureInfo, ChangeSession, Change } from './adapter.js';
import { VectordrError } from './errors.js';
import type { Checkpoint, CollectionSchema, EngineName, Id, VectorRecord } from './model.js';

/** How the field's values compare: integers exactly (as decimal text), datetimes by their instant (ms). */
export type ChangeFieldType = 'integer' | 'datetime';

/** A change field found usable in a collection. */
export interface ChangeFieldState {
  field: string;
  type: ChangeFieldType;
  /** The engine has an index on it (Qdrant: a payload index of its type); reads are cheaper. */
  indexed: boolean;
}

/**
 * A field value as the checkpoint keeps it: an integer as its decimal text (int64 stays exact),
 * a datetime as an ISO-8601 UTC instant truncated to the millisecond (a bound below it only widens
 * the window). Undefined when the value is not of the type (the record cannot be seen by a link).
 */
export function fieldValue(type: ChangeFieldType, raw: unknown): string | undefined {
  if (type === 'integer') {
    if (typeof raw === 'bigint') return raw.toString();
    if (typeof raw === 'number') return Number.isSafeInteger(raw) ? String(raw) : undefined;
    if (typeof raw === 'string' && /^-?\d+$/.test(raw)) return BigInt(raw).toString();
    return undefined;
  }
  if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}[T ]/.test(raw)) return undefined;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** The larger of two field values (undefined/null: none yet). */
export function maxFieldValue(type: ChangeFieldType, a: string | null | undefined, b: string | null | undefined): string | null {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
  if (type === 'integer') return BigInt(a) >= BigInt(b) ? a : b;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

/**
 * The lower bound a link reads from: `since` minus `lagMs` (a datetime by that many milliseconds,
 * an integer by that many units, right for epoch milliseconds). Null: no bound (every record with a
 * value). Records at exactly `since` are read again on purpose: a writer that set the same value
 * after the previous read is still caught.
 */
export function lowerBound(type: ChangeFieldType, since: string | null, lagMs: number): string | null {
  if (since === null) return null;
  if (type === 'integer') return (BigInt(since) - BigInt(lagMs)).toString();
  return new Date(Date.parse(since) - lagMs).toISOString();
}

/** The checkpoint a scan with `startCapture`, or a link, hands to the next link. */
export function fieldCheckpoint(engine: EngineName, state: ChangeFieldState, since: string | null): Checkpoint {
  return { engine, kind: `${engine}-field`, value: { field: state.field, type: state.type, since }, takenAt: new Date().toISOString() };
}

/**
 * The `since` of a checkpoint this engine wrote for the same field and type; a checkpoint of
 * another kind (another engine, a native feed) or field throws CHAIN_BROKEN `no-feed`.
 */
export function sinceOf(plugin: EngineName, from: Checkpoint, state: ChangeFieldState): string | null {
  const v = from.value;
  if (from.kind !== `${plugin}-field`) {
    throw noFeed(plugin, `the parent's checkpoint is a ${from.kind} checkpoint, not a change-field one`, { kind: from.kind });
  }
  if (v.field !== state.field || v.type !== state.type) {
    throw noFeed(
      plugin,
      `the parent's checkpoint follows field ${JSON.stringify(v.field)} (${String(v.type)}), the adapter now ${JSON.stringify(state.field)} (${state.type})`,
      { field: state.field, checkpointField: v.field },
    );
  }
  const since = v.since ?? null;
  if (since !== null && fieldValue(state.type, since) === undefined) {
    throw noFeed(plugin, `the parent's checkpoint holds ${JSON.stringify(since)}, not a ${state.type}`, { since });
  }
  return since === null ? null : String(since);
}

/**
 * CHAIN_BROKEN with `details.reason: 'no-feed'`: this link cannot be read from the change field
 * (the field vanished, changed type, or the parent did not follow it); the core takes a
 * fingerprint-diff link instead.
 */
export function noFeed(plugin: EngineName, why: string, details: Record<string, unknown> = {}): VectordrError {
  return new VectordrError(
    'CHAIN_BROKEN',
    'conflict',
    `The change field cannot continue this chain: ${why}. This link is taken as a fingerprint diff (every record read); a new full snapshot with { incremental: true } starts a change-field chain again.`,
    { plugin, details: { ...details, reason: 'no-feed' } },
  );
}

/** What a change-field session reads, engine by engine. */
export interface ChangeFieldReads {
  engine: EngineName;
  schema: CollectionSchema;
  state: ChangeFieldState;
  /** The next link's `since`: the largest value before this link read anything (never below the parent's). */
  since: string | null;
  /** When this link's read began (client clock, ISO): what a point-in-time restore finds it by. */
  watermark: string;
  /** The records whose field is at least the lower bound, rendered as the scan renders them. */
  changed(): AsyncIterable<readonly VectorRecord[]>;
  /** Every id the collection holds. */
  ids(): AsyncIterable<readonly Id[]>;
}

/** The capture a change-field link records: fuzzy (a read window, not one engine view). */
export const FIELD_CAPTURE: CaptureInfo = Object.freeze({ mode: 'timestamp', exact: false });

/** A ChangeSession over an engine's change-field reads; nothing is kept on the engine, so `commit` has nothing to release. */
export function fieldSession(reads: ChangeFieldReads): ChangeSession {
  return {
    schema: reads.schema,
    capture: FIELD_CAPTURE,
    async *changes(): AsyncIterable<readonly Change[]> {
      for await (const records of reads.changed()) yield records.map((record) => ({ op: 'upsert', record }) as const);
    },
    ids: () => reads.ids(),
    end: () => ({ checkpoint: fieldCheckpoint(reads.engine, reads.state, reads.since), watermark: reads.watermark }),
    commit: async () => undefined,
    close: async () => undefined,
  };
}

/** Why a collection gets a fingerprint diff: the engine has no feed, and how a change field helps. */
export function digestReason(engine: string, feedIssue: string, whatIsRead: string, howToEnable: string, notUsable?: string): string {
  const head = notUsable ? `changeField is not usable: ${notUsable}. ` : '';
  return (
    `${head}${engine} has no change feed (${feedIssue}), so every link reads all ${whatIsRead}, vectors included, and diffs ` +
    `their digests against the chain; ${howToEnable}`
  );
}
