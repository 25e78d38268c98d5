/** Row-level helpers shared by snapshot, restore and verify: digests per batch, slicing, concatenation. */
import type { CollectionSchema, IdType, RecordBatch, RecordOp, VectorColumn } from '../model.js';
import { canonicalPayload } from './canonical-json.js';
import { hash } from 'node:crypto';
import { type BucketDigest, bucketOf, float32LeBytes, idBytes } from './digest.js';
import { type PackedText, concatPacked, packText, slicePacked } from './packed-text.js';

export interface DigestedRows {
  payloadJson: string[];
  /** rows * 32 bytes. */
  digests: Uint8Array;
  buckets: Uint32Array;
}

/** Vector field names in digest order (sorted), so engines that list fields differently agree. */
export function digestVectorOrder(schema: Pick<CollectionSchema, 'vectors'>): string[] {
  return schema.vectors.map((v) => v.name).sort();
}

/**
 * Canonicalises payloads, computes record digests and buckets, and adds them to `acc`.
 * `payloadJson` may be given (segments store it) to hash exactly the stored bytes.
 */
export function digestBatch(
  idType: IdType,
  vectorOrder: string[],
  batch: RecordBatch,
  acc: BucketDigest,
  payloadJson?: string[],
): DigestedRows {
  const pj = payloadJson ?? batch.payloads.map(canonicalPayload);
  const { digests, buckets } = hashRecords(idType, vectorOrder, batch, pj, acc.buckets);
  addDigests(acc, digests, buckets);
  return { payloadJson: pj, digests, buckets };
}

/**
 * The bytes of one record digest are laid out in this buffer and hashed in one native call
 * (crypto.hash, a 'binary' string result): ~2.1 µs for a 768-dim record where createHash with five updates and
 * a Buffer result takes ~4.2 µs, and SHA-256 itself ~1.8 µs (docs/benchmarks.md, "Verify throughput").
 * Grown when a record needs more; one per thread.
 */
let scratch = Buffer.allocUnsafeSlow(16 * 1024);

/** Record digests and buckets of a batch whose payloads are canonical JSON already (the part a worker thread runs). */
export function hashRecords(
  idType: IdType,
  vectorOrder: string[],
  batch: Pick<RecordBatch, 'length' | 'ids' | 'vectors'>,
  payloadJson: string[] | PackedText,
  bucketCount: number,
): { digests: Uint8Array; buckets: Uint32Array } {
  const packed = Array.isArray(payloadJson) ? undefined : payloadJson;
  const n = batch.length;
  const digests = new Uint8Array(n * 32);
  const buckets = new Uint32Array(n);
  const cols = vectorOrder.map((name) => batch.vectors[name] as VectorColumn);
  let fixed = cols.length;
  for (const col of cols) fixed += col.dims * 4;
  for (let i = 0; i < n; i++) {
    const ib = idBytes(idType, batch.ids[i] as bigint | string);
    const payload = packed ? undefined : ((payloadJson as string[])[i] as string);
    const at = packed ? (packed.offsets[i] as number) : 0;
    const packedLen = packed ? (packed.offsets[i + 1] as number) - at : 0;
    // The layout of recordDigest (digest.ts): id bytes, per vector a presence byte and its float32 LE bytes, u32be length, payload.
    const most = ib.length + fixed + 4 + (payload === undefined ? packedLen : payload.length * 3);
    if (most > scratch.length) scratch = Buffer.allocUnsafeSlow(Math.max(most, scratch.length * 2));
    scratch.set(ib, 0);
    let o = ib.length;
    for (const col of cols) {
      if (col.valid && col.valid[i] === 0) scratch[o++] = 0;
      else {
        scratch[o++] = 1;
        const bytes = float32LeBytes(col.data.subarray(i * col.dims, (i + 1) * col.dims));
        scratch.set(bytes, o);
        o += bytes.length;
      }
    }
    let len = packedLen;
    if (payload === undefined) scratch.set((packed as PackedText).bytes.subarray(at, at + len), o + 4);
    else len = scratch.write(payload, o + 4, 'utf8');
    scratch.writeUInt32BE(len, o);
    const digest = hash('sha256', scratch.subarray(0, o + 4 + len), 'binary');
    for (let k = 0, at = i * 32; k < 32; k++) digests[at + k] = digest.charCodeAt(k);
    // One bucket: a scratch accumulator, no id hash needed.
    buckets[i] = bucketCount === 1 ? 0 : bucketOf(ib, bucketCount);
  }
  return { digests, buckets };
}

/** Adds rows' record digests to their buckets. */
export function addDigests(acc: BucketDigest, digests: Uint8Array, buckets: Uint32Array): void {
  for (let i = 0; i < buckets.length; i++) acc.add(buckets[i] as number, digests.subarray(i * 32, i * 32 + 32));
}

export function sliceBatch(batch: RecordBatch, start: number, end: number): RecordBatch {
  const vectors: Record<string, VectorColumn> = {};
  for (const [name, col] of Object.entries(batch.vectors)) {
    const data = col.data.subarray(start * col.dims, end * col.dims);
    vectors[name] = col.valid ? { dims: col.dims, data, valid: col.valid.subarray(start, end) } : { dims: col.dims, data };
  }
  const ops = batch.ops?.slice(start, end);
  return {
    length: end - start,
    ids: batch.ids instanceof BigInt64Array ? batch.ids.subarray(start, end) : batch.ids.slice(start, end),
    vectors,
    payloads: batch.payloads.slice(start, end),
    ...(ops ? { ops } : {}),
    ...(batch.payloadJson ? { payloadJson: slicePacked(batch.payloadJson, start, end) } : {}),
  };
}

export function concatBatches(idType: IdType, vectorFields: { name: string; dims: number }[], batches: RecordBatch[]): RecordBatch {
  if (batches.length === 1) return batches[0] as RecordBatch;
  const n = batches.reduce((s, b) => s + b.length, 0);
  let ids: BigInt64Array | string[];
  if (idType === 'int64') {
    const out = new BigInt64Array(n);
    let o = 0;
    for (const b of batches) {
      out.set(b.ids as BigInt64Array, o);
      o += b.length;
    }
    ids = out;
  } else {
    ids = batches.flatMap((b) => b.ids as string[]);
  }
  const vectors: Record<string, VectorColumn> = {};
  for (const f of vectorFields) {
    const data = new Float32Array(n * f.dims);
    let valid: Uint8Array | undefined;
    let o = 0;
    for (const b of batches) {
      const col = b.vectors[f.name] as VectorColumn;
      data.set(col.data, o * f.dims);
      if (col.valid) {
        valid ??= new Uint8Array(n).fill(1);
        valid.set(col.valid, o);
      }
      o += b.length;
    }
    vectors[f.name] = valid ? { dims: f.dims, data, valid } : { dims: f.dims, data };
  }
  const anyOps = batches.some((b) => b.ops);
  const ops: RecordOp[] | undefined = anyOps ? batches.flatMap((b) => b.ops ?? new Array<RecordOp>(b.length).fill('upsert')) : undefined;
  // Canonical payload text where a batch has it: for all rows then (the others' payloads canonicalised here).
  const payloadJson = batches.some((b) => b.payloadJson)
    ? concatPacked(batches.map((b) => b.payloadJson ?? packText(b.payloads.map(canonicalPayload))))
    : undefined;
  return {
    length: n,
    ids,
    vectors,
    payloads: batches.flatMap((b) => b.payloads),
    ...(ops ? { ops } : {}),
    ...(payloadJson ? { payloadJson } : {}),
  };
}

/** The rows of `batch` where `keep[i]` is non-zero, in order (the batch itself when it keeps all). */
export function filterBatch(batch: RecordBatch, keep: Uint8Array): RecordBatch {
  let kept = 0;
  for (let i = 0; i < batch.length; i++) if (keep[i]) kept++;
  if (kept === batch.length) return batch;
  const rows: number[] = [];
  for (let i = 0; i < batch.length; i++) if (keep[i]) rows.push(i);
  const vectors: Record<string, VectorColumn> = {};
  for (const [name, col] of Object.entries(batch.vectors)) {
    const data = new Float32Array(kept * col.dims);
    const valid = col.valid ? new Uint8Array(kept) : undefined;
    rows.forEach((r, j) => {
      data.set(col.data.subarray(r * col.dims, (r + 1) * col.dims), j * col.dims);
      if (valid) valid[j] = col.valid?.[r] ?? 1;
    });
    vectors[name] = valid ? { dims: col.dims, data, valid } : { dims: col.dims, data };
  }
  const ids: BigInt64Array | string[] =
    batch.ids instanceof BigInt64Array
      ? BigInt64Array.from(rows, (r) => (batch.ids as BigInt64Array)[r] as bigint)
      : rows.map((r) => (batch.ids as string[])[r] as string);
  const ops = batch.ops ? rows.map((r) => batch.ops?.[r] as RecordOp) : undefined;
  return { length: kept, ids, vectors, payloads: rows.map((r) => batch.payloads[r] ?? {}), ...(ops ? { ops } : {}) };
}
