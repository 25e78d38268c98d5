/**
 * Integrity verification, no database needed: every segment re-read and re-hashed, every record
 * digest recomputed from the stored id, vectors and payload, every payload checked to be canonical,
 * and the bucket sums and collection digest recomputed and compared with the manifest.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { InvalidInputError, VectordrError, throwIfAborted } from '../errors.js';
import { BucketDigest, bucketOf } from '../format/digest.js';
import { readIndex } from '../chain/chain.js';
import type { Manifest, SegmentRef } from '../format/manifest.js';
import { digestVectorOrder } from '../format/rows.js';
import { segmentLayout } from '../format/segment-codec.js';
import type { Logger } from '../logger.js';
import { SegmentPool } from '../parallel/segment-pool.js';
import { type VerifyJob, type VerifyOutcome, runVerifyJob } from '../parallel/verify-job.js';
import { ProgressReporter } from '../progress.js';
import { headKey } from '../repository/heads.js';
import type { IntegrityStore, SegmentReader } from '../repository/ports.js';
import { operationOptions, parseOptions } from '../options.js';

export const VerifyIntegrityOptionsSchema = z.strictObject({
  /** Only this collection. @default every collection */
  collection: z.string().optional(),
  /** Only this snapshot id (requires `collection`). @default every snapshot */
  snapshot: z.string().optional(),
  /**
   * Worker threads that check segments (SHA-256, decoding, record digests) while the main thread
   * reads the next ones; at most `workers + 1` segments are in memory at once (two with none). The
   * report is the same with any count. @default one per core (at most 4) when the machine has more
   * than one and a snapshot holds at least 16 MiB of segments, else 0 (a thread starts in ~50 ms)
   */
  workers: z.number().int().min(0).max(16).optional(),
  ...operationOptions,
});
export type VerifyIntegrityOptions = z.input<typeof VerifyIntegrityOptionsSchema>;

export interface IntegrityProblem {
  code: string;
  message: string;
  segment?: string;
  /** The repository object concerned, when it is not a segment (an authenticated head). */
  key?: string;
}

/**
 * What a collection's authenticated head shows (encrypted repositories; docs/format.md, "Heads"):
 * ROLLBACK_DETECTED (a snapshot it records is missing or invalid, or the head itself was deleted,
 * replaced or put back older) or REPLAY_DETECTED (a forgotten snapshot is back). `key` is the head's.
 */
export interface HeadProblem extends IntegrityProblem {
  collection: string;
  /** The snapshot concerned; absent when the finding is about the head itself. */
  snapshot?: string;
  key: string;
}

export interface SnapshotIntegrity {
  collection: string;
  snapshot: string;
  ok: boolean;
  rows: number;
  problems: IntegrityProblem[];
}

export interface IntegrityReport {
  ok: boolean;
  snapshots: SnapshotIntegrity[];
  /**
   * Rollback and replay the authenticated heads show ([] in a plaintext repository, which has none).
   * A replayed snapshot (it still verifies) is also not ok, with the same problem.
   */
  heads: HeadProblem[];
}

export async function verifyIntegrity(
  repo: IntegrityStore & { readonly logger?: Logger },
  options: VerifyIntegrityOptions,
): Promise<IntegrityReport> {
  const opts = parseOptions(VerifyIntegrityOptionsSchema, options, 'verify');
  const checker = new SegmentChecker(repo, opts.workers, opts.signal);
  try {
    return await verifyTargets(repo, checker, opts);
  } finally {
    await checker.close();
  }
}

async function verifyTargets(
  repo: IntegrityStore,
  checker: SegmentChecker,
  opts: z.output<typeof VerifyIntegrityOptionsSchema>,
): Promise<IntegrityReport> {
  const { collection, snapshot, signal } = opts;
  if (snapshot !== undefined && collection === undefined) {
    throw new InvalidInputError('INVALID_OPTIONS', 'verify({ snapshot }) also needs { collection }.');
  }
  const progress = new ProgressReporter('verify-integrity', opts.onProgress);
  const report: IntegrityReport = { ok: true, snapshots: [], heads: [] };
  const targets: { collection: string; id: string }[] = [];
  if (snapshot !== undefined && collection !== undefined) targets.push({ collection, id: snapshot });
  else {
    targets.push(...(await repo.snapshotRefs({ collection, signal })));
    // "ok" with nothing checked would read as a verified backup: a collection with no snapshot is an error.
    if (collection !== undefined && targets.length === 0) throw await repo.noSnapshotError(collection, signal);
  }
  progress.emit('start');
  for (const t of targets) {
    const result: SnapshotIntegrity = { collection: t.collection, snapshot: t.id, ok: true, rows: 0, problems: [] };
    report.snapshots.push(result);
    let manifest: Manifest;
    try {
      manifest = await repo.readManifest(t.collection, t.id);
    } catch (err) {
      result.ok = false;
      report.ok = false;
      result.problems.push(problemOf(err, 'MANIFEST_INVALID', `Manifest of snapshot ${t.id} of ${JSON.stringify(t.collection)}`, signal));
      continue;
    }
    try {
      await verifySnapshot(repo, checker, manifest, result, progress, signal);
    } catch (err) {
      // Whatever a hostile object makes fail is this snapshot's finding; the next snapshot is still verified.
      result.ok = false;
      result.problems.push(problemOf(err, 'SEGMENT_CORRUPT', `Snapshot ${t.id} of ${JSON.stringify(t.collection)}`, signal));
    }
    if (!result.ok) report.ok = false;
  }
  report.heads = await headProblems(repo, collection, targets, signal);
  for (const h of report.heads) {
    report.ok = false;
    // A replayed snapshot still verifies: it is marked here. A rolled-back one is missing, or listed with its own MANIFEST_INVALID.
    const named = h.code === 'REPLAY_DETECTED' && report.snapshots.find((s) => s.collection === h.collection && s.snapshot === h.snapshot);
    if (named) {
      named.ok = false;
      named.problems.push({ code: h.code, message: h.message, key: h.key });
    }
  }
  progress.emit('done');
  return report;
}

/**
 * The heads' findings for `collection` (every collection when undefined). Reading them can fail
 * (storage down, a manifest that cannot be read for another reason than being invalid): then each
 * collection is asked alone, and one whose head cannot be compared is a finding itself, so that
 * the others' findings still show.
 */
async function headProblems(
  repo: IntegrityStore,
  collection: string | undefined,
  targets: readonly { collection: string }[],
  signal: AbortSignal | undefined,
): Promise<HeadProblem[]> {
  if (!repo.headFindings) return [];
  const find = repo.headFindings.bind(repo);
  const asked = async (c: string | undefined): Promise<HeadProblem[]> =>
    (await find({ signal, ...(c === undefined ? {} : { collection: c }) })).map((f) => ({
      code: f.code,
      message: f.message,
      collection: f.collection,
      key: f.key,
      ...(f.snapshotId === undefined ? {} : { snapshot: f.snapshotId }),
    }));
  try {
    return await asked(collection);
  } catch (err) {
    if (collection !== undefined) return [headFailure(err, collection, signal)];
    throwIfAborted(signal);
  }
  const out: HeadProblem[] = [];
  for (const c of [...new Set(targets.map((t) => t.collection))]) {
    try {
      out.push(...(await asked(c)));
    } catch (err) {
      out.push(headFailure(err, c, signal));
    }
  }
  return out;
}

function headFailure(err: unknown, collection: string, signal: AbortSignal | undefined): HeadProblem {
  const key = headKey(collection);
  const p = problemOf(err, 'HEAD_UNCHECKED', `The authenticated head ${key}`, signal);
  return { code: p.code, message: `Rollback and replay of ${JSON.stringify(collection)} were not checked: ${p.message}`, collection, key };
}

/**
 * A finding for `err`, which reading or checking an object threw: its own code when it is a typed
 * error, `code` for anything else (a parser's RangeError or TypeError on hostile bytes). An abort is
 * no finding: it is thrown on.
 */
function problemOf(err: unknown, code: string, what: string, signal: AbortSignal | undefined, segment?: string): IntegrityProblem {
  throwIfAborted(signal);
  if (err instanceof VectordrError) {
    if (err.category === 'aborted') throw err;
    return { code: err.code, message: err.message, ...(segment !== undefined ? { segment } : {}) };
  }
  const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { code, message: `${what} cannot be checked (${why.slice(0, 300)}).`, ...(segment !== undefined ? { segment } : {}) };
}

/** Checks one snapshot's segments, digests and delta index into `result`. */
async function verifySnapshot(
  repo: IntegrityStore,
  checker: SegmentChecker,
  manifest: Manifest,
  result: SnapshotIntegrity,
  progress: ProgressReporter,
  signal: AbortSignal | undefined,
): Promise<void> {
  const link = manifest.kind === 'incremental';
  // A link's state is its parent's recorded digest, minus the previous digests, plus the new ones.
  let acc = new BucketDigest(manifest.digest.buckets);
  if (link) {
    try {
      const parent = await repo.readManifest(manifest.collection, manifest.parent as string);
      acc = BucketDigest.fromJSON(parent.digest);
    } catch (err) {
      const cause = problemOf(err, 'MANIFEST_INVALID', `Manifest ${String(manifest.parent)}`, signal);
      result.ok = false;
      result.problems.push({
        code: 'CHAIN_INVALID',
        message: `Link ${manifest.id} builds on ${String(manifest.parent)}, which cannot be read (${cause.code}): the chain is broken there, and this link and every later one cannot be restored.`,
      });
    }
  }
  const added = new BucketDigest(manifest.digest.buckets);
  for await (const { ref, outcome } of checker.check(manifest)) {
    if ('problem' in outcome) {
      result.ok = false;
      result.problems.push(outcome.problem);
    } else if (outcome.plus.buckets !== acc.buckets) {
      result.ok = false;
      result.problems.push({
        code: 'DIGEST_MISMATCH',
        message: `Segment ${ref.key} is shared by snapshots with different bucket counts.`,
        segment: ref.key,
      });
    } else {
      acc.merge(outcome.plus);
      acc.unmerge(outcome.minus);
      added.merge(outcome.plus);
      result.rows += outcome.rows;
    }
    progress.segments++;
    progress.bytes += ref.bytes;
    progress.rows += ref.rows;
    progress.emit('verify');
  }
  if (result.ok) {
    const json = acc.toJSON();
    if (json.collection !== manifest.digest.collection) {
      const buckets = acc.diff(manifest.digest);
      result.ok = false;
      result.problems.push({
        code: 'DIGEST_MISMATCH',
        message: `Collection digest differs from the manifest in ${buckets.length} bucket(s): ` + `${buckets.slice(0, 16).join(', ')}.`,
      });
    }
    if (result.rows !== manifest.rows.upserts + manifest.rows.deletes) {
      result.ok = false;
      result.problems.push({
        code: 'DIGEST_MISMATCH',
        message: `Segments hold ${result.rows} rows, the manifest says ` + `${manifest.rows.upserts + manifest.rows.deletes}.`,
      });
    }
  }
  if (manifest.deltaIndex) {
    const problem = await verifyIndex(repo, manifest, added, signal);
    if (problem) {
      result.ok = false;
      result.problems.push(problem);
    }
  }
}

type Checked = { problem: IntegrityProblem } | { plus: BucketDigest; minus: BucketDigest; rows: number };

/** Segment bytes that make a worker pay for its start: four 4 MiB segments. */
const WORKERS_FROM_BYTES = 16 * 1024 * 1024;

/**
 * Reads and checks the segments of each manifest in order (verify-job.ts), reading ahead while
 * earlier ones are checked (on worker threads when it pays, inline otherwise), with at most
 * `workers + 1` segments in flight (two inline: one checked, the next read). Segments shared
 * between snapshots are read and checked once per run; their digest sums are reused.
 */
class SegmentChecker {
  readonly #repo: IntegrityStore & { readonly logger?: Logger };
  readonly #asked: number | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #done = new Map<string, Promise<Checked>>();
  #pool: Promise<SegmentPool> | undefined;

  constructor(repo: IntegrityStore & { readonly logger?: Logger }, workers: number | undefined, signal: AbortSignal | undefined) {
    this.#repo = repo;
    this.#asked = workers;
    this.#signal = signal;
  }

  /** The outcome of each segment of `manifest`, in its order. */
  async *check(manifest: Manifest): AsyncGenerator<{ ref: SegmentRef; outcome: Checked }> {
    const refs = manifest.segments;
    const bytes = refs.reduce((n, r) => n + r.bytes, 0);
    const workers = this.#asked ?? (availableParallelism() > 1 && bytes >= WORKERS_FROM_BYTES ? Math.min(availableParallelism(), 4) : 0);
    if (workers > 0) this.#pool ??= SegmentPool.open(workers, this.#repo.logger);
    const pool = this.#pool ? await this.#pool : undefined;
    const window = Math.max(pool?.workers ?? 0, 1) + 1;
    const link = manifest.kind === 'incremental';
    const job = {
      layout: segmentLayout(manifest.schema),
      order: digestVectorOrder(manifest.schema),
      buckets: manifest.digest.buckets,
      link,
    };
    const outcomes: Promise<Checked>[] = [];
    const start = (ref: SegmentRef): Promise<Checked> => {
      const key = `${ref.key}${link ? ' link' : ''}`;
      let p = this.#done.get(key);
      if (!p) {
        p = this.#checkOne(ref, job, pool);
        p.catch(() => {}); // awaited in order below; an abort must not leave it unhandled
        this.#done.set(key, p);
      }
      return p;
    };
    for (let i = 0; i < refs.length; i++) {
      while (outcomes.length < refs.length && outcomes.length < i + window) outcomes.push(start(refs[outcomes.length] as SegmentRef));
      throwIfAborted(this.#signal);
      yield { ref: refs[i] as SegmentRef, outcome: await (outcomes[i] as Promise<Checked>) };
    }
  }

  async #checkOne(
    ref: SegmentRef,
    shape: Omit<VerifyJob, 'key' | 'bytes' | 'sha256' | 'rows'>,
    pool: SegmentPool | undefined,
  ): Promise<Checked> {
    const load = async (): Promise<VerifyJob | { problem: IntegrityProblem }> => {
      try {
        // loadSegment leaves the SHA-256 to the job (on a worker); getSegment checks it here.
        const bytes = this.#repo.loadSegment
          ? await this.#repo.loadSegment(ref, this.#signal)
          : await this.#repo.getSegment(ref, this.#signal);
        return { ...shape, key: ref.key, bytes, sha256: this.#repo.loadSegment ? ref.sha256 : undefined, rows: ref.rows };
      } catch (err) {
        return { problem: problemOf(err, 'SEGMENT_CORRUPT', `Segment ${ref.key}`, this.#signal, ref.key) };
      }
    };
    const job = await load();
    if ('problem' in job) return job;
    let outcome: VerifyOutcome;
    if (!pool) outcome = runVerifyJob(job);
    else {
      try {
        outcome = await pool.verify(job);
      } catch (err) {
        // A segment whose check exhausted a thread's memory is not checked again on this one.
        if ((err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
          return {
            problem: {
              code: 'SEGMENT_TOO_LARGE',
              message: `Checking segment ${ref.key} exhausted a worker thread's memory.`,
              segment: ref.key,
            },
          };
        }
        // The thread failed otherwise (its bytes went with it): read the segment again and check it here.
        throwIfAborted(this.#signal);
        const again = await load();
        if ('problem' in again) return again;
        outcome = runVerifyJob(again);
      }
    }
    if ('problem' in outcome) return outcome;
    return { plus: BucketDigest.fromJSON(outcome.plus), minus: BucketDigest.fromJSON(outcome.minus), rows: outcome.rows };
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await (await pool).close();
  }
}

/**
 * The delta index agrees with the segments: it is readable, in order, points inside the snapshot,
 * has one entry per row, and its upsert digests sum to the segments' (`added`).
 */
async function verifyIndex(
  repo: SegmentReader,
  manifest: Manifest,
  added: BucketDigest,
  signal: AbortSignal | undefined,
): Promise<IntegrityProblem | undefined> {
  const fromIndex = new BucketDigest(added.buckets);
  let entries = 0;
  try {
    for await (const e of readIndex(repo, manifest, signal)) {
      entries++;
      if (e.op === 'upsert') fromIndex.add(bucketOf(e.id, fromIndex.buckets), e.digest);
    }
  } catch (err) {
    return problemOf(err, 'SEGMENT_CORRUPT', `The delta index of ${manifest.id}`, signal);
  }
  const rows = manifest.segments.reduce((n, r) => n + r.rows, 0);
  if (entries !== rows || fromIndex.collectionDigest() !== added.collectionDigest()) {
    return {
      code: 'DIGEST_MISMATCH',
      message: `The delta index of ${manifest.id} (${entries} entries) does not describe its ${rows} rows: a chain folded from it would be wrong. Take a new full snapshot.`,
    };
  }
  return undefined;
}
