/**
 * Compaction: a chain folded into a new full snapshot, written from the repository alone (the
 * engine is not read). The new snapshot records the same state as the link it was folded from (the
 * same collection digest, watermark and checkpoint, so a change feed continues from it), starts a
 * chain of its own, and lets retention forget the old chain.
 */
import { z } from 'zod';
import { defineCapabilities, type ScanSession, type VectorAdapter } from '../adapter.js';
import { IntegrityError, UnsupportedOperationError } from '../errors.js';
import type { Manifest } from '../format/manifest.js';
import { operationOptions, parseOptions } from '../options.js';
import type { RepositoryLock } from '../repository/locks.js';
import type { SnapshotStore } from '../repository/ports.js';
import { SnapshotOptionsSchema, type SnapshotResult } from '../snapshot/snapshot-options.js';
import { snapshotUnderLock } from '../snapshot/snapshot.js';
import { foldedSegments } from './chain.js';

export const CompactOptionsSchema = z.strictObject({
  /** The link to fold (its chain up to it). @default 'latest' */
  snapshot: z.string().default('latest'),
  /** Labels of the new snapshot. @default the link's */
  tags: z.record(z.string(), z.string()).optional(),
  ...operationOptions,
});
export type CompactOptions = z.input<typeof CompactOptionsSchema>;

export async function compactChain(repo: SnapshotStore, collection: string, options: CompactOptions): Promise<SnapshotResult> {
  const opts = parseOptions(CompactOptionsSchema, options, 'compact');
  const head = await repo.readManifest(collection, opts.snapshot);
  if (head.kind !== 'incremental') {
    throw new UnsupportedOperationError(`Snapshot ${head.id} is a full snapshot already; compact folds a chain (name a link).`);
  }
  const lock = await repo.lock({ exclusive: false, operation: `compact ${collection}`, signal: opts.signal });
  try {
    return await compactUnderLock(repo, head, opts, lock);
  } finally {
    await lock.release();
  }
}

async function compactUnderLock(
  repo: SnapshotStore,
  head: Manifest,
  opts: z.output<typeof CompactOptionsSchema>,
  lock: RepositoryLock,
): Promise<SnapshotResult> {
  const snapshotOpts = SnapshotOptionsSchema.parse({
    tags: opts.tags ?? head.tags,
    deltaIndex: true,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const result = await snapshotUnderLock(repo, foldedSource(repo, head, opts.signal), head.collection, snapshotOpts, lock, {
    derived: {
      watermark: head.watermark as string,
      reason: `compacted from link ${head.id} (chain ${String(head.chain)}) without reading the engine`,
      normalizesCosine: head.source.normalizesCosine,
    },
  });
  if (result.manifest.digest.collection !== head.digest.collection) {
    // foldedSegments checked the fold against the head before yielding anything; this is a bug.
    throw new IntegrityError(
      'CHAIN_INVALID',
      `Compaction of ${head.id} produced another state (${result.manifest.id}); forget it and report this.`,
    );
  }
  return result;
}

/** The folded chain of `head` as a read-only "engine" whose one scan yields the folded records. */
function foldedSource(repo: SnapshotStore, head: Manifest, signal: AbortSignal | undefined): VectorAdapter {
  const refuse = (): never => {
    throw new UnsupportedOperationError('a folded chain is read-only');
  };
  const session: ScanSession = {
    schema: head.schema,
    checkpoint: head.checkpoint ?? undefined,
    consistent: head.capture?.exact === true,
    estimatedRows: head.digest.counts.reduce((a, b) => a + b, 0),
    batches: async function* () {
      for await (const { rows } of foldedSegments(repo, head, signal)) if (rows.batch.length > 0) yield rows.batch;
    },
    close: async () => undefined,
  };
  return {
    engine: head.source.engine,
    capabilities: defineCapabilities({ idTypes: [head.schema.idType], maxDims: 65_535, changeCapture: 'none' }),
    describe: async () => head.schema,
    exists: async () => true,
    scan: async () => session,
    create: refuse,
    buildIndexes: refuse,
    write: refuse,
    readMarker: refuse,
    writeMarker: refuse,
    drop: refuse,
    delete: refuse,
    count: async () => session.estimatedRows ?? 0,
    fetch: refuse,
    search: refuse,
    probe: async () => ({ reachable: true, role: 'unknown', latencyMs: 0 }),
    describeEndpoint: async () => ({
      engineVersion: head.source.engineVersion,
      endpoint: head.source.endpoint,
      ...(head.source.extensionVersion !== undefined ? { extensionVersion: head.source.extensionVersion } : {}),
    }),
  };
}
