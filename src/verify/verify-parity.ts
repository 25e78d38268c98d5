/**
 * Parity: does a live collection hold exactly what a snapshot holds? One consistent scan computes
 * the same bucket digests the snapshot stored; equal digests prove equality (up to SHA-256). When
 * buckets differ, a second pass over only those buckets (live and snapshot) names the ids that are
 * missing, extra or changed.
 *
 * Engines that normalise cosine vectors on write (Qdrant) cannot match a digest of the raw vectors.
 * In `cosine: 'normalized'` mode (chosen automatically for such an adapter), cosine vector fields
 * take no part in the digests (ids, payloads and the other vectors stay exact), and every record's
 * cosine vectors are compared after normalising both sides, within `tolerance`, by fetching the live
 * records batch by batch (bounded memory).
 *
 * Engines that cannot hold float payload numbers exactly (capability `payloadFloatExact: false`,
 * Qdrant) get the same treatment for payloads in `payloadFloats: 'ulps'` mode (chosen automatically
 * for such a live adapter): the digests mask every number that is not an integer, and each record's
 * floats are compared within `floatUlps`. A record whose floats moved within that bound does not
 * fail parity but is counted and named in `payloadFloats`; beyond it, it is `changed`.
 */
import { foldedSegments, recordsIn } from '../chain/chain.js';
import { z } from 'zod';
import type { VectorAdapter } from '../adapter.js';
import { InvalidInputError, throwIfAborted } from '../errors.js';
import { BucketDigest, bucketOf, idBytes } from '../format/digest.js';
import { digestBatch, digestVectorOrder, filterBatch, sliceBatch } from '../format/rows.js';
import { narrowFromFloat32 } from '../format/vector-elements.js';
import {
  type AnyVectorColumn,
  type ElementColumn,
  type Id,
  type JsonValue,
  type RecordBatch,
  type VectorColumn,
  type VectorElement,
  type VectorField,
  elementRowWidth,
  float32Column,
  float32Vector,
  isDenseFloat32,
  isFloat32Column,
  kindOf,
  newElementArray,
} from '../model.js';
import { ProgressReporter } from '../progress.js';
import type { SnapshotReader } from '../repository/ports.js';
import { checkCompatible } from '../schema-compat.js';
import { validateBatchVectors } from '../validate.js';
import { floatDistance, maskedPayloadJson } from './payload-floats.js';
import { operationOptions, parseOptions } from '../options.js';

/** Default `floatUlps`: Qdrant's double parse moves a value by 1-2 ulps; repeated segment rewrites move one by up to 15 in the model of its parser (docs/adapters/qdrant.md). */
export const DEFAULT_FLOAT_ULPS = 16;

export const ParityOptionsSchema = z.strictObject({
  /** Collection name in the repository. */
  collection: z.string().min(1),
  /** @default 'latest' */
  snapshot: z.string().default('latest'),
  /** Live collection to compare. @default the snapshot's collection name */
  live: z.string().min(1).optional(),
  /** Most differing ids to report per kind. @default 100 */
  maxIds: z.number().int().min(0).max(1_000_000).default(100),
  /** Most differing buckets to examine id by id. @default 16 */
  maxBuckets: z.number().int().min(0).default(16),
  batchSize: z.number().int().min(1).default(2000),
  /**
   * How cosine vectors are compared. `exact`: bit for bit (in the digests). `normalized`: after
   * normalising both sides to unit length, each component within `tolerance`. `auto`: `normalized`
   * when the live adapter normalises cosine vectors on write (capability `normalizesCosine`), or
   * when the snapshot came from one (its manifest's `source.normalizesCosine`). @default 'auto'
   */
  cosine: z.enum(['auto', 'exact', 'normalized']).default('auto'),
  /** Largest difference of one component of two normalised vectors in `normalized` mode. @default 1e-5 */
  tolerance: z.number().min(0).max(1).default(1e-5),
  /**
   * How payload floats (numbers that are not integers) are compared. `exact`: bit for bit (in the
   * digests); any change makes the record `changed`. `ulps`: within `floatUlps`, each such record
   * reported in `payloadFloats` without failing parity. `auto`: `ulps` when the live adapter cannot
   * hold payload floats exactly (capability `payloadFloatExact: false`, Qdrant). @default 'auto'
   */
  payloadFloats: z.enum(['auto', 'exact', 'ulps']).default('auto'),
  /** Largest distance, in ulps, of a payload float from the snapshot's in `ulps` mode. @default 16 */
  floatUlps: z
    .number()
    .int()
    .min(0)
    .max(2 ** 52)
    .default(DEFAULT_FLOAT_ULPS),
  /**
   * Vector fields of the snapshot to leave out of the comparison: those a restore left out with the
   * same `omitVectors`. They are masked on both sides alike (the record digests are recomputed
   * without them) and listed in `notCompared`; every other field, the ids and the payloads are still
   * compared exactly. Without it, a snapshot field the live collection lacks is SCHEMA_MISMATCH.
   */
  omitVectors: z.array(z.string().min(1)).default([]),
  ...operationOptions,
});
export type ParityOptions = z.input<typeof ParityOptionsSchema>;

export interface ParityReport {
  ok: boolean;
  snapshot: string;
  live: string;
  rows: { live: number; snapshot: number };
  collectionDigest: { live: string; snapshot: string };
  /** Buckets whose count or digest sum differ. */
  mismatchedBuckets: number[];
  /** How many of the mismatched buckets were examined id by id (the first `maxBuckets`; 0 when `maxIds` is 0). */
  examinedBuckets: number;
  /**
   * True when the id lists are not the whole story: some mismatched buckets were not examined
   * (`examinedBuckets < mismatchedBuckets.length`) or a list stopped at `maxIds`. Raise `maxBuckets`
   * and `maxIds` to see every id.
   */
  truncated: boolean;
  /** Ids in the examined buckets (up to `maxIds` each). */
  missing: Id[];
  extra: Id[];
  changed: Id[];
  /** How cosine vectors were compared, and which fields that applied to. */
  vectors: { mode: 'exact' | 'normalized'; fields: string[]; tolerance?: number; maxDifference?: number };
  /**
   * How payload floats were compared. In `ulps` mode: `altered` records whose floats differ from the
   * snapshot's within `toleranceUlps` (not failures: the engine cannot hold them exactly), the first
   * `maxIds` of them in `ids`, and the largest distance seen. Never silent: a value parity let
   * through as altered is listed here.
   */
  payloadFloats: { mode: 'exact' | 'ulps'; toleranceUlps?: number; altered: number; maxUlps: number; ids: Id[] };
  /** Vector fields not compared (`omitVectors`), on either side; [] when every field was. */
  notCompared: { field: string; reason: string }[];
}

/**
 * The live batch as the snapshot's element types (decision 3): a float16, bfloat16, uint8 or int8
 * field the target holds widened to float32 is narrowed back, and digests as the source did, for the
 * rows where that is exact. Rows where it is not (the value changed in the engine) keep their float32
 * values, whose digest tag differs from the source's: they count as different, never as equal.
 */
function asSnapshotElements(batch: RecordBatch, fields: readonly VectorField[]): RecordBatch[] {
  const widened = fields.filter((f) => {
    const col = batch.vectors[f.name];
    return !isDenseFloat32(f) && kindOf(f) === 'dense' && col !== undefined && isFloat32Column(col);
  });
  if (widened.length === 0) return [batch];
  const exact = new Uint8Array(batch.length).fill(1);
  // Field names are external text (a field may be named "__proto__"): a null-prototype copy.
  const narrowed = Object.assign(Object.create(null) as Record<string, AnyVectorColumn>, batch.vectors);
  for (const f of widened) {
    const col = batch.vectors[f.name] as VectorColumn;
    const element = f.element as Exclude<VectorElement, 'float32'>;
    const w = elementRowWidth(element, col.dims);
    const data = newElementArray(element, batch.length * w) as ElementColumn['data'];
    for (let i = 0; i < batch.length; i++) {
      if (col.valid && col.valid[i] === 0) continue;
      const back = narrowFromFloat32(element, col.data.subarray(i * col.dims, (i + 1) * col.dims));
      if (!back.exact) exact[i] = 0;
      (data as Uint8Array).set(back.data as Uint8Array, i * w);
    }
    narrowed[f.name] = { kind: 'dense', element, dims: col.dims, data, ...(col.valid ? { valid: col.valid } : {}) };
  }
  const all = exact.every((x) => x === 1);
  const asSource = filterBatch({ ...batch, vectors: narrowed }, exact);
  if (all) return [asSource];
  return [
    asSource,
    filterBatch(
      batch,
      exact.map((x) => 1 - x),
    ),
  ];
}

/** A copy of the batch with the given vector fields zeroed (presence kept): they leave the digests. */
function withoutVectors(batch: RecordBatch, fields: string[]): RecordBatch {
  if (fields.length === 0) return batch;
  const vectors = Object.assign(Object.create(null) as Record<string, AnyVectorColumn>, batch.vectors);
  for (const f of fields) {
    const given = vectors[f];
    if (!given) continue;
    const col = float32Column(given, f, 'loose vector parity');
    vectors[f] = { ...col, data: new Float32Array(col.data.length) };
  }
  return { ...batch, vectors };
}

/** Largest component difference of the two vectors after normalising each to unit length (f64). */
function normalizedDifference(a: Float32Array, b: Float32Array): number {
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  const sa = na > 0 ? 1 / Math.sqrt(na) : 1;
  const sb = nb > 0 ? 1 / Math.sqrt(nb) : 1;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) * sa - (b[i] as number) * sb));
  return max;
}

export async function verifyParity(repo: SnapshotReader, adapter: VectorAdapter, options: ParityOptions): Promise<ParityReport> {
  const opts = parseOptions(ParityOptionsSchema, options, 'parity');
  const { signal } = opts;
  const progress = new ProgressReporter('verify-parity', opts.onProgress);
  const read = await repo.readManifest(opts.collection, opts.snapshot);
  const live = opts.live ?? read.collection;
  adapter.checkCollectionName?.(live, 'read');
  const omit = new Set(opts.omitVectors);
  for (const f of omit) {
    if (!read.schema.vectors.some((v) => v.name === f)) {
      throw new InvalidInputError(
        'INVALID_OPTIONS',
        `omitVectors names ${JSON.stringify(f)}, which snapshot ${read.id} has no vector field of (it has ${read.schema.vectors.map((v) => v.name).join(', ')}).`,
        { details: { field: f } },
      );
    }
  }
  // The omitted fields leave the comparison on both sides: the schema compared, the digest order, the loose fields.
  const manifest =
    omit.size === 0 ? read : { ...read, schema: { ...read.schema, vectors: read.schema.vectors.filter((v) => !omit.has(v.name)) } };
  const notCompared = [...omit].map((field) => ({ field, reason: 'left out (omitVectors): masked on both sides' }));
  const order = digestVectorOrder(manifest.schema);
  const idType = manifest.schema.idType;
  progress.totalRows = recordsIn(manifest);
  progress.emit('start');
  // Normalised comparison is for dense float32 vectors: other kinds compare exactly.
  const cosineFields = manifest.schema.vectors.filter((v) => v.metric === 'cosine' && isDenseFloat32(v)).map((v) => v.name);
  const normalized =
    cosineFields.length > 0 &&
    (opts.cosine === 'normalized' ||
      (opts.cosine === 'auto' && (adapter.capabilities.normalizesCosine === true || manifest.source.normalizesCosine)));
  const looseFields = normalized ? cosineFields : [];
  const floatsLoose = opts.payloadFloats === 'ulps' || (opts.payloadFloats === 'auto' && adapter.capabilities.payloadFloatExact === false);
  /** Payload JSON for the digests: the canonical one, or with inexact numbers masked. */
  const payloadJson = (batch: RecordBatch): string[] | undefined => (floatsLoose ? batch.payloads.map(maskedPayloadJson) : undefined);
  const floatReport: ParityReport['payloadFloats'] = floatsLoose
    ? { mode: 'ulps', toleranceUlps: opts.floatUlps, altered: 0, maxUlps: 0, ids: [] }
    : { mode: 'exact', altered: 0, maxUlps: 0, ids: [] };

  const scanLive = async (onRows: (ids: ArrayLike<Id>, digests: Uint8Array, buckets: Uint32Array) => void): Promise<BucketDigest> => {
    const acc = new BucketDigest(manifest.digest.buckets);
    const session = await adapter.scan(live, { batchSize: opts.batchSize, signal });
    try {
      const lacking = manifest.schema.vectors.filter((v) => !session.schema.vectors.some((x) => x.name === v.name)).map((v) => v.name);
      if (lacking.length > 0) {
        throw new InvalidInputError(
          'SCHEMA_MISMATCH',
          `${JSON.stringify(live)} has no vector field ${lacking.map((f) => JSON.stringify(f)).join(', ')} of snapshot ${manifest.id}. ` +
            `If a restore left it out (omitVectors), pass the same omitVectors to parity: it then compares everything else.`,
          { details: { fields: lacking } },
        );
      }
      checkCompatible(session.schema, { ...manifest.schema, name: live });
      for await (const batch of session.batches()) {
        throwIfAborted(signal);
        validateBatchVectors(batch, session.schema.vectors, adapter.engine);
        for (const part of asSnapshotElements(batch, manifest.schema.vectors)) {
          const d = digestBatch(idType, order, withoutVectors(part, looseFields), acc, payloadJson(part));
          onRows(part.ids as ArrayLike<Id>, d.digests, d.buckets);
        }
        progress.rows += batch.length;
        progress.emit('scan');
      }
    } finally {
      await session.close();
    }
    return acc;
  };

  const liveAcc = await scanLive(() => undefined);
  // The snapshot side without the loose fields: recomputed from the segments (their stored digests include them).
  let snapDigest = manifest.digest;
  const vectorReport: ParityReport['vectors'] = normalized
    ? { mode: 'normalized', fields: looseFields, tolerance: opts.tolerance, maxDifference: 0 }
    : { mode: 'exact', fields: [] };
  const loose: Id[] = [];
  // The stored digests cover every field as stored: recomputed when some take no part, or are compared loosely.
  const recompute = normalized || floatsLoose || omit.size > 0;
  if (recompute) {
    const acc = new BucketDigest(manifest.digest.buckets);
    for await (const { rows } of foldedSegments(repo, read, signal)) {
      digestBatch(idType, order, withoutVectors(rows.batch, looseFields), acc, payloadJson(rows.batch));
      // Record by record only for what the digests leave out loosely (an omitted field is not compared at all).
      for (let start = 0; (normalized || floatsLoose) && start < rows.batch.length; start += opts.batchSize) {
        const part = sliceBatch(rows.batch, start, Math.min(rows.batch.length, start + opts.batchSize));
        const ids = Array.from({ length: part.length }, (_, i) => part.ids[i] as Id);
        const got = new Map((await adapter.fetch(live, ids)).map((r) => [String(r.id), r]));
        for (let i = 0; i < part.length; i++) {
          const rec = got.get(String(ids[i]));
          if (!rec) continue; // missing: the digests say so
          let bad = false;
          for (const f of looseFields) {
            const col = float32Column(part.vectors[f] as VectorColumn, f, 'loose vector parity');
            const want = col.valid && col.valid[i] === 0 ? null : col.data.subarray(i * col.dims, (i + 1) * col.dims);
            const got = rec.vectors[f] ?? null;
            const have = got === null ? null : float32Vector(got, f, 'loose vector parity');
            if (want === null || have === null) {
              bad ||= want !== have;
              continue;
            }
            const d = want.length === have.length ? normalizedDifference(want, have) : Number.POSITIVE_INFINITY;
            vectorReport.maxDifference = Math.max(vectorReport.maxDifference ?? 0, d);
            bad ||= !(d <= opts.tolerance);
          }
          if (floatsLoose) {
            const u = floatDistance(part.payloads[i] as JsonValue, rec.payload as JsonValue);
            if (u > opts.floatUlps) bad = true;
            else if (u > 0) {
              floatReport.altered++;
              floatReport.maxUlps = Math.max(floatReport.maxUlps, u);
              if (floatReport.ids.length < opts.maxIds) floatReport.ids.push(ids[i] as Id);
            }
          }
          if (bad) loose.push(ids[i] as Id);
        }
      }
    }
    snapDigest = { ...manifest.digest, ...acc.toJSON() };
  }
  const mismatched = liveAcc.diff(snapDigest);
  const report: ParityReport = {
    ok: mismatched.length === 0 && loose.length === 0,
    snapshot: manifest.id,
    live,
    rows: { live: liveAcc.total(), snapshot: recordsIn(manifest) },
    collectionDigest: { live: liveAcc.collectionDigest(), snapshot: snapDigest.collection },
    mismatchedBuckets: mismatched,
    examinedBuckets: 0,
    truncated: loose.length > opts.maxIds || floatReport.altered > floatReport.ids.length,
    missing: [],
    extra: [],
    changed: loose.slice(0, opts.maxIds),
    vectors: vectorReport,
    payloadFloats: floatReport,
    notCompared,
  };
  if (mismatched.length === 0 || opts.maxIds === 0) {
    report.truncated ||= mismatched.length > 0;
    progress.emit('done');
    return report;
  }

  // Second pass: id -> digest maps for the first `maxBuckets` differing buckets only (bounded memory).
  const examine = new Set(mismatched.slice(0, opts.maxBuckets));
  report.examinedBuckets = examine.size;
  report.truncated ||= examine.size < mismatched.length;
  /** Appends an id unless the list is full; a full list makes the report truncated. */
  const add = (list: Id[], id: Id): void => {
    if (list.length < opts.maxIds) list.push(id);
    else report.truncated = true;
  };
  const key = (id: Id): string => String(id);
  const hex = (d: Uint8Array, i: number): string => Buffer.from(d.subarray(i * 32, i * 32 + 32)).toString('hex');
  const snapSide = new Map<string, { id: Id; digest: string }>();
  for await (const { rows } of foldedSegments(repo, read, signal)) {
    // The segment stores each record's digest (checked by getSegment's hash); only buckets are needed.
    const digests = recompute
      ? digestBatch(
          idType,
          order,
          withoutVectors(rows.batch, looseFields),
          new BucketDigest(manifest.digest.buckets),
          payloadJson(rows.batch),
        ).digests
      : rows.digests;
    for (let i = 0; i < rows.batch.length; i++) {
      const id = rows.batch.ids[i] as Id;
      if (!examine.has(bucketOf(idBytes(idType, id), manifest.digest.buckets))) continue;
      snapSide.set(key(id), { id, digest: hex(digests, i) });
    }
  }
  await scanLive((ids, digests, buckets) => {
    for (let i = 0; i < ids.length; i++) {
      if (!examine.has(buckets[i] as number)) continue;
      const id = ids[i] as Id;
      const s = snapSide.get(key(id));
      if (!s) {
        add(report.extra, id);
        continue;
      }
      snapSide.delete(key(id));
      if (s.digest !== hex(digests, i) && !report.changed.includes(id)) add(report.changed, id);
    }
  });
  for (const { id } of snapSide.values()) {
    add(report.missing, id);
    if (report.truncated && report.missing.length >= opts.maxIds) break;
  }
  progress.emit('done');
  return report;
}
