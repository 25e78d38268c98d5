/**
 * Diff of two snapshots of a collection, from the repository alone (no engine). The manifests'
 * bucket digests say which buckets differ without reading a segment; equal digests prove equal
 * states (up to SHA-256). Only when buckets differ are the segments of both snapshots read, keeping
 * id -> record digest maps of the first `maxBuckets` differing buckets only (bounded memory), to name
 * the ids added, removed and changed. A link is compared as the state it records (its chain folded).
 */
import { z } from 'zod';
import { foldedSegments, recordsIn } from '../chain/chain.js';
import { InvalidInputError } from '../errors.js';
import { bucketOf, idBytes } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import type { Id } from '../model.js';
import { operationOptions, parseOptions } from '../options.js';
import { ProgressReporter } from '../progress.js';
import type { SnapshotReader } from '../repository/ports.js';

export const DiffOptionsSchema = z.strictObject({
  /** Collection name in the repository. */
  collection: z.string().min(1),
  /** The older side: a snapshot id, or 'latest'. */
  from: z.string().min(1),
  /** The newer side: a snapshot id. @default 'latest' */
  to: z.string().min(1).default('latest'),
  /** Most ids to report per kind (added, removed, changed). @default 100 */
  maxIds: z.number().int().min(0).max(1_000_000).default(100),
  /** Most differing buckets to examine id by id; each costs one bucket's share of both snapshots in memory. @default 16 */
  maxBuckets: z.number().int().min(0).default(16),
  ...operationOptions,
});
export type DiffOptions = z.input<typeof DiffOptionsSchema>;

export interface DiffReport {
  /** True when both snapshots record the same state (equal collection digests). */
  identical: boolean;
  /** The snapshot ids compared ('latest' resolved). */
  from: string;
  to: string;
  rows: { from: number; to: number };
  collectionDigest: { from: string; to: string };
  /** The collection schema (fields, indexes) differs; every record digest then differs too when a vector field changed. */
  schemaChanged: boolean;
  /** Buckets whose count or digest sum differ. */
  mismatchedBuckets: number[];
  /** How many of the mismatched buckets were examined id by id (the first `maxBuckets`; 0 when `maxIds` is 0). */
  examinedBuckets: number;
  /** True when the id lists are not the whole story (buckets not examined, or a list stopped at `maxIds`). */
  truncated: boolean;
  /** Ids in `to` and not in `from`, in the examined buckets. */
  added: Id[];
  /** Ids in `from` and not in `to`, in the examined buckets. */
  removed: Id[];
  /** Ids in both whose record (vectors or payload) differs, in the examined buckets. */
  changed: Id[];
}

export async function diffSnapshots(repo: SnapshotReader, options: DiffOptions): Promise<DiffReport> {
  const opts = parseOptions(DiffOptionsSchema, options, 'diff');
  const { signal } = opts;
  const progress = new ProgressReporter('diff', opts.onProgress);
  const from = await repo.readManifest(opts.collection, opts.from);
  const to = await repo.readManifest(opts.collection, opts.to);
  if (from.digest.buckets !== to.digest.buckets) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `Snapshots ${from.id} and ${to.id} use ${from.digest.buckets} and ${to.digest.buckets} digest buckets; only snapshots of one repository can be diffed.`,
    );
  }
  const mismatched: number[] = [];
  for (let b = 0; b < from.digest.buckets; b++) {
    if (from.digest.counts[b] !== to.digest.counts[b] || from.digest.sums[b] !== to.digest.sums[b]) mismatched.push(b);
  }
  const { name: _a, ...schemaFrom } = from.schema;
  const { name: _b, ...schemaTo } = to.schema;
  const report: DiffReport = {
    identical: from.digest.collection === to.digest.collection,
    from: from.id,
    to: to.id,
    rows: { from: recordsIn(from), to: recordsIn(to) },
    collectionDigest: { from: from.digest.collection, to: to.digest.collection },
    schemaChanged: JSON.stringify(schemaFrom) !== JSON.stringify(schemaTo),
    mismatchedBuckets: mismatched,
    examinedBuckets: 0,
    truncated: false,
    added: [],
    removed: [],
    changed: [],
  };
  progress.emit('start');
  if (mismatched.length === 0 || opts.maxIds === 0) {
    report.truncated = mismatched.length > 0;
    progress.emit('done');
    return report;
  }
  const examine = new Set(mismatched.slice(0, opts.maxBuckets));
  report.examinedBuckets = examine.size;
  report.truncated = examine.size < mismatched.length;
  progress.totalRows = report.rows.from + report.rows.to;
  const add = (list: Id[], id: Id): void => {
    if (list.length < opts.maxIds) list.push(id);
    else report.truncated = true;
  };
  const older = new Map<string, { id: Id; digest: string }>();
  await eachExamined(repo, from, examine, signal, progress, (id, digest) => older.set(String(id), { id, digest }));
  await eachExamined(repo, to, examine, signal, progress, (id, digest) => {
    const o = older.get(String(id));
    if (!o) return add(report.added, id);
    older.delete(String(id));
    if (o.digest !== digest) add(report.changed, id);
  });
  for (const { id } of older.values()) add(report.removed, id);
  progress.emit('done');
  return report;
}

/** Calls `onRecord` with the id and record digest (hex) of each record of `manifest` in an examined bucket. */
async function eachExamined(
  repo: SnapshotReader,
  manifest: Manifest,
  examine: ReadonlySet<number>,
  signal: AbortSignal | undefined,
  progress: ProgressReporter,
  onRecord: (id: Id, digest: string) => void,
): Promise<void> {
  const { idType } = manifest.schema;
  for await (const { ref, rows } of foldedSegments(repo, manifest, signal)) {
    for (let i = 0; i < rows.batch.length; i++) {
      const id = rows.batch.ids[i] as Id;
      if (!examine.has(bucketOf(idBytes(idType, id), manifest.digest.buckets))) continue;
      onRecord(id, Buffer.from(rows.digests.subarray(i * 32, i * 32 + 32)).toString('hex'));
    }
    progress.rows += rows.batch.length;
    progress.segments++;
    progress.bytes += ref.bytes;
    progress.emit('verify');
  }
}
