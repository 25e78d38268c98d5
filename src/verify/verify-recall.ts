/**
 * Recall: does search on a (restored) live collection still return the right neighbours? A sample
 * of the snapshot's own vectors serves as queries; their exact top-k is computed by brute force over
 * the snapshot's segments (streamed, bounded memory: queries x k candidates), and compared with the
 * top-k the live collection's index returns. recall@k = |live ∩ exact| / k, averaged over queries;
 * a returned neighbour whose exact distance ties the k-th (within 1e-6) counts as found.
 * A recall under `minRecall` makes the report not ok.
 */
import { foldedSegments, recordsIn } from '../chain/chain.js';
import { z } from 'zod';
import type { VectorAdapter } from '../adapter.js';
import { InvalidInputError, UnsupportedOperationError, throwIfAborted } from '../errors.js';
import { EXACT_WIDENINGS, widenToFloat32 } from '../format/vector-elements.js';
import { bucketOf, idBytes } from '../format/digest.js';
import {
  type AnyVector,
  type AnyVectorColumn,
  type Id,
  type Metric,
  type VectorField,
  type VectorQuery,
  describeKind,
  isDenseFloat32,
  isFloat32Column,
  vectorAt,
} from '../model.js';
import { kindDistance, queryOf } from './similarity.js';
import { ProgressReporter } from '../progress.js';
import type { SnapshotReader } from '../repository/ports.js';
import { operationOptions, parseOptions } from '../options.js';

export const RecallOptionsSchema = z.strictObject({
  collection: z.string().min(1),
  /** @default 'latest' */
  snapshot: z.string().default('latest'),
  /** Live collection searched. @default the snapshot's collection name */
  live: z.string().min(1).optional(),
  /** Vector field. @default the first */
  vector: z.string().min(1).optional(),
  /** Neighbours per query. @default 10 */
  k: z.number().int().min(1).max(1000).default(10),
  /** Sampled queries (records of the snapshot, chosen by a hash of their id: the same every run). @default 100 */
  queries: z.number().int().min(1).max(10_000).default(100),
  /**
   * Recall below this fails the check. @default 0.95 — with the search effort below, the restored
   * indexes of all four engines pass it in the conformance suite (k 10); at 0.9 a restore with 5%
   * wrong vectors passed (issue 14). Lower it for indexes tuned for speed (small `ef`, few IVF probes).
   */
  minRecall: z.number().min(0).max(1).default(0.95),
  /**
   * Search effort per query (`SearchOptions.effort`: HNSW `ef`, IVF probes = effort / 10), the same
   * on every engine that has a per-query knob, so recall compares indexes, not engine defaults.
   * @default max(100, 2k)
   */
  effort: z.number().int().min(1).max(32_768).optional(),
  /** Ask the engine for exact search instead of its index (checks the data, not the index). @default false */
  exact: z.boolean().default(false),
  ...operationOptions,
});
export type RecallOptions = z.input<typeof RecallOptionsSchema>;

export interface RecallReport {
  ok: boolean;
  snapshot: string;
  live: string;
  vector: string;
  metric: Metric;
  k: number;
  queries: number;
  /** Mean recall@k over the queries. */
  recall: number;
  /** Lowest recall@k of one query. */
  minQueryRecall: number;
  /** Hits outside the exact top-k counted as found because their exact distance ties the k-th. */
  tiesCounted: number;
  minRecall: number;
  /**
   * The live collection has a vector index on the field (its `describe()`): false means the engine
   * searched every vector (a restore into an existing collection without one, see the restore's
   * `notCarriedOver`), so recall says nothing about an index. `index` is its kind.
   */
  indexed: boolean;
  index: string | null;
  /**
   * The search effort used: `requested` was passed to every search; `perQuery` false means the
   * engine has no per-query knob (Weaviate) and searched with the collection's setting,
   * `collectionSetting` (its `ef`; null when dynamic or the engine default).
   */
  effort: { requested: number; perQuery: boolean; collectionSetting?: number | null };
  /** What the numbers cannot show (no index, exact search asked for, effort not applied). Empty when none. */
  warnings: string[];
  timings: { exactMs: number; searchMs: number };
}

/** Smaller is nearer, for every metric. */
function distanceFn(metric: Metric): (a: Float32Array, b: Float32Array, bOff: number, dims: number, aNorm: number) => number {
  switch (metric) {
    case 'l2':
      return (a, b, o, d) => {
        let s = 0;
        for (let i = 0; i < d; i++) {
          const x = (a[i] as number) - (b[o + i] as number);
          s += x * x;
        }
        return s;
      };
    case 'l1':
      return (a, b, o, d) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += Math.abs((a[i] as number) - (b[o + i] as number));
        return s;
      };
    case 'dot':
      return (a, b, o, d) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += (a[i] as number) * (b[o + i] as number);
        return -s;
      };
    case 'cosine':
      return (a, b, o, d, an) => {
        let s = 0;
        let bn = 0;
        for (let i = 0; i < d; i++) {
          const y = b[o + i] as number;
          s += (a[i] as number) * y;
          bn += y * y;
        }
        return bn === 0 || an === 0 ? 1 : 1 - s / Math.sqrt(an * bn);
      };
    default:
      throw new InvalidInputError(
        'INVALID_OPTIONS',
        `Recall needs a metric to compute exact neighbours; the vector's metric is ${metric}. ` +
          `Restore with a metric (metricForUnindexed) first.`,
      );
  }
}

/** Keeps the k nearest (id, distance) pairs; k is small, so a sorted array is enough. */
class TopK {
  readonly ids: Id[] = [];
  readonly dist: number[] = [];
  constructor(private readonly k: number) {}
  offer(id: Id, d: number): void {
    if (this.dist.length === this.k && d >= (this.dist[this.k - 1] as number)) return;
    let i = this.dist.length;
    while (i > 0 && (this.dist[i - 1] as number) > d) i--;
    this.dist.splice(i, 0, d);
    this.ids.splice(i, 0, id);
    if (this.dist.length > this.k) {
      this.dist.pop();
      this.ids.pop();
    }
  }
}

/**
 * How a query of `field` is sent to the adapter: as its own kind when the adapter stores it, widened
 * to float32 when the restore widened it (float16 → float32), else refused before any search.
 */
function searchFormFor(field: VectorField, adapter: VectorAdapter): (v: AnyVector) => Float32Array | VectorQuery {
  const caps = adapter.capabilities.vectorKinds;
  const kind = field.kind ?? 'dense';
  const stored =
    kind === 'sparse' ? caps.sparse : kind === 'multi' ? caps.multi.includes(field.element) : caps.dense.includes(field.element);
  if (stored) return queryOf;
  if (kind === 'dense' && EXACT_WIDENINGS.has(field.element) && caps.dense.includes('float32')) {
    return (v) => (v instanceof Float32Array || v.kind !== 'dense' ? queryOf(v) : widenToFloat32(v.element, v.data, field.dims ?? 0));
  }
  throw new UnsupportedOperationError(
    `${adapter.engine} does not store ${describeKind(field)} vectors, so it cannot search ${JSON.stringify(field.name)}.`,
    {
      plugin: adapter.engine,
      details: { field: field.name },
    },
  );
}

export async function verifyRecall(repo: SnapshotReader, adapter: VectorAdapter, options: RecallOptions): Promise<RecallReport> {
  const opts = parseOptions(RecallOptionsSchema, options, 'recall');
  const { signal } = opts;
  const progress = new ProgressReporter('verify-recall', opts.onProgress);
  const manifest = await repo.readManifest(opts.collection, opts.snapshot);
  const live = opts.live ?? manifest.collection;
  adapter.checkCollectionName?.(live, 'read');
  const field = opts.vector ? manifest.schema.vectors.find((v) => v.name === opts.vector) : manifest.schema.vectors[0];
  if (!field) throw new InvalidInputError('INVALID_OPTIONS', `Snapshot ${manifest.id} has no vector ${JSON.stringify(opts.vector)}.`);
  // Dense float32 keeps its fast path; every other kind is compared by its own similarity (similarity.ts).
  const general = !isDenseFloat32(field);
  const kindDist = general ? kindDistance(field) : undefined;
  const dist = general ? undefined : distanceFn(field.metric);
  const idType = manifest.schema.idType;
  const total = recordsIn(manifest);
  progress.totalRows = total;
  progress.emit('start');
  const liveIndex = (await adapter.describe(live)).indexes.find((i) => i.field === field.name && i.params.unsupported === undefined);
  const warnings: string[] = [];
  if (!liveIndex)
    warnings.push(
      `${JSON.stringify(live)} has no index on ${JSON.stringify(field.name)}: the engine ` +
        `searched every vector, so this recall checks the data, not an index. Create the index, or ` +
        `restore with ifExists: 'replace' to get the recorded one.`,
    );
  else if (opts.exact) warnings.push('exact: true asked the engine not to use its index: this recall checks the data, not the index.');
  else if (liveIndex.kind.toLowerCase() === 'flat')
    warnings.push(
      `The index on ${JSON.stringify(field.name)} is flat (brute force): this recall checks the ` + `data, not an approximate index.`,
    );
  const effort: RecallReport['effort'] = {
    requested: opts.effort ?? Math.max(100, 2 * opts.k),
    perQuery: (adapter.capabilities.searchEffort ?? 'per-query') === 'per-query',
  };
  if (!effort.perQuery) {
    const ef = liveIndex?.params.ef_search;
    effort.collectionSetting = typeof ef === 'number' ? ef : null;
    if (liveIndex && !opts.exact)
      warnings.push(
        `${adapter.engine} has no per-query search effort: it searched with the collection's ` +
          `${effort.collectionSetting === null ? 'default (dynamic) ef' : `ef ${effort.collectionSetting}`}, ` +
          `not ${effort.requested}.`,
      );
  }

  // Pass 1: pick queries by a hash of their id (stable across runs and engines): the records whose
  // bucket in a large space falls under the sampling rate, capped at `queries`.
  const space = 1 << 20;
  const threshold = Math.min(space, Math.ceil((space * Math.min(opts.queries * 2, total)) / Math.max(total, 1)));
  const queries: { id: Id; v: Float32Array; any: AnyVector; norm: number; top: TopK }[] = [];
  const searchForm = searchFormFor(field, adapter);
  const t0 = performance.now();
  for await (const { rows } of foldedSegments(repo, manifest, signal)) {
    if (queries.length >= opts.queries) break;
    const { batch } = rows;
    const col = batch.vectors[field.name] as AnyVectorColumn;
    for (let i = 0; i < batch.length && queries.length < opts.queries; i++) {
      if (col.valid && col.valid[i] === 0) continue;
      const id = batch.ids[i] as Id;
      if (bucketOf(idBytes(idType, id), space) >= threshold) continue;
      const any = vectorAt(col, i) as AnyVector;
      const v = any instanceof Float32Array ? any : new Float32Array(0);
      let norm = 0;
      for (const x of v) norm += x * x;
      queries.push({ id, v, any, norm, top: new TopK(2 * opts.k) });
    }
  }
  if (queries.length === 0)
    throw new InvalidInputError('INVALID_OPTIONS', `Snapshot ${manifest.id} has no ${field.name} vectors to sample queries from.`);

  // Pass 2: exact neighbours of every query over the whole snapshot.
  for await (const { rows } of foldedSegments(repo, manifest, signal)) {
    const { batch } = rows;
    const col = batch.vectors[field.name] as AnyVectorColumn;
    for (let i = 0; i < batch.length; i++) {
      if (col.valid && col.valid[i] === 0) continue;
      const id = batch.ids[i] as Id;
      if (dist && isFloat32Column(col)) for (const q of queries) q.top.offer(id, dist(q.v, col.data, i * col.dims, col.dims, q.norm));
      else if (kindDist) {
        const v = vectorAt(col, i) as AnyVector;
        for (const q of queries) q.top.offer(id, kindDist(q.any, v));
      }
    }
    progress.rows += batch.length;
    progress.emit('scan');
  }
  const exactMs = performance.now() - t0;

  // Live: the engine's own search, one query at a time.
  const t1 = performance.now();
  let sum = 0;
  let minQ = 1;
  // A hit outside the exact top-k still counts when its exact distance ties the k-th (engines
  // compute in float32, and normalise, so near-ties can swap places with no loss of quality).
  let tiesCounted = 0;
  for (const q of queries) {
    throwIfAborted(signal);
    const hits = (
      await adapter.search(live, searchForm(q.any), opts.k, { vector: field.name, exact: opts.exact, effort: effort.requested, signal })
    ).slice(0, opts.k);
    const want = new Set(q.top.ids.slice(0, opts.k).map(String));
    const k = Math.min(opts.k, want.size);
    let found = hits.filter((h) => want.has(String(h.id))).length;
    if (found < k) {
      // The snapshot's own distances of the next candidates (kept beyond k in pass 2), never the live vectors.
      const kth = q.top.dist[k - 1] as number;
      const slack = 1e-6 * Math.max(1, Math.abs(kth));
      const near = new Map<string, number>();
      for (let j = k; j < q.top.ids.length; j++) near.set(String(q.top.ids[j]), q.top.dist[j] as number);
      for (const h of hits) {
        const d = near.get(String(h.id));
        if (found < k && !want.has(String(h.id)) && d !== undefined && d <= kth + slack) {
          found++;
          tiesCounted++;
        }
      }
    }
    const r = k === 0 ? 1 : found / k;
    sum += r;
    minQ = Math.min(minQ, r);
  }
  const recall = sum / queries.length;
  progress.emit('done');
  return {
    ok: recall >= opts.minRecall,
    snapshot: manifest.id,
    live,
    vector: field.name,
    metric: field.metric,
    k: opts.k,
    queries: queries.length,
    recall: Math.round(recall * 10_000) / 10_000,
    minQueryRecall: minQ,
    tiesCounted,
    minRecall: opts.minRecall,
    effort,
    indexed: liveIndex !== undefined,
    index: liveIndex?.kind ?? null,
    warnings,
    timings: { exactMs: Math.round(exactMs), searchMs: Math.round(performance.now() - t1) },
  };
}
