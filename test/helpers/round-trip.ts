/**
 * The cross-engine round trip the matrix and the pairwise suites share: a collection is
 * snapshotted, restored into another engine with parity verified there, snapshotted there and
 * restored home, where parity is verified against the first snapshot. The caller names the
 * collections (so its own cleanup list knows them) and asserts what is specific to the engines on
 * the results.
 */
import { expect } from 'vitest';
import type { VectorAdapter } from '../../src/adapter.js';
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
