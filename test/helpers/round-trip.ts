/**
 * The cross-engine round trip the matrix and the pairwise suites share: a collection is
 * snapshotted, restored into another engine with parity verified there, snapshotted there and
 * restored home, where parity is verified against the first snapshot. The caller names the
 * collections (so its own cleanup list knows them) and asserts what is specific to the engines on
 * the results.
 */
import { expect } from 'vitest';
import type { VectorAdapter } from '../../src/adapter.js';
import type { CollectionSchema } from '../../src/model.js';
import { expectError } from './errors.js';
import type { Repository } from '../../src/repository/repository.js';
import type { RestoreResult } from '../../src/restore/restore.js';
import type { SnapshotResult } from '../../src/snapshot/snapshot.js';
import type { ParityOptions, ParityReport } from '../../src/verify/verify-parity.js';

/** A parity report as an assertion message, without the long digest. */
export const parityMessage = (p: ParityReport): string => JSON.stringify({ ...p, collectionDigest: undefined });

export interface CrossOverOptions {
  readonly repo: Repository;
  /** The engine holding `collection`. */
  readonly from: VectorAdapter;
  readonly collection: string;
  /** The engine the snapshot is restored into, under the name `target` (created by the restore). */
  readonly to: VectorAdapter;
  readonly target: string;
  /** Snapshot segment size. @default the snapshot's default */
  readonly segmentBytes?: number;
}

export interface CrossOver {
  readonly snapshot: SnapshotResult;
  readonly restore: RestoreResult;
  readonly parity: ParityReport;
}

/** One hop: snapshot `collection` on `from`, restore it into `to` as `target`, and parity there must hold. */
export async function crossOver(o: CrossOverOptions): Promise<CrossOver> {
  const snapshot = await o.repo.snapshot(o.from, o.collection, o.segmentBytes === undefined ? {} : { segmentBytes: o.segmentBytes });
  const restore = await o.repo.restore(o.to, { collection: o.collection, snapshot: snapshot.manifest.id, target: o.target });
  const parity = await o.repo.verifyParity(o.to, { collection: o.collection, snapshot: snapshot.manifest.id, live: o.target });
  expect(parity.ok, parityMessage(parity)).toBe(true);
  return { snapshot, restore, parity };
}

export interface RoundTripOptions extends CrossOverOptions {
  /** The name the collection comes home under, on `from` (created by the restore). */
  readonly home: string;
  /**
   * The snapshot taken on `to` must have the first snapshot's collection digest: true where neither
   * engine alters the values (an engine that normalises cosine vectors does).
   */
  readonly sameDigest?: boolean;
  /** How the home parity compares cosine vectors. @default parity's default ('auto') */
  readonly cosine?: ParityOptions['cosine'];
}

export interface RoundTrip {
  /** Snapshot of the source, restore into `to`, parity there. */
  readonly there: CrossOver;
  /** Snapshot taken on `to`, restore home, parity home against the source's snapshot. */
  readonly home: CrossOver;
}

/** There and home again: `from` -> `to` -> `from`, parity holding at each hop. */
export async function roundTrip(o: RoundTripOptions): Promise<RoundTrip> {
  const there = await crossOver(o);
  const sizing = o.segmentBytes === undefined ? {} : { segmentBytes: o.segmentBytes };
  const snapshot = await o.repo.snapshot(o.to, o.target, sizing);
  if (o.sameDigest === true) expect(snapshot.manifest.digest.collection).toBe(there.snapshot.manifest.digest.collection);
  const restore = await o.repo.restore(o.from, { collection: o.target, snapshot: snapshot.manifest.id, target: o.home });
  const original = { collection: o.collection, snapshot: there.snapshot.manifest.id, live: o.home };
  const parity = await o.repo.verifyParity(o.from, o.cosine === undefined ? original : { ...original, cosine: o.cosine });
  expect(parity.ok, parityMessage(parity)).toBe(true);
  return { there, home: { snapshot, restore, parity } };
}

/**
 * The every-type pgvector table the pairwise suites start from (id bigint, embedding, title text, n
 * int4, big int8, f4 real, f8 double precision, ok boolean, tags text[], meta jsonb, ref uuid, at
 * timestamptz, day date): its payload types on the other engine, and its column types back home.
 */
export const EVERY_TYPE = {
  payload: {
    title: 'string',
    n: 'int32',
    big: 'int64',
    f4: 'float32',
    f8: 'float64',
    ok: 'bool',
    tags: 'string[]',
    meta: 'json',
    ref: 'uuid',
    at: 'datetime',
    day: 'date',
  },
  home: {
    id: 'bigint',
    title: 'text',
    n: 'integer',
    big: 'bigint',
    f4: 'real',
    f8: 'double precision',
    ok: 'boolean',
    tags: 'ARRAY',
    meta: 'jsonb',
    ref: 'uuid',
    at: 'timestamp with time zone',
    day: 'date',
  },
};

/** A collection's payload fields as `name: type` (`type[]` for an array), as EVERY_TYPE writes them. */
export const payloadTypes = (schema: CollectionSchema): Record<string, string> =>
  Object.fromEntries(schema.payload.map((p) => [p.name, `${p.type}${p.array ? '[]' : ''}`]));

/** A pgvector table's columns as `name: data_type` (information_schema), in column order. */
export async function columnTypes(sql: Sql, table: string): Promise<Record<string, unknown>> {
  const types = await sql.query(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER ` + `BY ordinal_position`,
    [table],
  );
  return Object.fromEntries(types.rows.map((r) => [r.column_name, r.data_type]));
}

/** A pgvector connection (a pg Pool), where the pairwise suites create their source tables. */
export interface Sql {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface KeysRoundTripOptions {
  readonly repo: Repository;
  readonly sql: Sql;
  /** The pgvector adapter over `sql`. */
  readonly from: VectorAdapter;
  readonly to: VectorAdapter;
  /** Names for each key type's source table, its collection on `to` and its home table (the caller's cleanup lists know them). */
  readonly names: { readonly source: () => string; readonly target: () => string; readonly home: () => string };
}

/**
 * A uuid key, then a text key: a pgvector table keyed by it (50 rows, an l2 HNSW index) goes to `to`
 * and home again (`roundTrip`), and comes home with the same key column type. `check` asserts what
 * `to` made of the key in between.
 */
export async function keysRoundTrip(
  o: KeysRoundTripOptions,
  check: (keyType: 'uuid' | 'text', target: string) => Promise<void>,
): Promise<void> {
  for (const [keyType, value] of [
    ['uuid', `md5(g::text)::uuid`],
    ['text', `'key/' || g || '/"ü"'`],
  ] as const) {
    const src = o.names.source();
    await o.sql.query(`CREATE TABLE ${src} (k ${keyType} PRIMARY KEY, v vector(4) NOT NULL)`);
    await o.sql.query(`INSERT INTO ${src} SELECT ${value}, ARRAY[g, 1, 2, 3]::real[]::vector FROM generate_series(1, 50) g`);
    await o.sql.query(`CREATE INDEX ON ${src} USING hnsw (v vector_l2_ops)`);
    const target = o.names.target();
    const back = o.names.home();
    await roundTrip({ repo: o.repo, from: o.from, collection: src, to: o.to, target, home: back });
    await check(keyType, target);
    const t = await o.sql.query(`SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = 'k'`, [back]);
    expect(t.rows[0]?.data_type).toBe(keyType);
  }
}

export interface NoMetricOptions {
  readonly repo: Repository;
  /** Where the source table is created. */
  readonly sql: Sql;
  /** The pgvector adapter over `sql`. */
  readonly from: VectorAdapter;
  /** The source table: 20 rows of one 4-dimension vector and no index, so no metric is known. */
  readonly table: string;
  /** An engine that needs a metric, and the name the refused restore must not create. */
  readonly to: VectorAdapter;
  readonly target: string;
}

/**
 * Where the "no metric" cases start: `table` is created on pgvector and snapshotted, and its restore
 * into `to` with no metric given is refused, naming `metricForUnindexed`, with nothing created.
 */
export async function expectRefusedWithoutMetric(o: NoMetricOptions): Promise<SnapshotResult> {
  await o.sql.query(`CREATE TABLE ${o.table} (id bigint PRIMARY KEY, v vector(4) NOT NULL)`);
  await o.sql.query(`INSERT INTO ${o.table} SELECT g, ARRAY[g, 0, 1, 2]::real[]::vector FROM generate_series(1, 20) g`);
  const s = await o.repo.snapshot(o.from, o.table);
  const err = await expectError(
    o.repo.restore(o.to, { collection: o.table, snapshot: s.manifest.id, target: o.target }),
    'UNSUPPORTED_OPERATION',
  );
  expect(err.message).toContain('metricForUnindexed');
  expect(await o.to.exists(o.target)).toBe(false);
  return s;
}
