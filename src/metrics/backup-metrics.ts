/**
 * Prometheus metrics of backups, through prom-client (an optional peer: pass its module). Results
 * reach them three ways: `track(op, target, run)` times a call and records its result or error;
 * `recordSnapshot(result)` / `recordSuccess` / `recordFailure` for callers that run the work
 * themselves; `refresh()` reads the repository (`list()`, the newest manifests, the storage's
 * object sizes) for what no single run knows: the newest snapshot of every collection (the backup
 * RPO) and the repository's size. Gauges are filled from that state at scrape time, as the
 * router's are (src/router/router-metrics.ts).
 *
 * Names follow what users already alert on: velero's `*_last_successful_timestamp` and
 * `*_last_status`, pgBackRest exporter's `*_since_last_completion_seconds`. Labels are bounded:
 * `repository` (a storage location without credentials, or a name you choose), `collection`,
 * `engine`, `op` (one of `BACKUP_OPERATIONS`) and, on failures, `code` (a `VectordrError` code).
 *
 * @example
 * ```ts
 * import * as prom from 'prom-client';
 * import { registerBackupMetrics } from 'vectordr/metrics';
 *
 * const metrics = registerBackupMetrics({ prom, repository: repo });
 * await metrics.track('snapshot', { collection: 'docs', engine: adapter.engine }, () => repo.snapshot(adapter, 'docs'));
 * await metrics.refresh();
 * ```
 */
import { z } from 'zod';
import { type ErrorCode, InvalidInputError, isVectordrError } from '../errors.js';
import { EngineNameSchema } from '../model.js';
import { parseOptions } from '../options.js';
import type { Repository } from '../repository/repository.js';
import type { SnapshotResult } from '../snapshot/snapshot-options.js';
import type { CounterLike, GaugeLike, PromClientLike } from './prom-client-like.js';

/** The operations metrics are kept for: the `op` label. */
export const BACKUP_OPERATIONS = [
  'snapshot',
  'restore',
  'verify-integrity',
  'verify-parity',
  'verify-recall',
  'forget',
  'prune',
  'compact',
] as const;
export type BackupOperation = (typeof BACKUP_OPERATIONS)[number];

/** The `code` label of a failure: the error's `VectordrError` code, `VERIFY_FAILED` for a verify that found problems, else `UNKNOWN`. */
export type BackupFailureCode = ErrorCode | 'VERIFY_FAILED' | 'UNKNOWN';

/** What `refresh()` reads: an opened `Repository` fits. */
export type MetricsRepository = Pick<Repository, 'storage' | 'list' | 'readManifest'>;

/** Secret-free repository labels: a name or a location, never userinfo, a query or a fragment (a presigned URL carries its signature there). */
const RepositoryLabelSchema = z
  .string()
  .min(1)
  .max(200)
  .refine((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20), 'a repository label has no control characters')
  .refine(
    (s) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(s) && !/[?#]/.test(s),
    'a repository label is a name or a location without credentials (no user:password@, no ?query): it is sent with every sample',
  );

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export const BackupMetricsOptionsSchema = z.strictObject({
  /** The prom-client module: `import * as prom from 'prom-client'`. */
  prom: z.custom<PromClientLike>(
    (v) => isObject(v) && typeof v.Gauge === 'function' && typeof v.Counter === 'function' && isObject(v.register),
    'the prom-client module (import * as prom from "prom-client")',
  ),
  /** The registry the metrics go to. @default prom.register */
  registry: z.custom<object>(isObject, 'a prom-client Registry').optional(),
  /**
   * The repository the metrics describe: an opened `Repository` (labelled with its storage
   * location, e.g. `s3://bucket/prefix`, credentials stripped; `refresh()` reads it) or a label of
   * your choosing (then pass the repository to `refresh({ repository })`). One registration per
   * repository; registering another repository on the same registry shares the metric families.
   */
  repository: z.union([
    RepositoryLabelSchema,
    z.custom<MetricsRepository>(
      (v) => isObject(v) && typeof v.list === 'function' && isObject(v.storage) && typeof v.storage.location === 'string',
      'an opened Repository',
    ),
  ]),
  /** Prefix of every metric name. @default 'vectordr_backup_' */
  prefix: z
    .string()
    .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a metric name prefix: letters, digits, "_" and ":"')
    .default('vectordr_backup_'),
  /**
   * Export `since_last_completion_seconds`, computed at scrape time. Turn it off for metrics written
   * once (a node-exporter textfile, a Pushgateway push): a written age never grows, so an alert on
   * it never fires; alert on `time() - newest_snapshot_timestamp` there. @default true
   */
  ages: z.boolean().default(true),
});

/** Options of `registerBackupMetrics`; `R` is prom-client's `Registry`. See `BackupMetricsOptionsSchema`. */
export interface BackupMetricsOptions<R = unknown> {
  prom: PromClientLike<R>;
  /** @default prom.register */
  registry?: R;
  /** An opened `Repository`, or a label without credentials. */
  repository: MetricsRepository | string;
  /** @default 'vectordr_backup_' */
  prefix?: string;
  /** Export ages computed at scrape time; off for textfiles and pushes. @default true */
  ages?: boolean;
}

/** Which series a run belongs to. */
export interface BackupTarget {
  /** The collection backed up (for a restore: the snapshot's collection). @default '' (repository-wide: forget, prune) */
  collection?: string;
  /** The engine (`adapter.engine`). @default the engine last seen for the collection, else '' */
  engine?: string;
}

/** A run's outcome, for `recordSuccess` and `recordFailure`. */
export interface BackupRun extends BackupTarget {
  /** How long it took; absent leaves the duration gauge without a value for this run. */
  durationMs?: number;
  /** Rows it moved (restore: rows written). */
  rows?: number;
}

/** Records runs of one repository's backups; see `registerBackupMetrics`. */
export interface BackupMetrics {
  /** The `repository` label of every series this handle writes. */
  readonly repository: string;
  /** Runs `run`, timing it: records its result (a verify report with `ok: false` is a failure) or its error, which it rethrows. */
  track<T>(op: BackupOperation, target: BackupTarget, run: () => Promise<T>): Promise<T>;
  /** A snapshot (or compaction) that succeeded: rows, bytes, segments written and reused, the newest snapshot of its collection. */
  recordSnapshot(result: SnapshotResult, options?: { op?: 'snapshot' | 'compact'; durationMs?: number }): void;
  /** Any other operation that succeeded. */
  recordSuccess(op: BackupOperation, run?: BackupRun): void;
  /** A run that failed: `last_status` 0, and `failures_total` by the error's code. */
  recordFailure(op: BackupOperation, run: BackupRun, err: unknown): void;
  /**
   * Reads the repository: the newest snapshot of every collection (its point in time, count, and
   * completion as the snapshot's `last_successful_timestamp`) and the storage's total size. Call it
   * after a run and before writing a textfile or a push, so that a failed run still reports when the
   * last one succeeded.
   */
  refresh(options?: { repository?: MetricsRepository; signal?: AbortSignal }): Promise<void>;
}

/** Per (op, collection): the last run. Times in Unix seconds. */
interface OperationState {
  op: BackupOperation;
  collection: string;
  engine: string;
  lastAttempt?: number;
  lastStatus?: 0 | 1;
  lastSuccess?: number;
  durationSeconds?: number;
  rows?: number;
  bytes?: number;
  segments?: { written: number; reused: number };
  segmentBytes?: { written: number; reused: number };
}

/** Per collection, from snapshots recorded or read from the repository. */
interface CollectionState {
  engine: string;
  /** The point in time the newest snapshot is complete up to. */
  newest: number;
  snapshots?: number;
}

interface RepositoryState {
  label: string;
  ops: Map<string, OperationState>;
  collections: Map<string, CollectionState>;
  sizeBytes?: number;
}

type Labels = Record<string, string>;
type SetValue = (labels: Labels, value: number) => void;

/** The metric families of one registry and prefix; every repository registered on it shares them. */
class BackupFamilies {
  readonly states = new Map<string, BackupMetricsHandle>();
  readonly failures: CounterLike;

  constructor(
    prom: PromClientLike,
    registry: unknown,
    readonly prefix: string,
    readonly ages: boolean,
  ) {
    const registers = [registry];
    const opLabels = ['repository', 'collection', 'engine', 'op'];
    const collectionLabels = ['repository', 'collection', 'engine'];
    const gauge = (name: string, help: string, labelNames: readonly string[], fill: (set: SetValue, s: RepositoryState) => void): void => {
      const g: GaugeLike = new prom.Gauge({
        name: `${prefix}${name}`,
        help,
        labelNames,
        registers,
        collect: () => {
          g.reset();
          for (const h of this.states.values()) fill((labels, v) => g.set({ repository: h.state.label, ...labels }, v), h.state);
        },
      });
    };
    const perOp = (name: string, help: string, value: (o: OperationState) => number | undefined): void =>
      gauge(name, help, opLabels, (set, s) => {
        for (const o of s.ops.values()) {
          const v = value(o);
          if (v !== undefined) set({ collection: o.collection, engine: o.engine, op: o.op }, v);
        }
      });
    perOp(
      'last_successful_timestamp',
      'Unix time the last successful run ended; for snapshots also the newest snapshot in the repository (read by refresh()).',
      (o) => o.lastSuccess,
    );
    perOp('last_attempt_timestamp', 'Unix time the last run ended, successful or not.', (o) => o.lastAttempt);
    perOp(
      'last_status',
      'Whether the last run succeeded (1) or failed (0: an error, or a verify that found problems).',
      (o) => o.lastStatus,
    );
    perOp('last_duration_seconds', 'How long the last run took, successful or not.', (o) => o.durationSeconds);
    perOp(
      'last_rows',
      'Rows the last successful run moved: stored by a snapshot (a link: its upserts), written by a restore.',
      (o) => o.rows,
    );
    perOp(
      'last_bytes',
      'Bytes the last successful snapshot stores (segments and delta index), segments it shares with other snapshots included.',
      (o) => o.bytes,
    );
    gauge(
      'last_segments',
      'Segments of the last successful snapshot: written by it, or reused (already stored: unchanged data, a resumed run).',
      [...opLabels, 'state'],
      (set, s) => {
        for (const o of s.ops.values()) {
          if (o.segments === undefined) continue;
          const labels = { collection: o.collection, engine: o.engine, op: o.op };
          set({ ...labels, state: 'written' }, o.segments.written);
          set({ ...labels, state: 'reused' }, o.segments.reused);
        }
      },
    );
    gauge(
      'last_segment_bytes',
      'Bytes of the segments of the last successful snapshot: written by it, or reused (already stored).',
      [...opLabels, 'state'],
      (set, s) => {
        for (const o of s.ops.values()) {
          if (o.segmentBytes === undefined) continue;
          const labels = { collection: o.collection, engine: o.engine, op: o.op };
          set({ ...labels, state: 'written' }, o.segmentBytes.written);
          set({ ...labels, state: 'reused' }, o.segmentBytes.reused);
        }
      },
    );
    gauge(
      'newest_snapshot_timestamp',
      'Unix time the newest snapshot of the collection is complete up to (a chain link: its watermark; a full snapshot: ' +
        'the start of its scan). time() minus this is the backup RPO.',
      collectionLabels,
      (set, s) => {
        for (const [collection, c] of s.collections) set({ collection, engine: c.engine }, c.newest);
      },
    );
    if (ages) {
      gauge(
        'since_last_completion_seconds',
        'Seconds from newest_snapshot_timestamp to this scrape (the backup RPO). Not in textfiles or pushes, where it would not grow.',
        collectionLabels,
        (set, s) => {
          const now = Date.now() / 1000;
          for (const [collection, c] of s.collections) set({ collection, engine: c.engine }, Math.max(0, now - c.newest));
        },
      );
    }
    gauge('snapshots', 'Snapshots of the collection in the repository (read by refresh()).', collectionLabels, (set, s) => {
      for (const [collection, c] of s.collections) if (c.snapshots !== undefined) set({ collection, engine: c.engine }, c.snapshots);
    });
    gauge(
      'repository_size_bytes',
      'Bytes of every object in the repository storage: segments, manifests, indexes, locks (read by refresh()).',
      ['repository'],
      (set, s) => {
        if (s.sizeBytes !== undefined) set({}, s.sizeBytes);
      },
    );
    this.failures = new prom.Counter({
      name: `${prefix}failures_total`,
      help: 'Failed runs, by error code (a VectordrError code, VERIFY_FAILED for a verify that found problems, else UNKNOWN).',
      labelNames: [...opLabels, 'code'],
      registers,
    });
  }
}

const familiesOf = new WeakMap<object, Map<string, BackupFamilies>>();

const seconds = (iso: string): number => Date.parse(iso) / 1000;

/** The point in time a snapshot is complete up to: a link's watermark, else when the snapshot began. */
function snapshotPoint(s: { createdAt: string; watermark?: string | undefined }): number {
  const watermark = s.watermark === undefined ? Number.NaN : seconds(s.watermark);
  return Number.isFinite(watermark) ? watermark : seconds(s.createdAt);
}

/** A storage location as a label: userinfo, query and fragment removed (locations carry none; a custom storage might). */
export function locationLabel(location: string): string {
  return location.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1').replace(/[?#].*$/s, '') || 'repository';
}

function failureCode(err: unknown): BackupFailureCode {
  return isVectordrError(err) ? err.code : 'UNKNOWN';
}

const isFailedCheck = (r: unknown): boolean => isObject(r) && r.ok === false;
const isSnapshotResult = (r: unknown): r is SnapshotResult =>
  isObject(r) && isObject(r.manifest) && typeof r.uploadedSegments === 'number' && typeof r.reusedSegments === 'number';

class BackupMetricsHandle implements BackupMetrics {
  readonly state: RepositoryState;

  constructor(
    readonly repository: string,
    private readonly families: BackupFamilies,
    private readonly source: MetricsRepository | undefined,
  ) {
    this.state = { label: repository, ops: new Map(), collections: new Map() };
  }

  async track<T>(op: BackupOperation, target: BackupTarget, run: () => Promise<T>): Promise<T> {
    checkOperation(op);
    const t0 = performance.now();
    let result: T;
    try {
      result = await run();
    } catch (err) {
      this.recordFailure(op, { ...target, durationMs: performance.now() - t0 }, err);
      throw err;
    }
    const durationMs = performance.now() - t0;
    if (isFailedCheck(result)) this.#failed(op, { ...target, durationMs }, 'VERIFY_FAILED');
    else if ((op === 'snapshot' || op === 'compact') && isSnapshotResult(result)) this.recordSnapshot(result, { op, durationMs });
    else {
      const rows = op === 'restore' && isObject(result) && typeof result.rows === 'number' ? result.rows : undefined;
      this.recordSuccess(op, { ...target, durationMs, ...(rows === undefined ? {} : { rows }) });
    }
    return result;
  }

  recordSnapshot(result: SnapshotResult, options: { op?: 'snapshot' | 'compact'; durationMs?: number } = {}): void {
    const op = options.op ?? 'snapshot';
    const m = result.manifest;
    const ended = seconds(m.completedAt);
    const o = this.#op(op, { collection: m.collection, engine: m.source.engine });
    o.lastAttempt = ended;
    o.lastStatus = 1;
    o.lastSuccess = Math.max(o.lastSuccess ?? 0, ended);
    o.durationSeconds = (options.durationMs ?? m.timings.totalMs) / 1000;
    o.rows = m.rows.upserts;
    o.bytes = [...m.segments, ...(m.deltaIndex ?? [])].reduce((sum, s) => sum + s.bytes, 0);
    o.segments = { written: result.uploadedSegments, reused: result.reusedSegments };
    o.segmentBytes = { written: result.uploadedBytes, reused: result.reusedBytes };
    const c = this.state.collections.get(m.collection);
    this.state.collections.set(m.collection, {
      engine: m.source.engine,
      newest: Math.max(c?.newest ?? 0, snapshotPoint(m)),
      ...(c?.snapshots === undefined ? {} : { snapshots: c.snapshots + 1 }),
    });
  }

  recordSuccess(op: BackupOperation, run: BackupRun = {}): void {
    checkOperation(op);
    const o = this.#op(op, run);
    const now = Date.now() / 1000;
    o.lastAttempt = now;
    o.lastStatus = 1;
    o.lastSuccess = now;
    setOrDelete(o, 'durationSeconds', run.durationMs === undefined ? undefined : run.durationMs / 1000);
    setOrDelete(o, 'rows', run.rows);
  }

  recordFailure(op: BackupOperation, run: BackupRun, err: unknown): void {
    this.#failed(op, run, failureCode(err));
  }

  #failed(op: BackupOperation, run: BackupRun, code: BackupFailureCode): void {
    checkOperation(op);
    const o = this.#op(op, run);
    o.lastAttempt = Date.now() / 1000;
    o.lastStatus = 0;
    setOrDelete(o, 'durationSeconds', run.durationMs === undefined ? undefined : run.durationMs / 1000);
    this.families.failures.inc({ repository: this.repository, collection: o.collection, engine: o.engine, op, code });
  }

  async refresh(options: { repository?: MetricsRepository; signal?: AbortSignal } = {}): Promise<void> {
    const repo = options.repository ?? this.source;
    if (repo === undefined) {
      throw new InvalidInputError(
        'INVALID_ARGUMENT',
        `Backup metrics of "${this.repository}" were registered with a label, so refresh() has no repository to read: ` +
          `pass refresh({ repository: repo }), or register with { repository: repo }.`,
        { plugin: 'metrics' },
      );
    }
    const { signal } = options;
    const byCollection = new Map<string, { newest: number; latest: { id: string; engine: string }; snapshots: number }>();
    for (const s of await repo.list({ ...(signal ? { signal } : {}) })) {
      const c = byCollection.get(s.collection);
      const point = snapshotPoint(s);
      // list() is oldest first: the last one seen is the newest.
      if (c === undefined) byCollection.set(s.collection, { newest: point, latest: { id: s.id, engine: s.engine }, snapshots: 1 });
      else Object.assign(c, { newest: Math.max(c.newest, point), latest: { id: s.id, engine: s.engine }, snapshots: c.snapshots + 1 });
    }
    const completed = new Map<string, number>();
    for (const [collection, c] of byCollection)
      completed.set(collection, seconds((await repo.readManifest(collection, c.latest.id)).completedAt));
    let size = 0;
    for await (const obj of repo.storage.list('', { ...(signal ? { signal } : {}) })) size += obj.size;
    // Applied at once, after every read succeeded: a refresh that fails half-way changes nothing.
    this.state.collections = new Map(
      [...byCollection].map(([k, c]) => [k, { engine: c.latest.engine, newest: c.newest, snapshots: c.snapshots }]),
    );
    for (const [collection, ended] of completed) {
      const o = this.#op('snapshot', { collection, engine: byCollection.get(collection)?.latest.engine ?? '' });
      o.lastSuccess = Math.max(o.lastSuccess ?? 0, ended);
    }
    this.state.sizeBytes = size;
  }

  /** The state of (op, collection), made on first use; the engine given, else the one last seen for the collection. */
  #op(op: BackupOperation, target: BackupTarget): OperationState {
    const collection = target.collection ?? '';
    if (typeof collection !== 'string')
      throw new InvalidInputError('INVALID_ARGUMENT', 'A metrics target collection is a string.', { plugin: 'metrics' });
    const key = `${op}\u0000${collection}`;
    let o = this.state.ops.get(key);
    const engine = target.engine ?? o?.engine ?? this.state.collections.get(collection)?.engine ?? '';
    if (engine !== '' && !EngineNameSchema.safeParse(engine).success) {
      throw new InvalidInputError(
        'INVALID_ARGUMENT',
        `Engine label ${JSON.stringify(engine.slice(0, 64))} is not an engine name (adapter.engine: a lowercase identifier).`,
        { plugin: 'metrics' },
      );
    }
    if (o === undefined) {
      o = { op, collection, engine };
      this.state.ops.set(key, o);
    }
    o.engine = engine;
    return o;
  }
}

function setOrDelete<K extends 'durationSeconds' | 'rows'>(o: OperationState, key: K, value: number | undefined): void {
  if (value === undefined) delete o[key];
  else o[key] = value;
}

function checkOperation(op: string): asserts op is BackupOperation {
  if (!(BACKUP_OPERATIONS as readonly string[]).includes(op)) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `Unknown backup operation ${JSON.stringify(op)}; one of ${BACKUP_OPERATIONS.join(', ')}.`,
      {
        plugin: 'metrics',
      },
    );
  }
}

/**
 * Registers the backup metrics of one repository on a registry (families are shared by every
 * repository registered on the same registry with the same prefix; registering the same repository
 * again returns its handle). Nothing is recorded until a run is tracked or `refresh()` reads the
 * repository.
 */
export function registerBackupMetrics<R>(options: BackupMetricsOptions<R>): BackupMetrics {
  const o = parseOptions(BackupMetricsOptionsSchema, options, 'backup metrics', 'metrics');
  const prom = o.prom;
  const registry = o.registry ?? prom.register;
  if (!isObject(registry))
    throw new InvalidInputError('INVALID_OPTIONS', 'Invalid backup metrics options: no registry.', { plugin: 'metrics' });
  const source = typeof o.repository === 'string' ? undefined : o.repository;
  const label = source === undefined ? (o.repository as string) : locationLabel(source.storage.location);
  let byPrefix = familiesOf.get(registry);
  if (byPrefix === undefined) familiesOf.set(registry, (byPrefix = new Map()));
  let families = byPrefix.get(o.prefix);
  if (families === undefined) byPrefix.set(o.prefix, (families = new BackupFamilies(prom, registry, o.prefix, o.ages)));
  else if (families.ages !== o.ages) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      `Backup metrics with prefix ${o.prefix} are already registered on this registry with ages: ${families.ages}; use the same setting.`,
      { plugin: 'metrics' },
    );
  }
  const existing = families.states.get(label);
  if (existing !== undefined) return existing;
  const handle = new BackupMetricsHandle(label, families, source);
  families.states.set(label, handle);
  return handle;
}
